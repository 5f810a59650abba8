package main

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/cmd/pforte-app/authenticator"
	"github.com/pforte-id/pforte/cmd/pforte-app/letterscan"
	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/letterproof"
	"github.com/pforte-id/pforte/core/registration"
	"github.com/pforte-id/pforte/core/secret"
	"github.com/pforte-id/pforte/ports/proofing"
)

// These tests enroll the demo member through the use cases, as the app API
// does, with the reference client's software key and a clock the test
// moves (past the PIN delays), and then run `pforte devices` and `pforte
// audit` on the same data directory.

const (
	testPIN      = "470815"
	testPassword = "Korrekt-Pferd-Batterie-Heftklammer"
	// devOrigin is the origin the development issuer's relying party
	// accepts (http://localhost:8080).
	devOrigin = "http://localhost:8080"
)

// enrolled is the demo member's phone after enrollment, with the back end
// it was enrolled on.
type enrolled struct {
	backend *server.Backend
	key     *authenticator.Authenticator
	binding string
	now     *time.Time
}

// enrollDemo runs the whole enrollment of the demo member in dir: letter,
// activation, password, device, PIN. The back end runs on a clock the test
// moves.
func enrollDemo(t *testing.T, dir string) *enrolled {
	t.Helper()
	importDemo(t, dir)
	o, err := baseOptions(operatorConfig(t, dir), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	// The clock starts in the past, so that what the test does through the
	// back end is older than what the commands do at the real time.
	now := time.Now().UTC().Add(-3 * time.Hour)
	o.Now = func() time.Time { return now }
	tick := func() { now = now.Add(time.Second) }
	b, err := server.OpenBackend(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	ctx, reg, bind := t.Context(), b.Registration(), b.Binding()

	err = reg.Request(ctx, registration.RequestInput{KVNR: demoKVNR, BirthDate: "1985-03-14", Method: "letter", ClientIP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.ProcessRegistrations(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.ProcessLetters(ctx, 10); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "outbox", "*.pdf"))
	if len(files) != 1 {
		t.Fatalf("outbox: %v", files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	c, err := letterscan.Read(data)
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := reg.Activate(ctx, "192.0.2.1", "letter", kvnr.MustParse(demoKVNR), letterSecrets(c))
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.SetPassword(ctx, token, testPassword); err != nil {
		t.Fatal(err)
	}
	tick()
	chID, options, err := bind.BeginBinding(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	key, err := authenticator.New()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := key.Register(options, devOrigin, authenticator.Format(authenticator.FormatPacked))
	if err != nil {
		t.Fatal(err)
	}
	bd, err := bind.FinishBinding(ctx, token, chID, resp, "Annas Pixel", device.Software, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	tick()
	if _, err := bind.SetPIN(ctx, token, testPIN, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	return &enrolled{backend: b, key: key, binding: bd.ID, now: &now}
}

// enterPIN answers a fresh challenge with the key and enters p; the clock
// then moves on past any PIN delay.
func (e *enrolled) enterPIN(t *testing.T, p string) (device.Binding, error) {
	t.Helper()
	bind := e.backend.Binding()
	chID, options, err := bind.BeginDeviceAuth(t.Context(), e.binding)
	if err != nil {
		t.Fatal(err)
	}
	assertion, err := e.key.Assert(options, devOrigin)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bind.AuthenticateDevice(t.Context(), chID, assertion, p, "192.0.2.1")
	*e.now = e.now.Add(10 * time.Minute)
	return b, err
}

func TestDevicesListUnblockAndAudit(t *testing.T) {
	dir := t.TempDir()
	e := enrollDemo(t, dir)

	r := pforte(t, dir, "devices", "list", "--kvnr", strings.ToLower(demoKVNR))
	wantCode(t, r, exitOK, "devices list")
	out := strings.Join(strings.Fields(r.stdout), " ")
	for _, want := range []string{
		"Member " + demoKVNR + ", account ", "(active)",
		"ID NAME PLATFORM STATUS PIN WRONG PINS CREATED LAST USED",
		e.binding + " Annas Pixel software active set 0 ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("devices list lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.HasSuffix(strings.TrimSpace(r.stdout), "never") {
		t.Errorf("a device never used shows: %s", r.stdout)
	}

	// Three wrong PINs: counted, not blocked; support may reset them.
	for range 3 {
		if _, err := e.enterPIN(t, "000001"); !errors.Is(err, fault.Unauthenticated) {
			t.Fatalf("wrong PIN: %v", err)
		}
	}
	r = pforte(t, dir, "devices", "list", "--kvnr", demoKVNR)
	if !strings.Contains(strings.Join(strings.Fields(r.stdout), " "), "software active set 3") {
		t.Errorf("three wrong PINs:\n%s", r.stdout)
	}
	r = pforte(t, dir, "devices", "unblock", "--operator", "M. Muster", "--", e.binding)
	wantCode(t, r, exitOK, "devices unblock")
	if !strings.Contains(r.stdout, "was not blocked; its 3 wrong PIN entries are reset") {
		t.Errorf("unblock of a counted device: %s", r.stdout)
	}
	r = pforte(t, dir, "devices", "unblock", "--operator", "M. Muster", "--", e.binding)
	if !strings.Contains(r.stdout, "nothing to do") {
		t.Errorf("unblock again: %s", r.stdout)
	}

	// Five wrong PINs block the device; the right PIN is refused then.
	for range 5 {
		e.enterPIN(t, "000001")
	}
	if _, err := e.enterPIN(t, testPIN); !errors.Is(err, fault.Locked) {
		t.Fatalf("blocked device with the right PIN: %v", err)
	}
	r = pforte(t, dir, "devices", "list", "--kvnr", demoKVNR)
	if !strings.Contains(strings.Join(strings.Fields(r.stdout), " "), "software blocked set 5 (blocked)") {
		t.Errorf("blocked device:\n%s", r.stdout)
	}
	r = pforte(t, dir, "devices", "unblock", "--operator", "M. Muster, Servicecenter", "--", e.binding)
	wantCode(t, r, exitOK, "devices unblock")
	if want := "Device " + e.binding + " (\"Annas Pixel\" of member " + demoKVNR + ") is unblocked"; !strings.HasPrefix(r.stdout, want) {
		t.Errorf("unblock: %q, want prefix %q", r.stdout, want)
	}
	b, err := e.enterPIN(t, testPIN)
	if err != nil {
		t.Fatalf("the right PIN after the unblock: %v", err)
	}
	r = pforte(t, dir, "devices", "list", "--kvnr", demoKVNR)
	if out := strings.Join(strings.Fields(r.stdout), " "); !strings.Contains(out, "software active set 0") || strings.HasSuffix(out, "never") {
		t.Errorf("after the unblock and a login:\n%s", r.stdout)
	}

	// The audit log, newest first, names the operator and holds no secret.
	r = pforte(t, dir, "audit", "--kvnr", demoKVNR, "--operator", "M. Muster")
	wantCode(t, r, exitOK, "audit")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) < 2 || strings.Join(strings.Fields(lines[0]), " ") != "TIME KIND ACTOR CLIENT DETAIL" {
		t.Fatalf("audit:\n%s", r.stdout)
	}
	first := strings.Join(strings.Fields(lines[1]), " ")
	if !strings.Contains(first, "device.unblocked operator operator binding="+e.binding+` operator="M. Muster, Servicecenter" was_blocked=true`) {
		t.Errorf("newest event: %q", first)
	}
	for _, kind := range []string{"pin.locked", "pin.failed", "enrollment.completed", "pin.set", "device.bound"} {
		if !strings.Contains(r.stdout, " "+kind+" ") {
			t.Errorf("audit lacks %s:\n%s", kind, r.stdout)
		}
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, " device.bound ") {
		t.Errorf("oldest event last, want the binding: %q", last)
	}
	for _, secret := range []string{testPIN, "000001", testPassword} {
		if strings.Contains(r.stdout, secret) {
			t.Errorf("audit shows %q:\n%s", secret, r.stdout)
		}
	}
	r = pforte(t, dir, "audit", "--kvnr", demoKVNR, "--limit", "1", "--operator", "M. Muster")
	if n := strings.Count(strings.TrimSpace(r.stdout), "\n"); n != 1 {
		t.Errorf("--limit 1: %d events:\n%s", n, r.stdout)
	}

	// A revoked device is listed with the time and cannot be unblocked.
	if err := e.backend.Binding().RevokeDevice(t.Context(), b, e.binding, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	r = pforte(t, dir, "devices", "list", "--kvnr", demoKVNR)
	if !strings.Contains(r.stdout, "revoked 20") {
		t.Errorf("revoked device:\n%s", r.stdout)
	}
	r = pforte(t, dir, "devices", "unblock", "--operator", "M. Muster", "--", e.binding)
	assertOneLine(t, r, exitError, "pforte: devices unblock: device "+e.binding+" (revoked): the binding is revoked or suspect and cannot be unblocked")
}

func TestDevicesAndAuditBadInput(t *testing.T) {
	dir := t.TempDir()
	importDemo(t, dir)

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"devices", "list"}, "pforte: --kvnr is required"},
		{[]string{"devices", "list", "--kvnr", "A123456781"}, `pforte: "A123456781" is not a valid member number`},
		{[]string{"devices", "list", "--kvnr", "A12345678"}, `pforte: "A12345678" is not a valid member number`},
		{[]string{"audit", "--kvnr", "123456789X"}, `pforte: "123456789X" is not a valid member number`},
		{[]string{"audit", "--kvnr", demoKVNR}, "pforte: --operator is required"},
		{[]string{"audit", "--kvnr", demoKVNR, "--limit", "0"}, "pforte: --limit must be between 1 and 1000"},
		{[]string{"audit", "--kvnr", demoKVNR, "--limit", "1001"}, "pforte: --limit must be between 1 and 1000"},
		{[]string{"audit", "--from", "yesterday", "--operator", "M"}, "pforte: --from must be an RFC 3339 time or a date"},
		{[]string{"audit", "--kvnr", demoKVNR, "extra"}, `pforte: unknown command "extra" for "pforte audit"`},
		{[]string{"devices", "unblock", "some-id"}, "pforte: --operator is required"},
		{[]string{"devices", "unblock", "some-id", "--operator", "  "}, "pforte: --operator is required"},
		{[]string{"devices", "unblock", "some-id", "--operator", strings.Repeat("x", 101)}, "pforte: --operator: name the operator"},
		{[]string{"devices", "unblock", "--operator", "M"}, "pforte: accepts 1 arg(s), received 0"},
		{[]string{"devices", "unblock", "-Bvc4qW4BxLZCZ3DdbmMQQ", "--operator", "M"}, "pforte: unknown shorthand flag: 'B' in -Bvc4qW4BxLZCZ3DdbmMQQ; a device id that starts with '-' goes after '--'"},
		{[]string{"devices"}, "pforte: devices needs a subcommand: list, revoke, unblock"},
	} {
		r := pforte(t, dir, tc.args...)
		assertOneLine(t, r, exitUsage, tc.want)
	}

	// A member without an account (the first command that opens the back
	// end also generates the development master key, and says so), a valid
	// member number of nobody, a device id nobody has.
	r := pforte(t, dir, "devices", "list", "--kvnr", otherKVNR)
	if r.code != exitError || !strings.HasSuffix(r.stderr, "pforte: devices list: member "+otherKVNR+" has no account: they have not activated a letter or eID yet\n") {
		t.Errorf("member without an account: exit %d, stderr %q", r.code, r.stderr)
	}
	r = pforte(t, dir, "audit", "--kvnr", otherKVNR, "--operator", "M. Muster")
	assertOneLine(t, r, exitError, "pforte: audit: The member has no account yet")
	r = pforte(t, dir, "devices", "list", "--kvnr", "Z999999997")
	assertOneLine(t, r, exitError, "pforte: devices list: no member Z999999997: neither an account nor an entry in the member directory")
	r = pforte(t, dir, "audit", "--kvnr", "Z999999997", "--operator", "M. Muster")
	assertOneLine(t, r, exitError, "pforte: audit: This member is neither in the member directory nor has an account")
	r = pforte(t, dir, "devices", "unblock", "no-such-device", "--operator", "M. Muster")
	assertOneLine(t, r, exitError, `pforte: devices unblock: no device "no-such-device"`)
	r = pforte(t, dir, "devices", "unblock", "--operator", "M. Muster", "--", "-Bvc4qW4BxLZCZ3DdbmMQQ")
	assertOneLine(t, r, exitError, `pforte: devices unblock: no device "-Bvc4qW4BxLZCZ3DdbmMQQ"`)
}

func TestDetailText(t *testing.T) {
	got := detailText(map[string]string{"name": "Annas Pixel", "binding": "b1", "pin": "123456", "empty": "", "q": `a"b`})
	if want := `binding=b1 empty="" name="Annas Pixel" pin=[redacted] q="a\"b"`; got != want {
		t.Errorf("detailText = %s, want %s", got, want)
	}
	if detailText(nil) != "-" {
		t.Error("no details: want -")
	}
}

// letterSecrets are the secrets the app sends of letter c.
func letterSecrets(c letterscan.Content) proofing.Secrets {
	return proofing.Secrets{
		letterproof.SecretInitialPassword: secret.String(c.InitialPassword),
		letterproof.SecretActivationCode:  secret.String(letter.Normalize(c.ActivationCode)),
	}
}
