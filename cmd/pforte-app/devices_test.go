package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/kvnr"
)

const (
	testPassword = "Korrekt-Pferd-Batterie-Heftklammer"
	testPIN      = "470815"
)

// enrollToPassword runs register, activate and set-password against p
// with a new state file and returns the file.
func enrollToPassword(t *testing.T, p *pforteServer) string {
	t.Helper()
	stateFile := filepath.Join(t.TempDir(), "state.json")
	wantExit(t, app(t, stateFile, "", nil, "register", "--issuer", p.issuer, "--kvnr", testKVNR, "--birthdate", testBirth), 0, "register")
	wantExit(t, app(t, stateFile, "", nil, "activate", "--letter", p.deliver(t)), 0, "activate")
	wantExit(t, app(t, stateFile, "", nil, "set-password", "--password", testPassword), 0, "set-password")
	return stateFile
}

func wantStderr(t *testing.T, r appResult, code int, what string, wants ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("%s: exit %d, want %d (stderr %q)", what, r.code, code, r.stderr)
	}
	if !strings.HasPrefix(r.stderr, "pforte-app: ") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("%s: stderr is not one pforte-app line: %q", what, r.stderr)
	}
	for _, w := range wants {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("%s: stderr %q lacks %q", what, r.stderr, w)
		}
	}
}

// rawState is the state file as JSON, to look at the stored key.
func rawState(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func signCount(t *testing.T, path string) float64 {
	t.Helper()
	d, _ := rawState(t, path)["device"].(map[string]any)
	k, _ := d["key"].(map[string]any)
	n, ok := k["sign_count"].(float64)
	if !ok {
		t.Fatalf("state file has no key sign count: %v", d)
	}
	return n
}

// TestBindDeviceSetPINAndManageDevices continues the registration: the
// device is bound and the PIN set, so the account is active; then the
// devices are listed and renamed with key and PIN, wrong PINs are counted
// and shown, and the password resets the PIN.
func TestBindDeviceSetPINAndManageDevices(t *testing.T) {
	p := startServer(t)
	stateFile := enrollToPassword(t, p)
	st := p.srv.Store()

	r := app(t, stateFile, "", nil, "bind-device", "--name", "Annas Laptop")
	wantExit(t, r, 0, "bind-device")
	s := readState(t, stateFile)
	if s.Device == nil || s.Device.BindingID == "" || s.Device.Key == nil || s.Enrollment.BindingID != s.Device.BindingID {
		t.Fatalf("state after bind-device: %+v", s)
	}
	id := s.Device.BindingID
	if !strings.Contains(r.stdout, `Device bound: "Annas Laptop" (software, id `+id+")") || !strings.Contains(r.stdout, "pforte-app set-pin") {
		t.Errorf("bind-device: %q", r.stdout)
	}
	if want := "http://localhost:" + strings.TrimPrefix(p.issuer, "http://127.0.0.1:"); s.Device.Origin != want {
		t.Errorf("origin %q, want %q", s.Device.Origin, want)
	}
	b, err := st.BindingByID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if b.Platform != device.Software || b.AttestationFormat != "packed" || b.Name != "Annas Laptop" || b.PINHash != "" ||
		string(b.CredentialID) != string(s.Device.Key.CredentialID()) {
		t.Errorf("stored binding: platform %s, format %s, name %q, PIN set %v", b.Platform, b.AttestationFormat, b.Name, b.PINHash != "")
	}
	if d, _ := rawState(t, stateFile)["device"].(map[string]any); d["key"].(map[string]any)["private_key_pkcs8"] == "" {
		t.Errorf("the state file lacks the private key: %v", d)
	}

	// The PIN, asked for twice on the terminal, completes the enrollment.
	r = app(t, stateFile, "", []string{testPIN, testPIN}, "set-pin")
	wantExit(t, r, 0, "set-pin")
	if !strings.Contains(r.stdout, "The account is active") || strings.Contains(r.stdout, "Other devices") {
		t.Errorf("set-pin: %q", r.stdout)
	}
	if s := readState(t, stateFile); s.Enrollment != nil || !s.Device.PINSet {
		t.Errorf("state after set-pin: enrollment %+v, device %+v", s.Enrollment, s.Device)
	}
	acc, err := st.AccountByKVNR(t.Context(), kvnr.MustParse(testKVNR))
	if err != nil || acc.Status != account.Active {
		t.Fatalf("account after set-pin: %+v %v", acc, err)
	}

	// list, with the PIN from the flag and from the terminal; each call
	// signs a fresh challenge and saves the grown counter.
	r = app(t, stateFile, "", nil, "devices", "list", "--pin", testPIN)
	wantExit(t, r, 0, "devices list")
	if out := strings.Join(strings.Fields(r.stdout), " "); !strings.Contains(out, "* "+id+" Annas Laptop software active") ||
		!strings.Contains(out, "* this device") {
		t.Errorf("devices list:\n%s", r.stdout)
	}
	// set-pin looked for other devices with the new key and PIN: two
	// assertions so far.
	if n := signCount(t, stateFile); n != 2 {
		t.Errorf("sign count after two assertions: %v", n)
	}
	r = app(t, stateFile, "", []string{testPIN}, "devices")
	wantExit(t, r, 0, "devices")
	if !strings.Contains(r.stdout, id) {
		t.Errorf("devices:\n%s", r.stdout)
	}

	r = app(t, stateFile, "", nil, "devices", "rename", "--pin", testPIN, "--", id, "Annas Rechner")
	wantExit(t, r, 0, "devices rename")
	if s := readState(t, stateFile); s.Device.Name != "Annas Rechner" {
		t.Errorf("state name after rename: %q", s.Device.Name)
	}
	r = app(t, stateFile, "", nil, "devices", "list", "--pin", testPIN)
	if !strings.Contains(r.stdout, "Annas Rechner") {
		t.Errorf("list after rename:\n%s", r.stdout)
	}

	// Wrong PINs: the member is told how many attempts are left and, from
	// the third, from when the next entry is taken.
	before := signCount(t, stateFile)
	r = app(t, stateFile, "", nil, "devices", "list", "--pin", "000001")
	wantStderr(t, r, 1, "wrong PIN", "Die PIN ist falsch", "(unauthenticated, HTTP 401)", "PIN attempts left before the device is blocked: 4")
	if strings.Contains(r.stderr, "next PIN entry") {
		t.Errorf("first wrong PIN has a retry time: %q", r.stderr)
	}
	if n := signCount(t, stateFile); n != before+1 {
		t.Errorf("the counter of a refused assertion was not kept: %v after %v", n, before)
	}
	app(t, stateFile, "", nil, "devices", "list", "--pin", "000002")
	r = app(t, stateFile, "", nil, "devices", "list", "--pin", "000003")
	wantStderr(t, r, 1, "third wrong PIN", "PIN attempts left before the device is blocked: 2", "; next PIN entry from ", " (in ")
	r = app(t, stateFile, "", nil, "devices", "list", "--pin", testPIN)
	wantStderr(t, r, 1, "PIN too early", "(rate_limited, HTTP 429)", "PIN attempts left before the device is blocked: 2", "; next PIN entry from ")

	// A typo in the PIN's format costs no attempt: it is not sent.
	r = app(t, stateFile, "", nil, "devices", "list", "--pin", "12345")
	wantStderr(t, r, 2, "5-digit PIN", "the PIN must be exactly 6 digits")

	// The password and the device set a new PIN, and the wait is over.
	r = app(t, stateFile, "", nil, "reset-pin", "--password", testPassword, "--new-pin", "582946")
	wantExit(t, r, 0, "reset-pin")
	if !strings.Contains(r.stdout, "new release PIN is set") {
		t.Errorf("reset-pin: %q", r.stdout)
	}
	r = app(t, stateFile, "", nil, "devices", "list", "--pin", "582946")
	wantExit(t, r, 0, "list with the new PIN")

	r = app(t, stateFile, "", nil, "devices", "revoke-others", "--pin", "582946")
	wantExit(t, r, 0, "revoke-others")
	if !strings.Contains(r.stdout, "0 other device(s) revoked") {
		t.Errorf("revoke-others: %q", r.stdout)
	}

	// Nothing the client printed holds a secret of the state file.
	raw, _ := os.ReadFile(stateFile)
	var secrets struct {
		Device struct {
			Key struct {
				PrivateKey string `json:"private_key_pkcs8"`
			} `json:"key"`
		} `json:"device"`
	}
	json.Unmarshal(raw, &secrets)
	if k := secrets.Device.Key.PrivateKey; k == "" || strings.Contains(r.stdout+r.stderr, k) {
		t.Errorf("private key missing or printed")
	}

	// Revoking this device itself removes its key.
	r = app(t, stateFile, "", nil, "devices", "revoke", "--pin", "582946", "--", id)
	wantExit(t, r, 0, "revoke self")
	if s := readState(t, stateFile); s.Device != nil {
		t.Errorf("state keeps the revoked device: %+v", s.Device)
	}
	if b, err := st.BindingByID(t.Context(), id); err != nil || b.Status != device.Revoked {
		t.Errorf("binding after revoke: %s %v", b.Status, err)
	}
	r = app(t, stateFile, "", nil, "devices", "list", "--pin", "582946")
	wantStderr(t, r, 1, "list without a device", "no device is bound in "+stateFile)
}

func TestBindDeviceAndSetPINRefusals(t *testing.T) {
	p := startServer(t)
	stateFile := filepath.Join(t.TempDir(), "state.json")

	r := app(t, stateFile, "", nil, "bind-device", "--name", "Phone")
	wantStderr(t, r, 1, "bind without a state file", "no state file "+stateFile+": activate the app first")
	wantExit(t, app(t, stateFile, "", nil, "register", "--issuer", p.issuer, "--kvnr", testKVNR, "--birthdate", testBirth), 0, "register")
	r = app(t, stateFile, "", nil, "bind-device", "--name", "Phone")
	wantStderr(t, r, 1, "bind without activation", "no enrollment session in "+stateFile)
	r = app(t, stateFile, "", nil, "set-pin", "--pin", testPIN)
	wantStderr(t, r, 1, "PIN without activation", "no enrollment session in "+stateFile)

	// Activated, but the order is password, device, PIN.
	wantExit(t, app(t, stateFile, "", nil, "activate", "--letter", p.deliver(t)), 0, "activate")
	r = app(t, stateFile, "", nil, "bind-device", "--name", "Phone")
	wantStderr(t, r, 1, "bind before the password", "Bitte legen Sie zuerst Ihr Passwort fest", "(forbidden, HTTP 403)")
	wantExit(t, app(t, stateFile, "", nil, "set-password", "--password", testPassword), 0, "set-password")
	r = appIn(t, "en_GB.UTF-8", stateFile, "", nil, "set-pin", "--pin", testPIN)
	wantStderr(t, r, 1, "PIN before the device", "Please bind your device first", "(forbidden, HTTP 403)")

	wantExit(t, app(t, stateFile, "", nil, "bind-device", "--name", "Phone"), 0, "bind-device")
	r = app(t, stateFile, "", nil, "bind-device", "--name", "Second")
	wantStderr(t, r, 1, "bind twice", "is bound in this enrollment already; next: pforte-app set-pin")

	// Trivial PINs are refused by the server with the reason.
	for _, tc := range []struct{ pin, want string }{
		{"123456", "The PIN must not be a sequence like 123456."},
		{"654321", "The PIN must not be a sequence like 123456."},
		{"890123", "The PIN must not be a sequence like 123456."},
		{"111111", "The PIN must not repeat one digit."},
		{"123123", "This PIN is too common."},
		{"140385", "The PIN must not be your date of birth."},
		{"850314", "The PIN must not be your date of birth."},
	} {
		r = appIn(t, "en_US.UTF-8", stateFile, "", nil, "set-pin", "--pin", tc.pin)
		wantStderr(t, r, 1, "trivial PIN "+tc.pin, tc.want, "(invalid, HTTP 400)")
	}
	// A PIN that is not six digits is not sent at all.
	for _, bad := range []string{"12345", "1234567", "12a456", "１２３４５６"} {
		r = app(t, stateFile, "", nil, "set-pin", "--pin", bad)
		wantStderr(t, r, 2, "PIN "+bad, "--pin: the PIN must be exactly 6 digits")
	}
	r = app(t, stateFile, "", nil, "set-pin")
	wantStderr(t, r, 2, "set-pin without a terminal", "stdin is not a terminal: give --pin")
	r = app(t, stateFile, "", []string{"470815", "470816"}, "set-pin")
	wantStderr(t, r, 1, "PINs differ", "The PINs do not match.")

	wantExit(t, app(t, stateFile, "", nil, "set-pin", "--pin", testPIN), 0, "set-pin")
	r = app(t, stateFile, "", nil, "set-pin", "--pin", "582946")
	wantStderr(t, r, 1, "PIN twice", "the enrollment is complete", "its release PIN is set; to change the PIN: pforte-app reset-pin")
	r = app(t, stateFile, "", nil, "bind-device", "--name", "Phone")
	wantStderr(t, r, 1, "bind after completion", "the enrollment is complete")

	// The PIN reset needs the right password and a PIN that is not trivial.
	r = appIn(t, "en", stateFile, "", nil, "reset-pin", "--password", "Falsches-Pferd-Batterie", "--new-pin", "582946")
	wantStderr(t, r, 1, "reset with a wrong password", "The password is wrong.", "(unauthenticated, HTTP 401)")
	r = app(t, stateFile, "", nil, "reset-pin", "--password", "Falsches-Pferd-Batterie", "--new-pin", "582946")
	wantStderr(t, r, 1, "reset with a wrong password, in German", "Das Passwort ist falsch.", "(unauthenticated, HTTP 401)")
	r = appIn(t, "en", stateFile, "", nil, "reset-pin", "--password", testPassword, "--new-pin", "000000")
	wantStderr(t, r, 1, "reset to a trivial PIN", "The PIN must not repeat one digit.", "(invalid, HTTP 400)")
	r = app(t, stateFile, "", nil, "devices", "list", "--pin", testPIN)
	wantExit(t, r, 0, "the old PIN still works")
}

func TestDeviceUsageErrors(t *testing.T) {
	stateFile := filepath.Join(t.TempDir(), "state.json")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bind-device"}, "--name is required"},
		{[]string{"bind-device", "--name", " "}, "--name is required"},
		{[]string{"bind-device", "--name", "P", "--platform", "windows"}, "--platform must be software, android or ios"},
		{[]string{"set-pin", "--pin", "1234"}, "--pin: the PIN must be exactly 6 digits"},
		{[]string{"devices", "bogus"}, `unknown command "bogus" for "pforte-app devices"`},
		{[]string{"devices", "rename", "id-only"}, "accepts 2 arg(s), received 1"},
		{[]string{"devices", "revoke"}, "accepts 1 arg(s), received 0"},
		{[]string{"devices", "revoke", "-Bvc4qW4BxLZCZ3DdbmMQQ"}, "a device id that starts with '-' goes after '--'"},
		{[]string{"devices", "revoke-others", "extra"}, `unknown command "extra"`},
		{[]string{"reset-pin", "--password", "a", "--password-file", "b"}, "not both"},
		{[]string{"reset-pin", "--new-pin", "12"}, "--new-pin: the PIN must be exactly 6 digits"},
	} {
		r := app(t, stateFile, "", nil, tc.args...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, "pforte-app: ") || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	// Without a bound device the commands say what to do first.
	for _, args := range [][]string{{"devices", "--pin", testPIN}, {"reset-pin", "--password", "x", "--new-pin", "582946"}} {
		r := app(t, stateFile, "", nil, args...)
		wantStderr(t, r, 1, strings.Join(args, " "), "no device is bound in "+stateFile+": bind one with pforte-app bind-device")
	}
	if _, err := os.Stat(stateFile); err == nil {
		t.Error("a refused command wrote the state file")
	}
}

func TestAppOrigin(t *testing.T) {
	for issuer, want := range map[string]string{
		"http://127.0.0.1:8080":        "http://localhost:8080",
		"http://[::1]:9000":            "http://localhost:9000",
		"http://127.0.0.1":             "http://localhost",
		"http://localhost:8080":        "http://localhost:8080",
		"https://login.kasse.example":  "https://login.kasse.example",
		"https://login.kasse.example/": "https://login.kasse.example",
		"https://idp.example:8443/x":   "https://idp.example:8443",
	} {
		if got, err := appOrigin(issuer); err != nil || got != want {
			t.Errorf("appOrigin(%s) = %q, %v; want %q", issuer, got, err, want)
		}
	}
}

// TestBindDeviceAnswerLost: the issuer binds the key, but its answer
// never arrives (the connection breaks on the way back). The key was kept
// before it was sent, so the next bind-device finds the binding the
// session holds for it and takes it up: the enrollment goes on with the
// PIN instead of being stuck with a binding no key on the phone can use.
func TestBindDeviceAnswerLost(t *testing.T) {
	p := startServer(t)
	stateFile := enrollToPassword(t, p)
	target, err := url.Parse(p.issuer)
	if err != nil {
		t.Fatal(err)
	}
	var dropped atomic.Bool
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/app/v1/enrollment/device" && dropped.CompareAndSwap(false, true) {
			// The issuer gets the request and answers; the answer is lost.
			rec := httptest.NewRecorder()
			rp.ServeHTTP(rec, r)
			if rec.Code != http.StatusCreated {
				t.Errorf("the issuer's answer to the binding: %d %s", rec.Code, rec.Body)
			}
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			conn.Close()
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	st := readState(t, stateFile)
	st.Issuer = proxy.URL
	if err := saveState(stateFile, st); err != nil {
		t.Fatal(err)
	}
	origin, err := appOrigin(p.issuer)
	if err != nil {
		t.Fatal(err)
	}

	r := app(t, stateFile, "", nil, "bind-device", "--name", "Annas Laptop", "--origin", origin)
	wantExit(t, r, 1, "bind-device with the answer lost")
	st = readState(t, stateFile)
	if st.Device != nil || st.PendingDevice == nil || st.PendingDevice.Key == nil {
		t.Fatalf("state after the lost answer: device %+v, pending %+v", st.Device, st.PendingDevice)
	}
	cred := string(st.PendingDevice.Key.CredentialID())

	r = app(t, stateFile, "", nil, "bind-device", "--name", "Annas Laptop", "--origin", origin)
	wantExit(t, r, 0, "bind-device again")
	if !strings.Contains(r.stdout, "The issuer bound this device's key before") || !strings.Contains(r.stdout, "pforte-app set-pin") {
		t.Errorf("bind-device again: %q", r.stdout)
	}
	st = readState(t, stateFile)
	if st.PendingDevice != nil || st.Device == nil || string(st.Device.Key.CredentialID()) != cred || st.Enrollment.BindingID != st.Device.BindingID {
		t.Fatalf("state after taking up the binding: device %+v, pending %+v", st.Device, st.PendingDevice)
	}
	b, err := p.srv.Store().BindingByID(t.Context(), st.Device.BindingID)
	if err != nil || string(b.CredentialID) != cred {
		t.Fatalf("the stored binding %+v, %v is not the kept key's", b, err)
	}
	// The PIN completes the enrollment, and the kept key logs in.
	wantExit(t, app(t, stateFile, "", nil, "set-pin", "--pin", testPIN), 0, "set-pin")
	st = readState(t, stateFile)
	st.Issuer = p.issuer
	if err := saveState(stateFile, st); err != nil {
		t.Fatal(err)
	}
	wantExit(t, app(t, stateFile, "", nil, "login", "--pin", testPIN), 0, "login with the kept key")
}
