package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/enrollment"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/ports/store"
)

// TransferStore is what RunTransfers needs: a transfer is approved by a
// device binding, redeemed into an enrollment session, and removed by
// DeleteExpired.
type TransferStore interface {
	store.Transfers
	store.Enrollments
	store.Devices
	store.Accounts
	store.EnrollmentCompletion
	store.AuthRequests
}

// RunTransfers checks store.Transfers, the approval and redemption races
// among them.
func RunTransfers[S TransferStore](t *testing.T, open func(t *testing.T) S) {
	runTests(t, func(t *testing.T) TransferStore { return open(t) }, transferTests)
	t.Run("Races", func(t *testing.T) {
		runTests(t, func(t *testing.T) TransferStore { return open(t) }, transferRaceTests)
	})
}

// newTransfer is a pending transfer for member i, valid 5 minutes from t0.
func newTransfer(id string, i int) device.Transfer {
	return device.Transfer{
		ID: id, CodeHash: "code-hash-" + id, SecretHash: "secret-hash-" + id, KVNR: kvnrOf(i),
		CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute),
	}
}

// oldPhone gives member i an active account with an active binding with
// a PIN (the phone that approves), and returns the binding.
func oldPhone(t *testing.T, s TransferStore, i int) device.Binding {
	t.Helper()
	ctx := t.Context()
	sess := enrolled(t, s, fmt.Sprintf("enr-old-%d", i), i)
	b := newBinding(fmt.Sprintf("bind-old-%d", i), sess)
	must(t, "BindDevice", s.BindDevice(ctx, b, t0))
	must(t, "SetAccountStatus", s.SetAccountStatus(ctx, sess.AccountID, account.Active, t0))
	return b
}

// transferSession is the enrollment session a redemption opens.
func transferSession(id string) enrollment.Session {
	return enrollment.Session{
		ID: id, TokenHash: "token-hash-" + id, CreatedAt: t0.Add(2 * time.Minute),
		ExpiresAt: t0.Add(2*time.Minute + enrollment.TTL), PasswordSetAt: t0.Add(2 * time.Minute),
	}
}

// stillPending fails unless transfer tr is stored unapproved.
func stillPending(t *testing.T, s TransferStore, tr device.Transfer) {
	t.Helper()
	got, err := s.TransferByCodeHash(t.Context(), tr.CodeHash)
	must(t, "TransferByCodeHash", err)
	if got.AccountID != "" || got.ApprovedBy != "" || !got.ApprovedAt.IsZero() || !got.RedeemedAt.IsZero() {
		t.Errorf("transfer changed by a refused call: %+v", got)
	}
}

// noSession fails unless no session with sess's token hash exists.
func noSession(t *testing.T, s TransferStore, sess enrollment.Session) {
	t.Helper()
	_, err := s.EnrollmentByTokenHash(t.Context(), sess.TokenHash)
	wantKind(t, "EnrollmentByTokenHash after a refused redemption", err, fault.NotFound)
}

var transferTests = []test[TransferStore]{
	{"CreateAndRead", func(t *testing.T, s TransferStore) {
		ctx := t.Context()
		tr := newTransfer("tr-1", 1)
		must(t, "CreateTransfer", s.CreateTransfer(ctx, tr))
		got, err := s.TransferByCodeHash(ctx, tr.CodeHash)
		must(t, "TransferByCodeHash", err)
		equal(t, "stored transfer", tr, got)
		_, err = s.TransferByCodeHash(ctx, "code-hash-unknown")
		wantKind(t, "TransferByCodeHash unknown", err, fault.NotFound)
		for name, dup := range map[string]device.Transfer{
			"id":     {ID: tr.ID, CodeHash: "c2", SecretHash: "s2", KVNR: tr.KVNR, ExpiresAt: tr.ExpiresAt},
			"code":   {ID: "tr-2", CodeHash: tr.CodeHash, SecretHash: "s3", KVNR: tr.KVNR, ExpiresAt: tr.ExpiresAt},
			"secret": {ID: "tr-3", CodeHash: "c4", SecretHash: tr.SecretHash, KVNR: tr.KVNR, ExpiresAt: tr.ExpiresAt},
		} {
			wantKind(t, "CreateTransfer with a duplicate "+name, s.CreateTransfer(ctx, dup), fault.Conflict)
		}
		wantKind(t, "CreateTransfer without a secret hash",
			s.CreateTransfer(ctx, device.Transfer{ID: "tr-4", CodeHash: "c5", KVNR: tr.KVNR, ExpiresAt: tr.ExpiresAt}), fault.Invalid)
	}},
	{"ApproveAndRedeem", func(t *testing.T, s TransferStore) {
		ctx := t.Context()
		old := oldPhone(t, s, 1)
		tr := newTransfer("tr-1", 1)
		must(t, "CreateTransfer", s.CreateTransfer(ctx, tr))
		at := t0.Add(time.Minute)
		got, err := s.ApproveTransfer(ctx, tr.CodeHash, tr.KVNR, old.AccountID, old.ID, at)
		must(t, "ApproveTransfer", err)
		if got.AccountID != old.AccountID || got.ApprovedBy != old.ID || got.State(at) != device.TransferApproved {
			t.Fatalf("approved transfer: %+v", got)
		}
		sameInstant(t, "ApprovedAt", at, got.ApprovedAt)
		_, err = s.ApproveTransfer(ctx, tr.CodeHash, tr.KVNR, old.AccountID, old.ID, at)
		wantKind(t, "ApproveTransfer again", err, fault.Conflict)

		want := transferSession("enr-new")
		redeemedAt := t0.Add(2 * time.Minute)
		rt, sess, err := s.RedeemTransfer(ctx, tr.SecretHash, want, redeemedAt)
		must(t, "RedeemTransfer", err)
		if rt.EnrollmentID != want.ID || rt.State(redeemedAt) != device.TransferRedeemed {
			t.Errorf("redeemed transfer: %+v", rt)
		}
		if sess.AccountID != old.AccountID || sess.KVNR != tr.KVNR || sess.TransferID != tr.ID {
			t.Errorf("session of the redemption: %+v", sess)
		}
		stored, err := s.EnrollmentByTokenHash(ctx, want.TokenHash)
		must(t, "EnrollmentByTokenHash", err)
		equal(t, "stored session", sess, stored)
		if !stored.Transfer() || !stored.Open(redeemedAt) {
			t.Errorf("the stored session is no open transfer session: %+v", stored)
		}
		_, _, err = s.RedeemTransfer(ctx, tr.SecretHash, transferSession("enr-again"), redeemedAt)
		wantKind(t, "RedeemTransfer again", err, fault.Conflict)
		if errors.Is(err, store.ErrTransferPending) {
			t.Errorf("a redeemed transfer is reported pending")
		}
		noSession(t, s, transferSession("enr-again"))
		_, err = s.ApproveTransfer(ctx, tr.CodeHash, tr.KVNR, old.AccountID, old.ID, redeemedAt)
		wantKind(t, "ApproveTransfer after the redemption", err, fault.Conflict)
	}},
	{"Unknown", func(t *testing.T, s TransferStore) {
		ctx := t.Context()
		old := oldPhone(t, s, 1)
		_, err := s.ApproveTransfer(ctx, "code-hash-unknown", kvnrOf(1), old.AccountID, old.ID, t0)
		wantKind(t, "ApproveTransfer unknown", err, fault.NotFound)
		_, _, err = s.RedeemTransfer(ctx, "secret-hash-unknown", transferSession("enr-new"), t0)
		wantKind(t, "RedeemTransfer unknown", err, fault.NotFound)
		noSession(t, s, transferSession("enr-new"))
	}},
	{"RedeemPending", func(t *testing.T, s TransferStore) {
		ctx := t.Context()
		tr := newTransfer("tr-1", 1)
		must(t, "CreateTransfer", s.CreateTransfer(ctx, tr))
		_, _, err := s.RedeemTransfer(ctx, tr.SecretHash, transferSession("enr-new"), t0.Add(time.Minute))
		wantKind(t, "RedeemTransfer before the approval", err, fault.Conflict)
		if !errors.Is(err, store.ErrTransferPending) {
			t.Errorf("RedeemTransfer before the approval: %v, want ErrTransferPending", err)
		}
		stillPending(t, s, tr)
		noSession(t, s, transferSession("enr-new"))
	}},
	{"OtherMember", func(t *testing.T, s TransferStore) {
		ctx := t.Context()
		mine := oldPhone(t, s, 1)
		other := oldPhone(t, s, 2)
		tr := newTransfer("tr-1", 1)
		must(t, "CreateTransfer", s.CreateTransfer(ctx, tr))
		_, err := s.ApproveTransfer(ctx, tr.CodeHash, kvnrOf(2), other.AccountID, other.ID, t0.Add(time.Minute))
		wantKind(t, "ApproveTransfer by another member", err, fault.Forbidden)
		if !errors.Is(err, store.ErrTransferOtherMember) {
			t.Errorf("ApproveTransfer by another member: %v, want ErrTransferOtherMember", err)
		}
		stillPending(t, s, tr)
		// The member's own phone still can.
		_, err = s.ApproveTransfer(ctx, tr.CodeHash, kvnrOf(1), mine.AccountID, mine.ID, t0.Add(time.Minute))
		must(t, "ApproveTransfer by the member", err)
	}},
	{"Expired", func(t *testing.T, s TransferStore) {
		ctx := t.Context()
		old := oldPhone(t, s, 1)
		tr := newTransfer("tr-1", 1)
		must(t, "CreateTransfer", s.CreateTransfer(ctx, tr))
		_, err := s.ApproveTransfer(ctx, tr.CodeHash, tr.KVNR, old.AccountID, old.ID, tr.ExpiresAt)
		wantKind(t, "ApproveTransfer at its expiry", err, fault.Expired)
		stillPending(t, s, tr)

		late := newTransfer("tr-2", 1)
		must(t, "CreateTransfer", s.CreateTransfer(ctx, late))
		_, err = s.ApproveTransfer(ctx, late.CodeHash, late.KVNR, old.AccountID, old.ID, t0.Add(time.Minute))
		must(t, "ApproveTransfer", err)
		_, _, err = s.RedeemTransfer(ctx, late.SecretHash, transferSession("enr-new"), late.ExpiresAt)
		wantKind(t, "RedeemTransfer at its expiry", err, fault.Expired)
		noSession(t, s, transferSession("enr-new"))
	}},
	{"ApproverInactive", func(t *testing.T, s TransferStore) {
		ctx := t.Context()
		old := oldPhone(t, s, 1)
		revoke := func(b *device.Binding) error { b.Status, b.RevokedAt = device.Revoked, t0.Add(time.Minute); return nil }

		// A binding of the member that is revoked cannot approve.
		tr := newTransfer("tr-1", 1)
		must(t, "CreateTransfer", s.CreateTransfer(ctx, tr))
		sess := enrolled(t, s, "enr-second", 1)
		second := newBinding("bind-second", sess)
		must(t, "BindDevice", s.BindDevice(ctx, second, t0))
		_, err := s.UpdateBinding(ctx, second.ID, revoke)
		must(t, "UpdateBinding", err)
		_, err = s.ApproveTransfer(ctx, tr.CodeHash, tr.KVNR, second.AccountID, second.ID, t0.Add(2*time.Minute))
		wantKind(t, "ApproveTransfer by a revoked binding", err, fault.Forbidden)
		if !errors.Is(err, store.ErrApproverInactive) {
			t.Errorf("ApproveTransfer by a revoked binding: %v, want ErrApproverInactive", err)
		}
		stillPending(t, s, tr)
		// Nor can a binding that is not the named account's.
		_, err = s.ApproveTransfer(ctx, tr.CodeHash, tr.KVNR, "acct-other", old.ID, t0.Add(2*time.Minute))
		wantKind(t, "ApproveTransfer by another account's binding", err, fault.Forbidden)
		stillPending(t, s, tr)

		// Approved, then the approving binding is revoked: no redemption.
		_, err = s.ApproveTransfer(ctx, tr.CodeHash, tr.KVNR, old.AccountID, old.ID, t0.Add(2*time.Minute))
		must(t, "ApproveTransfer", err)
		_, err = s.UpdateBinding(ctx, old.ID, revoke)
		must(t, "UpdateBinding", err)
		_, _, err = s.RedeemTransfer(ctx, tr.SecretHash, transferSession("enr-new"), t0.Add(3*time.Minute))
		wantKind(t, "RedeemTransfer after the approver was revoked", err, fault.Forbidden)
		if !errors.Is(err, store.ErrApproverInactive) {
			t.Errorf("RedeemTransfer after the approver was revoked: %v, want ErrApproverInactive", err)
		}
		noSession(t, s, transferSession("enr-new"))
		got, err := s.TransferByCodeHash(ctx, tr.CodeHash)
		must(t, "TransferByCodeHash", err)
		if !got.RedeemedAt.IsZero() {
			t.Errorf("a refused redemption marked the transfer redeemed")
		}
	}},
	{"SessionTakesNoPassword", func(t *testing.T, s TransferStore) {
		ctx := t.Context()
		old := oldPhone(t, s, 1)
		tr := newTransfer("tr-1", 1)
		must(t, "CreateTransfer", s.CreateTransfer(ctx, tr))
		_, err := s.ApproveTransfer(ctx, tr.CodeHash, tr.KVNR, old.AccountID, old.ID, t0.Add(time.Minute))
		must(t, "ApproveTransfer", err)
		_, sess, err := s.RedeemTransfer(ctx, tr.SecretHash, transferSession("enr-new"), t0.Add(2*time.Minute))
		must(t, "RedeemTransfer", err)
		before, err := s.AccountByID(ctx, old.AccountID)
		must(t, "AccountByID", err)
		wantKind(t, "SetEnrollmentPassword in a transfer's session",
			s.SetEnrollmentPassword(ctx, sess.ID, "$argon2id$other", t0.Add(3*time.Minute)), fault.Forbidden)
		after, err := s.AccountByID(ctx, old.AccountID)
		must(t, "AccountByID", err)
		equal(t, "account after a refused password", before, after)
	}},
	{"CompleteKeepsStatus", func(t *testing.T, s TransferStore) {
		ctx := t.Context()
		old := oldPhone(t, s, 1)
		complete := func(id string, status account.Status) error {
			tr := newTransfer(id, 1)
			must(t, "CreateTransfer", s.CreateTransfer(ctx, tr))
			_, err := s.ApproveTransfer(ctx, tr.CodeHash, tr.KVNR, old.AccountID, old.ID, t0.Add(time.Minute))
			must(t, "ApproveTransfer", err)
			_, sess, err := s.RedeemTransfer(ctx, tr.SecretHash, transferSession("enr-"+id), t0.Add(2*time.Minute))
			must(t, "RedeemTransfer", err)
			b := newBinding("bind-"+id, sess)
			must(t, "BindDevice", s.BindDevice(ctx, b, t0.Add(3*time.Minute)))
			must(t, "SetAccountStatus", s.SetAccountStatus(ctx, old.AccountID, status, t0.Add(3*time.Minute)))
			_, err = s.CompleteEnrollment(ctx, sess.ID, audit.Event{ID: "ev-" + id, Kind: audit.EnrollmentCompleted,
				Time: t0.Add(4 * time.Minute)}, t0.Add(4*time.Minute))
			return err
		}
		wantKind(t, "CompleteEnrollment of a transfer for a blocked account", complete("tr-1", account.Blocked), fault.Forbidden)
		a, err := s.AccountByID(ctx, old.AccountID)
		must(t, "AccountByID", err)
		if a.Status != account.Blocked {
			t.Errorf("a transfer's completion changed a blocked account to %s", a.Status)
		}
		must(t, "CompleteEnrollment of a transfer", complete("tr-2", account.Active))
		a, err = s.AccountByID(ctx, old.AccountID)
		must(t, "AccountByID", err)
		if a.Status != account.Active {
			t.Errorf("account after a transfer's completion: %s", a.Status)
		}
	}},
	{"DeleteExpired", func(t *testing.T, s TransferStore) {
		ctx := t.Context()
		tr := newTransfer("tr-1", 1)
		must(t, "CreateTransfer", s.CreateTransfer(ctx, tr))
		_, err := s.DeleteExpired(ctx, tr.ExpiresAt)
		must(t, "DeleteExpired at the expiry", err)
		_, err = s.TransferByCodeHash(ctx, tr.CodeHash)
		must(t, "TransferByCodeHash before it expired", err)
		_, err = s.DeleteExpired(ctx, tr.ExpiresAt.Add(time.Millisecond))
		must(t, "DeleteExpired", err)
		_, err = s.TransferByCodeHash(ctx, tr.CodeHash)
		wantKind(t, "TransferByCodeHash after DeleteExpired", err, fault.NotFound)
	}},
}

var transferRaceTests = []test[TransferStore]{
	{"ApproveTransfer", func(t *testing.T, s TransferStore) {
		ctx := t.Context()
		old := oldPhone(t, s, 1)
		tr := newTransfer("tr-1", 1)
		must(t, "CreateTransfer", s.CreateTransfer(ctx, tr))
		errs := race(func(int) error {
			_, err := s.ApproveTransfer(ctx, tr.CodeHash, tr.KVNR, old.AccountID, old.ID, t0.Add(time.Minute))
			return err
		})
		oneWinner(t, "ApproveTransfer", errs, fault.Conflict)
	}},
	{"RedeemTransfer", func(t *testing.T, s TransferStore) {
		ctx := t.Context()
		old := oldPhone(t, s, 1)
		tr := newTransfer("tr-1", 1)
		must(t, "CreateTransfer", s.CreateTransfer(ctx, tr))
		_, err := s.ApproveTransfer(ctx, tr.CodeHash, tr.KVNR, old.AccountID, old.ID, t0.Add(time.Minute))
		must(t, "ApproveTransfer", err)
		errs := race(func(i int) error {
			_, _, err := s.RedeemTransfer(ctx, tr.SecretHash, transferSession(fmt.Sprintf("enr-%d", i)), t0.Add(2*time.Minute))
			return err
		})
		w := oneWinner(t, "RedeemTransfer", errs, fault.Conflict)
		for i := range N {
			_, err := s.EnrollmentByTokenHash(ctx, transferSession(fmt.Sprintf("enr-%d", i)).TokenHash)
			if i == w {
				must(t, "EnrollmentByTokenHash of the winner", err)
			} else {
				wantKind(t, "EnrollmentByTokenHash of a loser", err, fault.NotFound)
			}
		}
	}},
}
