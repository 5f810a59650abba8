package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/cmd/pforte-app/letterscan"
	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/cmd/pforte/server/servertest"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/password"
)

// The member of these tests: the demo member of configs/dev/members.yaml.
const (
	testKVNR  = "A123456780"
	testBirth = "1985-03-14"
)

// pforteServer is a real Pforte server in-process, on SQLite, with the
// letter workers driven by the test.
type pforteServer struct {
	srv    *server.Server
	issuer string
	outbox string
	clock  *offsetClock
}

// offsetClock is the wall clock moved forward by what tests skip.
type offsetClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *offsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *offsetClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// appClient is the development client of configs/dev/clients.yaml that
// the login uses.
var appClient = client.Client{
	ID: "pforte-app", Name: "Service-App", Kind: client.Native, AuthMethod: client.AuthNone,
	RedirectURIs: []string{"http://127.0.0.1/callback", "de.hkk.serviceapp:/oauth2redirect"},
	GrantTypes:   []string{client.GrantCode, client.GrantRefresh},
	Scopes:       []string{"openid", "profile", "birthdate", "address", "email", "kvnr", "offline_access"},
	RequireDPoP:  true,
}

// webClient is an online form whose browser logins the app confirms;
// webSecret is its secret.
var (
	webSecret = "web-secret-of-the-approval-tests"
	webClient = client.Client{
		ID: "online-forms", Name: "Online-Formulare", Kind: client.Web, AuthMethod: client.AuthSecretBasic,
		RedirectURIs: []string{"https://forms.example/callback"},
		GrantTypes:   []string{client.GrantCode}, Scopes: []string{"openid", "profile"},
	}
)

func startServer(t *testing.T, opts ...func(*server.Options)) *pforteServer {
	t.Helper()
	clock := &offsetClock{}
	outbox := filepath.Join(t.TempDir(), "outbox")
	s := servertest.Start(t, func(o *server.Options) {
		secrets, err := server.SecretHasher(o.MasterKey)
		if err != nil {
			t.Fatal(err)
		}
		web := webClient
		web.SecretHash = secrets.Hash(webSecret)
		o.Clients = []client.Client{appClient, web}
		o.Now = clock.Now
		o.OutboxDir = outbox
		for _, opt := range opts {
			opt(o)
		}
	})
	err := s.Store().UpsertMember(t.Context(), member.Member{
		KVNR: kvnr.MustParse(testKVNR), GivenName: "Anna", FamilyName: "Beispiel", BirthDate: testBirth,
		Address:     member.Address{Street: "Hauptstraße 12", PostalCode: "28195", Locality: "Bremen", Country: "DE"},
		InsuredFrom: time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC), UpdatedAt: time.Now().UTC(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &pforteServer{srv: s.Server, issuer: s.URL, outbox: outbox, clock: clock}
}

// deliver runs the letter workers and returns the letter PDF's path.
func (p *pforteServer) deliver(t *testing.T) string {
	t.Helper()
	reg := p.srv.Registration()
	if n, err := reg.ProcessRegistrations(t.Context(), 10); n != 1 || err != nil {
		t.Fatalf("ProcessRegistrations = %d, %v", n, err)
	}
	if n, err := reg.ProcessLetters(t.Context(), 10); n != 1 || err != nil {
		t.Fatalf("ProcessLetters = %d, %v", n, err)
	}
	files, err := filepath.Glob(filepath.Join(p.outbox, "*.pdf"))
	if err != nil || len(files) != 1 {
		t.Fatalf("outbox: %v %v", files, err)
	}
	return files[0]
}

type appResult struct {
	code           int
	stdout, stderr string
}

// app runs pforte-app in-process with the state file stateFile, stdin
// and, when secrets is not nil, a terminal that answers prompts from it.
func app(t *testing.T, stateFile, stdin string, secrets []string, args ...string) appResult {
	t.Helper()
	return appAt(t, nil, stateFile, stdin, secrets, args...)
}

// appAt is app with the clock now (nil: the wall clock), the server's
// when a test moves it.
func appAt(t *testing.T, now func() time.Time, stateFile, stdin string, secrets []string, args ...string) appResult {
	t.Helper()
	return appEnv(t, now, nil, stateFile, stdin, secrets, args...)
}

// appIn is app in the locale lang (LANG).
func appIn(t *testing.T, lang, stateFile, stdin string, secrets []string, args ...string) appResult {
	t.Helper()
	return appEnv(t, nil, map[string]string{"LANG": lang}, stateFile, stdin, secrets, args...)
}

// appEnv is appAt with the environment vars.
func appEnv(t *testing.T, now func() time.Time, vars map[string]string, stateFile, stdin string, secrets []string, args ...string) appResult {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }, now: now}
	if secrets != nil {
		e.readSecret = func(string) (string, error) {
			s := secrets[0]
			secrets = secrets[1:]
			return s, nil
		}
	}
	if stateFile != "" {
		// Before the command, so that arguments after "--" stay last.
		args = append([]string{"--state", stateFile}, args...)
	}
	code := runWith(context.Background(), args, e)
	return appResult{code, out.String(), errb.String()}
}

func wantExit(t *testing.T, r appResult, code int, what string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", what, r.code, code, r.stdout, r.stderr)
	}
}

func readState(t *testing.T, path string) state {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestRegisterActivateSetPassword is the member's whole path with a
// password letter: request it, read the QR code and the initial password
// out of the rendered PDF, activate, set a password.
func TestRegisterActivateSetPassword(t *testing.T) {
	p := startServer(t)
	stateFile := filepath.Join(t.TempDir(), "app", "state.json")

	r := app(t, stateFile, "", nil, "register", "--issuer", p.issuer, "--kvnr", testKVNR, "--birthdate", "14.03.1985")
	wantExit(t, r, 0, "register")
	if !strings.Contains(r.stdout, "Passwortbrief") || strings.Contains(r.stdout, "password letter") {
		t.Errorf("register: %q", r.stdout)
	}
	if st := readState(t, stateFile); st.Issuer != p.issuer || st.KVNR != testKVNR || st.Enrollment != nil {
		t.Errorf("state after register: %+v", st)
	}

	// set-password before activation has no session.
	r = app(t, stateFile, "", nil, "set-password", "--password", "irrelevant-pw")
	wantExit(t, r, 1, "set-password before activate")
	if !strings.Contains(r.stderr, "no enrollment session in "+stateFile) {
		t.Errorf("stderr: %q", r.stderr)
	}

	pdf := p.deliver(t)
	// The issuer and the member number come from the state file.
	r = app(t, stateFile, "", nil, "activate", "--letter", pdf)
	wantExit(t, r, 0, "activate --letter")
	st := readState(t, stateFile)
	if st.Enrollment == nil || st.Enrollment.Token == "" || !st.Enrollment.ExpiresAt.After(time.Now()) {
		t.Fatalf("state after activate: %+v", st)
	}
	if strings.Contains(r.stdout+r.stderr, st.Enrollment.Token) {
		t.Errorf("activate prints the enrollment token")
	}
	if !strings.Contains(r.stdout, "Next: set your own password") {
		t.Errorf("activate: %q", r.stdout)
	}

	// The letter is used now: activating with it again is refused.
	r = app(t, stateFile, "", nil, "activate", "--letter", pdf)
	wantExit(t, r, 1, "activate twice")
	if !strings.HasPrefix(r.stderr, "pforte-app: ") || !strings.Contains(r.stderr, "(conflict, HTTP 409)") {
		t.Errorf("replayed activation: %q", r.stderr)
	}

	// A weak password is the server's problem document.
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte("passwort1234\n"), 0o600)
	r = app(t, stateFile, "", nil, "set-password", "--password-file", pwFile)
	wantExit(t, r, 1, "weak password")
	if !strings.HasPrefix(r.stderr, "pforte-app: ") || !strings.HasSuffix(r.stderr, "(invalid, HTTP 400)\n") {
		t.Errorf("weak password: %q", r.stderr)
	}

	// A good one, from stdin.
	r = app(t, stateFile, "Korrekt-Pferd-Batterie-Heftklammer\r\nignored\n", nil, "set-password", "--password-file", "-")
	wantExit(t, r, 0, "set-password")
	if !strings.Contains(r.stdout, "Your password is set.") || !strings.Contains(r.stdout, "device, pin") {
		t.Errorf("set-password: %q", r.stdout)
	}
	acc, err := p.srv.Store().AccountByKVNR(t.Context(), kvnr.MustParse(testKVNR))
	if err != nil {
		t.Fatal(err)
	}
	if acc.Proofing != loa.Substantial || acc.PasswordHash == "" {
		t.Errorf("account after set-password: level %v, password set %v", acc.Proofing, acc.PasswordHash != "")
	}
	h, err := password.NewHasher(password.DefaultParams, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := h.Verify(t.Context(), "Korrekt-Pferd-Batterie-Heftklammer", acc.PasswordHash); !ok || err != nil {
		t.Errorf("the stored password is not the one from the first line of stdin: %v %v", ok, err)
	}
	if st := readState(t, stateFile); !st.Enrollment.PasswordSet {
		t.Errorf("state after set-password: %+v", st.Enrollment)
	}
	// In an English locale the server's answer is English.
	if en := appIn(t, "en_US.UTF-8", filepath.Join(t.TempDir(), "en.json"), "", nil, "register", "--issuer", p.issuer, "--kvnr", testKVNR, "--birthdate", "14.03.1985"); en.code != 0 ||
		!strings.Contains(en.stdout, "we will send you a password letter by post") {
		t.Errorf("register in English: %d %q %q", en.code, en.stdout, en.stderr)
	}
}

func TestActivateWithTypedCode(t *testing.T) {
	p := startServer(t)
	stateFile := filepath.Join(t.TempDir(), "state.json")
	wantExit(t, app(t, stateFile, "", nil, "register", "--issuer", p.issuer, "--kvnr", testKVNR, "--birthdate", testBirth), 0, "register")
	pdf := p.deliver(t)
	data, err := os.ReadFile(pdf)
	if err != nil {
		t.Fatal(err)
	}

	// A well-formed but wrong code and password.
	wrong := strings.Repeat("A", letter.CodeLength)
	r := app(t, stateFile, "", nil, "activate", "--issuer", p.issuer, "--kvnr", testKVNR, "--code", wrong, "--password", "ABCD EFGH JKLM")
	wantExit(t, r, 1, "wrong code")
	if !strings.HasPrefix(r.stderr, "pforte-app: ") || !strings.HasSuffix(r.stderr, "(unauthenticated, HTTP 401)\n") {
		t.Errorf("wrong code: %q", r.stderr)
	}
	if st := readState(t, stateFile); st.Enrollment != nil {
		t.Errorf("a failed activation stored a session: %+v", st.Enrollment)
	}

	// The code as printed (grouped) or the whole URL both work.
	c, err := letterscan.Read(data)
	if err != nil {
		t.Fatal(err)
	}
	r = app(t, stateFile, "", nil, "activate", "--kvnr", strings.ToLower(testKVNR), "--code", c.ActivationURL, "--password", strings.ToLower(c.InitialPassword))
	wantExit(t, r, 0, "activate --code URL")
	if st := readState(t, stateFile); st.Enrollment == nil {
		t.Error("no session stored")
	}
}

func TestSetPasswordPrompt(t *testing.T) {
	p := startServer(t)
	stateFile := filepath.Join(t.TempDir(), "state.json")
	wantExit(t, app(t, stateFile, "", nil, "register", "--issuer", p.issuer, "--kvnr", testKVNR, "--birthdate", testBirth), 0, "register")
	pdf := p.deliver(t)
	wantExit(t, app(t, stateFile, "", nil, "activate", "--letter", pdf), 0, "activate")

	r := app(t, stateFile, "", nil, "set-password")
	wantExit(t, r, 2, "set-password without a terminal")
	if !strings.Contains(r.stderr, "stdin is not a terminal") {
		t.Errorf("stderr: %q", r.stderr)
	}
	r = app(t, stateFile, "", []string{"Korrekt-Pferd-Batterie-1", "Korrekt-Pferd-Batterie-2"}, "set-password")
	wantExit(t, r, 1, "mismatch")
	if !strings.Contains(r.stderr, "The passwords do not match.") {
		t.Errorf("stderr: %q", r.stderr)
	}
	r = app(t, stateFile, "", []string{"Korrekt-Pferd-Batterie-1", "Korrekt-Pferd-Batterie-1"}, "set-password")
	wantExit(t, r, 0, "prompted password")
}

func TestSetPasswordWithoutState(t *testing.T) {
	stateFile := filepath.Join(t.TempDir(), "none.json")
	r := app(t, stateFile, "", nil, "set-password", "--password", "Korrekt-Pferd-Batterie")
	wantExit(t, r, 1, "no state file")
	if r.stderr != "pforte-app: no state file "+stateFile+": activate the app first (pforte-app activate)\n" {
		t.Errorf("stderr: %q", r.stderr)
	}
	broken := filepath.Join(t.TempDir(), "broken.json")
	os.WriteFile(broken, []byte("{not json"), 0o600)
	r = app(t, broken, "", nil, "set-password", "--password", "Korrekt-Pferd-Batterie")
	wantExit(t, r, 1, "broken state file")
	if !strings.Contains(r.stderr, "state file "+broken+" is not readable") {
		t.Errorf("stderr: %q", r.stderr)
	}
}

func TestDefaultStatePath(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"XDG_STATE_HOME": "/x/state", "HOME": "/home/m"}, "/x/state/pforte-app/state.json"},
		{map[string]string{"XDG_STATE_HOME": "relative", "HOME": "/home/m"}, "/home/m/.pforte-app.json"},
		{map[string]string{"HOME": "/home/m"}, "/home/m/.pforte-app.json"},
	} {
		e := &env{getenv: func(k string) string { return tc.env[k] }}
		if got, err := e.statePath(); err != nil || got != filepath.FromSlash(tc.want) {
			t.Errorf("%v: %q %v, want %q", tc.env, got, err, tc.want)
		}
	}
	e := &env{getenv: func(string) string { return "" }}
	if _, err := e.statePath(); err == nil {
		t.Error("no HOME and no XDG_STATE_HOME: want an error")
	}
}

func TestRegistrationUsageErrors(t *testing.T) {
	stateFile := filepath.Join(t.TempDir(), "state.json")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"register", "--birthdate", testBirth}, "--kvnr is required"},
		{[]string{"register", "--kvnr", "A123456781", "--birthdate", testBirth}, "Die Versichertennummer ist ungültig"},
		{[]string{"register", "--kvnr", testKVNR}, "--birthdate is required"},
		{[]string{"register", "--kvnr", testKVNR, "--birthdate", testBirth, "--method", "eid"}, "--birthdate is not sent with --method eid"},
		{[]string{"register", "--kvnr", testKVNR, "--method", "fax"}, "--method must be letter or eid"},
		{[]string{"register", "--kvnr", testKVNR, "--birthdate", testBirth, "--auto"}, "--auto goes with --method eid"},
		{[]string{"register", "--kvnr", testKVNR, "--birthdate", testBirth, "--issuer", "http://idp.example"}, "--issuer must use https"},
		{[]string{"register", "--kvnr", testKVNR, "--birthdate", testBirth, "--issuer", "https://idp.example?x=1"}, "is not an absolute URL"},
		{[]string{"register", "extra"}, `unknown command "extra"`},
		{[]string{"activate", "--kvnr", testKVNR}, "give --letter LETTER.pdf, or --code and --password"},
		{[]string{"activate", "--kvnr", testKVNR, "--code", "X"}, "--code and --password go together"},
		{[]string{"activate", "--kvnr", testKVNR, "--letter", "l.pdf", "--code", "X"}, "give either --letter or --code and --password"},
		{[]string{"activate", "--code", "X", "--password", "Y"}, "--kvnr is required"},
		{[]string{"set-password", "--password", "a", "--password-file", "b"}, "not both"},
	} {
		r := app(t, stateFile, "", nil, tc.args...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, "pforte-app: ") || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	if _, err := os.Stat(stateFile); err == nil {
		t.Error("a refused command wrote the state file")
	}
}

func TestActivateRefusesBadLetters(t *testing.T) {
	p := startServer(t)
	stateFile := filepath.Join(t.TempDir(), "state.json")
	wantExit(t, app(t, stateFile, "", nil, "register", "--issuer", p.issuer, "--kvnr", testKVNR, "--birthdate", testBirth), 0, "register")
	pdf := p.deliver(t)

	notPDF := filepath.Join(t.TempDir(), "letter.pdf")
	os.WriteFile(notPDF, []byte("%PDF-1.7 nothing"), 0o600)
	r := app(t, stateFile, "", nil, "activate", "--letter", notPDF)
	wantExit(t, r, 1, "not a letter")
	if !strings.Contains(r.stderr, "not a readable password letter") {
		t.Errorf("stderr: %q", r.stderr)
	}
	r = app(t, stateFile, "", nil, "activate", "--letter", filepath.Join(t.TempDir(), "missing.pdf"))
	wantExit(t, r, 1, "missing letter")

	// A letter of another issuer is not sent to this one.
	if _, _, err := readLetter(pdf, "https://other.example"); err == nil || !strings.Contains(err.Error(), "not an activation link of https://other.example") {
		t.Errorf("readLetter for another issuer: %v", err)
	}
	code, pw, err := readLetter(pdf, p.issuer)
	if err != nil || len(code) != letter.CodeLength || len(letter.Normalize(pw)) != letter.PasswordLength {
		t.Errorf("readLetter: %q %q %v", code, pw, err)
	}
}

func TestProblemDocuments(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/app/v1/registrations":
			w.Header().Set("Content-Type", "application/problem+json")
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"type":"urn:pforte:problem:rate_limited","title":"Too Many Requests","status":429,"detail":"Zu viele Anfragen. / Too many requests.","kind":"rate_limited"}`))
		default:
			http.Error(w, "nope", http.StatusNotFound)
		}
	}))
	defer srv.Close()
	stateFile := filepath.Join(t.TempDir(), "state.json")
	r := app(t, stateFile, "", nil, "register", "--issuer", srv.URL, "--kvnr", testKVNR, "--birthdate", testBirth)
	wantExit(t, r, 1, "rate limited")
	if want := "pforte-app: Zu viele Anfragen. / Too many requests. (rate_limited, HTTP 429); retry after 120 seconds\n"; r.stderr != want {
		t.Errorf("stderr %q, want %q", r.stderr, want)
	}
	r = app(t, stateFile, "", nil, "activate", "--issuer", srv.URL, "--kvnr", testKVNR, "--code", "X", "--password", "Y")
	wantExit(t, r, 1, "not an API")
	if !strings.Contains(r.stderr, "/app/v1/activations: unexpected answer HTTP 404 (text/plain") {
		t.Errorf("stderr %q", r.stderr)
	}
}

// TestLetterLost: the member reports the letter lost with the reference
// client; the new letter activates, the lost one does not, and a second
// report the same week is refused with the time of the next letter.
func TestLetterLost(t *testing.T) {
	p := startServer(t)
	stateFile := filepath.Join(t.TempDir(), "app", "state.json")
	wantExit(t, app(t, stateFile, "", nil, "register", "--issuer", p.issuer, "--kvnr", testKVNR, "--birthdate", testBirth), 0, "register")
	lost := p.deliver(t)

	r := app(t, stateFile, "", nil, "letter-lost", "--birthdate", testBirth)
	wantExit(t, r, 0, "letter-lost")
	if !strings.Contains(r.stdout, "sperren wir Ihren bisherigen Passwortbrief") {
		t.Errorf("letter-lost: %q", r.stdout)
	}
	reg := p.srv.Registration()
	if n, err := reg.ProcessRegistrations(t.Context(), 10); n != 1 || err != nil {
		t.Fatalf("ProcessRegistrations = %d, %v", n, err)
	}
	if n, err := reg.ProcessLetters(t.Context(), 10); n != 1 || err != nil {
		t.Fatalf("ProcessLetters = %d, %v", n, err)
	}
	files, err := filepath.Glob(filepath.Join(p.outbox, "*.pdf"))
	if err != nil || len(files) != 2 {
		t.Fatalf("outbox: %v %v", files, err)
	}
	fresh := files[0]
	if fresh == lost {
		fresh = files[1]
	}

	r = app(t, stateFile, "", nil, "letter-lost", "--birthdate", testBirth)
	wantExit(t, r, 1, "letter-lost again")
	if !strings.Contains(r.stderr, "spätestens ab dem") || !strings.Contains(r.stderr, "HTTP 429") {
		t.Errorf("second report: %q", r.stderr)
	}
	wantExit(t, app(t, stateFile, "", nil, "letter-lost"), 2, "letter-lost without birth date")

	wantExit(t, app(t, stateFile, "", nil, "activate", "--letter", lost), 1, "activate with the lost letter")
	wantExit(t, app(t, stateFile, "", nil, "activate", "--letter", fresh), 0, "activate with the new letter")
}
