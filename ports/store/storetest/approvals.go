package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/approval"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/ports/store"
)

// ApprovalStore is what RunApprovals needs: expired approvals go with
// DeleteExpired.
type ApprovalStore interface {
	store.Approvals
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)
}

// RunApprovals checks store.Approvals, the race of concurrent decisions
// among them.
func RunApprovals[S ApprovalStore](t *testing.T, open func(t *testing.T) S) {
	runTests(t, func(t *testing.T) ApprovalStore { return open(t) }, approvalTests)
}

// newApproval is a pending approval of account acct created at created,
// in the suite's zone.
func newApproval(id, acct string, created time.Time) approval.Approval {
	a := approval.DefaultPolicy.New(acct, "req-"+id, "portal", "Firefox unter Linux", "browser-"+id, created)
	a.ID = id
	a.CreatedAt, a.ExpiresAt = created.In(zone), a.ExpiresAt.In(zone)
	return a
}

func approvalByID(t *testing.T, s store.Approvals, id string) approval.Approval {
	t.Helper()
	a, err := s.ApprovalByID(t.Context(), id)
	must(t, "ApprovalByID "+id, err)
	return a
}

var approvalTests = []test[ApprovalStore]{
	{"CreateAndRead", func(t *testing.T, s ApprovalStore) {
		ctx := t.Context()
		a := newApproval("appr-1", "acct-1", t0)
		must(t, "CreateApproval", s.CreateApproval(ctx, a))
		equal(t, "approval", a, approvalByID(t, s, a.ID))
		wantKind(t, "CreateApproval duplicate", s.CreateApproval(ctx, newApproval("appr-1", "acct-2", t0)), fault.Conflict)
		_, err := s.ApprovalByID(ctx, "appr-nope")
		wantKind(t, "ApprovalByID unknown", err, fault.NotFound)
	}},
	{"Pending", func(t *testing.T, s ApprovalStore) {
		ctx := t.Context()
		older := newApproval("appr-older", "acct-1", t0.Add(-time.Minute))
		newer := newApproval("appr-newer", "acct-1", t0)
		expired := newApproval("appr-expired", "acct-1", t0.Add(-approval.DefaultPolicy.TTL)) // expires exactly at t0
		decided := newApproval("appr-decided", "acct-1", t0)
		other := newApproval("appr-other", "acct-2", t0)
		for _, a := range []approval.Approval{newer, older, expired, decided, other} {
			must(t, "CreateApproval", s.CreateApproval(ctx, a))
		}
		_, err := s.UpdateApproval(ctx, decided.ID, func(a *approval.Approval) error {
			d, err := a.Decide(false, 0, "bind-1", t0)
			*a = d
			return err
		})
		must(t, "UpdateApproval (deny)", err)
		got, err := s.PendingApprovals(ctx, "acct-1", t0)
		must(t, "PendingApprovals", err)
		equal(t, "pending approvals of acct-1", []approval.Approval{older, newer}, got)
		got, err = s.PendingApprovals(ctx, "acct-none", t0)
		must(t, "PendingApprovals of an account without any", err)
		if len(got) != 0 {
			t.Errorf("PendingApprovals of an account without any: %d approvals", len(got))
		}
	}},
	{"Update", func(t *testing.T, s ApprovalStore) {
		ctx := t.Context()
		a := newApproval("appr-1", "acct-1", t0)
		must(t, "CreateApproval", s.CreateApproval(ctx, a))
		at := t0.Add(30 * time.Second).In(zone)
		got, err := s.UpdateApproval(ctx, a.ID, func(cur *approval.Approval) error {
			d, err := cur.Decide(true, cur.Number, "bind-1", at)
			*cur = d
			return err
		})
		must(t, "UpdateApproval", err)
		want := a
		want.Status, want.BindingID, want.DecidedAt = approval.Approved, "bind-1", at
		equal(t, "approved approval", want, got)
		equal(t, "approved approval read back", want, approvalByID(t, s, a.ID))

		refusal := fmt.Errorf("refused: %w", fault.New(fault.Conflict, "test", ""))
		_, err = s.UpdateApproval(ctx, a.ID, func(cur *approval.Approval) error {
			cur.Status = approval.Used
			return refusal
		})
		if err != refusal {
			t.Fatalf("UpdateApproval refused by f: got %v, want f's very error", err)
		}
		equal(t, "approval after a refused update", want, approvalByID(t, s, a.ID))

		_, err = s.UpdateApproval(ctx, a.ID, func(cur *approval.Approval) error {
			cur.Status = approval.Used
			cur.AccountID = "acct-2"
			return nil
		})
		wantKind(t, "UpdateApproval changing the account", err, fault.Invalid)
		equal(t, "approval after an invalid update", want, approvalByID(t, s, a.ID))

		_, err = s.UpdateApproval(ctx, "appr-nope", func(*approval.Approval) error { return nil })
		wantKind(t, "UpdateApproval unknown", err, fault.NotFound)
	}},
	{"DeleteExpired", func(t *testing.T, s ApprovalStore) {
		ctx := t.Context()
		old := newApproval("appr-old", "acct-1", t0.Add(-time.Hour))
		edge := newApproval("appr-edge", "acct-1", t0.Add(-approval.DefaultPolicy.TTL)) // expires exactly at t0
		live := newApproval("appr-live", "acct-1", t0)
		for _, a := range []approval.Approval{old, edge, live} {
			must(t, "CreateApproval", s.CreateApproval(ctx, a))
		}
		n, err := s.DeleteExpired(ctx, t0)
		must(t, "DeleteExpired", err)
		if n != 1 {
			t.Errorf("DeleteExpired removed %d rows, want 1 (the old approval)", n)
		}
		_, err = s.ApprovalByID(ctx, old.ID)
		wantKind(t, "ApprovalByID of a deleted approval", err, fault.NotFound)
		approvalByID(t, s, edge.ID)
		approvalByID(t, s, live.ID)
	}},
	// N devices (or one device N times) decide one approval at once: the
	// store serialises them, the first decision is stored and every other
	// one sees it and is refused. An approval that could be decided twice
	// could be denied and then approved.
	{"RaceDecide", func(t *testing.T, s ApprovalStore) {
		ctx := t.Context()
		a := newApproval("appr-race", "acct-1", t0)
		must(t, "CreateApproval", s.CreateApproval(ctx, a))
		errs := race(func(i int) error {
			_, err := s.UpdateApproval(ctx, a.ID, func(cur *approval.Approval) error {
				d, err := cur.Decide(i%2 == 0, cur.Number, fmt.Sprintf("bind-%d", i), t0.Add(time.Second))
				*cur = d
				return err
			})
			return err
		})
		w := oneWinner(t, "UpdateApproval (Decide)", errs, fault.Conflict)
		got := approvalByID(t, s, a.ID)
		if got.BindingID != fmt.Sprintf("bind-%d", w) {
			t.Errorf("stored decision by %q, want the winner's bind-%d", got.BindingID, w)
		}
		wantStatus := approval.Approved
		if w%2 != 0 {
			wantStatus = approval.Denied
		}
		if got.Status != wantStatus {
			t.Errorf("stored status %q, want the winner's %q", got.Status, wantStatus)
		}
	}},
	// N tabs of the browser complete one approved login at once: one
	// completes it.
	{"RaceUse", func(t *testing.T, s ApprovalStore) {
		ctx := t.Context()
		a := newApproval("appr-race", "acct-1", t0)
		must(t, "CreateApproval", s.CreateApproval(ctx, a))
		_, err := s.UpdateApproval(ctx, a.ID, func(cur *approval.Approval) error {
			d, err := cur.Decide(true, cur.Number, "bind-1", t0)
			*cur = d
			return err
		})
		must(t, "UpdateApproval (approve)", err)
		errs := race(func(int) error {
			_, err := s.UpdateApproval(ctx, a.ID, func(cur *approval.Approval) error {
				u, err := cur.Use("browser-appr-race", t0.Add(time.Second))
				*cur = u
				return err
			})
			return err
		})
		oneWinner(t, "UpdateApproval (Use)", errs, fault.Conflict)
		if got := approvalByID(t, s, a.ID); got.Status != approval.Used {
			t.Errorf("status after the race: %q, want used", got.Status)
		}
	}},
	{"CancelledContext", func(t *testing.T, s ApprovalStore) {
		ctx := t.Context()
		a := newApproval("appr-1", "acct-1", t0)
		must(t, "CreateApproval", s.CreateApproval(ctx, a))
		c := cancelled(t)
		wantKind(t, "CreateApproval", s.CreateApproval(c, newApproval("appr-2", "acct-1", t0)), fault.Unavailable)
		_, err := s.ApprovalByID(c, a.ID)
		wantKind(t, "ApprovalByID", err, fault.Unavailable)
		_, err = s.PendingApprovals(c, "acct-1", t0)
		wantKind(t, "PendingApprovals", err, fault.Unavailable)
		_, err = s.UpdateApproval(c, a.ID, func(cur *approval.Approval) error {
			d, err := cur.Decide(true, cur.Number, "bind-1", t0)
			*cur = d
			return err
		})
		wantKind(t, "UpdateApproval", err, fault.Unavailable)
		if got := approvalByID(t, s, a.ID); got.Status != approval.Pending {
			t.Errorf("status after a cancelled update: %q, want pending", got.Status)
		}
	}},
}
