package binding_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/login"
	"github.com/pforte-id/pforte/core/password"
	"github.com/pforte-id/pforte/core/pin"
	"github.com/pforte-id/pforte/core/session"
	"github.com/pforte-id/pforte/core/throttle"
)

const newPassword = "Kranichflug über der Elbe"

// passwordIs reports whether pw is the stored password of account id.
func (f *fixture) passwordIs(t *testing.T, id, pw string) bool {
	t.Helper()
	ok, _, err := coretest.Passwords().Verify(ctx, pw, f.w.account(id).PasswordHash)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// eventsSince returns the audit events appended after the first n.
func (f *fixture) eventsSince(n int) []audit.Event {
	return f.w.auditEvents()[n:]
}

func kindsOf(es []audit.Event) []audit.Kind {
	var ks []audit.Kind
	for _, e := range es {
		ks = append(ks, e.Kind)
	}
	return ks
}

func TestChangePIN(t *testing.T) {
	f := setup(t)
	ph, b := f.enrolled(t, anna, "Phone")
	_, _ = f.auth(t, ph, b.ID, otherPIN) // one earlier mistake: the change starts the count anew
	before, sent := len(f.w.auditEvents()), len(f.w.sent())
	id, resp := f.challenge(t, ph, b.ID)
	if err := f.svc.ChangePIN(ctx, id, resp, goodPIN, thirdPIN, clientIP); err != nil {
		t.Fatal(err)
	}
	got := f.w.binding(b.ID)
	if got.PIN != (pin.Counter{}) || !got.PINSetAt.Equal(t0) || got.Status != device.Active {
		t.Fatalf("after the change: %s %+v %v", got.Status, got.PIN, got.PINSetAt)
	}
	evs := f.eventsSince(before)
	if len(evs) != 1 || evs[0].Kind != audit.PINSet || evs[0].Detail["by"] != "pin_change" || evs[0].Detail["binding"] != b.ID {
		t.Fatalf("audit %+v", evs)
	}
	msgs := f.w.sent()[sent:]
	if len(msgs) != 1 || msgs[0].To != anna.Email || !strings.Contains(msgs[0].Body, "in der Service-App geändert") ||
		strings.Contains(msgs[0].Body, thirdPIN) {
		t.Fatalf("notification %+v", msgs)
	}
	_, err := f.auth(t, ph, b.ID, goodPIN)
	pinErr(t, "old PIN", err, fault.Unauthenticated)
	if _, err := f.auth(t, ph, b.ID, thirdPIN); err != nil {
		t.Fatalf("new PIN: %v", err)
	}
}

// TestChangePINClientGone: the app goes away once the new PIN is stored
// (its request is cancelled then); the change is audited and the member
// told all the same.
func TestChangePINClientGone(t *testing.T) {
	f := setup(t)
	ph, b := f.enrolled(t, anna, "Phone")
	before, sent := len(f.w.auditEvents()), len(f.w.sent())
	id, resp := f.challenge(t, ph, b.ID)
	gone, leave := context.WithCancel(ctx)
	defer leave()
	f.w.setInject(func(method string) error {
		if method == "AppendAudit" {
			leave()
		}
		return nil
	})
	if err := f.svc.ChangePIN(gone, id, resp, goodPIN, thirdPIN, clientIP); err != nil {
		t.Fatal(err)
	}
	f.w.setInject(nil)
	if evs := f.eventsSince(before); len(evs) != 1 || evs[0].Kind != audit.PINSet {
		t.Fatalf("audit %+v", evs)
	}
	if msgs := f.w.sent()[sent:]; len(msgs) != 1 || msgs[0].Kind != string(audit.PINSet) {
		t.Fatalf("notification %+v", msgs)
	}
	if strings.Contains(f.logs.String(), "lost") || strings.Contains(f.logs.String(), "not sent") {
		t.Fatalf("log:\n%s", f.logs.String())
	}
}

func TestResetPassword(t *testing.T) {
	f := setup(t)
	ph, b := f.enrolled(t, anna, "Phone")
	before, sent := len(f.w.auditEvents()), len(f.w.sent())
	id, resp := f.challenge(t, ph, b.ID)
	if err := f.svc.ResetPassword(ctx, id, resp, goodPIN, newPassword, clientIP); err != nil {
		t.Fatal(err)
	}
	if !f.passwordIs(t, b.AccountID, newPassword) || f.passwordIs(t, b.AccountID, userPassword) {
		t.Fatal("the stored password is not the new one")
	}
	if h := f.w.account(b.AccountID).PasswordHash; !strings.HasPrefix(h, "$argon2id$") {
		t.Fatalf("hash %q is not Argon2id", h)
	}
	evs := f.eventsSince(before)
	if len(evs) != 1 || evs[0].Kind != audit.PasswordSet || evs[0].Detail["via"] != "app_reset" ||
		evs[0].Detail["binding"] != b.ID || evs[0].ClientID != f.svc.Config().AppClientID || evs[0].IPHash == "" {
		t.Fatalf("audit %+v", evs)
	}
	msgs := f.w.sent()[sent:]
	if len(msgs) != 1 || msgs[0].Kind != string(audit.PasswordSet) || !strings.Contains(msgs[0].Body, "„Phone“") ||
		!strings.Contains(msgs[0].Body, "Alle Anmeldungen im Browser wurden beendet") || strings.Contains(msgs[0].Body, newPassword) {
		t.Fatalf("notification %+v", msgs)
	}
	accounts, reasons := f.deps.Sessions.(*endings).ended()
	if !slices.Equal(accounts, []string{b.AccountID}) || !slices.Equal(reasons, []session.EndReason{session.EndPassword}) {
		t.Fatalf("sessions ended %v %v", accounts, reasons)
	}
	// The key and the PIN go on as before.
	if _, err := f.auth(t, ph, b.ID, goodPIN); err != nil {
		t.Fatalf("the app after the reset: %v", err)
	}
	for _, l := range strings.Split(f.logs.String(), "\n") {
		if strings.Contains(l, newPassword) || strings.Contains(l, goodPIN) {
			t.Fatalf("a secret in the log: %s", l)
		}
	}
}

func TestChangePassword(t *testing.T) {
	f := setup(t)
	ph, b := f.enrolled(t, anna, "Phone")
	before := len(f.w.auditEvents())
	id, resp := f.challenge(t, ph, b.ID)
	if err := f.svc.ChangePassword(ctx, id, resp, goodPIN, userPassword, newPassword, clientIP); err != nil {
		t.Fatal(err)
	}
	if !f.passwordIs(t, b.AccountID, newPassword) {
		t.Fatal("the stored password is not the new one")
	}
	evs := f.eventsSince(before)
	if len(evs) != 1 || evs[0].Kind != audit.PasswordSet || evs[0].Detail["via"] != "app_change" {
		t.Fatalf("audit %+v", evs)
	}
	if msgs := f.w.sent(); !strings.Contains(msgs[len(msgs)-1].Body, "in der Service-App auf dem Gerät „Phone“ geändert") {
		t.Fatalf("notification %+v", msgs[len(msgs)-1])
	}
}

// TestCredentialChangeRefusals: every refused change leaves the password,
// the PIN and the binding's status as they were; only a wrong PIN counts
// (toward the lockout), only a wrong current password counts in the
// password throttle, and a refused new value costs no attempt.
func TestCredentialChangeRefusals(t *testing.T) {
	type call func(f *fixture, id string, resp []byte) error
	reset := func(p, pw string) call {
		return func(f *fixture, id string, resp []byte) error {
			return f.svc.ResetPassword(ctx, id, resp, p, pw, clientIP)
		}
	}
	change := func(p, cur, pw string) call {
		return func(f *fixture, id string, resp []byte) error {
			return f.svc.ChangePassword(ctx, id, resp, p, cur, pw, clientIP)
		}
	}
	changePIN := func(cur, next string) call {
		return func(f *fixture, id string, resp []byte) error {
			return f.svc.ChangePIN(ctx, id, resp, cur, next, clientIP)
		}
	}
	revoke := func(f *fixture, b device.Binding) {
		x := f.w.binding(b.ID)
		x.Status = device.Revoked
		f.w.setBinding(x)
	}
	block := func(f *fixture, b device.Binding) {
		x := f.w.binding(b.ID)
		x.Status, x.PIN = device.Blocked, pin.Counter{Failures: 5, Blocked: true}
		f.w.setBinding(x)
	}
	for _, tc := range []struct {
		name string
		// prepare runs after the challenge was answered.
		prepare func(f *fixture, b device.Binding)
		run     call
		kind    fault.Kind
		code    fault.Code
		// pinFailures and passwordFailures are the counts afterwards.
		pinFailures, passwordFailures int
	}{
		{"reset: wrong PIN", nil, reset(otherPIN, newPassword), fault.Unauthenticated, pin.CodeWrong, 1, 0},
		{"reset: weak password", nil, reset(goodPIN, "abababababab"), fault.Invalid, password.CodeSimple, 0, 0},
		{"reset: the member's name in the password", nil, reset(goodPIN, "Schmidt Hafenkran 7"), fault.Invalid, password.CodePersonal, 0, 0},
		{"reset: the member number in the password", nil, reset(goodPIN, "x"+string(anna.KVNR)+"!"), fault.Invalid, password.CodePersonal, 0, 0},
		{"reset: too short", nil, reset(goodPIN, "kurz"), fault.Invalid, password.CodeTooShort, 0, 0},
		{"reset: revoked binding", revoke, reset(goodPIN, newPassword), fault.Forbidden, "device.gone", 0, 0},
		{"reset: blocked binding", block, reset(goodPIN, newPassword), fault.Locked, pin.CodeBlocked, 5, 0},
		{"change: wrong PIN", nil, change(otherPIN, userPassword, newPassword), fault.Unauthenticated, pin.CodeWrong, 1, 0},
		{"change: wrong current password", nil, change(goodPIN, "Möwenschrei am Deich", newPassword), fault.Unauthenticated, "password.wrong", 0, 1},
		{"change: weak password", nil, change(goodPIN, userPassword, "1234567890"), fault.Invalid, password.CodeCommon, 0, 0},
		{"change: revoked binding", revoke, change(goodPIN, userPassword, newPassword), fault.Forbidden, "device.gone", 0, 0},
		{"change: blocked binding", block, change(goodPIN, userPassword, newPassword), fault.Locked, pin.CodeBlocked, 5, 0},
		{"PIN: wrong current PIN", nil, changePIN(otherPIN, thirdPIN), fault.Unauthenticated, pin.CodeWrong, 1, 0},
		{"PIN: trivial new PIN", nil, changePIN(goodPIN, "123456"), fault.Invalid, pin.CodeSequence, 0, 0},
		{"PIN: birthday as new PIN", nil, changePIN(goodPIN, "090784"), fault.Invalid, pin.CodeBirthDate, 0, 0},
		{"PIN: revoked binding", revoke, changePIN(goodPIN, thirdPIN), fault.Forbidden, "device.gone", 0, 0},
		{"PIN: blocked binding", block, changePIN(goodPIN, thirdPIN), fault.Locked, pin.CodeBlocked, 5, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t)
			ph, b := f.enrolled(t, anna, "Phone")
			id, resp := f.challenge(t, ph, b.ID)
			if tc.prepare != nil {
				tc.prepare(f, b)
			}
			before := f.w.binding(b.ID)
			hashBefore := f.w.account(b.AccountID).PasswordHash
			sent := len(f.w.sent())
			err := tc.run(f, id, resp)
			wantKind(t, tc.name, err, tc.kind)
			if code, _ := fault.CodeOf(err); code != tc.code {
				t.Fatalf("code %q, want %q (%v)", code, tc.code, err)
			}
			after := f.w.binding(b.ID)
			if after.PINHash != before.PINHash || after.Status != before.Status || after.PIN.Failures != tc.pinFailures {
				t.Fatalf("binding %s %+v, before %s %+v", after.Status, after.PIN, before.Status, before.PIN)
			}
			if f.w.account(b.AccountID).PasswordHash != hashBefore {
				t.Fatal("the password changed")
			}
			if accounts, _ := f.deps.Sessions.(*endings).ended(); len(accounts) != 0 {
				t.Fatal("sessions ended")
			}
			failed := 0
			for _, e := range f.w.auditEvents() {
				switch e.Kind {
				case audit.LoginFailed:
					failed++
				case audit.PasswordSet, audit.PINSet:
					if e.Detail["via"] != "" || e.Detail["by"] != "" {
						t.Fatalf("a change was recorded: %+v", e)
					}
				}
			}
			if failed != tc.passwordFailures {
				t.Fatalf("%d password failures recorded, want %d", failed, tc.passwordFailures)
			}
			for _, m := range f.w.sent()[sent:] {
				if m.Kind == string(audit.PasswordSet) || m.Kind == string(audit.PINSet) {
					t.Fatalf("told of a change: %+v", m)
				}
			}
		})
	}
}

// TestChangePasswordThrottled: the current password is checked under the
// web login's rule and counter: after the free failures even the right one
// waits, and the PIN counter is not touched by wrong passwords.
func TestChangePasswordThrottled(t *testing.T) {
	f := setup(t)
	ph, b := f.enrolled(t, anna, "Phone")
	for range throttle.DefaultPolicy.Free + 1 {
		id, resp := f.challenge(t, ph, b.ID)
		err := f.svc.ChangePassword(ctx, id, resp, goodPIN, "Möwenschrei am Deich", newPassword, clientIP)
		if code, _ := fault.CodeOf(err); code != "password.wrong" {
			t.Fatalf("wrong password: %v", err)
		}
	}
	id, resp := f.challenge(t, ph, b.ID)
	err := f.svc.ChangePassword(ctx, id, resp, goodPIN, userPassword, newPassword, clientIP)
	if code, _ := fault.CodeOf(err); fault.KindOf(err) != fault.RateLimited || code != login.CodeWait {
		t.Fatalf("the right password during the delay: %v", err)
	}
	if f.passwordIs(t, b.AccountID, newPassword) {
		t.Fatal("changed during the delay")
	}
	if got := f.w.binding(b.ID); got.PIN != (pin.Counter{}) || got.Status != device.Active {
		t.Fatalf("wrong passwords touched the PIN: %+v", got.PIN)
	}
	f.w.clock.Advance(throttle.DefaultPolicy.First)
	id, resp = f.challenge(t, ph, b.ID)
	if err := f.svc.ChangePassword(ctx, id, resp, goodPIN, userPassword, newPassword, clientIP); err != nil {
		t.Fatalf("after the delay: %v", err)
	}
}

// TestWrongPINsDuringResetsLockTheDevice: wrong PINs of password resets
// count as every wrong PIN does, in parallel too: exactly MaxFailures are
// compared, the binding is blocked, and the password never changes.
func TestWrongPINsDuringResetsLockTheDevice(t *testing.T) {
	f := setup(t)
	ph, b := f.enrolled(t, anna, "Phone")
	ph.step = 0 // parallel answers are not a rollback
	const n = 12
	ids, resps := make([]string, n), make([][]byte, n)
	for i := range n {
		ids[i], resps[i] = f.challenge(t, ph, b.ID)
	}
	hash := f.w.account(b.AccountID).PasswordHash
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = f.svc.ResetPassword(ctx, ids[i], resps[i], otherPIN, newPassword, clientIP) })
	}
	wg.Wait()
	wrong, locked := 0, 0
	for _, err := range errs {
		switch code, _ := fault.CodeOf(err); code {
		case pin.CodeWrong:
			wrong++
		case pin.CodeBlocked:
			locked++
		default:
			t.Fatalf("not a PIN error: %v", err)
		}
	}
	got := f.w.binding(b.ID)
	if wrong != noDelays.MaxFailures-1 || locked != n-wrong || got.Status != device.Blocked ||
		got.PIN.Failures != noDelays.MaxFailures {
		t.Fatalf("%d wrong, %d locked; binding %s %+v", wrong, locked, got.Status, got.PIN)
	}
	if f.w.account(b.AccountID).PasswordHash != hash {
		t.Fatal("the password changed")
	}
	// The blocked device resets its PIN with the (unchanged) password.
	id, resp := f.challenge(t, ph, b.ID)
	if err := f.svc.ResetPIN(ctx, id, resp, userPassword, thirdPIN, clientIP); err != nil {
		t.Fatalf("PIN reset after the lockout: %v", err)
	}
}

// TestConcurrentPasswordResets: one answered challenge sent many times at
// once sets the password once; the others find it used.
func TestConcurrentPasswordResets(t *testing.T) {
	f := setup(t)
	ph, b := f.enrolled(t, anna, "Phone")
	id, resp := f.challenge(t, ph, b.ID)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = f.svc.ResetPassword(ctx, id, resp, goodPIN, newPassword, clientIP) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case fault.KindOf(err) != fault.Unauthenticated:
			t.Fatalf("a loser: %v", err)
		}
	}
	sets := 0
	for _, e := range f.w.auditEvents() {
		if e.Kind == audit.PasswordSet && e.Detail["via"] == "app_reset" {
			sets++
		}
	}
	if ok != 1 || sets != 1 || !f.passwordIs(t, b.AccountID, newPassword) {
		t.Fatalf("%d succeeded, %d recorded", ok, sets)
	}
	if got := f.w.binding(b.ID); got.PIN != (pin.Counter{}) {
		t.Fatalf("losers counted: %+v", got.PIN)
	}
}

// TestResetPasswordForgetsFailures: a member who mistyped the forgotten
// password until the checks were delayed, then reset it with key and PIN,
// logs in with the new password at once: the old password's guesses say
// nothing about the new one.
func TestResetPasswordForgetsFailures(t *testing.T) {
	f := setup(t)
	ph, b := f.enrolled(t, anna, "Phone")
	checker := f.deps.Passwords
	acct := f.w.account(b.AccountID)
	for range throttle.DefaultPolicy.Free + 1 {
		if err := checker.CheckAccountPassword(ctx, acct, "Möwenschrei am Deich", "web", "forms", clientIP); !errors.Is(err, fault.Unauthenticated) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	if err := checker.CheckAccountPassword(ctx, acct, userPassword, "web", "forms", clientIP); !errors.Is(err, fault.RateLimited) {
		t.Fatalf("checks not delayed after %d wrong passwords: %v", throttle.DefaultPolicy.Free+1, err)
	}
	id, resp := f.challenge(t, ph, b.ID)
	if err := f.svc.ResetPassword(ctx, id, resp, goodPIN, newPassword, clientIP); err != nil {
		t.Fatal(err)
	}
	if err := checker.CheckAccountPassword(ctx, f.w.account(b.AccountID), newPassword, "web", "forms", clientIP); err != nil {
		t.Fatalf("the new password right after the reset: %v", err)
	}
}
