package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pforte-id/pforte/cmd/pforte-app/appclient"
	"github.com/pforte-id/pforte/cmd/pforte-app/authenticator"
)

// Device binding and the release PIN, as the Service-App does them:
//
//	bind-device   POST /app/v1/enrollment/device/challenge, then
//	              POST /app/v1/enrollment/device      ("Gerätebindung")
//	set-pin       PUT  /app/v1/enrollment/pin         ("Freigabe-PIN festlegen")
//	devices       POST /app/v1/devices/{id}/challenge, then
//	              POST /app/v1/devices/list | {id}/rename | {id}/revoke | revoke-others
//	reset-pin     POST /app/v1/devices/{id}/challenge, then POST /app/v1/pin/reset
//	reconfirm     POST /app/v1/devices/{id}/challenge, then POST /app/v1/devices/reconfirm
//
// The device key is the software authenticator (package authenticator):
// a P-256 key in the state file, packed self attestation. Pforte accepts
// it only where unattested keys are allowed (development).

// pinLength is the number of digits of a release PIN.
const pinLength = 6

// checkPINFormat refuses what is not six digits before it is sent: the
// app's PIN pad allows nothing else, and a typo must not cost one of the
// five attempts. Whether the PIN is trivial is the server's to decide.
func checkPINFormat(flag, p string) error {
	if len(p) != pinLength || strings.Trim(p, "0123456789") != "" {
		return usagef("%s: the PIN must be exactly 6 digits / Die PIN muss genau 6 Ziffern haben", flag)
	}
	return nil
}

// appOrigin is the origin the app's client data carry for issuer: the
// issuer's origin, and for an issuer on a loopback address
// http://localhost:PORT, because a WebAuthn relying party is a domain and
// Pforte makes such an instance the relying party localhost.
func appOrigin(issuer string) (string, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("the issuer %q is not a URL", issuer)
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && ip.IsLoopback() {
		o := u.Scheme + "://localhost"
		if p := u.Port(); p != "" {
			o += ":" + p
		}
		return o, nil
	}
	return u.Scheme + "://" + u.Host, nil
}

// challenge is the answer of the challenge endpoints.
type challenge struct {
	ID      string          `json:"challenge_id"`
	Options json.RawMessage `json:"options"`
}

// deviceOut is a device as the API shows it.
type deviceOut struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Platform   string    `json:"platform"`
	Status     string    `json:"status"`
	PINSet     bool      `json:"pin_set"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	Current    bool      `json:"current"`
	// ReconfirmBy is when the device must be confirmed again.
	ReconfirmBy time.Time `json:"reconfirm_by"`
}

// enrollmentSession returns the state with its open enrollment session,
// or says what to do first.
func (e *env) enrollmentSession() (state, string, *appAPI, error) {
	st, path, exists, err := e.loadState()
	if err != nil {
		return st, path, nil, err
	}
	switch {
	case !exists:
		return st, path, nil, fmt.Errorf("no state file %s: activate the app first (pforte-app activate)", path)
	case (st.Enrollment == nil || st.Enrollment.Token == "") && st.Device != nil && st.Device.PINSet:
		return st, path, nil, fmt.Errorf("the enrollment is complete: device %s is bound and its release PIN is set; to change the PIN: pforte-app reset-pin", st.Device.BindingID)
	case st.Enrollment == nil || st.Enrollment.Token == "":
		return st, path, nil, fmt.Errorf("no enrollment session in %s: activate the app first (pforte-app activate)", path)
	}
	api, err := newAppAPI(pick(st.Issuer, defaultIssuer), e.language())
	return st, path, api, err
}

func bindDeviceCommand(e *env) *cobra.Command {
	var name, platform, origin string
	cmd := &cobra.Command{
		Use:   "bind-device --name NAME",
		Short: "bind this device to the account (Gerätebindung)",
		Long: "bind-device binds this device to the member's account in the enrollment session that\n" +
			"activate opened, after set-password: it asks for creation options\n" +
			"(POST /app/v1/enrollment/device/challenge), creates a P-256 key with the software\n" +
			"authenticator, answers with its packed self attestation (POST /app/v1/enrollment/device)\n" +
			"and keeps the key, the credential and the binding id in the state file. Pforte accepts\n" +
			"this software key only where unattested keys are allowed (development); the real apps\n" +
			"create the key in secure hardware and prove it by attestation.\n\n" +
			"The key's client data carry --origin, by default the issuer's origin (for an issuer on\n" +
			"a loopback address http://localhost:PORT, the relying party Pforte makes of it).\n" +
			"Next: set-pin.",
		Example: "  pforte-app bind-device --name 'Annas Laptop'",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(name) == "" {
				return usagef("--name is required: how the device is shown in the device list, e.g. 'Annas Pixel 8'")
			}
			if platform != "software" && platform != "android" && platform != "ios" {
				return usagef("--platform must be software, android or ios")
			}
			st, path, api, err := e.enrollmentSession()
			if err != nil {
				return err
			}
			if st.Enrollment.BindingID != "" {
				return fmt.Errorf("device %s is bound in this enrollment already; next: pforte-app set-pin", st.Enrollment.BindingID)
			}
			if origin == "" {
				if origin, err = appOrigin(api.issuer); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			// A key sent before whose answer was lost: if the issuer bound
			// it, it is this device's (GET /enrollment names the device
			// bound in the session).
			if pending := st.PendingDevice; pending != nil {
				if id, ok, err := boundInSession(ctx, api, st.Enrollment.Token, pending.Key); err != nil {
					return err
				} else if ok {
					fmt.Fprintln(e.stdout, "The issuer bound this device's key before; its answer had not arrived.")
					return e.adoptDevice(path, st, pending, deviceOut{ID: id, Name: pending.Name, Platform: pending.Platform})
				}
				st.PendingDevice = nil
			}
			var ch challenge
			if err := api.call(ctx, http.MethodPost, "/enrollment/device/challenge", st.Enrollment.Token, nil, http.StatusCreated, &ch); err != nil {
				return err
			}
			key, err := authenticator.New()
			if err != nil {
				return err
			}
			resp, err := key.Register(ch.Options, origin, authenticator.Format(authenticator.FormatPacked))
			if err != nil {
				return fmt.Errorf("the device key refused the issuer's options: %w", err)
			}
			// The key is kept before it is sent: an answer lost on the way
			// back must not lose a key the issuer bound.
			st.PendingDevice = &deviceState{Name: name, Platform: platform, Origin: origin, Key: key}
			if err := saveState(path, st); err != nil {
				return err
			}
			var out deviceOut
			err = api.call(ctx, http.MethodPost, "/enrollment/device", st.Enrollment.Token, map[string]any{
				"challenge_id": ch.ID, "response": json.RawMessage(resp), "name": name, "platform": platform,
			}, http.StatusCreated, &out)
			if err != nil {
				var p *appclient.Problem
				if errors.As(err, &p) && p.Status != http.StatusConflict && p.Status < 500 {
					// Refused: nothing was bound.
					st.PendingDevice = nil
					_ = saveState(path, st)
				}
				return err
			}
			if out.ID == "" {
				return errors.New("the issuer's answer holds no binding id")
			}
			return e.adoptDevice(path, st, st.PendingDevice, out)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&name, "name", "", "the device name shown in the device list (1-64 characters)")
	fl.StringVar(&platform, "platform", "software", "the platform reported to the issuer: software, android or ios (the key is a software key either way)")
	fl.StringVar(&origin, "origin", "", "the origin of the client data (default: the issuer's; localhost for a loopback issuer)")
	return cmd
}

// adoptDevice keeps pending, bound as out, as this phone's device.
func (e *env) adoptDevice(path string, st state, pending *deviceState, out deviceOut) error {
	if st.Device != nil && st.Device.BindingID != "" {
		fmt.Fprintf(e.stdout, "This replaces the key of device %s in the state file; that binding stays on the account until it is revoked.\n", st.Device.BindingID)
	}
	d := *pending
	d.BindingID, d.Name, d.Platform = out.ID, pick(out.Name, pending.Name), pick(out.Platform, pending.Platform)
	d.BoundAt = out.CreatedAt.UTC()
	if d.BoundAt.IsZero() {
		d.BoundAt = time.Now().UTC()
	}
	st.Device, st.PendingDevice = &d, nil
	st.Enrollment.BindingID = out.ID
	if err := saveState(path, st); err != nil {
		return fmt.Errorf("the device is bound, but its key could not be kept (%w); activate again with a new letter", err)
	}
	fmt.Fprintf(e.stdout, "Device bound: %q (%s, id %s).\n", d.Name, d.Platform, d.BindingID)
	fmt.Fprintln(e.stdout, "Next: set your 6-digit release PIN with pforte-app set-pin.")
	return nil
}

// boundInSession asks the enrollment session of token which device it has
// bound and reports whether that is key's, with its binding id.
func boundInSession(ctx context.Context, api *appAPI, token string, key *authenticator.Authenticator) (string, bool, error) {
	var es struct {
		Device *struct {
			ID           string `json:"id"`
			CredentialID string `json:"credential_id"`
		} `json:"device"`
	}
	if err := api.call(ctx, http.MethodGet, "/enrollment", token, nil, http.StatusOK, &es); err != nil {
		return "", false, err
	}
	if es.Device == nil || key == nil || es.Device.CredentialID != base64.RawURLEncoding.EncodeToString(key.CredentialID()) {
		return "", false, nil
	}
	return es.Device.ID, true, nil
}

// newPIN returns the PIN of flag, or asks for it twice on the terminal.
func (e *env) newPIN(flag, value string) (string, error) {
	if value == "" {
		if e.readSecret == nil {
			return "", usagef("stdin is not a terminal: give %s", flag)
		}
		p, err := e.readSecret("Neue Freigabe-PIN (6 Ziffern) / New release PIN (6 digits): ")
		if err != nil {
			return "", err
		}
		if err := checkPINFormat("PIN", p); err != nil {
			return "", err
		}
		again, err := e.readSecret("Wiederholen / Repeat: ")
		if err != nil {
			return "", err
		}
		if p != again {
			return "", errors.New("Die PINs stimmen nicht überein. / The PINs do not match.")
		}
		value = p
	}
	return value, checkPINFormat(flag, value)
}

// currentPIN returns the PIN of --pin, or asks for it once on the terminal.
func (e *env) currentPIN(value string) (string, error) {
	if value == "" {
		if e.readSecret == nil {
			return "", usagef("stdin is not a terminal: give --pin")
		}
		p, err := e.readSecret("Freigabe-PIN / Release PIN: ")
		if err != nil {
			return "", err
		}
		value = p
	}
	return value, checkPINFormat("--pin", value)
}

func setPINCommand(e *env) *cobra.Command {
	var p string
	cmd := &cobra.Command{
		Use:   "set-pin",
		Short: "set the 6-digit release PIN and complete the enrollment (Freigabe-PIN)",
		Long: "set-pin sets the release PIN of the device bound with bind-device\n" +
			"(PUT /app/v1/enrollment/pin) and so completes the enrollment: the account is active.\n" +
			"Then it lists the account's other devices (with the new key and PIN): a new binding\n" +
			"never removes an old one; remove a lost or old phone with pforte-app devices revoke ID.\n" +
			"Exactly 6 digits; the issuer refuses one digit repeated (111111), runs (123456,\n" +
			"654321, 890123), common PINs and the date of birth (140385, 850314, …).\n\n" +
			"The PIN is asked for twice without echo when stdin is a terminal; --pin puts it on\n" +
			"the command line, where other users of the machine may see it: for tests only.",
		Example: "  pforte-app set-pin",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if p != "" {
				if err := checkPINFormat("--pin", p); err != nil {
					return err
				}
			}
			st, path, api, err := e.enrollmentSession()
			if err != nil {
				return err
			}
			if p, err = e.newPIN("--pin", p); err != nil {
				return err
			}
			var out struct {
				AccountStatus string `json:"account_status"`
			}
			if err := api.call(cmd.Context(), http.MethodPut, "/enrollment/pin", st.Enrollment.Token,
				map[string]string{"pin": p}, http.StatusOK, &out); err != nil {
				return err
			}
			if st.Device != nil && st.Device.BindingID == st.Enrollment.BindingID {
				st.Device.PINSet = true
			}
			// The session is complete: its token opens nothing any more.
			st.Enrollment = nil
			if err := saveState(path, st); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Your release PIN is set. The account is %s: this device and the PIN are your two factors.\n", out.AccountStatus)
			e.showOtherDevices(cmd, p)
			return nil
		},
	}
	cmd.Flags().StringVar(&p, "pin", "", "the new PIN (visible in the process list: for tests)")
	return cmd
}

// boundDevice returns the state with its bound device, or says what to do
// first.
func (e *env) boundDevice() (state, string, *appAPI, error) {
	st, path, exists, err := e.loadState()
	if err != nil {
		return st, path, nil, err
	}
	if !exists || st.Device == nil || st.Device.Key == nil || st.Device.BindingID == "" {
		return st, path, nil, fmt.Errorf("no device is bound in %s: bind one with pforte-app bind-device", path)
	}
	api, err := newAppAPI(pick(st.Issuer, defaultIssuer), e.language())
	return st, path, api, err
}

// assert gets a fresh challenge for the bound device and answers it with
// the device key. The key's counter grew, so the state is saved before
// the answer is used, whatever the server makes of it: a counter that
// went back on the next run would mark the device as a possible copy.
func assert(ctx context.Context, api *appAPI, st state, path string) (challengeID string, assertion json.RawMessage, err error) {
	var ch challenge
	if err := api.call(ctx, http.MethodPost, "/devices/"+url.PathEscape(st.Device.BindingID)+"/challenge", "", nil,
		http.StatusCreated, &ch); err != nil {
		return "", nil, err
	}
	a, err := st.Device.Key.Assert(ch.Options, st.Device.Origin)
	if err != nil {
		return "", nil, fmt.Errorf("the device key refused the issuer's options: %w", err)
	}
	if err := saveState(path, st); err != nil {
		return "", nil, fmt.Errorf("the device key's counter could not be kept: %w", err)
	}
	return ch.ID, a, nil
}

// manage runs one device management call: a fresh assertion, the PIN,
// and the request body extra (may be nil) at POST /devices/<path>.
func (e *env) manage(cmd *cobra.Command, pinValue, endpoint string, extra map[string]any, want int, out any) (state, string, error) {
	return e.manageAt(cmd, pinValue, "/devices/"+endpoint, extra, want, out)
}

// manageAt is manage for an endpoint outside /devices/ (path from the
// API's prefix on).
func (e *env) manageAt(cmd *cobra.Command, pinValue, endpoint string, extra map[string]any, want int, out any) (state, string, error) {
	st, path, api, err := e.boundDevice()
	if err != nil {
		return st, path, err
	}
	p, err := e.currentPIN(pinValue)
	if err != nil {
		return st, path, err
	}
	chID, a, err := assert(cmd.Context(), api, st, path)
	if err != nil {
		return st, path, err
	}
	body := map[string]any{"proof": map[string]any{"challenge_id": chID, "assertion": a, "pin": p}}
	for k, v := range extra {
		body[k] = v
	}
	return st, path, api.call(cmd.Context(), http.MethodPost, endpoint, "", body, want, out)
}

// idNote explains device ids that look like flags.
const idNote = "Device ids are as pforte-app devices lists them; one that starts with '-' goes after\n" +
	"'--', so that it is not read as a flag."

func devicesCommand(e *env) *cobra.Command {
	var p string
	root := &cobra.Command{
		Use:   "devices",
		Short: "list, rename or revoke the member's devices",
		Long: "devices manages the devices bound to the member's account. Each call proves possession\n" +
			"and knowledge: the bound key signs a fresh challenge (POST /app/v1/devices/{id}/challenge;\n" +
			"the key's counter is saved in the state file) and the release PIN goes with it.\n" +
			"The PIN is asked for without echo when stdin is a terminal, or given with --pin.\n\n" +
			"A wrong PIN counts: after the 3rd wrong entry the next waits 1 minute, after the 4th 5\n" +
			"minutes, the 5th blocks the device (then: pforte-app reset-pin). The error says how many\n" +
			"attempts are left and from when the next entry is taken.\n\n" +
			"Without a subcommand: list.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return e.listDevices(cmd, p) },
	}
	root.PersistentFlags().StringVar(&p, "pin", "", "the release PIN (visible in the process list: for tests)")

	list := &cobra.Command{
		Use:   "list",
		Short: "list the devices bound to the account (POST /app/v1/devices/list)",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return e.listDevices(cmd, p) },
	}
	rename := &cobra.Command{
		Use:     "rename ID NAME",
		Short:   "rename a device (POST /app/v1/devices/{id}/rename)",
		Long:    "rename gives device ID a new name (1-64 characters).\n\n" + idNote,
		Example: "  pforte-app devices rename d6xMNJH7MENPX4u0Z1Y3cQ 'Annas altes Handy'",
		Args:    exactArgs(2),
		RunE: func(cmd *cobra.Command, a []string) error {
			st, path, err := e.manage(cmd, p, url.PathEscape(a[0])+"/rename", map[string]any{"name": a[1]}, http.StatusNoContent, nil)
			if err != nil {
				return err
			}
			if a[0] == st.Device.BindingID {
				st.Device.Name = strings.TrimSpace(a[1])
				if err := saveState(path, st); err != nil {
					return err
				}
			}
			fmt.Fprintf(e.stdout, "Device %s is now called %q.\n", a[0], strings.TrimSpace(a[1]))
			return nil
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "revoke a device: it can never log in again (POST /app/v1/devices/{id}/revoke)",
		Long: "revoke removes device ID from the account, at once and for good: e.g. a lost or sold\n" +
			"phone. Revoking this device itself removes its key from the state file; binding it\n" +
			"again needs a new letter.\n\n" + idNote,
		Example: "  pforte-app devices revoke d6xMNJH7MENPX4u0Z1Y3cQ",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			st, path, err := e.manage(cmd, p, url.PathEscape(a[0])+"/revoke", nil, http.StatusNoContent, nil)
			if err != nil {
				return err
			}
			if a[0] != st.Device.BindingID {
				fmt.Fprintf(e.stdout, "Device %s is revoked.\n", a[0])
				return nil
			}
			// The issuer revoked the session's tokens with the binding.
			st.Device, st.Session = nil, nil
			if err := saveState(path, st); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, "This device is revoked and its key removed from the state file; to use the app here again, register anew (pforte-app register).")
			return nil
		},
	}
	others := &cobra.Command{
		Use:   "revoke-others",
		Short: "revoke every device but this one (POST /app/v1/devices/revoke-others)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct {
				Revoked int `json:"revoked"`
			}
			if _, _, err := e.manage(cmd, p, "revoke-others", nil, http.StatusOK, &out); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%d other device(s) revoked; this one stays.\n", out.Revoked)
			return nil
		},
	}
	for _, c := range []*cobra.Command{rename, revoke} {
		c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
			return usagef("%v; a device id that starts with '-' goes after '--'", err)
		})
	}
	root.AddCommand(list, rename, revoke, others)
	return root
}

// exactArgs wants n positional arguments, as a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := cobra.ExactArgs(n)(cmd, a); err != nil {
			return usageError{err}
		}
		return nil
	}
}

func (e *env) listDevices(cmd *cobra.Command, p string) error {
	var out struct {
		Devices []deviceOut `json:"devices"`
	}
	if _, _, err := e.manage(cmd, p, "list", nil, http.StatusOK, &out); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\tID\tNAME\tPLATFORM\tSTATUS\tBOUND\tLAST USED\tCONFIRM BY")
	for _, d := range out.Devices {
		mark := ""
		if d.Current {
			mark = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", mark, d.ID, d.Name, d.Platform, d.Status,
			timeOr(d.CreatedAt, "-"), timeOr(d.LastUsedAt, "never"), timeOr(d.ReconfirmBy, "-"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "* this device")
	return nil
}

// showOtherDevices lists, after an enrollment completed, the devices of
// the account other than this one, with this device's key and PIN p: the
// new binding removed none of them, and the member decides which to
// remove. A failure to list is reported, not an error: the enrollment is
// complete.
func (e *env) showOtherDevices(cmd *cobra.Command, p string) {
	var out struct {
		Devices []deviceOut `json:"devices"`
	}
	if _, _, err := e.manage(cmd, p, "list", nil, http.StatusOK, &out); err != nil {
		fmt.Fprintf(e.stdout, "The device list could not be read (%v); see pforte-app devices.\n", err)
		return
	}
	var others []deviceOut
	for _, d := range out.Devices {
		if !d.Current {
			others = append(others, d)
		}
	}
	if len(others) == 0 {
		return
	}
	fmt.Fprintln(e.stdout, "Other devices bound to your account (they keep working until you remove them):")
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	for _, d := range others {
		fmt.Fprintf(tw, "  %s\t%s\t%s\tbound %s\tlast used %s\n", d.ID, d.Name, d.Status, timeOr(d.CreatedAt, "-"),
			timeOr(d.LastUsedAt, "never"))
	}
	_ = tw.Flush()
	fmt.Fprintln(e.stdout, "Remove a lost or old phone with: pforte-app devices revoke ID")
}

func timeOr(t time.Time, zero string) string {
	if t.IsZero() {
		return zero
	}
	return t.Local().Format("2006-01-02 15:04")
}

func resetPINCommand(e *env) *cobra.Command {
	var pw, pwFile, p string
	var eid eidFlags
	cmd := &cobra.Command{
		Use:   "reset-pin",
		Short: "set a new release PIN with the password (also unblocks a blocked device)",
		Long: "reset-pin sets a new release PIN for this device when the old one is forgotten or the\n" +
			"device is blocked after five wrong PINs: the device key signs a fresh challenge\n" +
			"(possession) and the account password stands in for the PIN (knowledge)\n" +
			"(POST /app/v1/pin/reset). The device is active again.\n\n" +
			"With --eid the ID card stands in for the password: the device key begins an eID proof\n" +
			"(POST /app/v1/recovery), the browser confirms the identity at the eID service, and the\n" +
			"key and the one-time code set the new PIN (POST /app/v1/recovery/confirmation).\n" +
			"--auto confirms at the development broker.\n\n" +
			"The password is asked for once and the new PIN twice, without echo, when stdin is a\n" +
			"terminal; --password-file reads the password from the first line of a file (- for\n" +
			"stdin). --password and --new-pin are visible in the process list: for tests only.",
		Example: "  pforte-app reset-pin\n  pforte-app reset-pin --eid",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if pw != "" && pwFile != "" {
				return usagef("give --password or --password-file, not both")
			}
			if p != "" {
				if err := checkPINFormat("--new-pin", p); err != nil {
					return err
				}
			}
			if eid.on {
				if pw != "" || pwFile != "" {
					return usagef("--eid needs no password")
				}
				p, err := e.newPIN("--new-pin", p)
				if err != nil {
					return err
				}
				if err := e.recoverWithEID(cmd.Context(), eid, p, ""); err != nil {
					return err
				}
				fmt.Fprintln(e.stdout, "Identity confirmed with the ID card. Your new release PIN is set; the device is active.")
				return nil
			}
			st, path, api, err := e.boundDevice()
			if err != nil {
				return err
			}
			switch {
			case pwFile != "":
				if pw, err = readPasswordFile(pwFile, e.stdin); err != nil {
					return err
				}
			case pw == "":
				if e.readSecret == nil {
					return usagef("stdin is not a terminal: give --password-file FILE (or - for stdin)")
				}
				if pw, err = e.readSecret("Passwort / Password: "); err != nil {
					return err
				}
			}
			if p, err = e.newPIN("--new-pin", p); err != nil {
				return err
			}
			chID, a, err := assert(cmd.Context(), api, st, path)
			if err != nil {
				return err
			}
			if err := api.call(cmd.Context(), http.MethodPost, "/pin/reset", "", map[string]any{
				"challenge_id": chID, "assertion": a, "password": pw, "new_pin": p,
			}, http.StatusNoContent, nil); err != nil {
				return err
			}
			st.Device.PINSet = true
			if err := saveState(path, st); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, "Your new release PIN is set; the device is active.")
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&pw, "password", "", "the account password (visible in the process list: for tests)")
	fl.StringVar(&pwFile, "password-file", "", "read the password from the first line of this file (- for stdin)")
	fl.StringVar(&p, "new-pin", "", "the new PIN (visible in the process list: for tests)")
	eid.register(cmd)
	return cmd
}

func reconfirmCommand(e *env) *cobra.Command {
	var pw, pwFile, p string
	cmd := &cobra.Command{
		Use:   "reconfirm",
		Short: "confirm this device again with the PIN and the password",
		Long: "reconfirm confirms this device again: the device key signs a fresh challenge, the release\n" +
			"PIN and the account password go with it (POST /app/v1/devices/reconfirm). Pforte asks\n" +
			"for it from time to time (devices.reconfirm_period, six months by default): once it is\n" +
			"due, login and approvals are refused with device.reconfirm_password until the device is\n" +
			"confirmed. pforte-app login and devices show when it is due next. A wrong password\n" +
			"counts as at the login page; a wrong PIN as in every other use of the device.\n\n" +
			"An account whose identity was proven with the ID card confirms with the eID instead\n" +
			"(device.reconfirm_eid).\n\n" +
			"The PIN and the password are asked for without echo when stdin is a terminal;\n" +
			"--password-file reads the password from the first line of a file (- for stdin).\n" +
			"--pin and --password are visible in the process list: for tests only.",
		Example: "  pforte-app reconfirm",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if pw != "" && pwFile != "" {
				return usagef("give --password or --password-file, not both")
			}
			if p != "" {
				if err := checkPINFormat("--pin", p); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			d, c, err := e.approvalDevice(ctx)
			if err != nil {
				return err
			}
			switch {
			case pwFile != "":
				if pw, err = readPasswordFile(pwFile, e.stdin); err != nil {
					return err
				}
			case pw == "":
				if e.readSecret == nil {
					return usagef("stdin is not a terminal: give --password-file FILE (or - for stdin)")
				}
				if pw, err = e.readSecret("Passwort / Password: "); err != nil {
					return err
				}
			}
			if p, err = e.currentPIN(p); err != nil {
				return err
			}
			by, err := c.Reconfirm(ctx, d, p, pw)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Gerät bestätigt. / Device confirmed. The next confirmation is due on %s.\n", clockTime(by))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&pw, "password", "", "the account password (visible in the process list: for tests)")
	fl.StringVar(&pwFile, "password-file", "", "read the password from the first line of this file (- for stdin)")
	fl.StringVar(&p, "pin", "", "the release PIN (visible in the process list: for tests)")
	return cmd
}
