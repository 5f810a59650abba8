package binding_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/binding"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/kvnr"
)

// approve lets ph (binding b) approve the transfer of code with PIN p.
func (f *fixture) approve(t *testing.T, ph *phone, b device.Binding, code, p string) (device.Transfer, error) {
	t.Helper()
	id, resp := f.challenge(t, ph, b.ID)
	return f.svc.ApproveTransfer(ctx, code, id, resp, p, clientIP)
}

func (f *fixture) begin(t *testing.T, k kvnr.KVNR) binding.BegunTransfer {
	t.Helper()
	b, err := f.svc.BeginTransfer(ctx, k, clientIP)
	if err != nil {
		t.Fatalf("BeginTransfer: %v", err)
	}
	return b
}

// TestTransfer is the new phone via the old one: begun without an account,
// approved by the old phone with key and PIN, redeemed with the secret for
// a session that binds the new key and sets its PIN without a password.
// Both phones work afterwards; the member was told and it is audited.
func TestTransfer(t *testing.T) {
	f := setup(t)
	oldPh, old := f.enrolled(t, anna, "Altes Handy")
	acct := f.w.account(old.AccountID)
	f.w.clock.Advance(time.Hour)

	b := f.begin(t, anna.KVNR)
	if len(b.Code) < 22 || len(b.Secret) < 43 || b.Code == b.Secret || !b.ExpiresAt.Equal(b.CreatedAt.Add(5*time.Minute)) {
		t.Fatalf("begun transfer %+v", b)
	}
	stored, err := f.w.TransferByCodeHash(ctx, grant.Hash(b.Code))
	if err != nil {
		t.Fatal(err)
	}
	if stored.CodeHash == b.Code || stored.SecretHash == b.Secret || strings.Contains(stored.SecretHash, b.Secret) {
		t.Fatal("a transfer secret is stored in the clear")
	}
	_, _, err = f.svc.RedeemTransfer(ctx, b.Secret, clientIP)
	wantKind(t, "RedeemTransfer before the approval", err, fault.Conflict)
	wantPublic(t, "RedeemTransfer before the approval", err, "wartet")

	f.w.clock.Advance(time.Minute)
	tr, err := f.approve(t, oldPh, old, b.Code, goodPIN)
	if err != nil {
		t.Fatalf("ApproveTransfer: %v", err)
	}
	if tr.AccountID != old.AccountID || tr.ApprovedBy != old.ID {
		t.Fatalf("approved %+v", tr)
	}
	token, sess, err := f.svc.RedeemTransfer(ctx, b.Secret, clientIP)
	if err != nil {
		t.Fatalf("RedeemTransfer: %v", err)
	}
	if sess.AccountID != old.AccountID || !sess.Transfer() || sess.PasswordSetAt.IsZero() {
		t.Fatalf("session %+v", sess)
	}
	newPh := newPhone()
	nb := f.bind(t, token, newPh, "Neues Handy")
	a, err := f.svc.SetPIN(ctx, token, otherPIN, clientIP)
	if err != nil {
		t.Fatalf("SetPIN: %v", err)
	}
	if a.Status != account.Active || a.Proofing != acct.Proofing || a.PasswordHash != acct.PasswordHash {
		t.Fatalf("account after the transfer %+v, before %+v", a, acct)
	}
	if _, err := f.auth(t, newPh, nb.ID, otherPIN); err != nil {
		t.Fatalf("the new phone: %v", err)
	}
	if _, err := f.auth(t, oldPh, old.ID, goodPIN); err != nil {
		t.Fatalf("the old phone after the transfer: %v", err)
	}
	kinds := f.w.auditKinds()
	for _, k := range []audit.Kind{audit.DeviceTransferApproved, audit.DeviceTransferRedeemed, audit.DeviceBound, audit.EnrollmentCompleted} {
		if !contains(kinds, k) {
			t.Errorf("audit lacks %s: %v", k, kinds)
		}
	}
	var subjects []string
	for _, m := range f.w.sent() {
		subjects = append(subjects, m.Subject)
	}
	all := strings.Join(subjects, "|")
	for _, want := range []string{"Umzug auf ein neues Gerät bestätigt", "Neues Gerät verbunden"} {
		if !strings.Contains(all, want) {
			t.Errorf("mails %q lack %q", all, want)
		}
	}
	for _, m := range f.w.sent() {
		if strings.Contains(m.Body, b.Code) || strings.Contains(m.Body, b.Secret) {
			t.Error("a mail carries a transfer secret")
		}
	}
	if strings.Contains(f.logs.String(), b.Code) || strings.Contains(f.logs.String(), b.Secret) || strings.Contains(f.logs.String(), token) {
		t.Error("the log carries a transfer secret")
	}
}

func contains(kinds []audit.Kind, k audit.Kind) bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}

// TestTransferRefusals: every way a transfer must not work, each leaving
// the transfer as it was for the member's own phone where that makes sense.
func TestTransferRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, f *fixture, oldPh *phone, old device.Binding)
	}{
		{"another member's phone", func(t *testing.T, f *fixture, oldPh *phone, old device.Binding) {
			bodoPh, bodoB := f.enrolled(t, bodo, "Bodos Handy")
			b := f.begin(t, anna.KVNR)
			_, err := f.approve(t, bodoPh, bodoB, b.Code, goodPIN)
			wantKind(t, "ApproveTransfer by bodo", err, fault.Forbidden)
			wantPublic(t, "ApproveTransfer by bodo", err, "nicht zu Ihrem Zugang")
			_, _, err = f.svc.RedeemTransfer(ctx, b.Secret, clientIP)
			wantKind(t, "RedeemTransfer after bodo's refusal", err, fault.Conflict)
			if _, err := f.approve(t, oldPh, old, b.Code, goodPIN); err != nil {
				t.Fatalf("anna's own phone after bodo's refusal: %v", err)
			}
		}},
		{"replayed code and secret", func(t *testing.T, f *fixture, oldPh *phone, old device.Binding) {
			b := f.begin(t, anna.KVNR)
			if _, err := f.approve(t, oldPh, old, b.Code, goodPIN); err != nil {
				t.Fatal(err)
			}
			_, err := f.approve(t, oldPh, old, b.Code, goodPIN)
			wantKind(t, "ApproveTransfer again", err, fault.Conflict)
			wantPublic(t, "ApproveTransfer again", err, "bereits verwendet")
			if _, _, err := f.svc.RedeemTransfer(ctx, b.Secret, clientIP); err != nil {
				t.Fatal(err)
			}
			_, _, err = f.svc.RedeemTransfer(ctx, b.Secret, clientIP)
			wantKind(t, "RedeemTransfer again", err, fault.Conflict)
			wantPublic(t, "RedeemTransfer again", err, "bereits verwendet")
		}},
		{"expired before the approval", func(t *testing.T, f *fixture, oldPh *phone, old device.Binding) {
			b := f.begin(t, anna.KVNR)
			f.w.clock.Advance(5 * time.Minute)
			_, err := f.approve(t, oldPh, old, b.Code, goodPIN)
			wantKind(t, "ApproveTransfer after 5 minutes", err, fault.Expired)
			wantPublic(t, "ApproveTransfer after 5 minutes", err, "abgelaufen")
			_, _, err = f.svc.RedeemTransfer(ctx, b.Secret, clientIP)
			wantKind(t, "RedeemTransfer after 5 minutes", err, fault.Expired)
		}},
		{"expired before the redemption", func(t *testing.T, f *fixture, oldPh *phone, old device.Binding) {
			b := f.begin(t, anna.KVNR)
			if _, err := f.approve(t, oldPh, old, b.Code, goodPIN); err != nil {
				t.Fatal(err)
			}
			f.w.clock.Advance(5 * time.Minute)
			_, _, err := f.svc.RedeemTransfer(ctx, b.Secret, clientIP)
			wantKind(t, "RedeemTransfer after 5 minutes", err, fault.Expired)
		}},
		{"revoked device", func(t *testing.T, f *fixture, oldPh *phone, old device.Binding) {
			b := f.begin(t, anna.KVNR)
			if err := f.svc.RevokeMemberDevice(ctx, old.AccountID, old.ID, clientIP, "account"); err != nil {
				t.Fatal(err)
			}
			id, opts, err := f.svc.BeginDeviceAuth(ctx, old.ID)
			wantKind(t, "BeginDeviceAuth of a revoked device", err, fault.Forbidden)
			if id != "" || opts != nil {
				t.Fatal("a revoked device got a challenge")
			}
			got, err := f.w.TransferByCodeHash(ctx, grant.Hash(b.Code))
			if err != nil || !got.ApprovedAt.IsZero() {
				t.Fatalf("transfer after the refusal %+v, %v", got, err)
			}
		}},
		{"approver revoked before the redemption", func(t *testing.T, f *fixture, oldPh *phone, old device.Binding) {
			b := f.begin(t, anna.KVNR)
			if _, err := f.approve(t, oldPh, old, b.Code, goodPIN); err != nil {
				t.Fatal(err)
			}
			if err := f.svc.RevokeMemberDevice(ctx, old.AccountID, old.ID, clientIP, "account"); err != nil {
				t.Fatal(err)
			}
			_, _, err := f.svc.RedeemTransfer(ctx, b.Secret, clientIP)
			wantKind(t, "RedeemTransfer after the approver was revoked", err, fault.Forbidden)
			wantPublic(t, "RedeemTransfer after the approver was revoked", err, "nicht mehr verbunden")
		}},
		{"wrong PIN", func(t *testing.T, f *fixture, oldPh *phone, old device.Binding) {
			b := f.begin(t, anna.KVNR)
			_, err := f.approve(t, oldPh, old, b.Code, thirdPIN)
			wantKind(t, "ApproveTransfer with a wrong PIN", err, fault.Unauthenticated)
			if got := f.w.binding(old.ID).PIN.Failures; got != 1 {
				t.Fatalf("failures after a wrong PIN: %d", got)
			}
			if _, err := f.approve(t, oldPh, old, b.Code, goodPIN); err != nil {
				t.Fatalf("the right PIN after a wrong one: %v", err)
			}
		}},
		{"unknown code costs no PIN attempt", func(t *testing.T, f *fixture, oldPh *phone, old device.Binding) {
			for _, code := range []string{"", "unknown-code", strings.Repeat("x", 129)} {
				_, err := f.approve(t, oldPh, old, code, thirdPIN)
				wantKind(t, "ApproveTransfer of "+code, err, fault.Unauthenticated)
			}
			if got := f.w.binding(old.ID).PIN.Failures; got != 0 {
				t.Fatalf("failures after unknown codes: %d", got)
			}
			for _, secret := range []string{"", "unknown-secret", strings.Repeat("x", 129)} {
				_, _, err := f.svc.RedeemTransfer(ctx, secret, clientIP)
				wantKind(t, "RedeemTransfer of "+secret, err, fault.Unauthenticated)
			}
		}},
		{"malformed member number", func(t *testing.T, f *fixture, _ *phone, _ device.Binding) {
			for _, k := range []kvnr.KVNR{"", "A12345679", kvnr.KVNR(strings.Repeat("A", 300))} {
				_, err := f.svc.BeginTransfer(ctx, k, clientIP)
				wantKind(t, "BeginTransfer for "+string(k), err, fault.Invalid)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t)
			oldPh, old := f.enrolled(t, anna, "Altes Handy")
			tc.run(t, f, oldPh, old)
		})
	}
}

// TestTransferRedeemedOnce: of concurrent redemptions one gets a session.
func TestTransferRedeemedOnce(t *testing.T) {
	f := setup(t)
	oldPh, old := f.enrolled(t, anna, "Altes Handy")
	b := f.begin(t, anna.KVNR)
	if _, err := f.approve(t, oldPh, old, b.Code, goodPIN); err != nil {
		t.Fatal(err)
	}
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, _, errs[i] = f.svc.RedeemTransfer(ctx, b.Secret, clientIP) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case fault.KindOf(err) != fault.Conflict:
			t.Errorf("a losing redemption: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d redemptions won", won)
	}
}

// TestTransferRateLimited: beginning transfers is bounded per address.
func TestTransferRateLimited(t *testing.T) {
	f := setup(t, func(c *binding.Config, _ *binding.Deps) { c.TransfersPerIP = 2 })
	f.begin(t, anna.KVNR)
	f.begin(t, anna.KVNR)
	_, err := f.svc.BeginTransfer(ctx, anna.KVNR, clientIP)
	wantKind(t, "third transfer", err, fault.RateLimited)
	retry := fault.RetryOf(err)
	// The refused attempt counts too, so the wait may pass the window by
	// a little (the limits slide).
	if retry == nil || retry.RetryAfter <= 0 || retry.RetryAfter > 2*binding.DefaultTransferWindow {
		t.Fatalf("the refusal's wait: %v", err)
	}
	if _, err := f.svc.BeginTransfer(ctx, anna.KVNR, "198.51.100.9"); err != nil {
		t.Fatalf("another address: %v", err)
	}
	// After the wait the refusal named, a transfer begins again.
	f.w.clock.Advance(retry.RetryAfter)
	f.begin(t, anna.KVNR)
}
