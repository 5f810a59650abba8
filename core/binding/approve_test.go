package binding_test

import (
	"testing"

	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/pin"
)

// Approval ids as core/approval issues them (opaque here).
const (
	theApproval   = "approval-0001"
	otherApproval = "approval-0002"
)

// approvalChallenge runs BeginApproval for approval and lets ph answer it.
func (f *fixture) approvalChallenge(t *testing.T, ph *phone, bindingID, approval string) (string, []byte) {
	t.Helper()
	id, opts, err := f.svc.BeginApproval(ctx, bindingID, approval)
	if err != nil {
		t.Fatalf("BeginApproval: %v", err)
	}
	return id, ph.assert(opts)
}

func TestAuthenticateApproval(t *testing.T) {
	f := setup(t)
	ph, b := f.enrolled(t, anna, "Phone")
	id, resp := f.approvalChallenge(t, ph, b.ID, theApproval)
	c, ok := f.w.challenge(id)
	if !ok || c.Purpose != device.Approval || c.Subject != b.ID || c.Context != theApproval {
		t.Fatalf("stored challenge %+v", c)
	}
	got, err := f.svc.AuthenticateApproval(ctx, id, resp, goodPIN, clientIP, theApproval)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != b.ID || got.AccountID != b.AccountID || got.SignCount != 1 || got.PIN != (pin.Counter{}) {
		t.Fatalf("binding after the approval: %+v", got)
	}
}

// An approval challenge answers only its approval, and only as an
// approval: carried to another approval, to a login or to device
// management it is refused and used up, without a PIN attempt; and no
// other purpose's challenge decides an approval.
func TestApprovalChallengeStaysInItsContext(t *testing.T) {
	f := setup(t)
	ph, b := f.enrolled(t, anna, "Phone")

	id, resp := f.approvalChallenge(t, ph, b.ID, theApproval)
	_, err := f.svc.AuthenticateApproval(ctx, id, resp, goodPIN, clientIP, otherApproval)
	wantKind(t, "another approval", err, fault.Unauthenticated)
	_, err = f.svc.AuthenticateApproval(ctx, id, resp, goodPIN, clientIP, theApproval)
	wantKind(t, "the same challenge again (used up)", err, fault.Unauthenticated)

	id, resp = f.approvalChallenge(t, ph, b.ID, theApproval)
	_, err = f.svc.AuthenticateLogin(ctx, id, resp, goodPIN, clientIP, theApproval)
	wantKind(t, "an approval challenge as a login", err, fault.Unauthenticated)
	id, resp = f.approvalChallenge(t, ph, b.ID, theApproval)
	_, err = f.svc.AuthenticateDevice(ctx, id, resp, goodPIN, clientIP)
	wantKind(t, "an approval challenge for device management", err, fault.Unauthenticated)

	id, resp = f.loginChallenge(t, ph, b.ID, theApproval)
	_, err = f.svc.AuthenticateApproval(ctx, id, resp, goodPIN, clientIP, theApproval)
	wantKind(t, "a login challenge as an approval", err, fault.Unauthenticated)
	id, resp = f.challenge(t, ph, b.ID)
	_, err = f.svc.AuthenticateApproval(ctx, id, resp, goodPIN, clientIP, theApproval)
	wantKind(t, "a device management challenge as an approval", err, fault.Unauthenticated)

	if x := f.w.binding(b.ID); x.PIN != (pin.Counter{}) {
		t.Fatalf("PIN counter after refused contexts: %+v", x.PIN)
	}
}

// A wrong PIN in an approval counts toward the one block of the device,
// together with those of the app login and device management.
func TestApprovalPINLockout(t *testing.T) {
	f := setup(t)
	ph, b := f.enrolled(t, anna, "Phone")
	for range 2 {
		id, resp := f.loginChallenge(t, ph, b.ID, loginRequest)
		_, err := f.svc.AuthenticateLogin(ctx, id, resp, otherPIN, clientIP, loginRequest)
		pinErr(t, "login", err, fault.Unauthenticated)
	}
	for i := range 3 {
		id, resp := f.approvalChallenge(t, ph, b.ID, theApproval)
		_, err := f.svc.AuthenticateApproval(ctx, id, resp, otherPIN, clientIP, theApproval)
		if i < 2 {
			if pe := pinErr(t, "approval", err, fault.Unauthenticated); pe.Remaining != 2-i {
				t.Fatalf("remaining %d, want %d", pe.Remaining, 2-i)
			}
			continue
		}
		pinErr(t, "fifth wrong PIN, in an approval", err, fault.Locked)
	}
	if x := f.w.binding(b.ID); x.Status != device.Blocked {
		t.Fatalf("binding after five wrong PINs: %+v", x)
	}
	_, _, err := f.svc.BeginApproval(ctx, b.ID, theApproval)
	pinErr(t, "approval after the lockout", err, fault.Locked)
	_, _, err = f.svc.BeginLogin(ctx, b.ID, loginRequest)
	pinErr(t, "login after the lockout", err, fault.Locked)
}

func TestAuthenticateKey(t *testing.T) {
	f := setup(t)
	ph, b := f.enrolled(t, anna, "Phone")
	id, resp := f.challenge(t, ph, b.ID)
	got, err := f.svc.AuthenticateKey(ctx, id, resp, clientIP)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != b.ID || got.SignCount != 1 {
		t.Fatalf("binding after reading: %+v", got)
	}
	_, err = f.svc.AuthenticateKey(ctx, id, resp, clientIP)
	wantKind(t, "the challenge again", err, fault.Unauthenticated)

	// Only a device management challenge: a login or approval challenge
	// is for its own context.
	id, resp = f.approvalChallenge(t, ph, b.ID, theApproval)
	_, err = f.svc.AuthenticateKey(ctx, id, resp, clientIP)
	wantKind(t, "an approval challenge", err, fault.Unauthenticated)

	// A sign counter that goes back marks the binding suspect.
	ph.setCount(0)
	id, resp = f.challenge(t, ph, b.ID)
	_, err = f.svc.AuthenticateKey(ctx, id, resp, clientIP)
	wantKind(t, "a rolled back counter", err, fault.Forbidden)
	if x := f.w.binding(b.ID); x.Status != device.Suspect {
		t.Fatalf("binding after a rollback: %+v", x)
	}
}
