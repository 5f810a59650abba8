package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/ports/store"
)

// CleanupStore is what RunCleanup needs: letters and enrollment sessions
// to clean up, and device bindings that keep an enrollment session.
type CleanupStore interface {
	store.LetterSecrets
	store.AbandonedEnrollments
	store.Letters
	store.Enrollments
	store.Devices
}

// RunLeases checks store.Leases.
func RunLeases[S store.Leases](t *testing.T, open func(t *testing.T) S) {
	runTests(t, func(t *testing.T) store.Leases { return open(t) }, leaseTests)
	t.Run("Races", func(t *testing.T) { runTests(t, func(t *testing.T) store.Leases { return open(t) }, leaseRaceTests) })
}

// RunCleanup checks store.LetterSecrets and store.AbandonedEnrollments.
func RunCleanup[S CleanupStore](t *testing.T, open func(t *testing.T) S) {
	runTests(t, func(t *testing.T) CleanupStore { return open(t) }, cleanupTests)
}

func acquire(t *testing.T, s store.Leases, what, holder string, until, now time.Time, scheduled, want bool) {
	t.Helper()
	got, err := s.AcquireLease(t.Context(), "housekeeping", holder, until, now, scheduled)
	must(t, what, err)
	if got != want {
		t.Fatalf("%s: taken = %v, want %v", what, got, want)
	}
}

func renew(t *testing.T, s store.Leases, what, holder string, until, now time.Time, want bool) {
	t.Helper()
	got, err := s.RenewLease(t.Context(), "housekeeping", holder, until, now)
	must(t, what, err)
	if got != want {
		t.Fatalf("%s: held = %v, want %v", what, got, want)
	}
}

func leaseOf(t *testing.T, s store.Leases) store.Lease {
	t.Helper()
	l, err := s.LeaseByName(t.Context(), "housekeeping")
	must(t, "LeaseByName", err)
	return l
}

var leaseTests = []test[store.Leases]{
	{"AcquireAndRelease", func(t *testing.T, s store.Leases) {
		ctx := t.Context()
		_, err := s.LeaseByName(ctx, "housekeeping")
		wantKind(t, "LeaseByName before any", err, fault.NotFound)

		acquire(t, s, "first acquire", "a", t0.Add(time.Minute), t0, true, true)
		equal(t, "held lease", store.Lease{Name: "housekeeping", Holder: "a", Until: t0.Add(time.Minute)}, leaseOf(t, s))
		acquire(t, s, "another holder while held", "b", t0.Add(time.Minute), t0.Add(30*time.Second), false, false)
		acquire(t, s, "the holder again while held", "a", t0.Add(2*time.Minute), t0.Add(30*time.Second), false, false)
		renew(t, s, "renewal by another", "b", t0.Add(2*time.Minute), t0.Add(30*time.Second), false)
		renew(t, s, "renewal", "a", t0.Add(2*time.Minute), t0.Add(30*time.Second), true)
		sameInstant(t, "renewed until", t0.Add(2*time.Minute), leaseOf(t, s).Until)

		ok, err := s.ReleaseLease(ctx, "housekeeping", "b", t0.Add(time.Hour))
		must(t, "ReleaseLease by another", err)
		if ok {
			t.Fatal("ReleaseLease by a holder that does not hold it: released")
		}
		ok, err = s.ReleaseLease(ctx, "housekeeping", "a", t0.Add(5*time.Minute))
		must(t, "ReleaseLease", err)
		if !ok {
			t.Fatal("ReleaseLease by the holder: not released")
		}
		renew(t, s, "renewal after the release", "a", t0.Add(3*time.Minute), t0.Add(time.Minute), false)
		equal(t, "released lease",
			store.Lease{Name: "housekeeping", Until: t0.Add(2 * time.Minute), Due: t0.Add(5 * time.Minute)}, leaseOf(t, s))

		// Free but not due: a scheduled run waits, a run asked for now
		// does not.
		acquire(t, s, "scheduled before due", "b", t0.Add(2*time.Minute), t0.Add(time.Minute), true, false)
		acquire(t, s, "unscheduled before due", "b", t0.Add(2*time.Minute), t0.Add(time.Minute), false, true)
		ok, err = s.ReleaseLease(ctx, "housekeeping", "b", t0.Add(5*time.Minute))
		must(t, "ReleaseLease b", err)
		if !ok {
			t.Fatal("ReleaseLease b: not released")
		}
		acquire(t, s, "scheduled at due", "c", t0.Add(6*time.Minute), t0.Add(5*time.Minute), true, true)
	}},
	{"HolderDies", func(t *testing.T, s store.Leases) {
		acquire(t, s, "acquire", "a", t0.Add(time.Minute), t0, true, true)
		acquire(t, s, "just before the hold ends", "b", t0.Add(2*time.Minute), t0.Add(time.Minute-time.Millisecond), true, false)
		// A holder that overran cannot renew, even while nobody took over.
		renew(t, s, "renewal at the end of the hold", "a", t0.Add(2*time.Minute), t0.Add(time.Minute), false)
		// a never releases; at its Until the lease is free (and due: it
		// was never released, so no run is scheduled).
		acquire(t, s, "at the end of the hold", "b", t0.Add(2*time.Minute), t0.Add(time.Minute), true, true)
		equal(t, "taken over", "b", leaseOf(t, s).Holder)
		ok, err := s.ReleaseLease(t.Context(), "housekeeping", "a", t0.Add(time.Hour))
		must(t, "ReleaseLease by the dead holder", err)
		if ok {
			t.Fatal("the holder that overran released the lease another holds")
		}
		equal(t, "still held", "b", leaseOf(t, s).Holder)
	}},
	{"LeasesAreIndependent", func(t *testing.T, s store.Leases) {
		ctx := t.Context()
		acquire(t, s, "acquire", "a", t0.Add(time.Minute), t0, false, true)
		ok, err := s.AcquireLease(ctx, "other", "b", t0.Add(time.Minute), t0, false)
		must(t, "AcquireLease other", err)
		if !ok {
			t.Fatal("another lease's holder blocked this one")
		}
	}},
	{"Invalid", func(t *testing.T, s store.Leases) {
		ctx := t.Context()
		_, err := s.AcquireLease(ctx, "", "a", t0.Add(time.Minute), t0, false)
		wantKind(t, "AcquireLease without name", err, fault.Invalid)
		_, err = s.AcquireLease(ctx, "housekeeping", "", t0.Add(time.Minute), t0, false)
		wantKind(t, "AcquireLease without holder", err, fault.Invalid)
		_, err = s.AcquireLease(ctx, "housekeeping", "a", t0, t0, false)
		wantKind(t, "AcquireLease until now", err, fault.Invalid)
		_, err = s.RenewLease(ctx, "housekeeping", "", t0.Add(time.Minute), t0)
		wantKind(t, "RenewLease without holder", err, fault.Invalid)
		_, err = s.RenewLease(ctx, "housekeeping", "a", t0, t0)
		wantKind(t, "RenewLease until now", err, fault.Invalid)
		_, err = s.ReleaseLease(ctx, "housekeeping", "", t0)
		wantKind(t, "ReleaseLease without holder", err, fault.Invalid)
		_, err = s.LeaseByName(ctx, "housekeeping")
		wantKind(t, "LeaseByName after refusals", err, fault.NotFound)
	}},
}

// leaseRace has N holders try for the lease at once and fails unless
// exactly one gets it.
func leaseRace(t *testing.T, s store.Leases, what string, now time.Time) string {
	t.Helper()
	got := make([]bool, N)
	errs := race(func(i int) error {
		var err error
		got[i], err = s.AcquireLease(t.Context(), "housekeeping", fmt.Sprintf("holder-%d", i), now.Add(time.Minute), now, true)
		return err
	})
	winner := ""
	for i, err := range errs {
		must(t, what, err)
		if got[i] {
			if winner != "" {
				t.Fatalf("%s: holder-%d and %s both took the lease", what, i, winner)
			}
			winner = fmt.Sprintf("holder-%d", i)
		}
	}
	if winner == "" {
		t.Fatalf("%s: nobody took the lease", what)
	}
	equal(t, what+": holder stored", winner, leaseOf(t, s).Holder)
	return winner
}

var leaseRaceTests = []test[store.Leases]{
	{"NewLease", func(t *testing.T, s store.Leases) { leaseRace(t, s, "new lease", t0) }},
	{"RanOut", func(t *testing.T, s store.Leases) {
		leaseRace(t, s, "new lease", t0)
		leaseRace(t, s, "lease run out", t0.Add(time.Minute))
	}},
	{"Released", func(t *testing.T, s store.Leases) {
		w := leaseRace(t, s, "new lease", t0)
		ok, err := s.ReleaseLease(t.Context(), "housekeeping", w, t0.Add(10*time.Second))
		must(t, "ReleaseLease", err)
		if !ok {
			t.Fatal("ReleaseLease: not released")
		}
		leaseRace(t, s, "released lease", t0.Add(10*time.Second))
	}},
}

var cleanupTests = []test[CleanupStore]{
	{"EraseLetterSecrets", func(t *testing.T, s CleanupStore) {
		ctx := t.Context()
		old := handedOver(t, s, "letter-old", kvnrOf(1))
		createLetter(t, s, "letter-requested", kvnrOf(3), t0) // no hashes yet
		// A cut-off at old's end erases nothing: only letters that expired
		// strictly before it.
		n, err := s.EraseLetterSecrets(ctx, old.ExpiresAt)
		must(t, "EraseLetterSecrets at the end", err)
		equal(t, "erased at the end", int64(0), n)

		n, err = s.EraseLetterSecrets(ctx, old.ExpiresAt.Add(time.Millisecond))
		must(t, "EraseLetterSecrets", err)
		equal(t, "erased", int64(1), n)
		want := old
		want.PasswordHash, want.CodeHash = "", ""
		equal(t, "letter after the erasure", want, letterByID(t, s, old.ID))

		n, err = s.EraseLetterSecrets(ctx, old.ExpiresAt.Add(time.Hour))
		must(t, "EraseLetterSecrets again", err)
		equal(t, "erased again", int64(0), n)
	}},
	{"EraseLetterSecretsKeepsLiveLetters", func(t *testing.T, s CleanupStore) {
		ctx := t.Context()
		old := handedOver(t, s, "letter-old", kvnrOf(1))
		l := createLetter(t, s, "letter-new", kvnrOf(2), t0.Add(30*24*time.Hour))
		must(t, "MarkRendered", s.MarkRendered(ctx, l.ID, "pw-new", "code-new", "new.pdf", l.CreatedAt.Add(time.Second)))
		n, err := s.EraseLetterSecrets(ctx, old.ExpiresAt.Add(time.Millisecond))
		must(t, "EraseLetterSecrets", err)
		equal(t, "erased", int64(1), n)
		got := letterByID(t, s, l.ID)
		equal(t, "live letter's hashes", []string{"pw-new", "code-new"}, []string{got.PasswordHash, got.CodeHash})
	}},
	{"DeleteAbandonedEnrollments", func(t *testing.T, s CleanupStore) {
		ctx := t.Context()
		abandoned := enrolled(t, s, "enr-abandoned", 1)
		bound := enrolled(t, s, "enr-bound", 2)
		must(t, "BindDevice", s.BindDevice(ctx, freshBinding("bind-2", bound, t0.Add(time.Minute)), t0.Add(time.Minute)))

		n, err := s.DeleteAbandonedEnrollments(ctx, abandoned.ExpiresAt)
		must(t, "DeleteAbandonedEnrollments at the end", err)
		equal(t, "deleted at the end", int64(0), n)

		n, err = s.DeleteAbandonedEnrollments(ctx, abandoned.ExpiresAt.Add(time.Millisecond))
		must(t, "DeleteAbandonedEnrollments", err)
		equal(t, "deleted", int64(1), n)
		_, err = s.EnrollmentByTokenHash(ctx, abandoned.TokenHash)
		wantKind(t, "EnrollmentByTokenHash of the abandoned session", err, fault.NotFound)
		got, err := s.EnrollmentByTokenHash(ctx, bound.TokenHash)
		must(t, "EnrollmentByTokenHash of the bound session", err)
		equal(t, "bound session kept", bound.ID, got.ID)
		bindingByID(t, s, "bind-2")

		n, err = s.DeleteAbandonedEnrollments(ctx, abandoned.ExpiresAt.Add(time.Hour))
		must(t, "DeleteAbandonedEnrollments again", err)
		equal(t, "deleted again", int64(0), n)
	}},
}
