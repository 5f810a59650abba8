package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	goqr "github.com/piglig/go-qr"
	"github.com/spf13/cobra"
)

// Moving to a new phone while the old one is at hand (Gerätewechsel):
//
//	new phone  transfer begin    POST /app/v1/transfers: shows the QR code, keeps the secret,
//	                             then waits: POST /app/v1/transfers/redemption until approved
//	old phone  transfer approve  POST /app/v1/devices/{id}/challenge, then
//	                             POST /app/v1/transfers/approval with key and PIN
//	new phone  bind-device, set-pin, as after an activation (no password step)
//
// The old phone stays bound; the member removes it when it is no longer
// used (devices revoke).

// transferQRPrefix starts the QR code's text (adapters/httpapi).
const transferQRPrefix = "pforte-transfer:"

func transferCommand(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "transfer",
		Short: "move the account to a new phone with the old one (Gerätewechsel)",
		Long: "transfer moves the member's account to a new phone while the old phone is still at hand,\n" +
			"without the password:\n\n" +
			"  1. on the new phone:  pforte-app transfer begin --kvnr A123456780\n" +
			"     shows a QR code (and its text) for 5 minutes and waits;\n" +
			"  2. on the old phone:  pforte-app transfer approve pforte-transfer:…\n" +
			"     confirms with the old phone's key and release PIN;\n" +
			"  3. on the new phone:  pforte-app bind-device --name …, then pforte-app set-pin.\n\n" +
			"The code is good once and only for the member whose number the new phone gave; a phone\n" +
			"of another member is refused. The old phone stays bound until it is removed\n" +
			"(pforte-app devices revoke ID).",
		Args: noArgs,
	}
	root.AddCommand(transferBeginCommand(e), transferRedeemCommand(e), transferApproveCommand(e))
	return root
}

// transferBegun is the answer of POST /transfers.
type transferBegun struct {
	Code         string    `json:"transfer_code"`
	Secret       string    `json:"transfer_secret"`
	QRText       string    `json:"qr_text"`
	ExpiresAt    time.Time `json:"expires_at"`
	PollInterval int       `json:"poll_interval"`
}

func transferBeginCommand(e *env) *cobra.Command {
	var issuer, kv string
	var noWait bool
	var wait, poll time.Duration
	cmd := &cobra.Command{
		Use:   "begin --kvnr KVNR",
		Short: "on the new phone: show the transfer's QR code and wait for the old phone",
		Long: "begin starts a transfer for the member number (POST /app/v1/transfers), prints the QR code\n" +
			"and its text for the old phone, keeps the transfer's secret in this phone's state file and\n" +
			"waits until the old phone approved (POST /app/v1/transfers/redemption, every few\n" +
			"seconds). Then the enrollment session is open: next bind-device and set-pin.\n" +
			"With --no-wait it returns after printing; transfer redeem waits later.",
		Example: "  pforte-app transfer begin --issuer https://id.example.org --kvnr A123456780",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, path, _, err := e.loadState()
			if err != nil {
				return err
			}
			k, err := parseKVNR(pick(kv, st.KVNR), e.language())
			if err != nil {
				return err
			}
			api, err := newAppAPI(pick(issuer, st.Issuer, defaultIssuer), e.language())
			if err != nil {
				return err
			}
			var ans transferBegun
			if err := api.call(cmd.Context(), http.MethodPost, "/transfers", "", map[string]string{"kvnr": string(k)},
				http.StatusCreated, &ans); err != nil {
				return err
			}
			if ans.Code == "" || ans.Secret == "" {
				return errors.New("the issuer's answer holds no transfer code")
			}
			qrText := pick(ans.QRText, transferQRPrefix+ans.Code)
			st.Issuer, st.KVNR = api.issuer, string(k)
			st.Transfer = &transferState{Code: ans.Code, Secret: ans.Secret, ExpiresAt: ans.ExpiresAt.UTC(), PollInterval: ans.PollInterval}
			if err := saveState(path, st); err != nil {
				return fmt.Errorf("the transfer could not be kept: %w", err)
			}
			if err := printQR(e.stdout, qrText); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Umzugscode / Transfer code: %s\n", qrText)
			fmt.Fprintf(e.stdout, "Valid until %s. On your current phone, scan the QR code or run:\n",
				ans.ExpiresAt.Local().Format("15:04:05 MST"))
			fmt.Fprintf(e.stdout, "  pforte-app transfer approve %s\n", qrText)
			if noWait {
				fmt.Fprintln(e.stdout, "Then, on this phone: pforte-app transfer redeem")
				return nil
			}
			fmt.Fprintln(e.stdout, "Waiting for the confirmation on your current phone …")
			return e.redeemTransfer(cmd.Context(), api, st, path, wait, poll)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&issuer, "issuer", "", "the Pforte issuer URL (default: the state file's, else "+defaultIssuer+")")
	fl.StringVar(&kv, "kvnr", "", "the member number (Krankenversichertennummer) of the account to move")
	fl.BoolVar(&noWait, "no-wait", false, "print the QR code and return; transfer redeem waits later")
	fl.DurationVar(&wait, "wait", 6*time.Minute, "how long to wait for the approval")
	fl.DurationVar(&poll, "poll", 0, "the time between two attempts (default: the issuer's)")
	_ = fl.MarkHidden("poll")
	return cmd
}

func transferRedeemCommand(e *env) *cobra.Command {
	var wait, poll time.Duration
	cmd := &cobra.Command{
		Use:   "redeem",
		Short: "on the new phone: take over the approved transfer (waits until approved)",
		Long: "redeem asks whether the old phone approved the transfer transfer begin started\n" +
			"(POST /app/v1/transfers/redemption) and, once it did, keeps the enrollment session in the\n" +
			"state file: next bind-device and set-pin. --wait 0 asks once.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, path, exists, err := e.loadState()
			if err != nil {
				return err
			}
			if !exists || st.Transfer == nil || st.Transfer.Secret == "" {
				return fmt.Errorf("no transfer in %s: start one with pforte-app transfer begin", path)
			}
			api, err := newAppAPI(pick(st.Issuer, defaultIssuer), e.language())
			if err != nil {
				return err
			}
			return e.redeemTransfer(cmd.Context(), api, st, path, wait, poll)
		},
	}
	cmd.Flags().DurationVar(&wait, "wait", 6*time.Minute, "how long to wait for the approval (0: ask once)")
	cmd.Flags().DurationVar(&poll, "poll", 0, "the time between two attempts (default: the issuer's)")
	_ = cmd.Flags().MarkHidden("poll")
	return cmd
}

// redeemTransfer redeems st's transfer, asking again while it is pending
// until wait has passed; poll (0: the issuer's Retry-After) is the time
// between attempts. On success the enrollment session replaces the
// transfer in the state file; a transfer the issuer refuses for good
// (unknown, used, expired, approver gone) is dropped from it.
func (e *env) redeemTransfer(ctx context.Context, api *appAPI, st state, path string, wait, poll time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		var ans struct {
			Token     string    `json:"enrollment_token"`
			TokenType string    `json:"token_type"`
			ExpiresAt time.Time `json:"expires_at"`
			NextSteps []string  `json:"next_steps"`
		}
		err := api.call(ctx, http.MethodPost, "/transfers/redemption", "",
			map[string]string{"transfer_secret": st.Transfer.Secret}, http.StatusCreated, &ans)
		var p *problemError
		switch {
		case err == nil:
			if ans.Token == "" || !strings.EqualFold(ans.TokenType, "Bearer") {
				return errors.New("the issuer's answer holds no enrollment token")
			}
			st.Transfer = nil
			st.Enrollment = &enrollmentState{Token: ans.Token, ExpiresAt: ans.ExpiresAt.UTC(), NextSteps: ans.NextSteps,
				PasswordSet: true}
			if err := saveState(path, st); err != nil {
				return fmt.Errorf("the transfer is taken over, but its session could not be kept: %w", err)
			}
			fmt.Fprintf(e.stdout, "Confirmed on your current phone. The session is open until %s.\n",
				ans.ExpiresAt.Local().Format("15:04:05 MST"))
			fmt.Fprintln(e.stdout, "Next: bind this phone with pforte-app bind-device --name NAME, then pforte-app set-pin.")
			return nil
		case errors.As(err, &p) && p.Code == "transfer.pending":
		case errors.As(err, &p) && p.Status >= 400 && p.Status < 500:
			st.Transfer = nil
			if serr := saveState(path, st); serr != nil {
				return serr
			}
			return err
		default:
			return err
		}
		if !time.Now().Before(deadline) {
			return errors.New("the transfer is not confirmed yet on your current phone; wait longer with pforte-app transfer redeem")
		}
		pause := poll
		if pause <= 0 {
			pause = 2 * time.Second
			if n, perr := strconv.Atoi(p.RetryAfter); perr == nil && n > 0 {
				pause = time.Duration(n) * time.Second
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
	}
}

func transferApproveCommand(e *env) *cobra.Command {
	var p string
	cmd := &cobra.Command{
		Use:   "approve CODE",
		Short: "on the old phone: confirm the new phone's transfer with key and PIN",
		Long: "approve confirms the transfer whose QR code the new phone shows (its text,\n" +
			"pforte-transfer:…, or the code alone) with this phone's key and release PIN\n" +
			"(POST /app/v1/devices/{id}/challenge, then POST /app/v1/transfers/approval). A wrong PIN\n" +
			"counts as in every device request. Only confirm a code your own new phone shows: the new\n" +
			"phone is then bound to your account. This phone stays bound.",
		Example: "  pforte-app transfer approve pforte-transfer:Jq2k…",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			code := strings.TrimPrefix(strings.TrimSpace(a[0]), transferQRPrefix)
			if code == "" {
				return usagef("the transfer code is empty")
			}
			st, path, api, err := e.boundDevice()
			if err != nil {
				return err
			}
			pinValue, err := e.currentPIN(p)
			if err != nil {
				return err
			}
			chID, assertion, err := assert(cmd.Context(), api, st, path)
			if err != nil {
				return err
			}
			var out struct {
				Status    string    `json:"status"`
				ExpiresAt time.Time `json:"expires_at"`
			}
			if err := api.call(cmd.Context(), http.MethodPost, "/transfers/approval", "", map[string]any{
				"transfer_code": code,
				"proof":         map[string]any{"challenge_id": chID, "assertion": assertion, "pin": pinValue},
			}, http.StatusOK, &out); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Confirmed: the new phone can now bind itself to your account (until %s).\n",
				out.ExpiresAt.Local().Format("15:04:05 MST"))
			fmt.Fprintf(e.stdout, "This phone (%s) stays bound; remove it when you no longer use it: pforte-app devices revoke %s\n",
				st.Device.Name, st.Device.BindingID)
			return nil
		},
	}
	cmd.Flags().StringVar(&p, "pin", "", "the release PIN (visible in the process list: for tests)")
	return cmd
}

// printQR draws text as a QR code on a terminal: two modules per
// character cell (half blocks), light modules as the terminal's
// foreground, with a quiet zone, so that a phone's camera reads it off a
// dark terminal.
func printQR(w io.Writer, text string) error {
	q, err := goqr.EncodeText(text, goqr.Medium)
	if err != nil {
		return err
	}
	const quiet = 2
	n := q.Size()
	light := func(x, y int) bool {
		if x < 0 || y < 0 || x >= n || y >= n {
			return true
		}
		return !q.Module(x, y)
	}
	var b strings.Builder
	for y := -quiet; y < n+quiet; y += 2 {
		for x := -quiet; x < n+quiet; x++ {
			top, bottom := light(x, y), light(x, y+1)
			switch {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteString(" ")
			}
		}
		b.WriteByte('\n')
	}
	_, err = io.WriteString(w, b.String())
	return err
}
