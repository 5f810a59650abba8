package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/kvnr"
)

// passwordIs reports whether pw is the member's stored password.
func passwordIs(t *testing.T, p *pforteServer, pw string) bool {
	t.Helper()
	a, err := p.srv.Store().AccountByKVNR(t.Context(), kvnr.KVNR(testKVNR))
	if err != nil {
		t.Fatal(err)
	}
	ok, _, err := coretest.Passwords().Verify(t.Context(), pw, a.PasswordHash)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// TestCredentialCommands: the PIN changed with the current one, the
// password reset with the device and the PIN, then changed with the
// current password too; refusals are shown in the member's words.
func TestCredentialCommands(t *testing.T) {
	p := startServer(t)
	stateFile := enrolled(t, p)

	const newPIN = "582946"
	r := app(t, stateFile, "", nil, "change-pin", "--pin", "000001", "--new-pin", newPIN)
	wantStderr(t, r, 1, "wrong current PIN", "Die PIN ist falsch", "PIN attempts left before the device is blocked: 4")
	r = appIn(t, "en", stateFile, "", nil, "change-pin", "--pin", testPIN, "--new-pin", "123456")
	wantStderr(t, r, 1, "trivial new PIN", "The PIN must not be a sequence like 123456.", "(invalid, HTTP 400)")
	r = app(t, stateFile, "", nil, "change-pin", "--pin", testPIN, "--new-pin", newPIN)
	wantExit(t, r, 0, "change-pin")
	if !strings.Contains(r.stdout, "new release PIN is set") {
		t.Errorf("change-pin: %q", r.stdout)
	}
	r = app(t, stateFile, "", nil, "devices", "list", "--pin", testPIN)
	wantStderr(t, r, 1, "the old PIN", "Die PIN ist falsch")
	wantExit(t, app(t, stateFile, "", nil, "devices", "list", "--pin", newPIN), 0, "the new PIN")

	// The forgotten password: device, PIN and a new password, asked for
	// twice on the terminal.
	const forgotten = "Kranichflug über der Elbe"
	r = appIn(t, "en", stateFile, "", []string{forgotten, forgotten}, "reset-password", "--pin", "000002")
	wantStderr(t, r, 1, "reset with a wrong PIN", "The PIN is wrong", "(unauthenticated, HTTP 401)")
	r = appIn(t, "en", stateFile, "", []string{"Kranich " + testKVNR, "Kranich " + testKVNR}, "reset-password", "--pin", newPIN)
	wantStderr(t, r, 1, "reset to a personal password", "member number", "(invalid, HTTP 400)")
	if !passwordIs(t, p, testPassword) {
		t.Fatal("a refused reset changed the password")
	}
	r = app(t, stateFile, "", []string{forgotten, forgotten}, "reset-password", "--pin", newPIN)
	wantExit(t, r, 0, "reset-password")
	if !strings.Contains(r.stdout, "new password is set") || !passwordIs(t, p, forgotten) || passwordIs(t, p, testPassword) {
		t.Fatalf("reset-password: %q", r.stdout)
	}

	// The change with the current password, from files.
	dir := t.TempDir()
	cur, next := filepath.Join(dir, "cur"), filepath.Join(dir, "next")
	const changed = "Nebelhorn und Leuchtfeuer"
	_ = os.WriteFile(cur, []byte(testPassword+"\n"), 0o600)
	_ = os.WriteFile(next, []byte(changed+"\n"), 0o600)
	r = appIn(t, "en", stateFile, "", nil, "change-password", "--pin", newPIN, "--password-file", cur, "--new-password-file", next)
	wantStderr(t, r, 1, "change with the old password", "The password is wrong.", "(unauthenticated, HTTP 401)")
	_ = os.WriteFile(cur, []byte(forgotten+"\n"), 0o600)
	r = app(t, stateFile, "", nil, "change-password", "--pin", newPIN, "--password-file", cur, "--new-password-file", next)
	wantExit(t, r, 0, "change-password")
	if !passwordIs(t, p, changed) {
		t.Fatal("change-password did not set the password")
	}
	if strings.Contains(r.stdout+r.stderr, changed) || strings.Contains(r.stdout+r.stderr, newPIN) {
		t.Errorf("a secret printed: %q %q", r.stdout, r.stderr)
	}
}

func TestCredentialUsageErrors(t *testing.T) {
	stateFile := filepath.Join(t.TempDir(), "state.json")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"change-pin", "--new-pin", "12"}, "--new-pin: the PIN must be exactly 6 digits"},
		{[]string{"reset-password", "--new-password", "a", "--new-password-file", "b"}, "not both"},
		{[]string{"change-password", "--password", "a", "--password-file", "b"}, "not both"},
		{[]string{"change-password", "--password-file", "-", "--new-password-file", "-"}, "stdin holds one password"},
		{[]string{"reset-password", "extra"}, `unknown command "extra"`},
	} {
		r := app(t, stateFile, "", nil, tc.args...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, "pforte-app: ") || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	for _, args := range [][]string{{"change-pin", "--pin", testPIN, "--new-pin", "582946"},
		{"reset-password", "--pin", testPIN, "--new-password", "x"}, {"change-password", "--pin", testPIN}} {
		r := app(t, stateFile, "", nil, args...)
		wantStderr(t, r, 1, strings.Join(args, " "), "no device is bound in "+stateFile+": bind one with pforte-app bind-device")
	}
}
