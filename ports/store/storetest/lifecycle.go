package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/session"
	"github.com/pforte-id/pforte/ports/store"
)

// RunMemberLifecycle checks store.MemberLifecycle: it needs every part of
// the store, as deleting an account reaches into all of them.
func RunMemberLifecycle[S store.Store](t *testing.T, open func(t *testing.T) S) {
	runTests(t, func(t *testing.T) store.Store { return open(t) }, lifecycleTests)
}

func allowAll(store.SyncCount) error { return nil }

func members(is ...int) []member.Member {
	out := make([]member.Member, len(is))
	for i, n := range is {
		out[i] = newMember(n)
	}
	return out
}

func memberOf(t *testing.T, s store.Members, i int) member.Member {
	t.Helper()
	m, err := s.MemberByKVNR(t.Context(), kvnrOf(i))
	must(t, "MemberByKVNR", err)
	return m
}

// deletionEvent is the audit event a deletion of account acct-i appends.
func deletionEvent(id string) audit.Event {
	return audit.Event{ID: id, Time: t0.Add(time.Hour), Kind: "account.deleted", Actor: audit.Member,
		Detail: map[string]string{"member": "pseudonym"}}
}

var lifecycleTests = []test[store.Store]{
	{"SyncMarksRemovedMembersOnceAndResumesReturningOnes", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, "UpsertMembers", s.UpsertMembers(ctx, members(1, 2, 3, 4)))
		var seen store.SyncCount
		got, err := s.SyncMembers(ctx, members(1, 2, 3, 5), t0, func(c store.SyncCount) error { seen = c; return nil })
		must(t, "SyncMembers", err)
		want := store.SyncCount{Present: 4, Removing: 1}
		if got != want || seen != want {
			t.Fatalf("SyncMembers = %+v (allow saw %+v), want %+v", got, seen, want)
		}
		mark := t0.Truncate(time.Millisecond) // what the store keeps
		if m := memberOf(t, s, 4); !m.RemovedAt.Equal(mark) {
			t.Fatalf("member 4 RemovedAt = %v, want %v", m.RemovedAt, mark)
		}
		if m := memberOf(t, s, 5); !m.RemovedAt.IsZero() || m.GivenName == "" {
			t.Fatalf("member 5 of the file = %+v, want stored and present", m)
		}
		// The same file again: nothing to remove, the first mark stays.
		got, err = s.SyncMembers(ctx, members(1, 2, 3, 5), t0.Add(24*time.Hour), allowAll)
		must(t, "SyncMembers again", err)
		if want := (store.SyncCount{Present: 4}); got != want {
			t.Fatalf("SyncMembers again = %+v, want %+v", got, want)
		}
		if m := memberOf(t, s, 4); !m.RemovedAt.Equal(mark) {
			t.Fatalf("member 4 RemovedAt after the second sync = %v, want the first mark %v", m.RemovedAt, mark)
		}
		// Member 4 is in the file again: it resumes.
		got, err = s.SyncMembers(ctx, members(1, 2, 3, 4, 5), t0.Add(48*time.Hour), allowAll)
		must(t, "SyncMembers with the member back", err)
		if want := (store.SyncCount{Present: 4, Resuming: 1}); got != want {
			t.Fatalf("SyncMembers with the member back = %+v, want %+v", got, want)
		}
		if m := memberOf(t, s, 4); !m.RemovedAt.IsZero() {
			t.Fatalf("member 4 RemovedAt after it is back = %v, want zero", m.RemovedAt)
		}
	}},
	{"ImportClearsTheRemovedMark", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, "UpsertMembers", s.UpsertMembers(ctx, members(1, 2)))
		_, err := s.SyncMembers(ctx, members(1), t0, allowAll)
		must(t, "SyncMembers", err)
		must(t, "UpsertMembers of the same data", s.UpsertMembers(ctx, members(2)))
		if m := memberOf(t, s, 2); !m.RemovedAt.IsZero() {
			t.Fatalf("RemovedAt after an import = %v, want zero", m.RemovedAt)
		}
		_, err = s.SyncMembers(ctx, members(1), t0, allowAll)
		must(t, "SyncMembers", err)
		must(t, "UpsertMember", s.UpsertMember(ctx, newMember(2)))
		if m := memberOf(t, s, 2); !m.RemovedAt.IsZero() {
			t.Fatalf("RemovedAt after UpsertMember = %v, want zero", m.RemovedAt)
		}
	}},
	{"SyncRefusedChangesNothing", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, "UpsertMembers", s.UpsertMembers(ctx, members(1, 2, 3)))
		refusal := errors.New("too many")
		_, err := s.SyncMembers(ctx, members(4), t0, func(c store.SyncCount) error {
			if c != (store.SyncCount{Present: 3, Removing: 3}) {
				t.Errorf("allow got %+v", c)
			}
			return refusal
		})
		if !errors.Is(err, refusal) {
			t.Fatalf("SyncMembers = %v, want allow's error", err)
		}
		for i := 1; i <= 3; i++ {
			if m := memberOf(t, s, i); !m.RemovedAt.IsZero() {
				t.Fatalf("member %d marked removed by a refused sync", i)
			}
		}
		_, err = s.MemberByKVNR(ctx, kvnrOf(4))
		wantKind(t, "member of a refused sync", err, fault.NotFound)
	}},
	{"SyncDuplicateInvalid", func(t *testing.T, s store.Store) {
		_, err := s.SyncMembers(t.Context(), members(1, 1), t0, allowAll)
		wantKind(t, "SyncMembers with a duplicate", err, fault.Invalid)
	}},
	{"DeleteAccountRemovesWhatBelongsToIt", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, "UpsertMember", s.UpsertMember(ctx, newMember(1)))
		b := boundDevice(t, s, "bind-1", 1)
		ss := newSSOSession("sess-1", b.AccountID, t0)
		must(t, "CreateSession", s.CreateSession(ctx, ss))
		createSessionFamily(t, s, "fam-1", "sess-1", "portal")
		// sess-1 ended and its logouts were queued; sess-2 is active.
		_, _, err := s.EndSession(ctx, ss.ID, session.EndLogout, t0.Add(time.Minute))
		must(t, "EndSession", err)
		must(t, "MarkNotified", s.MarkNotified(ctx, ss.ID, t0.Add(time.Minute)))
		open := newSSOSession("sess-2", b.AccountID, t0)
		must(t, "CreateSession sess-2", s.CreateSession(ctx, open))
		_, err = s.GrantConsent(ctx, b.AccountID, "portal", []string{"openid"}, t0)
		must(t, "GrantConsent", err)
		must(t, "AppendAudit", s.AppendAudit(ctx, audit.Event{ID: "ev-before", Time: t0, Kind: audit.DeviceBound,
			Actor: audit.Member, AccountID: b.AccountID}))
		l := handedOver(t, s, "letter-1", kvnrOf(1))
		// A letter of another member stays as it is.
		other := handedOver(t, s, "letter-2", kvnrOf(2))

		a, err := s.DeleteAccount(ctx, b.AccountID, deletionEvent("ev-deleted"), t0.Add(time.Hour))
		must(t, "DeleteAccount", err)
		if a.ID != b.AccountID || a.KVNR != kvnrOf(1) {
			t.Fatalf("DeleteAccount returned %+v", a)
		}
		_, err = s.AccountByID(ctx, a.ID)
		wantKind(t, "AccountByID", err, fault.NotFound)
		_, err = s.AccountByKVNR(ctx, a.KVNR)
		wantKind(t, "AccountByKVNR", err, fault.NotFound)
		_, err = s.BindingByID(ctx, b.ID)
		wantKind(t, "BindingByID", err, fault.NotFound)
		_, err = s.SessionByID(ctx, ss.ID)
		wantKind(t, "SessionByID of the notified session", err, fault.NotFound)
		// The session whose relying parties were not told yet stays,
		// ended, for the sweep that tells them.
		left, err := s.SessionByID(ctx, open.ID)
		must(t, "SessionByID of the unnotified session", err)
		if left.EndedAt.IsZero() || left.EndReason != session.EndDeleted || !left.NotifiedAt.IsZero() {
			t.Fatalf("the unnotified session after the deletion: %+v", left)
		}
		if un, err := s.UnnotifiedSessions(ctx, t0.Add(2*time.Hour), 10); err != nil || len(un) != 1 || un[0].ID != open.ID {
			t.Fatalf("UnnotifiedSessions after the deletion: %v, %v", un, err)
		}
		_, _, err = s.RefreshToken(ctx, "rt-fam-1")
		wantKind(t, "RefreshToken", err, fault.NotFound)
		_, err = s.EnrollmentByTokenHash(ctx, newSession("enr-bind-1", a.KVNR).TokenHash)
		wantKind(t, "EnrollmentByTokenHash", err, fault.NotFound)
		if ps, err := s.Proofs(ctx, a.ID); err != nil || len(ps) != 0 {
			t.Fatalf("Proofs = %v, %v; want none", ps, err)
		}
		if cs, err := s.Consents(ctx, a.ID); err != nil || len(cs) != 0 {
			t.Fatalf("Consents = %v, %v; want none", cs, err)
		}
		got := letterByID(t, s, l.ID)
		if got.State != letter.Voided || got.VoidReason != letter.VoidDeleted || got.Recipient.Name != "" || got.Recipient.Address != (member.Address{}) {
			t.Fatalf("letter after the deletion = %+v, want voided (deleted) without recipient", got)
		}
		if got := letterByID(t, s, other.ID); got.State != letter.HandedOver || got.Recipient.Name == "" {
			t.Fatalf("another member's letter = %+v, want unchanged", got)
		}
		// The member directory and the audit log stay.
		memberOf(t, s, 1)
		evs, err := s.AuditEvents(ctx, a.ID, 10)
		must(t, "AuditEvents", err)
		if ids := eventIDs(evs); !slices.Equal(ids, []string{"ev-deleted", "ev-before"}) {
			t.Fatalf("audit events = %v, want the deletion and the earlier one", ids)
		}
		// Deleting again finds nothing and records nothing.
		_, err = s.DeleteAccount(ctx, a.ID, deletionEvent("ev-deleted-2"), t0.Add(2*time.Hour))
		wantKind(t, "DeleteAccount again", err, fault.NotFound)
		evs, _ = s.AuditEvents(ctx, a.ID, 10)
		if len(evs) != 2 {
			t.Fatalf("audit events after the second deletion = %v", eventIDs(evs))
		}
	}},
	{"DeleteAccountAuditConflictDeletesNothing", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, "CreateAccount", s.CreateAccount(ctx, newAccount(1)))
		must(t, "AppendAudit", s.AppendAudit(ctx, deletionEvent("ev-1")))
		_, err := s.DeleteAccount(ctx, "acct-1", deletionEvent("ev-1"), t0)
		wantKind(t, "DeleteAccount with a duplicate event", err, fault.Conflict)
		_, err = s.AccountByID(ctx, "acct-1")
		must(t, "AccountByID after the failed deletion", err)
	}},
	{"DeleteAccountRaceOneWinner", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		b := boundDevice(t, s, "bind-1", 1)
		var wg sync.WaitGroup
		errs := make([]error, N)
		for i := range N {
			wg.Go(func() {
				_, errs[i] = s.DeleteAccount(ctx, b.AccountID, deletionEvent("ev-"+string(rune('a'+i))), t0)
			})
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, fault.NotFound):
				t.Fatalf("a losing DeleteAccount: %v, want NotFound", err)
			}
		}
		evs, err := s.AuditEvents(ctx, b.AccountID, 100)
		must(t, "AuditEvents", err)
		if won != 1 || len(evs) != 1 {
			t.Fatalf("%d deletions won, %d events recorded; want 1 and 1", won, len(evs))
		}
	}},
	{"ExpiredMembersAndDeleteMember", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		ended := newMember(1)
		ended.InsuredUntil = time.Date(2020, 1, 31, 0, 0, 0, 0, time.UTC)
		recent := newMember(2)
		recent.InsuredUntil = t0.Add(-24 * time.Hour)
		must(t, "UpsertMembers", s.UpsertMembers(ctx, []member.Member{ended, recent, newMember(3), newMember(4)}))
		// Member 4 left the file long ago; member 3 stays insured.
		_, err := s.SyncMembers(ctx, []member.Member{ended, recent, newMember(3)}, time.Date(2021, 6, 1, 0, 0, 0, 0, time.UTC), allowAll)
		must(t, "SyncMembers", err)
		cut := t0.Add(-30 * 24 * time.Hour)
		got, err := s.ExpiredMembers(ctx, cut, 10)
		must(t, "ExpiredMembers", err)
		if !slices.Equal(got, []kvnr.KVNR{kvnrOf(1), kvnrOf(4)}) {
			t.Fatalf("ExpiredMembers = %v, want members 1 and 4", got)
		}
		if got, _ := s.ExpiredMembers(ctx, cut, 1); len(got) != 1 {
			t.Fatalf("ExpiredMembers with limit 1 = %v", got)
		}
		must(t, "CreateAccount", s.CreateAccount(ctx, newAccount(1)))
		wantKind(t, "DeleteMember with an account", s.DeleteMember(ctx, kvnrOf(1), cut, t0), fault.Forbidden)
		wantKind(t, "DeleteMember of a recent end", s.DeleteMember(ctx, kvnrOf(2), cut, t0), fault.Conflict)
		wantKind(t, "DeleteMember of an insured member", s.DeleteMember(ctx, kvnrOf(3), cut, t0), fault.Conflict)
		wantKind(t, "DeleteMember of an unknown member", s.DeleteMember(ctx, kvnrOf(9), cut, t0), fault.NotFound)
		l := handedOver(t, s, "letter-4", kvnrOf(4))
		must(t, "DeleteMember", s.DeleteMember(ctx, kvnrOf(4), cut, t0))
		_, err = s.MemberByKVNR(ctx, kvnrOf(4))
		wantKind(t, "MemberByKVNR after DeleteMember", err, fault.NotFound)
		if got := letterByID(t, s, l.ID); got.Recipient.Name != "" || got.State != letter.Voided {
			t.Fatalf("letter of a deleted member = %+v, want voided without recipient", got)
		}
		for _, i := range []int{1, 2, 3} {
			memberOf(t, s, i)
		}
		// A member imported again is no longer expired.
		must(t, "UpsertMember", s.UpsertMember(ctx, newMember(1)))
		if got, _ := s.ExpiredMembers(ctx, cut, 10); len(got) != 0 {
			t.Fatalf("ExpiredMembers after the import = %v, want none", got)
		}
	}},
}

func eventIDs(evs []audit.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}
