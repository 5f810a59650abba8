package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pforte-id/pforte/cmd/pforte-app/appclient"
)

// The member's credential changes, as the Service-App makes them:
//
//	change-pin       POST /app/v1/devices/{id}/challenge, then POST /app/v1/pin/change
//	reset-password   … then POST /app/v1/password/reset   ("Passwort vergessen")
//	change-password  … then POST /app/v1/password/change
//	reset-pin --eid, reset-password --eid
//	                 POST /app/v1/recovery (the key alone) → the eID service's URL;
//	                 the browser → eID service → Pforte → return_uri?code=…;
//	                 POST /app/v1/recovery/confirmation (token, code, verifier, the key again)
//
// Each sends a proof: the device key's answer to a fresh challenge and the
// release PIN, which counts toward the lockout like every PIN entry.

// passwordFlag is one password a command takes: on the command line (for
// tests), from a file's first line (- for stdin), or asked for on the
// terminal.
type passwordFlag struct {
	name, file  string // the flags' names
	value, path string
}

func (f *passwordFlag) register(cmd *cobra.Command, what string) {
	cmd.Flags().StringVar(&f.value, f.name, "", what+" (visible in the process list: for tests)")
	cmd.Flags().StringVar(&f.path, f.file, "", "read "+what+" from the first line of this file (- for stdin)")
}

func (f *passwordFlag) check() error {
	if f.value != "" && f.path != "" {
		return usagef("give --%s or --%s, not both", f.name, f.file)
	}
	return nil
}

// current returns the password, asking once on the terminal.
func (f *passwordFlag) current(e *env, prompt string) (string, error) {
	return f.read(e, func() (string, error) { return e.readSecret(prompt) })
}

// fresh returns the password, asking twice on the terminal.
func (f *passwordFlag) fresh(e *env) (string, error) {
	return f.read(e, e.promptNewPassword)
}

func (f *passwordFlag) read(e *env, ask func() (string, error)) (string, error) {
	switch {
	case f.path != "":
		pw, err := readPasswordFile(f.path, e.stdin)
		if err != nil {
			// readPasswordFile names its own flag.
			return "", errors.New(strings.Replace(err.Error(), "--password-file", "--"+f.file, 1))
		}
		return pw, nil
	case f.value != "":
		return f.value, nil
	case e.readSecret == nil:
		return "", usagef("stdin is not a terminal: give --%s FILE (or - for stdin)", f.file)
	}
	return ask()
}

// proofBody is a device proof for the bound device: a fresh assertion and
// PIN p, for the credential endpoints' "proof".
func proofBody(ctx context.Context, api *appAPI, st state, path, p string) (map[string]any, error) {
	chID, a, err := assert(ctx, api, st, path)
	if err != nil {
		return nil, err
	}
	return map[string]any{"challenge_id": chID, "assertion": json.RawMessage(a), "pin": p}, nil
}

func changePINCommand(e *env) *cobra.Command {
	var p, next string
	cmd := &cobra.Command{
		Use:   "change-pin",
		Short: "change the release PIN with the current one (Freigabe-PIN ändern)",
		Long: "change-pin sets a new release PIN for this device: the device key signs a fresh\n" +
			"challenge, the current PIN goes with it, and the new PIN replaces it\n" +
			"(POST /app/v1/pin/change). A wrong current PIN counts toward the lockout like every\n" +
			"PIN entry; a refused new PIN (repeats, runs, the date of birth) costs no attempt.\n" +
			"A forgotten PIN is reset with the password: pforte-app reset-pin.\n\n" +
			"The current PIN is asked for once and the new one twice, without echo, when stdin is a\n" +
			"terminal; --pin and --new-pin are visible in the process list: for tests only.",
		Example: "  pforte-app change-pin",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if next != "" {
				if err := checkPINFormat("--new-pin", next); err != nil {
					return err
				}
			}
			st, path, api, err := e.boundDevice()
			if err != nil {
				return err
			}
			if p, err = e.currentPIN(p); err != nil {
				return err
			}
			if next, err = e.newPIN("--new-pin", next); err != nil {
				return err
			}
			proof, err := proofBody(cmd.Context(), api, st, path, p)
			if err != nil {
				return err
			}
			if err := api.call(cmd.Context(), http.MethodPost, "/pin/change", "", map[string]any{
				"proof": proof, "new_pin": next,
			}, http.StatusNoContent, nil); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, "Your new release PIN is set.")
			return nil
		},
	}
	cmd.Flags().StringVar(&p, "pin", "", "the current PIN (visible in the process list: for tests)")
	cmd.Flags().StringVar(&next, "new-pin", "", "the new PIN (visible in the process list: for tests)")
	return cmd
}

func resetPasswordCommand(e *env) *cobra.Command {
	var p string
	var eid eidFlags
	pw := passwordFlag{name: "new-password", file: "new-password-file"}
	cmd := &cobra.Command{
		Use:   "reset-password",
		Short: "set a new password with this device and the release PIN (Passwort vergessen)",
		Long: "reset-password sets a new password when the old one is forgotten: the device key signs\n" +
			"a fresh challenge (possession) and the release PIN goes with it (knowledge)\n" +
			"(POST /app/v1/password/reset). The PIN counts toward the lockout like every PIN entry.\n" +
			"The new password must pass the same rules as at the registration (10 to 128\n" +
			"characters, not common, none of the member number, names or date of birth). Every\n" +
			"login in a browser ends; log in there with the new password. This device and its PIN\n" +
			"stay as they are.\n\n" +
			"With --eid the ID card stands in for the PIN (a forgotten PIN, a blocked device): the\n" +
			"device key begins an eID proof (POST /app/v1/recovery), the browser confirms the\n" +
			"identity at the eID service, and the key and the one-time code set the new password\n" +
			"(POST /app/v1/recovery/confirmation). --auto confirms at the development broker.\n\n" +
			"The PIN is asked for once and the new password twice, without echo, when stdin is a\n" +
			"terminal; --new-password-file reads the first line of a file (- for stdin). --pin and\n" +
			"--new-password are visible in the process list: for tests only.",
		Example: "  pforte-app reset-password\n  pforte-app reset-password --new-password-file pw.txt\n  pforte-app reset-password --eid",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := pw.check(); err != nil {
				return err
			}
			if eid.on {
				if p != "" {
					return usagef("--eid needs no --pin")
				}
				next, err := pw.fresh(e)
				if err != nil {
					return err
				}
				if err := e.recoverWithEID(cmd.Context(), eid, "", next); err != nil {
					return err
				}
				fmt.Fprintln(e.stdout, "Identity confirmed with the ID card. Your new password is set. Every login in a browser has ended; log in there with the new password.")
				return nil
			}
			st, path, api, err := e.boundDevice()
			if err != nil {
				return err
			}
			if p, err = e.currentPIN(p); err != nil {
				return err
			}
			next, err := pw.fresh(e)
			if err != nil {
				return err
			}
			proof, err := proofBody(cmd.Context(), api, st, path, p)
			if err != nil {
				return err
			}
			if err := api.call(cmd.Context(), http.MethodPost, "/password/reset", "", map[string]any{
				"proof": proof, "new_password": next,
			}, http.StatusNoContent, nil); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, "Your new password is set. Every login in a browser has ended; log in there with the new password.")
			return nil
		},
	}
	cmd.Flags().StringVar(&p, "pin", "", "the release PIN (visible in the process list: for tests)")
	pw.register(cmd, "the new password")
	eid.register(cmd)
	return cmd
}

func changePasswordCommand(e *env) *cobra.Command {
	var p string
	cur := passwordFlag{name: "password", file: "password-file"}
	pw := passwordFlag{name: "new-password", file: "new-password-file"}
	cmd := &cobra.Command{
		Use:   "change-password",
		Short: "change the password with this device, the release PIN and the current password",
		Long: "change-password sets a new password: the device key signs a fresh challenge, the\n" +
			"release PIN and the current password go with it (POST /app/v1/password/change). A\n" +
			"wrong PIN counts toward the lockout; a wrong password counts like one on the login\n" +
			"page, and after a few the next check waits. The new password must pass the same rules\n" +
			"as at the registration. Every login in a browser ends. A forgotten password is reset\n" +
			"with pforte-app reset-password.\n\n" +
			"The PIN and the current password are asked for once and the new password twice, without\n" +
			"echo, when stdin is a terminal; --password-file and --new-password-file read the first\n" +
			"line of a file (- for stdin, for one of them). --pin, --password and --new-password are\n" +
			"visible in the process list: for tests only.",
		Example: "  pforte-app change-password",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cur.check(); err != nil {
				return err
			}
			if err := pw.check(); err != nil {
				return err
			}
			if cur.path == "-" && pw.path == "-" {
				return usagef("stdin holds one password: give a file for --password-file or --new-password-file")
			}
			st, path, api, err := e.boundDevice()
			if err != nil {
				return err
			}
			if p, err = e.currentPIN(p); err != nil {
				return err
			}
			current, err := cur.current(e, "Aktuelles Passwort / Current password: ")
			if err != nil {
				return err
			}
			next, err := pw.fresh(e)
			if err != nil {
				return err
			}
			proof, err := proofBody(cmd.Context(), api, st, path, p)
			if err != nil {
				return err
			}
			if err := api.call(cmd.Context(), http.MethodPost, "/password/change", "", map[string]any{
				"proof": proof, "current_password": current, "new_password": next,
			}, http.StatusNoContent, nil); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, "Your new password is set. Every login in a browser has ended; log in there with the new password.")
			return nil
		},
	}
	cmd.Flags().StringVar(&p, "pin", "", "the release PIN (visible in the process list: for tests)")
	cur.register(cmd, "the current password")
	pw.register(cmd, "the new password")
	return cmd
}

// eidFlags are the flags of a recovery with the eID.
type eidFlags struct {
	on, auto bool
	wait     time.Duration
}

func (f *eidFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.on, "eid", false, "prove the identity with the ID card instead (no PIN or password needed)")
	cmd.Flags().BoolVar(&f.auto, "auto", false, "with --eid: confirm the identity at the development eID broker (tests)")
	cmd.Flags().DurationVar(&f.wait, "wait", 15*time.Minute, "with --eid: how long to wait for the identity to be confirmed")
}

// recoverWithEID proves the identity of the bound device's member with
// the ID card and sets newPIN and/or newPassword on that device and
// account.
func (e *env) recoverWithEID(ctx context.Context, f eidFlags, newPIN, newPassword string) error {
	st, _, _, err := e.boundDevice()
	if err != nil {
		return err
	}
	d, c, err := e.approvalDevice(ctx)
	if err != nil {
		return err
	}
	ret, err := appclient.ListenEIDReturn()
	if err != nil {
		return fmt.Errorf("the return address for the eID service: %w", err)
	}
	defer ret.Close()
	verifier, challenge := appclient.NewVerifier()
	r, err := c.BeginRecovery(ctx, d, ret.URI, challenge)
	if err != nil {
		return err
	}
	code, err := awaitEID(ctx, e, ret, r.URL, st.KVNR, f.auto, f.wait, r.ExpiresIn)
	if err != nil {
		return err
	}
	return c.ConfirmRecovery(ctx, r, d, code, verifier, newPIN, newPassword)
}
