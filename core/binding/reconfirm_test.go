package binding_test

import (
	"errors"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/binding"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/enrollment"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/login"
	"github.com/pforte-id/pforte/core/pin"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/core/throttle"
)

const period = 30 * 24 * time.Hour

func withReconfirm(eid bool) option {
	return func(c *binding.Config, _ *binding.Deps) {
		c.Reconfirm = device.Reconfirm{Period: period}
		c.ReconfirmEID = eid
	}
}

// wantCode fails unless err is of kind k with code c.
func wantCode(t *testing.T, what string, err error, k fault.Kind, c fault.Code) {
	t.Helper()
	wantKind(t, what, err, k)
	if got, _ := fault.CodeOf(err); got != c {
		t.Fatalf("%s: code %q, want %q (%v)", what, got, c, err)
	}
}

// raiseToHigh records an eID proof for the account of b, as a step-up does.
func (f *fixture) raiseToHigh(t *testing.T, b device.Binding) {
	t.Helper()
	a := f.w.account(b.AccountID)
	now := f.w.clock.Now()
	sess := enrollment.Session{ID: grant.NewID(), TokenHash: grant.Hash(grant.NewSecret()), KVNR: a.KVNR,
		Method: proof.EID, CreatedAt: now, ExpiresAt: now.Add(enrollment.TTL)}
	if stored, err := f.w.StartEnrollment(ctx, sess, a, proof.Proof{Method: proof.EID, Level: loa.High, KVNR: a.KVNR, Time: now}); err != nil || stored.Proofing != loa.High {
		t.Fatalf("StartEnrollment with the eID: %+v, %v", stored, err)
	}
}

// TestReconfirmDue: a binding logs in and approves until its confirmation
// is Period old; from then on both are refused, with the code that says
// how to confirm, before any PIN is looked at.
func TestReconfirmDue(t *testing.T) {
	for _, tc := range []struct {
		name string
		high bool
		eid  bool
		want fault.Code
	}{
		{"letter-proofed", false, true, device.CodeReconfirmPassword},
		{"eID-proofed, eID offered", true, true, device.CodeReconfirmEID},
		{"eID-proofed, eID not offered", true, false, device.CodeReconfirmPassword},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, withReconfirm(tc.eid))
			ph, b := f.enrolled(t, anna, "Phone")
			if tc.high {
				f.raiseToHigh(t, b)
			}
			for _, at := range []time.Duration{0, period - time.Millisecond} {
				f.at(t0.Add(at))
				if _, _, err := f.svc.BeginLogin(ctx, b.ID, loginRequest); err != nil {
					t.Fatalf("BeginLogin at +%s: %v", at, err)
				}
			}
			// A challenge taken just before the due time, answered after it.
			early, resp := f.loginChallenge(t, ph, b.ID, loginRequest)
			f.at(t0.Add(period))
			_, err := f.svc.AuthenticateLogin(ctx, early, resp, goodPIN, clientIP, loginRequest)
			wantCode(t, "AuthenticateLogin once due", err, fault.Forbidden, tc.want)
			_, _, err = f.svc.BeginLogin(ctx, b.ID, loginRequest)
			wantCode(t, "BeginLogin once due", err, fault.Forbidden, tc.want)
			_, _, err = f.svc.BeginApproval(ctx, b.ID, "approval-1")
			wantCode(t, "BeginApproval once due", err, fault.Forbidden, tc.want)
			if x := f.w.binding(b.ID); x.PIN != (pin.Counter{}) || !x.ConfirmedAt.IsZero() {
				t.Fatalf("binding after the refusals: %+v", x)
			}
			// Device management still works: it is how the member confirms.
			if _, err := f.auth(t, ph, b.ID, goodPIN); err != nil {
				t.Fatalf("AuthenticateDevice once due: %v", err)
			}
		})
	}
}

// TestReconfirmWithPassword: key, PIN and password confirm the binding
// again; the next confirmation is due a period later.
func TestReconfirmWithPassword(t *testing.T) {
	f := setup(t, withReconfirm(true))
	ph, b := f.enrolled(t, anna, "Phone")
	now := t0.Add(period + 48*time.Hour)
	f.at(now)
	id, resp := f.challenge(t, ph, b.ID)
	got, err := f.svc.Reconfirm(ctx, id, resp, goodPIN, userPassword, clientIP)
	if err != nil {
		t.Fatalf("Reconfirm: %v", err)
	}
	if !got.ConfirmedAt.Equal(now) || !f.w.binding(b.ID).ConfirmedAt.Equal(now) {
		t.Fatalf("confirmed at %v, want %v", got.ConfirmedAt, now)
	}
	if kinds := f.w.auditKinds(); kinds[len(kinds)-1] != audit.DeviceReconfirmed {
		t.Fatalf("audit: %v", kinds)
	}
	if by, err := f.svc.ReconfirmBy(ctx, b.ID); err != nil || !by.Equal(now.Add(period)) {
		t.Fatalf("ReconfirmBy: %v, %v; want %v", by, err, now.Add(period))
	}
	ds, err := f.svc.ListDevices(ctx, got)
	if err != nil || len(ds) != 1 || !ds[0].ReconfirmBy.Equal(now.Add(period)) {
		t.Fatalf("device list: %+v, %v", ds, err)
	}
	lid, lresp := f.loginChallenge(t, ph, b.ID, loginRequest)
	if _, err := f.svc.AuthenticateLogin(ctx, lid, lresp, goodPIN, clientIP, loginRequest); err != nil {
		t.Fatalf("login after the re-confirmation: %v", err)
	}
	f.at(now.Add(period))
	_, _, err = f.svc.BeginLogin(ctx, b.ID, loginRequest)
	wantCode(t, "BeginLogin a period after the re-confirmation", err, fault.Forbidden, device.CodeReconfirmPassword)
}

// TestReconfirmRefusals: each bad attempt changes nothing but its counter.
func TestReconfirmRefusals(t *testing.T) {
	for _, tc := range []struct {
		name     string
		high     bool
		pin, pw  string
		kind     fault.Kind
		code     fault.Code
		pinFails int
	}{
		{"wrong password", false, goodPIN, "falsches-Passwort-1", fault.Unauthenticated, "password.wrong", 0},
		{"wrong PIN", false, otherPIN, userPassword, fault.Unauthenticated, pin.CodeWrong, 1},
		{"eID-proofed: password refused", true, goodPIN, userPassword, fault.Forbidden, device.CodeReconfirmNotPassword, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, withReconfirm(true))
			ph, b := f.enrolled(t, anna, "Phone")
			if tc.high {
				f.raiseToHigh(t, b)
			}
			f.at(t0.Add(period))
			id, resp := f.challenge(t, ph, b.ID)
			_, err := f.svc.Reconfirm(ctx, id, resp, tc.pin, tc.pw, clientIP)
			wantCode(t, "Reconfirm", err, tc.kind, tc.code)
			x := f.w.binding(b.ID)
			if !x.ConfirmedAt.IsZero() || x.PIN.Failures != tc.pinFails {
				t.Fatalf("binding after the refusal: %+v", x)
			}
			_, _, err = f.svc.BeginLogin(ctx, b.ID, loginRequest)
			wantKind(t, "BeginLogin after the refusal", err, fault.Forbidden)
		})
	}
}

// TestReconfirmWrongPasswordsAreThrottled: a wrong password at the
// re-confirmation counts in the throttle of every password check: after
// the free ones and the first delayed one, the next check waits, whatever
// the password.
func TestReconfirmWrongPasswordsAreThrottled(t *testing.T) {
	f := setup(t, withReconfirm(true))
	ph, b := f.enrolled(t, anna, "Phone")
	f.at(t0.Add(period))
	for i := range throttle.DefaultPolicy.Free + 1 {
		id, resp := f.challenge(t, ph, b.ID)
		_, err := f.svc.Reconfirm(ctx, id, resp, goodPIN, "falsches-Passwort-1", clientIP)
		wantCode(t, "wrong password "+string(rune('1'+i)), err, fault.Unauthenticated, "password.wrong")
	}
	id, resp := f.challenge(t, ph, b.ID)
	_, err := f.svc.Reconfirm(ctx, id, resp, goodPIN, userPassword, clientIP)
	wantKind(t, "the right password once delayed", err, fault.RateLimited)
	failed := 0
	for _, e := range f.w.auditEvents() {
		if e.Kind == audit.LoginFailed && e.Detail["via"] == login.ViaReconfirm {
			failed++
		}
	}
	if failed != throttle.DefaultPolicy.Free+2 {
		t.Fatalf("%d failed password checks of the re-confirmation audited, want %d", failed, throttle.DefaultPolicy.Free+2)
	}
	if !f.w.binding(b.ID).ConfirmedAt.IsZero() {
		t.Fatal("confirmed while the password checks were delayed")
	}
}

// TestReconfirmWithEID: after the eID proof from the device, the binding
// of an eID-proofed account is confirmed; a binding revoked meanwhile or
// another account's is not.
func TestReconfirmWithEID(t *testing.T) {
	f := setup(t, withReconfirm(true))
	ph, b := f.enrolled(t, anna, "Phone")
	_, other := f.enrolled(t, bodo, "Bodos Phone")
	f.raiseToHigh(t, b)
	now := t0.Add(period)
	f.at(now)
	_, err := f.svc.ReconfirmWithEID(ctx, b.ID, other.AccountID, clientIP)
	wantCode(t, "ReconfirmWithEID for another account", err, fault.Forbidden, "device.gone")
	_, err = f.svc.ReconfirmWithEID(ctx, "no-such-binding", b.AccountID, clientIP)
	wantCode(t, "ReconfirmWithEID of an unknown binding", err, fault.Forbidden, "device.gone")
	got, err := f.svc.ReconfirmWithEID(ctx, b.ID, b.AccountID, clientIP)
	if err != nil || !got.ConfirmedAt.Equal(now) {
		t.Fatalf("ReconfirmWithEID: %+v, %v", got, err)
	}
	if e := f.w.auditEvents(); e[len(e)-1].Kind != audit.DeviceReconfirmed || e[len(e)-1].Detail["by"] != "eid" {
		t.Fatalf("audit: %+v", e[len(e)-1])
	}
	lid, lresp := f.loginChallenge(t, ph, b.ID, loginRequest)
	if _, err := f.svc.AuthenticateLogin(ctx, lid, lresp, goodPIN, clientIP, loginRequest); err != nil {
		t.Fatalf("login after the re-confirmation: %v", err)
	}
	if err := f.svc.RevokeDevice(ctx, got, b.ID, clientIP); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.ReconfirmWithEID(ctx, b.ID, b.AccountID, clientIP)
	if !errors.Is(err, fault.Forbidden) {
		t.Fatalf("ReconfirmWithEID of a revoked binding: %v", err)
	}
}

func TestReconfirmConfig(t *testing.T) {
	for _, tc := range []struct {
		period time.Duration
		ok     bool
	}{{0, true}, {device.MinReconfirmPeriod, true}, {device.MaxReconfirmPeriod, true},
		{device.MinReconfirmPeriod - time.Second, false}, {device.MaxReconfirmPeriod + time.Second, false}, {-time.Hour, false}} {
		c := devConfig()
		c.Reconfirm.Period = tc.period
		err := c.Validate()
		var fe *fault.Error
		if tc.ok != (err == nil) || (!tc.ok && (!errors.As(err, &fe) || fe.Op != "device.Reconfirm.Period")) {
			t.Errorf("period %s: %v", tc.period, err)
		}
	}
}

// at moves the clock forward to t.
func (f *fixture) at(t time.Time) { f.w.clock.Advance(t.Sub(f.w.clock.Now())) }
