package binding_test

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/binding"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/login"
	"github.com/pforte-id/pforte/core/pin"
	"github.com/pforte-id/pforte/core/throttle"
)

// pinErr returns err's PIN error (the error with a pin code of kind k) or
// fails.
func pinErr(t *testing.T, what string, err error, k fault.Kind) *fault.Error {
	t.Helper()
	wantKind(t, what, err, k)
	want := map[fault.Kind]fault.Code{fault.Unauthenticated: pin.CodeWrong, fault.RateLimited: pin.CodeWait, fault.Locked: pin.CodeBlocked}[k]
	pe := fault.CodedOf(err)
	if pe == nil || pe.Code != want {
		t.Fatalf("%s: %v has not the code %q", what, err, want)
	}
	return pe
}

func TestAuthenticateDevice(t *testing.T) {
	f := setup(t)
	ph, b := f.enrolled(t, anna, "Phone")
	f.w.clock.Advance(time.Minute)
	got, err := f.auth(t, ph, b.ID, goodPIN)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != b.ID || got.SignCount != 1 || !got.LastUsedAt.Equal(t0.Add(time.Minute)) || got.PIN != (pin.Counter{}) {
		t.Fatalf("binding after authentication: %+v", got)
	}
	if f.w.binding(b.ID).SignCount != 1 {
		t.Fatal("sign count not stored")
	}
}

func TestBeginDeviceAuthRefusals(t *testing.T) {
	f := setup(t)
	_, b := f.enrolled(t, anna, "Phone")
	token, _ := f.session(t, bodo, true)
	notEnrolled := f.bind(t, token, newPhone(), "Half")

	// set enrolls another phone of Anna's and puts it in status s.
	set := func(_ string, s device.Status) string {
		_, x := f.enrolled(t, anna, "Phone "+string(s))
		x.Status = s
		f.w.setBinding(x)
		return x.ID
	}
	revoked, suspect := set(b.ID, device.Revoked), set(b.ID, device.Suspect)
	for name, id := range map[string]string{
		"unknown": "no-such-binding", "empty": "", "revoked": revoked, "suspect": suspect, "without PIN": notEnrolled.ID,
	} {
		_, _, err := f.svc.BeginDeviceAuth(ctx, id)
		wantKind(t, name, err, fault.Forbidden)
		wantPublic(t, name, err, "nicht (mehr)")
	}
	if _, _, err := f.svc.BeginDeviceAuth(ctx, set(b.ID, device.Blocked)); err != nil {
		t.Fatalf("a blocked binding needs a challenge for the PIN reset: %v", err)
	}
}

func TestAuthenticateDeviceRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, f *fixture, ph *phone, b device.Binding) error
		kind fault.Kind
		text string
	}{
		{"challenge replay", func(t *testing.T, f *fixture, ph *phone, b device.Binding) error {
			id, resp := f.challenge(t, ph, b.ID)
			if _, err := f.svc.AuthenticateDevice(ctx, id, resp, goodPIN, clientIP); err != nil {
				t.Fatal(err)
			}
			_, err := f.svc.AuthenticateDevice(ctx, id, resp, goodPIN, clientIP)
			return err
		}, fault.Unauthenticated, "schon verwendet"},
		{"expired challenge", func(t *testing.T, f *fixture, ph *phone, b device.Binding) error {
			id, resp := f.challenge(t, ph, b.ID)
			f.w.clock.Advance(device.ChallengeTTL + time.Second)
			_, err := f.svc.AuthenticateDevice(ctx, id, resp, goodPIN, clientIP)
			return err
		}, fault.Expired, "abgelaufen"},
		{"registration challenge", func(t *testing.T, f *fixture, ph *phone, b device.Binding) error {
			token, _ := f.session(t, anna, true)
			id, _, err := f.svc.BeginBinding(ctx, token)
			if err != nil {
				t.Fatal(err)
			}
			_, resp := f.challenge(t, ph, b.ID)
			_, err = f.svc.AuthenticateDevice(ctx, id, resp, goodPIN, clientIP)
			return err
		}, fault.Unauthenticated, "unbekannt"},
		{"signed by another key", func(t *testing.T, f *fixture, ph *phone, b device.Binding) error {
			id, opts, _ := f.svc.BeginDeviceAuth(ctx, b.ID)
			thief := newPhone()
			thief.credID = ph.credID // claims to be the member's key
			_, err := f.svc.AuthenticateDevice(ctx, id, thief.assert(opts), goodPIN, clientIP)
			return err
		}, fault.Unauthenticated, ""},
		{"answered by another binding's key", func(t *testing.T, f *fixture, ph *phone, b device.Binding) error {
			// Both keys are the member's; the challenge is for the first.
			// The answer is signed by the first key but names the second
			// one's credential: core must see that the credential that
			// answered is not the one the challenge was issued for.
			ph2, _ := f.enrolled(t, anna, "Second")
			id, opts, _ := f.svc.BeginDeviceAuth(ctx, b.ID)
			forged := newPhone()
			forged.key, forged.credID = ph.key, ph2.credID
			_, err := f.svc.AuthenticateDevice(ctx, id, forged.assert(opts), goodPIN, clientIP)
			return err
		}, fault.Unauthenticated, "nicht vom Schlüssel"},
		{"answer to another challenge", func(t *testing.T, f *fixture, ph *phone, b device.Binding) error {
			id1, _, _ := f.svc.BeginDeviceAuth(ctx, b.ID)
			_, resp2 := f.challenge(t, ph, b.ID)
			_, err := f.svc.AuthenticateDevice(ctx, id1, resp2, goodPIN, clientIP)
			return err
		}, fault.Unauthenticated, ""},
		{"challenge of another binding", func(t *testing.T, f *fixture, ph *phone, b device.Binding) error {
			_, bodoBinding := f.enrolled(t, bodo, "Bodos Phone")
			id, opts, _ := f.svc.BeginDeviceAuth(ctx, bodoBinding.ID)
			// anna's phone answers the challenge issued for bodo's binding.
			_, err := f.svc.AuthenticateDevice(ctx, id, ph.assert(opts), goodPIN, clientIP)
			return err
		}, fault.Unauthenticated, ""},
		{"malformed answer", func(t *testing.T, f *fixture, ph *phone, b device.Binding) error {
			id, _, _ := f.svc.BeginDeviceAuth(ctx, b.ID)
			_, err := f.svc.AuthenticateDevice(ctx, id, []byte("{"), goodPIN, clientIP)
			return err
		}, fault.Invalid, ""},
		{"revoked between challenge and answer", func(t *testing.T, f *fixture, ph *phone, b device.Binding) error {
			id, resp := f.challenge(t, ph, b.ID)
			x := f.w.binding(b.ID)
			x.Status = device.Revoked
			f.w.setBinding(x)
			_, err := f.svc.AuthenticateDevice(ctx, id, resp, goodPIN, clientIP)
			return err
		}, fault.Forbidden, "nicht (mehr)"},
		{"account blocked by support", func(t *testing.T, f *fixture, ph *phone, b device.Binding) error {
			_ = f.w.SetAccountStatus(ctx, b.AccountID, account.Blocked, t0)
			_, err := f.auth(t, ph, b.ID, goodPIN)
			return err
		}, fault.Forbidden, "Zugang ist nicht aktiv"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t)
			ph, b := f.enrolled(t, anna, "Phone")
			err := tc.run(t, f, ph, b)
			wantKind(t, tc.name, err, tc.kind)
			wantPublic(t, tc.name, err, tc.text)
			if got := f.w.binding(b.ID).PIN; got.Failures != 0 {
				t.Fatalf("a refused possession proof counted a PIN failure: %+v", got)
			}
		})
	}
}

func TestCounterRollbackMarksSuspect(t *testing.T) {
	f := setup(t)
	ph, b := f.enrolled(t, anna, "Phone")
	for range 3 {
		if _, err := f.auth(t, ph, b.ID, goodPIN); err != nil {
			t.Fatal(err)
		}
	}
	login := f.w.appLogin(t, b)
	// A copy of the key made when the counter stood at 1 answers now.
	f.w.clock.Advance(time.Minute)
	ph.setCount(1)
	_, err := f.auth(t, ph, b.ID, goodPIN)
	wantKind(t, "rollback", err, fault.Forbidden)
	if got := f.w.binding(b.ID); got.Status != device.Suspect || got.SignCount != 3 {
		t.Fatalf("binding after rollback: status %s, count %d", got.Status, got.SignCount)
	}
	// A copy of the key may have logged in to the app: those logins end,
	// at the service's clock.
	if got := f.w.loginEndedAt(t, login); !got.Equal(f.w.clock.Now()) {
		t.Fatalf("app login ended at %v, want %v", got, f.w.clock.Now())
	}
	events := f.w.auditEvents()
	last := events[len(events)-1]
	if last.Kind != audit.DeviceSuspect || last.Actor != audit.System || last.Detail["stored_count"] != "3" ||
		last.Detail["reported_count"] != "2" {
		t.Fatalf("audit %+v", last)
	}
	msgs := f.w.sent()
	if m := msgs[len(msgs)-1]; m.Kind != string(audit.DeviceSuspect) || !strings.Contains(m.Body, "Kopie seines Schlüssels") {
		t.Fatalf("notification %+v", m)
	}
	// Final: the right counter does not help any more.
	ph.setCount(10)
	_, _, err = f.svc.BeginDeviceAuth(ctx, b.ID)
	wantKind(t, "suspect binding", err, fault.Forbidden)
}

func TestCounterRollbackDuringResetPIN(t *testing.T) {
	f := setup(t)
	ph, b := f.enrolled(t, anna, "Phone")
	if _, err := f.auth(t, ph, b.ID, goodPIN); err != nil {
		t.Fatal(err)
	}
	login := f.w.appLogin(t, b)
	ph.setCount(0) // reports 1 again
	id, resp := f.challenge(t, ph, b.ID)
	err := f.svc.ResetPIN(ctx, id, resp, userPassword, otherPIN, clientIP)
	wantKind(t, "rollback", err, fault.Forbidden)
	if f.w.binding(b.ID).Status != device.Suspect {
		t.Fatal("not suspect")
	}
	if f.w.loginEndedAt(t, login).IsZero() {
		t.Fatal("the app login of the suspect binding goes on")
	}
}

func TestAuthenticatorWithoutCounter(t *testing.T) {
	f := setup(t)
	ph, b := f.enrolled(t, anna, "Phone")
	ph.step = 0 // reports 0 every time
	for range 3 {
		if _, err := f.auth(t, ph, b.ID, goodPIN); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWrongPINsCountAndACorrectOneResets(t *testing.T) {
	f := setup(t)
	ph, b := f.enrolled(t, anna, "Phone")
	for i, want := range []int{4, 3, 2} {
		_, err := f.auth(t, ph, b.ID, otherPIN)
		pe := pinErr(t, "wrong PIN", err, fault.Unauthenticated)
		if pe.Remaining != want || !pe.RetryAt.IsZero() {
			t.Fatalf("attempt %d: remaining %d retry %v, want %d", i+1, pe.Remaining, pe.RetryAt, want)
		}
		wantPublic(t, "wrong PIN", err, "Verbleibende Versuche: ")
	}
	if got := f.w.binding(b.ID); got.PIN.Failures != 3 || got.SignCount != 3 {
		t.Fatalf("after 3 failures: %+v, sign count %d", got.PIN, got.SignCount)
	}
	if _, err := f.auth(t, ph, b.ID, goodPIN); err != nil {
		t.Fatal(err)
	}
	if got := f.w.binding(b.ID).PIN; got != (pin.Counter{}) {
		t.Fatalf("counter after a correct PIN: %+v", got)
	}
	failed := 0
	for _, e := range f.w.auditEvents() {
		if e.Kind == audit.PINFailed {
			failed++
			for k, v := range e.Detail {
				if strings.Contains(v, otherPIN) || strings.Contains(k, "pin") && k != "binding" {
					t.Errorf("audit detail %s=%s", k, v)
				}
			}
		}
	}
	if failed != 3 {
		t.Fatalf("%d PINFailed events, want 3", failed)
	}
	if logs := f.logs.String(); strings.Contains(logs, otherPIN) || strings.Contains(logs, goodPIN) {
		t.Fatal("a PIN in the log")
	}
}

func TestPINDelaysFollowTheClock(t *testing.T) {
	f := setup(t, withPIN(pin.DefaultPolicy))
	ph, b := f.enrolled(t, anna, "Phone")
	for range 2 {
		_, err := f.auth(t, ph, b.ID, otherPIN)
		if pe := pinErr(t, "no delay yet", err, fault.Unauthenticated); !pe.RetryAt.IsZero() {
			t.Fatalf("delay before the 3rd failure: %v", pe.RetryAt)
		}
	}
	now := f.w.clock.Now()
	_, err := f.auth(t, ph, b.ID, otherPIN)
	pe := pinErr(t, "3rd failure", err, fault.Unauthenticated)
	if pe.Remaining != 2 || !pe.RetryAt.Equal(now.Add(time.Minute)) || pe.RetryAfter != time.Minute {
		t.Fatalf("3rd failure: remaining %d, retry %v after %v", pe.Remaining, pe.RetryAt, pe.RetryAfter)
	}
	// Too early: even the right PIN is not evaluated, and nothing counts.
	f.w.clock.Advance(59 * time.Second)
	_, err = f.auth(t, ph, b.ID, goodPIN)
	pe = pinErr(t, "too early", err, fault.RateLimited)
	// The wait is by the service's clock, not the wall clock.
	if pe.Remaining != 2 || !pe.RetryAt.Equal(now.Add(time.Minute)) || pe.RetryAfter != time.Second {
		t.Fatalf("too early: remaining %d, retry %v after %v", pe.Remaining, pe.RetryAt, pe.RetryAfter)
	}
	if got := f.w.binding(b.ID).PIN.Failures; got != 3 {
		t.Fatalf("failures %d after a delayed entry", got)
	}
	f.w.clock.Advance(time.Second)
	now = f.w.clock.Now()
	_, err = f.auth(t, ph, b.ID, otherPIN)
	if pe := pinErr(t, "4th failure", err, fault.Unauthenticated); pe.Remaining != 1 || !pe.RetryAt.Equal(now.Add(5*time.Minute)) ||
		pe.RetryAfter != 5*time.Minute {
		t.Fatalf("4th failure: remaining %d, retry %v after %v", pe.Remaining, pe.RetryAt, pe.RetryAfter)
	}
	f.w.clock.Advance(5 * time.Minute)
	_, err = f.auth(t, ph, b.ID, otherPIN)
	if pe := pinErr(t, "5th failure", err, fault.Locked); pe.Remaining != 0 {
		t.Fatalf("5th failure: remaining %d", pe.Remaining)
	}
	if f.w.binding(b.ID).Status != device.Blocked {
		t.Fatal("not blocked")
	}
}

func TestPINLockout(t *testing.T) {
	f := setup(t)
	ph, b := f.enrolled(t, anna, "Phone")
	for range 4 {
		_, _ = f.auth(t, ph, b.ID, otherPIN)
	}
	_, err := f.auth(t, ph, b.ID, otherPIN)
	pinErr(t, "5th failure", err, fault.Locked)
	wantPublic(t, "5th failure", err, "mit Ihrem Passwort")
	got := f.w.binding(b.ID)
	if got.Status != device.Blocked || !got.PIN.Blocked || got.PIN.Failures != 5 {
		t.Fatalf("binding after the 5th failure: %s %+v", got.Status, got.PIN)
	}
	kinds := f.w.auditKinds()
	if kinds[len(kinds)-1] != audit.PINLocked {
		t.Fatalf("audit %v", kinds)
	}
	msgs := f.w.sent()
	if m := msgs[len(msgs)-1]; m.Kind != string(audit.PINLocked) || !strings.Contains(m.Body, "gesperrt") ||
		m.Subject != "Gerät gesperrt" {
		t.Fatalf("lock notification %+v", m)
	}
	// The right PIN does not help now, and is not even compared.
	_, writes := f.w.updateCounts()
	_, err = f.auth(t, ph, b.ID, goodPIN)
	pinErr(t, "blocked device, right PIN", err, fault.Locked)
	if _, w := f.w.updateCounts(); w != writes {
		t.Fatal("a blocked binding was written")
	}
}

// TestConcurrentWrongPINs fires 50 wrong PINs at once. The store's
// UpdateBinding serialises them: exactly MaxFailures of them are compared
// and counted; the rest find the binding blocked.
func TestConcurrentWrongPINs(t *testing.T) {
	f := setup(t) // noDelays: every guess could be compared at once
	ph, b := f.enrolled(t, anna, "Phone")
	ph.step = 0 // an authenticator without counter: parallel answers are not a rollback
	const n = 50
	type try struct {
		id   string
		resp []byte
	}
	tries := make([]try, n)
	for i := range tries {
		tries[i].id, tries[i].resp = f.challenge(t, ph, b.ID)
	}
	_, writesBefore := f.w.updateCounts()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range tries {
		wg.Go(func() {
			_, errs[i] = f.svc.AuthenticateDevice(ctx, tries[i].id, tries[i].resp, otherPIN, clientIP)
		})
	}
	wg.Wait()

	var wrong, locked []int
	for _, err := range errs {
		pe := fault.CodedOf(err)
		if pe == nil || (pe.Code != pin.CodeWrong && pe.Code != pin.CodeBlocked) {
			t.Fatalf("not a PIN error: %v", err)
		}
		switch fault.KindOf(err) {
		case fault.Unauthenticated:
			wrong = append(wrong, pe.Remaining)
		case fault.Locked:
			locked = append(locked, pe.Remaining)
		default:
			t.Fatalf("kind %v", fault.KindOf(err))
		}
	}
	slices.Sort(wrong)
	if !slices.Equal(wrong, []int{1, 2, 3, 4}) || len(locked) != n-4 {
		t.Fatalf("wrong (remaining) %v, locked %d", wrong, len(locked))
	}
	got := f.w.binding(b.ID)
	if got.PIN.Failures != noDelays.MaxFailures || got.Status != device.Blocked {
		t.Fatalf("counter %+v, status %s", got.PIN, got.Status)
	}
	// Every compared guess is stored; nothing else is: exactly
	// MaxFailures writes, so no guess beyond the limit was evaluated.
	if _, w := f.w.updateCounts(); w-writesBefore != noDelays.MaxFailures {
		t.Fatalf("%d guesses evaluated, want %d", w-writesBefore, noDelays.MaxFailures)
	}
	failed, lockedEvents := 0, 0
	for _, e := range f.w.auditEvents() {
		switch e.Kind {
		case audit.PINFailed:
			failed++
		case audit.PINLocked:
			lockedEvents++
		}
	}
	if failed != 4 || lockedEvents != 1 {
		t.Fatalf("audit: %d failed, %d locked", failed, lockedEvents)
	}
}

func TestStalePepperIsRehashed(t *testing.T) {
	f := setup(t)
	ph, b := f.enrolled(t, anna, "Phone")
	if !strings.HasPrefix(f.w.binding(b.ID).PINHash, "v1:") {
		t.Fatal("not hashed under version 1")
	}
	// The pepper is rotated: version 2 is current, version 1 still known.
	pepper2 := pin.Pepper{Version: 2, Key: []byte(strings.Repeat("pepper-two-", 4))}
	deps := f.deps
	deps.PINs = pinHasher(t, 2, pepper1, pepper2)
	svc, err := binding.New(f.cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	// A wrong PIN does not rehash.
	_, _ = f.auth(t, ph, b.ID, otherPIN)
	if !strings.HasPrefix(f.w.binding(b.ID).PINHash, "v1:") {
		t.Fatal("rehashed on a wrong PIN")
	}
	if _, err := f.auth(t, ph, b.ID, goodPIN); err != nil {
		t.Fatal(err)
	}
	if h := f.w.binding(b.ID).PINHash; !strings.HasPrefix(h, "v2:") {
		t.Fatalf("hash %q after a correct PIN under a stale pepper", h)
	}
	if _, err := f.auth(t, ph, b.ID, goodPIN); err != nil {
		t.Fatalf("the rehashed PIN: %v", err)
	}
}

func TestResetPINUnblocks(t *testing.T) {
	f := setup(t)
	ph, b := f.enrolled(t, anna, "Phone")
	for range 5 {
		_, _ = f.auth(t, ph, b.ID, otherPIN)
	}
	if f.w.binding(b.ID).Status != device.Blocked {
		t.Fatal("not blocked")
	}
	before := len(f.w.auditEvents())
	id, resp := f.challenge(t, ph, b.ID)
	if err := f.svc.ResetPIN(ctx, id, resp, userPassword, thirdPIN, clientIP); err != nil {
		t.Fatal(err)
	}
	got := f.w.binding(b.ID)
	if got.Status != device.Active || got.PIN != (pin.Counter{}) || got.PINSetAt.IsZero() {
		t.Fatalf("after reset: %s %+v", got.Status, got.PIN)
	}
	var kinds []audit.Kind
	for _, e := range f.w.auditEvents()[before:] {
		kinds = append(kinds, e.Kind)
	}
	if !slices.Equal(kinds, []audit.Kind{audit.DeviceUnblocked, audit.PINSet}) {
		t.Fatalf("audit %v", kinds)
	}
	msgs := f.w.sent()
	m := msgs[len(msgs)-1]
	if m.Kind != string(audit.PINSet) || !strings.Contains(m.Body, "Sperre des Geräts ist damit aufgehoben") ||
		strings.Contains(m.Body, thirdPIN) {
		t.Fatalf("reset notification %+v", m)
	}
	_, err := f.auth(t, ph, b.ID, goodPIN)
	pinErr(t, "old PIN", err, fault.Unauthenticated)
	if _, err := f.auth(t, ph, b.ID, thirdPIN); err != nil {
		t.Fatalf("new PIN: %v", err)
	}
}

func TestResetPINRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, f *fixture, ph *phone, b device.Binding) error
		kind fault.Kind
		text string
	}{
		{"wrong password", func(t *testing.T, f *fixture, ph *phone, b device.Binding) error {
			id, resp := f.challenge(t, ph, b.ID)
			return f.svc.ResetPIN(ctx, id, resp, "Lindenblüte im Hafenbecken!", thirdPIN, clientIP)
		}, fault.Unauthenticated, "Passwort ist falsch"},
		{"trivial new PIN", func(t *testing.T, f *fixture, ph *phone, b device.Binding) error {
			id, resp := f.challenge(t, ph, b.ID)
			return f.svc.ResetPIN(ctx, id, resp, userPassword, "090784", clientIP)
		}, fault.Invalid, "Geburtsdatum"},
		{"5-digit new PIN", func(t *testing.T, f *fixture, ph *phone, b device.Binding) error {
			id, resp := f.challenge(t, ph, b.ID)
			return f.svc.ResetPIN(ctx, id, resp, userPassword, "27183", clientIP)
		}, fault.Invalid, "6 Ziffern"},
		{"replayed challenge", func(t *testing.T, f *fixture, ph *phone, b device.Binding) error {
			id, resp := f.challenge(t, ph, b.ID)
			if err := f.svc.ResetPIN(ctx, id, resp, "wrong password", thirdPIN, clientIP); err == nil {
				t.Fatal("wrong password accepted")
			}
			return f.svc.ResetPIN(ctx, id, resp, userPassword, thirdPIN, clientIP)
		}, fault.Unauthenticated, "schon verwendet"},
		{"another key", func(t *testing.T, f *fixture, ph *phone, b device.Binding) error {
			id, opts, _ := f.svc.BeginDeviceAuth(ctx, b.ID)
			thief := newPhone()
			thief.credID = ph.credID
			return f.svc.ResetPIN(ctx, id, thief.assert(opts), userPassword, thirdPIN, clientIP)
		}, fault.Unauthenticated, ""},
		{"revoked binding", func(t *testing.T, f *fixture, ph *phone, b device.Binding) error {
			id, resp := f.challenge(t, ph, b.ID)
			x := f.w.binding(b.ID)
			x.Status = device.Revoked
			f.w.setBinding(x)
			return f.svc.ResetPIN(ctx, id, resp, userPassword, thirdPIN, clientIP)
		}, fault.Forbidden, "nicht (mehr)"},
		{"no password on the account", func(t *testing.T, f *fixture, ph *phone, b device.Binding) error {
			_ = f.w.SetPasswordHash(ctx, b.AccountID, "", t0)
			id, resp := f.challenge(t, ph, b.ID)
			return f.svc.ResetPIN(ctx, id, resp, userPassword, thirdPIN, clientIP)
		}, fault.Unauthenticated, "Passwort ist falsch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t)
			ph, b := f.enrolled(t, anna, "Phone")
			for range 5 {
				_, _ = f.auth(t, ph, b.ID, otherPIN)
			}
			before := f.w.binding(b.ID)
			err := tc.run(t, f, ph, b)
			wantKind(t, tc.name, err, tc.kind)
			wantPublic(t, tc.name, err, tc.text)
			after := f.w.binding(b.ID)
			if after.PINHash != before.PINHash || (tc.name != "revoked binding" && after.Status != device.Blocked) {
				t.Fatalf("refused reset changed the binding: %s", after.Status)
			}
		})
	}
}

func TestResetPINWhileActive(t *testing.T) {
	f := setup(t)
	ph, b := f.enrolled(t, anna, "Phone")
	id, resp := f.challenge(t, ph, b.ID)
	if err := f.svc.ResetPIN(ctx, id, resp, userPassword, thirdPIN, clientIP); err != nil {
		t.Fatal(err)
	}
	for _, k := range f.w.auditKinds() {
		if k == audit.DeviceUnblocked {
			t.Fatal("unblock recorded for a binding that was not blocked")
		}
	}
	if _, err := f.auth(t, ph, b.ID, thirdPIN); err != nil {
		t.Fatal(err)
	}
}

// TestResetPINThrottled: the PIN reset's password check runs under the
// web login's rule and counter: wrong passwords count, then even the right
// one is refused with the wait until the delay is over. A wrong password
// never touches the device: the app still logs in with the key and the PIN.
func TestResetPINThrottled(t *testing.T) {
	f := setup(t)
	ph, b := f.enrolled(t, anna, "Phone")
	free := throttle.DefaultPolicy.Free
	for range free + 1 {
		id, resp := f.challenge(t, ph, b.ID)
		err := f.svc.ResetPIN(ctx, id, resp, "Lindenblüte im Hafenbecken!", thirdPIN, clientIP)
		if code, _ := fault.CodeOf(err); fault.KindOf(err) != fault.Unauthenticated || code != "password.wrong" {
			t.Fatalf("wrong password: %v", err)
		}
	}
	id, resp := f.challenge(t, ph, b.ID)
	err := f.svc.ResetPIN(ctx, id, resp, userPassword, thirdPIN, clientIP)
	if code, _ := fault.CodeOf(err); fault.KindOf(err) != fault.RateLimited || code != login.CodeWait || fault.RetryOf(err) == nil {
		t.Fatalf("the right password during the delay: %v", err)
	}
	got := f.w.binding(b.ID)
	if got.Status != device.Active || got.PIN != (pin.Counter{}) {
		t.Fatalf("wrong passwords changed the device: %s %+v", got.Status, got.PIN)
	}
	if _, err := f.auth(t, ph, b.ID, goodPIN); err != nil {
		t.Fatalf("the app factor after wrong passwords: %v", err)
	}
	failed := 0
	evs, err := f.w.Store.AuditEvents(ctx, b.AccountID, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Kind == audit.LoginFailed && e.Detail["via"] == "pin_reset" && e.ClientID == f.svc.Config().AppClientID {
			failed++
		}
	}
	if failed != free+2 {
		t.Errorf("%d login.failed events of the PIN reset, want %d", failed, free+2)
	}
	f.w.clock.Advance(throttle.DefaultPolicy.First)
	id, resp = f.challenge(t, ph, b.ID)
	if err := f.svc.ResetPIN(ctx, id, resp, userPassword, thirdPIN, clientIP); err != nil {
		t.Fatalf("the right password after the delay: %v", err)
	}
}

// TestUnverifiedKeyIsLogged: an answer the device key did not sign, or one
// that cannot be read, is logged with the binding, the account and the
// reason, not only answered with a 401, so that an attack on a member's
// binding is visible in the server's log.
func TestUnverifiedKeyIsLogged(t *testing.T) {
	for _, tc := range []struct {
		name, reason string
		answer       func(ph *phone, opts []byte) []byte
	}{
		{"forged signature", fault.Unauthenticated.String(), func(ph *phone, opts []byte) []byte {
			thief := newPhone()
			thief.credID = ph.credID
			return thief.assert(opts)
		}},
		{"malformed answer", fault.Invalid.String(), func(*phone, []byte) []byte { return []byte("{") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t)
			ph, b := f.enrolled(t, anna, "Phone")
			id, opts, err := f.svc.BeginDeviceAuth(ctx, b.ID)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.AuthenticateDevice(ctx, id, tc.answer(ph, opts), goodPIN, clientIP); err == nil {
				t.Fatal("accepted")
			}
			var found bool
			for line := range strings.Lines(f.logs.String()) {
				var e struct{ Msg, Binding, Account, Purpose, Reason, Cause string }
				if json.Unmarshal([]byte(line), &e) != nil || e.Msg != "device key not verified" {
					continue
				}
				found = true
				if e.Binding != b.ID || e.Account != b.AccountID || e.Purpose != string(device.Assertion) || e.Reason != tc.reason || e.Cause == "" {
					t.Errorf("log line %s", line)
				}
			}
			if !found {
				t.Fatalf("no log line for the unverified key:\n%s", f.logs.String())
			}
		})
	}
}
