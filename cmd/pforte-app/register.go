package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/pforte-id/pforte/catalog"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pforte-id/pforte/cmd/pforte-app/appclient"
	"github.com/pforte-id/pforte/cmd/pforte-app/letterscan"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
)

// Registration by password letter, as the Service-App does it:
//
//	register      POST /app/v1/registrations   ("Zugangsdaten anfordern")
//	letter-lost   POST /app/v1/letters/lost    ("Brief nicht erhalten")
//	activate      POST /app/v1/activations     (QR code + initial password)
//	set-password  PUT  /app/v1/enrollment/password
//
// The commands remember the issuer, the member number and the enrollment
// session in the state file (state.go).

const defaultIssuer = "http://localhost:8080"

// noArgs refuses positional arguments as a usage error.
func noArgs(cmd *cobra.Command, a []string) error {
	if err := cobra.NoArgs(cmd, a); err != nil {
		return usageError{err}
	}
	return nil
}

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// pick is the first non-empty value.
func pick(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// parseKVNR checks a member number as the app does before sending it, and
// words a refusal in lang (see env.language).
func parseKVNR(s, lang string) (kvnr.KVNR, error) {
	if s == "" {
		return "", usagef("--kvnr is required")
	}
	k, err := kvnr.Parse(s)
	if err != nil {
		return "", usageError{errors.New(catalog.Match(lang).Error(err))}
	}
	return k, nil
}

func registerCommand(e *env) *cobra.Command {
	var issuer, kv, birth, method string
	var auto bool
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "register",
		Short: "request credentials: order a password letter, or register with the ID card (eID)",
		Long: "register asks the issuer for a password letter (POST /app/v1/registrations). The letter\n" +
			"goes by post to the address the insurer has on file, never to one given here. The answer\n" +
			"is the same whether or not the details match, so that nobody can find out who is\n" +
			"insured: if no letter arrives within a few days, check the member number and the date\n" +
			"of birth. The issuer and member number are kept in the state file for activate.\n\n" +
			"With --method eid it registers with the electronic ID card instead: it prints the eID\n" +
			"service's URL to open in a browser on this computer, waits (at most --wait) until the\n" +
			"browser brings the one-time code to its loopback return address, redeems it with the\n" +
			"enrollment token and its PKCE verifier, and keeps the enrollment session in the state\n" +
			"file, for set-password. No date of birth is sent: the card states it. --auto confirms the identity\n" +
			"at the development eID broker itself, picking the demo identity of --kvnr (for tests;\n" +
			"a real eID service needs the card).",
		Example: "  pforte-app register --issuer http://localhost:8080 --kvnr A123456780 --birthdate 1985-03-14\n" +
			"  pforte-app register --kvnr A123456780 --method eid\n" +
			"  pforte-app register --kvnr A123456780 --method eid --auto",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := parseKVNR(kv, e.language())
			if err != nil {
				return err
			}
			switch {
			case method != "letter" && method != "eid":
				return usagef("--method must be letter or eid")
			case method == "letter" && birth == "":
				return usagef("--birthdate is required (YYYY-MM-DD or DD.MM.YYYY)")
			case method == "eid" && birth != "":
				return usagef("--birthdate is not sent with --method eid: the ID card states it")
			case method == "letter" && auto:
				return usagef("--auto goes with --method eid")
			}
			st, path, _, err := e.loadState()
			if err != nil {
				return err
			}
			api, err := newAppAPI(pick(issuer, st.Issuer, defaultIssuer), e.language())
			if err != nil {
				return err
			}
			if method == "eid" {
				return registerEID(cmd, e, api, k, st, path, auto, wait)
			}
			var ans struct {
				Status  string `json:"status"`
				Message string `json:"message"`
			}
			err = api.call(cmd.Context(), http.MethodPost, "/registrations", "",
				map[string]string{"kvnr": string(k), "birth_date": birth, "method": method}, http.StatusAccepted, &ans)
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, ans.Message)
			if st.Issuer != api.issuer || st.KVNR != string(k) {
				st = state{} // another member or issuer: an old session is not theirs
			}
			st.Issuer, st.KVNR, st.RequestedAt = api.issuer, string(k), time.Now().UTC()
			if err := saveState(path, st); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, "When the letter has arrived: pforte-app activate --letter LETTER.pdf (or --code and --password as printed).")
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&issuer, "issuer", "", "the Pforte issuer URL (default: the state file's, else "+defaultIssuer+")")
	fl.StringVar(&kv, "kvnr", "", "the member number (Krankenversichertennummer), e.g. A123456780")
	fl.StringVar(&birth, "birthdate", "", "the date of birth, YYYY-MM-DD or DD.MM.YYYY (letter only)")
	fl.StringVar(&method, "method", "letter", "how to prove the identity: letter or eid")
	fl.BoolVar(&auto, "auto", false, "eid: confirm the identity at the development eID broker (tests)")
	fl.DurationVar(&wait, "wait", 15*time.Minute, "eid: how long to wait for the identity to be confirmed")
	return cmd
}

// letterLostCommand reports the member's letter lost.
func letterLostCommand(e *env) *cobra.Command {
	var issuer, kv, birth string
	cmd := &cobra.Command{
		Use:   "letter-lost",
		Short: "report the password letter lost: it is voided and a new one sent (\"Brief nicht erhalten\")",
		Long: "letter-lost reports the member's password letter lost (POST /app/v1/letters/lost): if the\n" +
			"member number and the date of birth match, the letter is voided, whoever holds it, and a\n" +
			"new one goes at once to the address on file. As for register, the answer is the same\n" +
			"whether or not the details match. One report per member number is taken per interval\n" +
			"between letters; a further one is refused with the time from which a new letter is\n" +
			"possible.",
		Example: "  pforte-app letter-lost --kvnr A123456780 --birthdate 1985-03-14",
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
			if birth == "" {
				return usagef("--birthdate is required (YYYY-MM-DD or DD.MM.YYYY)")
			}
			api, err := newAppAPI(pick(issuer, st.Issuer, defaultIssuer), e.language())
			if err != nil {
				return err
			}
			var ans struct {
				Status  string `json:"status"`
				Message string `json:"message"`
			}
			err = api.call(cmd.Context(), http.MethodPost, "/letters/lost", "",
				map[string]string{"kvnr": string(k), "birth_date": birth}, http.StatusAccepted, &ans)
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, ans.Message)
			if st.Issuer != api.issuer || st.KVNR != string(k) {
				st = state{} // another member or issuer: an old session is not theirs
			}
			st.Issuer, st.KVNR, st.RequestedAt = api.issuer, string(k), time.Now().UTC()
			if err := saveState(path, st); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, "When the new letter has arrived: pforte-app activate --letter LETTER.pdf (or --code and --password as printed).")
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&issuer, "issuer", "", "the Pforte issuer URL (default: the state file's, else "+defaultIssuer+")")
	fl.StringVar(&kv, "kvnr", "", "the member number (default: the state file's)")
	fl.StringVar(&birth, "birthdate", "", "the date of birth, YYYY-MM-DD or DD.MM.YYYY")
	return cmd
}

// registerEID begins a registration with the ID card, shows the URL (or,
// with auto, confirms at the development broker), waits for the one-time
// code at its loopback return address, redeems it with the enrollment
// token and the verifier of its code challenge (so that a confirmation
// made in somebody else's browser is of no use to this client), and keeps
// the enrollment session in the state file.
func registerEID(cmd *cobra.Command, e *env, api *appAPI, k kvnr.KVNR, st state, path string, auto bool, wait time.Duration) error {
	ctx := cmd.Context()
	ret, err := appclient.ListenEIDReturn()
	if err != nil {
		return fmt.Errorf("the return address for the eID service: %w", err)
	}
	defer ret.Close()
	verifier, challenge := appclient.NewVerifier()
	var begun struct {
		Status    string `json:"status"`
		URL       string `json:"authorization_url"`
		Token     string `json:"enrollment_token"`
		TokenType string `json:"token_type"`
		ExpiresIn int    `json:"expires_in"`
	}
	err = api.call(ctx, http.MethodPost, "/registrations", "", map[string]string{
		"kvnr": string(k), "method": "eid", "return_uri": ret.URI, "code_challenge": challenge, "code_challenge_method": "S256",
	}, http.StatusCreated, &begun)
	if err != nil {
		return err
	}
	if begun.Token == "" || begun.URL == "" || !strings.EqualFold(begun.TokenType, "Bearer") {
		return errors.New("the issuer's answer holds no eID URL or enrollment token")
	}
	code, err := awaitEID(ctx, e, ret, begun.URL, string(k), auto, wait, begun.ExpiresIn)
	if err != nil {
		return err
	}
	var ans struct {
		ExpiresAt time.Time `json:"expires_at"`
		NextSteps []string  `json:"next_steps"`
	}
	err = api.call(ctx, http.MethodPost, "/enrollment", begun.Token,
		map[string]string{"code": code, "code_verifier": verifier}, http.StatusCreated, &ans)
	if err != nil {
		return err
	}
	if st.Issuer != api.issuer || st.KVNR != string(k) {
		st = state{}
	}
	st.Issuer, st.KVNR = api.issuer, string(k)
	st.Enrollment = &enrollmentState{Token: begun.Token, ExpiresAt: ans.ExpiresAt.UTC(), NextSteps: ans.NextSteps}
	if err := saveState(path, st); err != nil {
		return fmt.Errorf("registered, but the enrollment session could not be kept: %w", err)
	}
	fmt.Fprintf(e.stdout, "Identity confirmed. The enrollment session is open until %s.\n", ans.ExpiresAt.Local().Format("15:04:05 MST"))
	fmt.Fprintln(e.stdout, "Next: set your own password with pforte-app set-password.")
	return nil
}

// awaitEID has the member confirm the identity at the eID service's
// authURL — printed for a browser on this computer, or with auto confirmed
// at the development broker as the demo identity labelled match — and
// returns the one-time code the browser brings to the return address ret.
func awaitEID(ctx context.Context, e *env, ret *appclient.EIDReturn, authURL, match string, auto bool, wait time.Duration, expiresIn int) (string, error) {
	if auto {
		status, page, err := appclient.ConfirmAtDevBroker(ctx, nil, authURL, match)
		if err != nil {
			return "", fmt.Errorf("--auto: %w", err)
		}
		if status != http.StatusOK {
			return "", fmt.Errorf("the identity was not confirmed: %s", pageMessage(page))
		}
		fmt.Fprintln(e.stdout, "Confirmed the identity at the development eID broker.")
	} else {
		fmt.Fprintln(e.stdout, "Open this address in a browser on this computer and confirm your identity with the ID card:")
		fmt.Fprintln(e.stdout, authURL)
		fmt.Fprintln(e.stdout, "Waiting for the confirmation …")
	}
	if limit := time.Duration(expiresIn) * time.Second; limit > 0 && limit < wait {
		wait = limit
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	code, err := ret.Wait(wctx)
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", errors.New("the identity was not confirmed in time (or the eID service's answer was refused: the browser shows why); start again")
	}
	return code, nil
}

// pageMessage is the message of Pforte's error page, for the terminal.
func pageMessage(page string) string {
	if _, rest, ok := strings.Cut(page, `role="alert">`); ok {
		if msg, _, ok := strings.Cut(rest, "<"); ok {
			return html.UnescapeString(msg)
		}
	}
	return "see the browser"
}

func activateCommand(e *env) *cobra.Command {
	var issuer, kv, letterFile, code, initial string
	cmd := &cobra.Command{
		Use:   "activate",
		Short: "activate the app with the password letter",
		Long: "activate sends the initial password and the activation code of the password letter\n" +
			"(POST /app/v1/activations) and keeps the enrollment session it opens (30 minutes) in the\n" +
			"state file, for set-password.\n\n" +
			"With --letter it reads them from the letter's PDF as the app reads the paper letter:\n" +
			"the activation code from the QR code (https://<issuer>/app/activate#<code>) and the\n" +
			"initial password from the text. Without it, give --code (the code printed under the QR\n" +
			"code, or the URL) and --password (the initial password) as printed.\n\n" +
			"Five wrong attempts void the letter; the member then requests a new one.",
		Example: "  pforte-app activate --kvnr A123456780 --letter pforte-letter-….pdf\n" +
			"  pforte-app activate --kvnr A123456780 --code 'ABCD EFGH …' --password 'ABCD EFGH JKLM'",
		Args: noArgs,
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
			switch {
			case letterFile != "" && (code != "" || initial != ""):
				return usagef("--letter reads the code and the password from the letter: give either --letter or --code and --password")
			case letterFile == "" && code == "" && initial == "":
				return usagef("give --letter LETTER.pdf, or --code and --password as printed on the letter")
			case letterFile == "" && (code == "" || initial == ""):
				return usagef("--code and --password go together")
			}
			if letterFile != "" {
				if code, initial, err = readLetter(letterFile, api.issuer); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Read %s: the activation code from the QR code, the initial password from the text.\n", letterFile)
			} else {
				code = codeFromInput(code)
			}
			var ans struct {
				Token     string    `json:"enrollment_token"`
				TokenType string    `json:"token_type"`
				ExpiresAt time.Time `json:"expires_at"`
				NextSteps []string  `json:"next_steps"`
			}
			err = api.call(cmd.Context(), http.MethodPost, "/activations", "",
				map[string]string{"kvnr": string(k), "initial_password": initial, "activation_code": code},
				http.StatusCreated, &ans)
			if err != nil {
				return err
			}
			if ans.Token == "" || !strings.EqualFold(ans.TokenType, "Bearer") {
				return errors.New("the issuer's answer holds no enrollment token")
			}
			st.Issuer, st.KVNR = api.issuer, string(k)
			st.Enrollment = &enrollmentState{Token: ans.Token, ExpiresAt: ans.ExpiresAt.UTC(), NextSteps: ans.NextSteps}
			if err := saveState(path, st); err != nil {
				return fmt.Errorf("activated, but the enrollment session could not be kept: %w", err)
			}
			fmt.Fprintf(e.stdout, "Activated. The enrollment session is open until %s.\n", ans.ExpiresAt.Local().Format("15:04:05 MST"))
			fmt.Fprintln(e.stdout, "Next: set your own password with pforte-app set-password.")
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&issuer, "issuer", "", "the Pforte issuer URL (default: the state file's, else "+defaultIssuer+")")
	fl.StringVar(&kv, "kvnr", "", "the member number (default: the state file's)")
	fl.StringVar(&letterFile, "letter", "", "the password letter as PDF; code and password are read from it")
	fl.StringVar(&code, "code", "", "the activation code as printed, or the URL of the QR code")
	fl.StringVar(&initial, "password", "", "the initial password as printed")
	return cmd
}

// readLetter reads the activation code (from the QR code) and the initial
// password (from the text) of a letter PDF. It refuses a letter whose QR
// code points to another issuer (the member would activate elsewhere than
// they think) or whose printed code differs from the QR code's.
func readLetter(file, issuer string) (code, initial string, err error) {
	f, err := os.Open(file)
	if err != nil {
		return "", "", fmt.Errorf("--letter: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, letterscan.MaxReadSize+1))
	if err != nil {
		return "", "", fmt.Errorf("--letter: %w", err)
	}
	c, err := letterscan.Read(data)
	if err != nil {
		return "", "", fmt.Errorf("--letter %s: %s", file, fault.PublicOf(err))
	}
	u, err := url.Parse(c.ActivationURL)
	want, _ := url.Parse(issuer + "/app/activate")
	if err != nil || u.Scheme != want.Scheme || u.Host != want.Host || u.Path != want.Path || u.Fragment == "" {
		return "", "", fmt.Errorf("--letter %s: the QR code is not an activation link of %s", file, issuer)
	}
	code = letter.Normalize(u.Fragment)
	if letter.Normalize(c.ActivationCode) != code {
		return "", "", fmt.Errorf("--letter %s: the printed activation code differs from the QR code's", file)
	}
	return code, c.InitialPassword, nil
}

// codeFromInput takes the activation code from what the member typed: the
// code itself, or the whole activation URL.
func codeFromInput(s string) string {
	if _, frag, ok := strings.Cut(s, "#"); ok {
		return frag
	}
	return s
}

func setPasswordCommand(e *env) *cobra.Command {
	var pw, pwFile string
	cmd := &cobra.Command{
		Use:   "set-password",
		Short: "set the member's own password (Individuelles Passwort festlegen)",
		Long: "set-password sets the member's own password in the enrollment session that activate\n" +
			"opened (PUT /app/v1/enrollment/password). 10 to 128 characters, no composition rules;\n" +
			"the issuer refuses common or easily guessed passwords and ones that contain the member\n" +
			"number, the name or the date of birth.\n\n" +
			"The password is asked for twice without echo when stdin is a terminal. --password-file\n" +
			"reads the first line of a file (- for stdin). --password puts it on the command line,\n" +
			"where other users of the machine may see it: for tests only.",
		Example: "  pforte-app set-password\n  pforte-app set-password --password-file pw.txt",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if pw != "" && pwFile != "" {
				return usagef("give --password or --password-file, not both")
			}
			st, path, exists, err := e.loadState()
			if err != nil {
				return err
			}
			if !exists {
				return fmt.Errorf("no state file %s: activate the app first (pforte-app activate)", path)
			}
			if st.Enrollment == nil || st.Enrollment.Token == "" {
				return fmt.Errorf("no enrollment session in %s: activate the app first (pforte-app activate)", path)
			}
			api, err := newAppAPI(pick(st.Issuer, defaultIssuer), e.language())
			if err != nil {
				return err
			}
			switch {
			case pwFile != "":
				if pw, err = readPasswordFile(pwFile, e.stdin); err != nil {
					return err
				}
			case pw == "":
				if pw, err = e.promptNewPassword(); err != nil {
					return err
				}
			}
			err = api.call(cmd.Context(), http.MethodPut, "/enrollment/password", st.Enrollment.Token,
				map[string]string{"password": pw}, http.StatusNoContent, nil)
			if err != nil {
				return err
			}
			st.Enrollment.PasswordSet = true
			if err := saveState(path, st); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, "Your password is set.")
			if next := slices.DeleteFunc(slices.Clone(st.Enrollment.NextSteps), func(s string) bool { return s == "password" }); len(next) > 0 {
				fmt.Fprintf(e.stdout, "Next steps: %s (pforte-app bind-device --name NAME, then pforte-app set-pin).\n", strings.Join(next, ", "))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&pw, "password", "", "the new password (visible in the process list: for tests)")
	fl.StringVar(&pwFile, "password-file", "", "read the new password from the first line of this file (- for stdin)")
	return cmd
}

// maxPasswordFile bounds what --password-file reads.
const maxPasswordFile = 4 << 10

// readPasswordFile returns the first line of file (stdin for "-"),
// without its line end; other white space belongs to the password.
func readPasswordFile(file string, stdin io.Reader) (string, error) {
	var r io.Reader = stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return "", fmt.Errorf("--password-file: %w", err)
		}
		defer f.Close()
		r = f
	}
	line, err := bufio.NewReader(io.LimitReader(r, maxPasswordFile)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("--password-file: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", fmt.Errorf("--password-file %s: the first line is empty", file)
	}
	return line, nil
}

// promptNewPassword asks for the new password twice on the terminal.
func (e *env) promptNewPassword() (string, error) {
	if e.readSecret == nil {
		return "", usagef("stdin is not a terminal: give --password-file FILE (or - for stdin)")
	}
	pw, err := e.readSecret("Neues Passwort / New password: ")
	if err != nil {
		return "", err
	}
	again, err := e.readSecret("Wiederholen / Repeat: ")
	if err != nil {
		return "", err
	}
	if pw != again {
		return "", errors.New("Die Passwörter stimmen nicht überein. / The passwords do not match.")
	}
	if pw == "" {
		return "", errors.New("Kein Passwort eingegeben. / No password given.")
	}
	return pw, nil
}

// terminalSecretReader reads secrets without echo when in is a terminal;
// nil otherwise.
func terminalSecretReader(in *os.File, prompts io.Writer) func(string) (string, error) {
	fd := int(in.Fd())
	if !term.IsTerminal(fd) {
		return nil
	}
	return func(prompt string) (string, error) {
		fmt.Fprint(prompts, prompt)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(prompts)
		return string(b), err
	}
}
