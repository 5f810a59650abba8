package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/pforte-id/pforte/cmd/pforte-app/appclient"
)

// stepUpCommand raises a letter-proofed account to level high with the
// eID, as the Service-App's "Identität mit Ausweis bestätigen" does:
//
//	POST /app/v1/devices/{id}/challenge, then POST /app/v1/step-up
//	(key + PIN, return_uri, code_challenge) → the eID service's URL;
//	the browser → eID service → Pforte → return_uri?code=…;
//	POST /app/v1/step-up/confirmation (step-up token, code, verifier).
func stepUpCommand(e *env) *cobra.Command {
	var pinValue string
	var auto, reconfirm bool
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "step-up",
		Short: "raise the account to level high with the electronic ID card (POST /app/v1/step-up)",
		Long: "step-up proves the identity of the logged-in member with the eID function of the ID card,\n" +
			"so that the account, proofed by letter (substantial), reaches the level high: services that\n" +
			"ask for acr_values high then accept the app's login. The bound key and the release PIN\n" +
			"authenticate the member; the eID service's data must match the member's record.\n\n" +
			"It prints the eID service's URL to open in a browser on this computer and waits (at most\n" +
			"--wait) for the browser to bring the one-time code to its loopback return address.\n" +
			"--auto confirms at the development eID broker instead (for tests).\n\n" +
			"--reconfirm also confirms this device again: what an account proven with the ID card does\n" +
			"when the login answers device.reconfirm_eid (see pforte-app reconfirm for the password).",
		Example: "  pforte-app step-up\n  pforte-app step-up --auto --pin 470815\n  pforte-app step-up --reconfirm",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			// The state's member number names the card at the
			// development broker (--auto).
			st, _, _, err := e.boundDevice()
			if err != nil {
				return err
			}
			d, c, err := e.approvalDevice(ctx)
			if err != nil {
				return err
			}
			p, err := e.currentPIN(pinValue)
			if err != nil {
				return err
			}
			ret, err := appclient.ListenEIDReturn()
			if err != nil {
				return fmt.Errorf("the return address for the eID service: %w", err)
			}
			defer ret.Close()
			verifier, challenge := appclient.NewVerifier()
			begin := c.BeginStepUp
			if reconfirm {
				begin = c.BeginReconfirmEID
			}
			up, err := begin(ctx, d, p, ret.URI, challenge)
			if err != nil {
				return err
			}
			code, err := awaitEID(ctx, e, ret, up.URL, st.KVNR, auto, wait, up.ExpiresIn)
			if err != nil {
				return err
			}
			level, err := c.ConfirmStepUp(ctx, up, code, verifier)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Identity confirmed with the ID card. The account is now proofed at level %s.\n", level)
			if reconfirm {
				fmt.Fprintln(e.stdout, "Gerät bestätigt. / Device confirmed.")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&pinValue, "pin", "", "the release PIN (visible in the process list: for tests)")
	cmd.Flags().BoolVar(&auto, "auto", false, "confirm the identity at the development eID broker (tests)")
	cmd.Flags().BoolVar(&reconfirm, "reconfirm", false, "also confirm this device again (device.reconfirm_eid)")
	cmd.Flags().DurationVar(&wait, "wait", 15*time.Minute, "how long to wait for the identity to be confirmed")
	return cmd
}
