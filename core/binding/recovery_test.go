package binding_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/binding"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/pin"
	"github.com/pforte-id/pforte/core/session"
)

// eidProofs stands in for core/registration's redemption of an eID proof
// (whose own tests and test/e2e run it against the development broker):
// it answers token with the account set, and notes the codes it spent.
type eidProofs struct {
	mu      sync.Mutex
	token   string
	account string
	err     error
	spent   int
	w       *world
}

func (p *eidProofs) RedeemStepUp(ctx context.Context, token, _, _ string) (account.Account, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.spent++
	switch {
	case p.err != nil:
		return account.Account{}, p.err
	case token != p.token:
		return account.Account{}, fault.Coded(fault.Unauthenticated, "registration.RedeemStepUp", "proofing.confirmation_unknown")
	}
	return p.w.AccountByID(ctx, p.account)
}

func (p *eidProofs) spentCodes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.spent
}

func withProofs(p *eidProofs) option {
	return func(_ *binding.Config, d *binding.Deps) { d.Proofs = p }
}

// recoverySetup is a member with one phone whose eID proof the stand-in
// confirms.
func recoverySetup(t *testing.T) (*fixture, *eidProofs, *phone, device.Binding) {
	t.Helper()
	p := &eidProofs{token: "recovery-token"}
	f := setup(t, withProofs(p))
	p.w = f.w
	ph, b := f.enrolled(t, anna, "Phone")
	p.account = b.AccountID
	return f, p, ph, b
}

func (f *fixture) recovery(t *testing.T, ph *phone, b device.Binding, newPIN, newPassword string) binding.Recovery {
	t.Helper()
	id, resp := f.challenge(t, ph, b.ID)
	return binding.Recovery{ChallengeID: id, Response: resp, Token: "recovery-token", Code: "code", Verifier: strings.Repeat("v", 43),
		NewPIN: newPIN, NewPassword: newPassword}
}

func TestAssertPossession(t *testing.T) {
	f, _, ph, b := recoverySetup(t)
	for range 5 {
		_, _ = f.auth(t, ph, b.ID, otherPIN)
	}
	id, resp := f.challenge(t, ph, b.ID)
	got, err := f.svc.AssertPossession(ctx, id, resp, clientIP)
	if err != nil || got.ID != b.ID || got.Status != device.Blocked {
		t.Fatalf("a blocked binding's possession: %+v, %v", got, err)
	}
	if _, err := f.svc.AssertPossession(ctx, id, resp, clientIP); fault.KindOf(err) != fault.Unauthenticated {
		t.Fatalf("the challenge twice: %v", err)
	}
	id, resp = f.challenge(t, ph, b.ID)
	x := f.w.binding(b.ID)
	x.Status = device.Revoked
	f.w.setBinding(x)
	if _, err := f.svc.AssertPossession(ctx, id, resp, clientIP); fault.KindOf(err) != fault.Forbidden {
		t.Fatalf("a revoked binding: %v", err)
	}
}

func TestRecoverWithEIDSetsThePINAndUnblocks(t *testing.T) {
	f, p, ph, b := recoverySetup(t)
	for range 5 {
		_, _ = f.auth(t, ph, b.ID, otherPIN)
	}
	before, sent := len(f.w.auditEvents()), len(f.w.sent())
	hash := f.w.account(b.AccountID).PasswordHash
	if err := f.svc.RecoverWithEID(ctx, f.recovery(t, ph, b, thirdPIN, ""), clientIP); err != nil {
		t.Fatal(err)
	}
	got := f.w.binding(b.ID)
	if got.Status != device.Active || got.PIN != (pin.Counter{}) {
		t.Fatalf("after the recovery: %s %+v", got.Status, got.PIN)
	}
	kinds := kindsOf(f.eventsSince(before))
	if len(kinds) != 2 || kinds[0] != audit.DeviceUnblocked || kinds[1] != audit.PINSet || f.eventsSince(before)[1].Detail["by"] != "eid" {
		t.Fatalf("audit %v", f.eventsSince(before))
	}
	msgs := f.w.sent()[sent:]
	if len(msgs) != 1 || !strings.Contains(msgs[0].Body, "Bestätigung mit dem Personalausweis") {
		t.Fatalf("mail %+v", msgs)
	}
	if f.w.account(b.AccountID).PasswordHash != hash || p.spentCodes() != 1 {
		t.Fatal("the password changed, or the code was not spent once")
	}
	if _, err := f.auth(t, ph, b.ID, thirdPIN); err != nil {
		t.Fatalf("the new PIN: %v", err)
	}
}

func TestRecoverWithEIDSetsThePassword(t *testing.T) {
	f, _, ph, b := recoverySetup(t)
	if err := f.svc.RecoverWithEID(ctx, f.recovery(t, ph, b, "", newPassword), clientIP); err != nil {
		t.Fatal(err)
	}
	if !f.passwordIs(t, b.AccountID, newPassword) {
		t.Fatal("the password is not the new one")
	}
	accounts, reasons := f.deps.Sessions.(*endings).ended()
	if len(accounts) != 1 || reasons[0] != session.EndPassword {
		t.Fatalf("sessions %v %v", accounts, reasons)
	}
	evs := f.w.auditEvents()
	last := evs[len(evs)-1]
	if last.Kind != audit.PasswordSet || last.Detail["via"] != "eid" {
		t.Fatalf("audit %+v", last)
	}
	if _, err := f.auth(t, ph, b.ID, goodPIN); err != nil {
		t.Fatalf("the PIN after a password recovery: %v", err)
	}
}

// TestRecoverWithEIDRefusals: every refusal changes nothing, and the
// refusals decided before the eID proof leave its one-time code unspent.
func TestRecoverWithEIDRefusals(t *testing.T) {
	block := func(f *fixture, b device.Binding) {
		x := f.w.binding(b.ID)
		x.Status, x.PIN = device.Blocked, pin.Counter{Failures: 5, Blocked: true}
		f.w.setBinding(x)
	}
	for _, tc := range []struct {
		name                string
		newPIN, newPassword string
		prepare             func(f *fixture, p *eidProofs, b device.Binding)
		kind                fault.Kind
		code                fault.Code
		spent               int
	}{
		{"nothing to set", "", "", nil, fault.Invalid, binding.CodeRecoveryNothing, 0},
		{"trivial PIN", "123456", "", nil, fault.Invalid, pin.CodeSequence, 0},
		{"personal password", "", "Schmidt im Hafen 2026", nil, fault.Invalid, "password.personal", 0},
		{"blocked, password only", "", newPassword, func(f *fixture, _ *eidProofs, b device.Binding) { block(f, b) }, fault.Locked, pin.CodeBlocked, 0},
		{"revoked", thirdPIN, "", func(f *fixture, _ *eidProofs, b device.Binding) {
			x := f.w.binding(b.ID)
			x.Status = device.Revoked
			f.w.setBinding(x)
		}, fault.Forbidden, "device.gone", 0},
		{"proof refused", thirdPIN, newPassword, func(_ *fixture, p *eidProofs, _ device.Binding) {
			p.err = fault.Coded(fault.Unauthenticated, "registration.RedeemStepUp", "proofing.mismatch")
		}, fault.Unauthenticated, "proofing.mismatch", 1},
		{"proof of another account", thirdPIN, newPassword, func(f *fixture, p *eidProofs, _ device.Binding) {
			_, other := f.enrolled(t, bodo, "Bodos Phone")
			p.account = other.AccountID
		}, fault.Forbidden, binding.CodeRecoveryOtherAccount, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, p, ph, b := recoverySetup(t)
			r := f.recovery(t, ph, b, tc.newPIN, tc.newPassword)
			if tc.prepare != nil {
				tc.prepare(f, p, b)
			}
			before := f.w.binding(b.ID)
			hash := f.w.account(b.AccountID).PasswordHash
			events := len(f.w.auditEvents())
			err := f.svc.RecoverWithEID(ctx, r, clientIP)
			wantKind(t, tc.name, err, tc.kind)
			if code, _ := fault.CodeOf(err); code != tc.code {
				t.Fatalf("code %q, want %q", code, tc.code)
			}
			after := f.w.binding(b.ID)
			if after.PINHash != before.PINHash || after.Status != before.Status || after.PIN != before.PIN ||
				f.w.account(b.AccountID).PasswordHash != hash {
				t.Fatalf("a refused recovery changed something: %s %+v", after.Status, after.PIN)
			}
			for _, e := range f.w.auditEvents()[events:] {
				if e.Kind == audit.PINSet || e.Kind == audit.PasswordSet || e.Kind == audit.DeviceUnblocked {
					t.Fatalf("recorded %+v", e)
				}
			}
			if p.spentCodes() != tc.spent {
				t.Fatalf("%d codes spent, want %d", p.spentCodes(), tc.spent)
			}
		})
	}
}
