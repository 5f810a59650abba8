package binding_test

import (
	"encoding/json"
	"errors"
	"github.com/pforte-id/pforte/catalog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/binding"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/enrollment"
	"github.com/pforte-id/pforte/core/fault"
)

func TestEnrollmentHappyPath(t *testing.T) {
	f := setup(t)
	token, sess := f.session(t, anna, true)
	ph := newPhone()

	id, opts, err := f.svc.BeginBinding(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	var o regOptions
	if err := json.Unmarshal(opts, &o); err != nil {
		t.Fatal(err)
	}
	if string(o.Handle) != sess.AccountID {
		t.Errorf("user handle %q, want the account id %q", o.Handle, sess.AccountID)
	}
	if o.Name != "A******"+string(anna.KVNR)[7:] || strings.Contains(o.Name, string(anna.KVNR)[1:7]) {
		t.Errorf("user name %q is not the masked KVNR", o.Name)
	}
	b, err := f.svc.FinishBinding(ctx, token, id, ph.register(opts), "  Annas Pixel 8 ", device.Android, clientIP)
	if err != nil {
		t.Fatal(err)
	}
	if b.Name != "Annas Pixel 8" || b.EnrollmentID != sess.ID || b.AccountID != sess.AccountID ||
		b.Status != device.Active || b.PINHash != "" || b.AttestationFormat != "packed" || b.Usable() {
		t.Fatalf("binding after FinishBinding: %+v", b)
	}
	if got := f.w.account(sess.AccountID).Status; got != account.Pending {
		t.Fatalf("account %s before the PIN, want pending", got)
	}

	a, err := f.svc.SetPIN(ctx, token, goodPIN, clientIP)
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != account.Active || f.w.account(sess.AccountID).Status != account.Active {
		t.Fatalf("account %s after the PIN, want active", a.Status)
	}
	stored := f.w.binding(b.ID)
	if !stored.Usable() || strings.Contains(stored.PINHash, goodPIN) || !stored.PINSetAt.Equal(t0) {
		t.Fatalf("binding after SetPIN: status %s, hash %q, set at %v", stored.Status, stored.PINHash, stored.PINSetAt)
	}
	if ok, _ := f.deps.PINs.Verify(b.ID, goodPIN, stored.PINHash); !ok {
		t.Fatal("stored PIN hash does not verify the PIN")
	}
	if f.w.sessionByID(sess.ID).CompletedAt.IsZero() {
		t.Fatal("session not completed")
	}
	if got, want := f.w.auditKinds(), []audit.Kind{audit.DeviceBound, audit.PINSet, audit.EnrollmentCompleted}; !slices.Equal(got, want) {
		t.Fatalf("audit %v, want %v", got, want)
	}
	for _, e := range f.w.auditEvents() {
		if e.AccountID != sess.AccountID || e.Actor != audit.Member || e.ClientID != binding.DefaultAppClientID ||
			e.IPHash == "" || strings.Contains(e.IPHash, clientIP) || e.Detail["binding"] != b.ID {
			t.Errorf("audit event %+v", e)
		}
	}
	msgs := f.w.sent()
	if len(msgs) != 2 || msgs[0].Kind != string(audit.DeviceBound) || msgs[1].Kind != string(audit.EnrollmentCompleted) {
		t.Fatalf("notifications %+v", msgs)
	}
	for _, m := range msgs {
		if m.To != anna.Email || !strings.Contains(m.Body, "„Annas Pixel 8“") || !strings.Contains(m.Body, "02.03.2026 um 11:00 Uhr") {
			t.Errorf("notification %+v", m)
		}
	}
	if !strings.Contains(msgs[0].Body, "Wenn Sie das nicht waren") || strings.Contains(msgs[0].Body, "If this was not you") {
		t.Errorf("device notification does not say what to do: %s", msgs[0].Body)
	}
	// The device can authenticate now.
	if _, err := f.auth(t, ph, b.ID, goodPIN); err != nil {
		t.Fatalf("first device authentication: %v", err)
	}
}

func TestBeginBindingRefusals(t *testing.T) {
	f := setup(t)
	noPassword, _ := f.session(t, anna, false)
	_, _, err := f.svc.BeginBinding(ctx, noPassword)
	wantKind(t, "password not set", err, fault.Forbidden)
	wantPublic(t, "password not set", err, "Passwort, Gerät, PIN")

	for _, token := range []string{"", "unknown-token", strings.Repeat("x", 300)} {
		_, _, err := f.svc.BeginBinding(ctx, token)
		wantKind(t, "token "+token[:min(len(token), 10)], err, fault.Unauthenticated)
	}

	bound, _ := f.session(t, anna, true)
	f.bind(t, bound, newPhone(), "Phone")
	_, _, err = f.svc.BeginBinding(ctx, bound)
	wantKind(t, "second binding in one session", err, fault.Conflict)

	// A completed session takes no more steps.
	_, _ = f.svc.SetPIN(ctx, bound, goodPIN, clientIP)
	_, _, err = f.svc.BeginBinding(ctx, bound)
	wantKind(t, "completed session", err, fault.Expired)

	late, _ := f.session(t, bodo, true)
	f.w.clock.Advance(31 * time.Minute)
	_, _, err = f.svc.BeginBinding(ctx, late)
	wantKind(t, "expired session", err, fault.Expired)
}

func TestBeginBindingExcludesTheAccountsKeys(t *testing.T) {
	f := setup(t)
	first, _ := f.enrolled(t, anna, "First")
	token, _ := f.session(t, anna, true)
	_, opts, err := f.svc.BeginBinding(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	var o regOptions
	_ = json.Unmarshal(opts, &o)
	if len(o.Exclude) != 1 || string(o.Exclude[0]) != string(first.credID) {
		t.Fatalf("exclude %v, want the first phone's credential", o.Exclude)
	}
}

func TestFinishBindingRefusals(t *testing.T) {
	prod := device.Policy{AllowPacked: true}
	for _, tc := range []struct {
		name string
		opts []option
		// run returns the error of the step under test.
		run  func(t *testing.T, f *fixture, token string) error
		kind fault.Kind
		text string
	}{
		{"device name empty", nil, func(t *testing.T, f *fixture, token string) error {
			id, opts, _ := f.svc.BeginBinding(ctx, token)
			_, err := f.svc.FinishBinding(ctx, token, id, newPhone().register(opts), " ", device.Android, clientIP)
			return err
		}, fault.Invalid, "Gerätename"},
		{"unknown platform", nil, func(t *testing.T, f *fixture, token string) error {
			id, opts, _ := f.svc.BeginBinding(ctx, token)
			_, err := f.svc.FinishBinding(ctx, token, id, newPhone().register(opts), "P", device.Platform("windows"), clientIP)
			return err
		}, fault.Invalid, "Plattform"},
		{"software platform in production", []option{withDevicePolicy(prod)}, func(t *testing.T, f *fixture, token string) error {
			id, opts, _ := f.svc.BeginBinding(ctx, token)
			_, err := f.svc.FinishBinding(ctx, token, id, newPhone().register(opts), "P", device.Software, clientIP)
			return err
		}, fault.Invalid, "Plattform"},
		{"challenge replay", nil, func(t *testing.T, f *fixture, token string) error {
			id, opts, _ := f.svc.BeginBinding(ctx, token)
			synced := newPhone()
			synced.backup = true
			if _, err := f.svc.FinishBinding(ctx, token, id, synced.register(opts), "P", device.Android, clientIP); err == nil {
				t.Fatal("synced passkey bound")
			}
			_, err := f.svc.FinishBinding(ctx, token, id, newPhone().register(opts), "P", device.Android, clientIP)
			return err
		}, fault.Unauthenticated, "schon verwendet"},
		{"unknown challenge", nil, func(t *testing.T, f *fixture, token string) error {
			_, opts, _ := f.svc.BeginBinding(ctx, token)
			_, err := f.svc.FinishBinding(ctx, token, "made-up", newPhone().register(opts), "P", device.Android, clientIP)
			return err
		}, fault.Unauthenticated, "unbekannt"},
		{"expired challenge", nil, func(t *testing.T, f *fixture, token string) error {
			id, opts, _ := f.svc.BeginBinding(ctx, token)
			f.w.clock.Advance(device.ChallengeTTL + time.Second)
			_, err := f.svc.FinishBinding(ctx, token, id, newPhone().register(opts), "P", device.Android, clientIP)
			return err
		}, fault.Expired, "abgelaufen"},
		{"challenge of another session", nil, func(t *testing.T, f *fixture, token string) error {
			other, _ := f.session(t, bodo, true)
			id, opts, err := f.svc.BeginBinding(ctx, other)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.FinishBinding(ctx, token, id, newPhone().register(opts), "P", device.Android, clientIP)
			// The other session's challenge is used up, too.
			if _, err2 := f.svc.FinishBinding(ctx, other, id, newPhone().register(opts), "P", device.Android, clientIP); !errors.Is(err2, fault.Unauthenticated) {
				t.Errorf("the challenge still works in its own session: %v", err2)
			}
			return err
		}, fault.Unauthenticated, "gehört nicht"},
		{"assertion challenge", nil, func(t *testing.T, f *fixture, token string) error {
			ph, b := f.enrolled(t, bodo, "Bodos Phone")
			id, _, err := f.svc.BeginDeviceAuth(ctx, b.ID)
			if err != nil {
				t.Fatal(err)
			}
			_, opts, _ := f.svc.BeginBinding(ctx, token)
			_, err = f.svc.FinishBinding(ctx, token, id, ph.register(opts), "P", device.Android, clientIP)
			return err
		}, fault.Unauthenticated, "unbekannt"},
		{"answer to another challenge", nil, func(t *testing.T, f *fixture, token string) error {
			id, _, _ := f.svc.BeginBinding(ctx, token)
			_, err := f.svc.FinishBinding(ctx, token, id, newPhone().register([]byte(`{"challenge":"AAAA"}`)), "P", device.Android, clientIP)
			return err
		}, fault.Unauthenticated, ""},
		{"malformed answer", nil, func(t *testing.T, f *fixture, token string) error {
			id, _, _ := f.svc.BeginBinding(ctx, token)
			_, err := f.svc.FinishBinding(ctx, token, id, []byte("{"), "P", device.Android, clientIP)
			return err
		}, fault.Invalid, ""},
		{"synced passkey", nil, func(t *testing.T, f *fixture, token string) error {
			id, opts, _ := f.svc.BeginBinding(ctx, token)
			ph := newPhone()
			ph.backup = true
			_, err := f.svc.FinishBinding(ctx, token, id, ph.register(opts), "P", device.Android, clientIP)
			return err
		}, fault.Forbidden, "Passkey"},
		{"self attestation in production", []option{withDevicePolicy(prod)}, func(t *testing.T, f *fixture, token string) error {
			id, opts, _ := f.svc.BeginBinding(ctx, token)
			_, err := f.svc.FinishBinding(ctx, token, id, newPhone().register(opts), "P", device.Android, clientIP)
			return err
		}, fault.Forbidden, "Selbst-Attestierung"},
		{"key bound elsewhere", nil, func(t *testing.T, f *fixture, token string) error {
			ph, _ := f.enrolled(t, bodo, "Bodos Phone")
			id, opts, _ := f.svc.BeginBinding(ctx, token)
			_, err := f.svc.FinishBinding(ctx, token, id, ph.register(opts), "P", device.Android, clientIP)
			return err
		}, fault.Conflict, "Schlüssel ist bereits"},
		{"second binding in the session", nil, func(t *testing.T, f *fixture, token string) error {
			id1, opts1, _ := f.svc.BeginBinding(ctx, token)
			id2, opts2, _ := f.svc.BeginBinding(ctx, token)
			if _, err := f.svc.FinishBinding(ctx, token, id1, newPhone().register(opts1), "P", device.Android, clientIP); err != nil {
				t.Fatal(err)
			}
			_, err := f.svc.FinishBinding(ctx, token, id2, newPhone().register(opts2), "P", device.Android, clientIP)
			return err
		}, fault.Conflict, "bereits ein Gerät"},
		{"session expired after BeginBinding", nil, func(t *testing.T, f *fixture, token string) error {
			id, opts, _ := f.svc.BeginBinding(ctx, token)
			f.w.clock.Advance(enrollment.TTL)
			_, err := f.svc.FinishBinding(ctx, token, id, newPhone().register(opts), "P", device.Android, clientIP)
			return err
		}, fault.Expired, "Registrierungssitzung"},
		{"completed session", nil, func(t *testing.T, f *fixture, token string) error {
			id, opts, _ := f.svc.BeginBinding(ctx, token)
			if _, err := f.svc.FinishBinding(ctx, token, id, newPhone().register(opts), "P", device.Android, clientIP); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.SetPIN(ctx, token, goodPIN, clientIP); err != nil {
				t.Fatal(err)
			}
			_, err := f.svc.FinishBinding(ctx, token, id, newPhone().register(opts), "P", device.Android, clientIP)
			return err
		}, fault.Expired, "Registrierungssitzung"},
		{"no enrollment session at all", nil, func(t *testing.T, f *fixture, token string) error {
			id, opts, _ := f.svc.BeginBinding(ctx, token)
			_, err := f.svc.FinishBinding(ctx, "not-a-session", id, newPhone().register(opts), "P", device.Android, clientIP)
			return err
		}, fault.Unauthenticated, "Registrierungssitzung"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, tc.opts...)
			token, sess := f.session(t, anna, true)
			err := tc.run(t, f, token)
			wantKind(t, tc.name, err, tc.kind)
			wantPublic(t, tc.name, err, tc.text)
			if tc.name == "second binding in the session" || tc.name == "completed session" {
				return // these bound a first device on purpose
			}
			if bs, _ := f.w.ListBindings(ctx, sess.AccountID); len(bs) != 0 {
				t.Fatalf("a binding was stored: %+v", bs)
			}
			for _, e := range f.w.auditEvents() {
				if e.AccountID == sess.AccountID {
					t.Fatalf("audit event %s for a refused binding", e.Kind)
				}
			}
		})
	}
}

func TestFinishBindingLogsARefusedAttestation(t *testing.T) {
	f := setup(t, withDevicePolicy(device.Policy{AllowPacked: true}))
	token, _ := f.session(t, anna, true)
	id, opts, _ := f.svc.BeginBinding(ctx, token)
	ph := newPhone()
	ph.format, ph.self = "none", false
	_, err := f.svc.FinishBinding(ctx, token, id, ph.register(opts), "P", device.Android, clientIP)
	wantKind(t, "none in production", err, fault.Forbidden)
	if logs := f.logs.String(); !strings.Contains(logs, "device key refused") || !strings.Contains(logs, `"format":"none"`) || !strings.Contains(logs, `"reason":"device.unattested"`) {
		t.Fatalf("refusal not logged: %s", logs)
	}
}

func TestSetPINRefusesBadPINs(t *testing.T) {
	f := setup(t)
	token, sess := f.session(t, anna, true)
	b := f.bind(t, token, newPhone(), "Phone")
	for p, reason := range map[string]string{
		"12345":   "genau 6 Ziffern",
		"1234567": "genau 6 Ziffern",
		"12345a":  "genau 6 Ziffern",
		"５８３９２０":  "genau 6 Ziffern",
		"":        "genau 6 Ziffern",
		"111111":  "gleichen Ziffern",
		"123456":  "Zahlenfolge",
		"987654":  "Zahlenfolge",
		"121212":  "verbreitet",
		"090784":  "Geburtsdatum", // DDMMYY of anna's date of birth
		"840709":  "Geburtsdatum", // YYMMDD
	} {
		_, err := f.svc.SetPIN(ctx, token, p, clientIP)
		wantKind(t, "PIN "+p, err, fault.Invalid)
		wantPublic(t, "PIN "+p, err, reason)
		if de, en := catalog.German.Error(err), catalog.English.Error(err); de == en || strings.Contains(de, " / ") {
			t.Errorf("PIN %s: texts %q and %q are not one language each", p, de, en)
		}
	}
	if got := f.w.binding(b.ID); got.PINHash != "" {
		t.Fatal("a refused PIN was stored")
	}
	if got := f.w.account(sess.AccountID).Status; got != account.Pending {
		t.Fatalf("account %s", got)
	}
}

func TestSetPINRefusesTheBirthDateOfAProof(t *testing.T) {
	f := setup(t)
	// The eID says another date of birth than the directory: both count.
	proved := anna
	proved.BirthDate = "1984-07-10"
	token, _ := f.session(t, proved, true)
	f.bind(t, token, newPhone(), "Phone")
	_, err := f.svc.SetPIN(ctx, token, "100784", clientIP)
	wantKind(t, "proof's birth date", err, fault.Invalid)
}

func TestSetPINStepOrder(t *testing.T) {
	f := setup(t)
	noPassword, sess := f.session(t, anna, false)
	_, err := f.svc.SetPIN(ctx, noPassword, goodPIN, clientIP)
	wantKind(t, "no password, no device", err, fault.Forbidden)
	wantPublic(t, "no device", err, "zuerst Ihr Gerät")

	withPassword, _ := f.session(t, anna, true)
	_, err = f.svc.SetPIN(ctx, withPassword, goodPIN, clientIP)
	wantKind(t, "password, no device", err, fault.Forbidden)

	if got := f.w.account(sess.AccountID).Status; got != account.Pending {
		t.Fatalf("account %s with steps missing", got)
	}
	for _, k := range f.w.auditKinds() {
		if k == audit.EnrollmentCompleted || k == audit.PINSet {
			t.Fatalf("audit %v with steps missing", f.w.auditKinds())
		}
	}

	_, err = f.svc.SetPIN(ctx, "unknown", goodPIN, clientIP)
	wantKind(t, "unknown token", err, fault.Unauthenticated)
}

func TestSetPINTwice(t *testing.T) {
	f := setup(t)
	token, sess := f.session(t, anna, true)
	ph := newPhone()
	b := f.bind(t, token, ph, "Phone")

	// The PIN is stored, but the completion fails: the account is not
	// active, nothing half-done is usable.
	f.w.setInject(func(m string) error {
		if m == "CompleteEnrollment" {
			return fault.New(fault.Unavailable, "fake", "")
		}
		return nil
	})
	_, err := f.svc.SetPIN(ctx, token, goodPIN, clientIP)
	wantKind(t, "completion down", err, fault.Unavailable)
	f.w.setInject(nil)
	if f.w.binding(b.ID).PINHash == "" || f.w.account(sess.AccountID).Status != account.Pending {
		t.Fatal("want the PIN stored and the account pending")
	}
	if _, err := f.auth(t, ph, b.ID, goodPIN); !errors.Is(err, fault.Forbidden) {
		t.Fatalf("device of a pending account authenticated: %v", err)
	}

	// Another PIN is a second PIN.
	_, err = f.svc.SetPIN(ctx, token, otherPIN, clientIP)
	wantKind(t, "PIN set twice", err, fault.Conflict)
	if ok, _ := f.deps.PINs.Verify(b.ID, goodPIN, f.w.binding(b.ID).PINHash); !ok {
		t.Fatal("the second PIN replaced the first")
	}
	// The same PIN again completes the enrollment.
	a, err := f.svc.SetPIN(ctx, token, goodPIN, clientIP)
	if err != nil || a.Status != account.Active {
		t.Fatalf("retry: %v, %s", err, a.Status)
	}
	n := 0
	for _, k := range f.w.auditKinds() {
		if k == audit.PINSet {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("PINSet recorded %d times", n)
	}
	// And now the session is over.
	_, err = f.svc.SetPIN(ctx, token, goodPIN, clientIP)
	wantKind(t, "after completion", err, fault.Expired)
}

func TestSetPINConcurrentlyOneWins(t *testing.T) {
	f := setup(t)
	token, _ := f.session(t, anna, true)
	b := f.bind(t, token, newPhone(), "Phone")
	pins := []string{goodPIN, otherPIN, thirdPIN, "730516", "615284", "402871"}
	errs := make([]error, len(pins))
	var wg sync.WaitGroup
	for i, p := range pins {
		wg.Go(func() { _, errs[i] = f.svc.SetPIN(ctx, token, p, clientIP) })
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Fatalf("two PINs set: %s and %s", pins[won], pins[i])
		case err == nil:
			won = i
		case !errors.Is(err, fault.Conflict) && !errors.Is(err, fault.Expired):
			t.Fatalf("loser: %v", err)
		}
	}
	if won < 0 {
		t.Fatal("no PIN set")
	}
	if ok, _ := f.deps.PINs.Verify(b.ID, pins[won], f.w.binding(b.ID).PINHash); !ok {
		t.Fatal("the stored PIN is not the winner's")
	}
}

func TestEnrollmentExpiredHalfWayLeavesNothingUsable(t *testing.T) {
	f := setup(t)
	token, sess := f.session(t, anna, true)
	b := f.bind(t, token, newPhone(), "Phone")
	f.w.clock.Advance(enrollment.TTL)
	_, err := f.svc.SetPIN(ctx, token, goodPIN, clientIP)
	wantKind(t, "expired before the PIN", err, fault.Expired)
	if f.w.account(sess.AccountID).Status != account.Pending || f.w.binding(b.ID).PINHash != "" {
		t.Fatal("something usable was left")
	}
	_, _, err = f.svc.BeginDeviceAuth(ctx, b.ID)
	wantKind(t, "binding without PIN", err, fault.Forbidden)
}

func TestSetPINOnARevokedBinding(t *testing.T) {
	f := setup(t)
	ph1, b1 := f.enrolled(t, anna, "First")
	token, _ := f.session(t, anna, true)
	f.bind(t, token, newPhone(), "Second")
	// The first phone removes the half-enrolled second one.
	me, err := f.auth(t, ph1, b1.ID, goodPIN)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.svc.RevokeOtherDevices(ctx, me, clientIP); err != nil || n != 1 {
		t.Fatalf("RevokeOtherDevices: %d, %v", n, err)
	}
	_, err = f.svc.SetPIN(ctx, token, goodPIN, clientIP)
	wantKind(t, "revoked binding", err, fault.Forbidden)
}

func TestSetPINOfSecondDeviceKeepsTheAccountActive(t *testing.T) {
	f := setup(t)
	_, b1 := f.enrolled(t, anna, "First")
	ph2, b2 := f.enrolled(t, anna, "Second")
	if b1.AccountID != b2.AccountID {
		t.Fatal("two accounts")
	}
	if _, err := f.auth(t, ph2, b2.ID, goodPIN); err != nil {
		t.Fatal(err)
	}
}

// EnrollmentDevice names the device bound in the session, for an app
// whose answer to FinishBinding was lost; only the session's own token
// reads it, and only while the session is open.
func TestEnrollmentDevice(t *testing.T) {
	f := setup(t)
	token, sess := f.session(t, anna, true)
	if _, bound, err := f.svc.EnrollmentDevice(ctx, token); err != nil || bound {
		t.Fatalf("before the binding: bound %v, %v", bound, err)
	}
	b := f.bind(t, token, newPhone(), "Phone")
	got, bound, err := f.svc.EnrollmentDevice(ctx, token)
	if err != nil || !bound || got.ID != b.ID || got.AccountID != sess.AccountID || got.PINHash != "" {
		t.Fatalf("after the binding: %+v, bound %v, %v; want binding %s without PIN", got, bound, err, b.ID)
	}
	other, _ := f.session(t, bodo, true)
	if _, bound, err := f.svc.EnrollmentDevice(ctx, other); err != nil || bound {
		t.Fatalf("another member's session sees a device: bound %v, %v", bound, err)
	}
	for _, tok := range []string{"", "unknown-token", strings.Repeat("x", 300)} {
		_, _, err := f.svc.EnrollmentDevice(ctx, tok)
		wantKind(t, "token "+tok[:min(len(tok), 10)], err, fault.Unauthenticated)
	}
	if _, err := f.svc.SetPIN(ctx, token, goodPIN, clientIP); err != nil {
		t.Fatal(err)
	}
	_, _, err = f.svc.EnrollmentDevice(ctx, token)
	wantKind(t, "completed session", err, fault.Expired)
}
