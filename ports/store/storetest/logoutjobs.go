package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/logoutjob"
	"github.com/pforte-id/pforte/ports/store"
)

// RunLogoutJobs checks store.LogoutJobs, the queue of back-channel logout
// deliveries: claims under leases, their expiry after a crash, and
// workers racing for the same jobs.
func RunLogoutJobs[S store.LogoutJobs](t *testing.T, open func(t *testing.T) S) {
	runTests(t, func(t *testing.T) store.LogoutJobs { return open(t) }, append(logoutJobTests, logoutJobCancelled))
	t.Run("Races", func(t *testing.T) {
		runTests(t, func(t *testing.T) store.LogoutJobs { return open(t) }, logoutJobRaceTests)
	})
}

// newLogoutJob is a job for session sid and client, due at due.
func newLogoutJob(id, sid, clientID string, due time.Time) logoutjob.Job {
	return logoutjob.Job{
		ID: id, SessionID: sid, ClientID: clientID, Subject: "sub-" + sid, AccountID: "acct-" + sid,
		CreatedAt: due, DueAt: due,
	}
}

func logoutJobIDs(js []logoutjob.Job) []string {
	ids := make([]string, 0, len(js))
	for _, j := range js {
		ids = append(ids, j.ID)
	}
	return ids
}

func enqueueLogoutJobs(t *testing.T, s store.LogoutJobs, jobs ...logoutjob.Job) {
	t.Helper()
	n, err := s.EnqueueLogoutJobs(t.Context(), jobs)
	must(t, "EnqueueLogoutJobs", err)
	if n != len(jobs) {
		t.Fatalf("EnqueueLogoutJobs stored %d of %d", n, len(jobs))
	}
}

func countLogoutJobs(t *testing.T, s store.LogoutJobs, want int) {
	t.Helper()
	n, err := s.CountLogoutJobs(t.Context())
	must(t, "CountLogoutJobs", err)
	if n != want {
		t.Errorf("CountLogoutJobs = %d, want %d", n, want)
	}
}

var logoutJobTests = []test[store.LogoutJobs]{
	{"DueJobsEarliestFirst", func(t *testing.T, s store.LogoutJobs) {
		ctx := t.Context()
		a := newLogoutJob("job-a", "sid-1", "forms", t0.Add(2*time.Second))
		b := newLogoutJob("job-b", "sid-1", "portal", t0)
		later := newLogoutJob("job-c", "sid-2", "forms", t0.Add(time.Hour))
		enqueueLogoutJobs(t, s, a, b, later)
		countLogoutJobs(t, s, 3)

		now, lease := t0.Add(time.Minute), t0.Add(2*time.Minute)
		got, err := s.ClaimLogoutJobs(ctx, 5, "claim-1", now, lease)
		must(t, "ClaimLogoutJobs", err)
		b.Attempts, a.Attempts = 1, 1
		equal(t, "claimed: the due jobs, earliest first, one attempt each", []logoutjob.Job{b, a}, got)

		got, err = s.ClaimLogoutJobs(ctx, 5, "claim-2", now, lease)
		must(t, "ClaimLogoutJobs while leased", err)
		if len(got) != 0 {
			t.Errorf("claimed %v while their leases run", logoutJobIDs(got))
		}
		got, err = s.ClaimLogoutJobs(ctx, 0, "claim-2", later.DueAt, later.DueAt.Add(time.Minute))
		must(t, "ClaimLogoutJobs 0", err)
		if len(got) != 0 {
			t.Errorf("ClaimLogoutJobs(0) returned %v", logoutJobIDs(got))
		}
		countLogoutJobs(t, s, 3)
	}},
	{"FinishUnderTheClaim", func(t *testing.T, s store.LogoutJobs) {
		ctx := t.Context()
		j := newLogoutJob("job-1", "sid-1", "forms", t0)
		enqueueLogoutJobs(t, s, j)
		_, err := s.ClaimLogoutJobs(ctx, 1, "claim-1", t0, t0.Add(time.Minute))
		must(t, "ClaimLogoutJobs", err)
		wantKind(t, "FinishLogoutJob under a foreign claim", s.FinishLogoutJob(ctx, j.ID, "claim-x"), fault.Conflict)
		wantKind(t, "FinishLogoutJob with no claim", s.FinishLogoutJob(ctx, j.ID, ""), fault.Conflict)
		countLogoutJobs(t, s, 1)
		must(t, "FinishLogoutJob", s.FinishLogoutJob(ctx, j.ID, "claim-1"))
		countLogoutJobs(t, s, 0)
		wantKind(t, "FinishLogoutJob again", s.FinishLogoutJob(ctx, j.ID, "claim-1"), fault.NotFound)
		wantKind(t, "RetryLogoutJob after finish", s.RetryLogoutJob(ctx, j.ID, "claim-1", t0, "x"), fault.NotFound)
	}},
	{"UnclaimedJobCannotBeFinished", func(t *testing.T, s store.LogoutJobs) {
		ctx := t.Context()
		j := newLogoutJob("job-1", "sid-1", "forms", t0)
		enqueueLogoutJobs(t, s, j)
		wantKind(t, "FinishLogoutJob of a job nobody claimed", s.FinishLogoutJob(ctx, j.ID, ""), fault.Conflict)
		wantKind(t, "RetryLogoutJob of a job nobody claimed", s.RetryLogoutJob(ctx, j.ID, "", t0, ""), fault.Conflict)
		countLogoutJobs(t, s, 1)
	}},
	{"RetryLater", func(t *testing.T, s store.LogoutJobs) {
		ctx := t.Context()
		j := newLogoutJob("job-1", "sid-1", "forms", t0)
		enqueueLogoutJobs(t, s, j)
		_, err := s.ClaimLogoutJobs(ctx, 1, "claim-1", t0, t0.Add(time.Hour))
		must(t, "ClaimLogoutJobs", err)
		due := t0.Add(30 * time.Second)
		wantKind(t, "RetryLogoutJob under a foreign claim", s.RetryLogoutJob(ctx, j.ID, "claim-x", due, "status 503"), fault.Conflict)
		must(t, "RetryLogoutJob", s.RetryLogoutJob(ctx, j.ID, "claim-1", due, "status 503"))
		// The lease is released with the retry, but the job waits for
		// its time.
		got, err := s.ClaimLogoutJobs(ctx, 1, "claim-2", due.Add(-time.Millisecond), due.Add(time.Hour))
		must(t, "ClaimLogoutJobs before due", err)
		if len(got) != 0 {
			t.Fatalf("claimed %v before it was due", logoutJobIDs(got))
		}
		got, err = s.ClaimLogoutJobs(ctx, 1, "claim-2", due, due.Add(time.Minute))
		must(t, "ClaimLogoutJobs when due", err)
		j.DueAt, j.Attempts, j.LastError = due, 2, "status 503"
		equal(t, "job claimed again", []logoutjob.Job{j}, got)
		wantKind(t, "the first claim after the retry", s.FinishLogoutJob(ctx, j.ID, "claim-1"), fault.Conflict)
		must(t, "FinishLogoutJob", s.FinishLogoutJob(ctx, j.ID, "claim-2"))
	}},
	{"LeaseExpiresAfterACrash", func(t *testing.T, s store.LogoutJobs) {
		ctx := t.Context()
		j := newLogoutJob("job-1", "sid-1", "forms", t0)
		enqueueLogoutJobs(t, s, j)
		lease := t0.Add(time.Minute)
		_, err := s.ClaimLogoutJobs(ctx, 1, "crashed", t0, lease)
		must(t, "ClaimLogoutJobs", err)
		// The worker holding it dies: nobody finishes it. Up to the end of
		// its lease nobody else takes it, then the next worker does.
		got, err := s.ClaimLogoutJobs(ctx, 1, "next", lease.Add(-time.Millisecond), lease.Add(time.Minute))
		must(t, "ClaimLogoutJobs during the lease", err)
		if len(got) != 0 {
			t.Fatalf("taken over before the lease ran out")
		}
		got, err = s.ClaimLogoutJobs(ctx, 1, "next", lease, lease.Add(time.Minute))
		must(t, "ClaimLogoutJobs after the lease", err)
		j.Attempts = 2
		equal(t, "job taken over", []logoutjob.Job{j}, got)
		// The crashed worker, should it come back, can no longer change it.
		wantKind(t, "FinishLogoutJob by the crashed worker", s.FinishLogoutJob(ctx, j.ID, "crashed"), fault.Conflict)
		wantKind(t, "RetryLogoutJob by the crashed worker", s.RetryLogoutJob(ctx, j.ID, "crashed", lease, "x"), fault.Conflict)
		must(t, "FinishLogoutJob by the next worker", s.FinishLogoutJob(ctx, j.ID, "next"))
		countLogoutJobs(t, s, 0)
	}},
	{"ExpiredLeaseStillFinishes", func(t *testing.T, s store.LogoutJobs) {
		// A slow worker whose lease ran out, but whose job nobody took
		// over, still holds the claim.
		ctx := t.Context()
		j := newLogoutJob("job-1", "sid-1", "forms", t0)
		enqueueLogoutJobs(t, s, j)
		_, err := s.ClaimLogoutJobs(ctx, 1, "slow", t0, t0.Add(time.Second))
		must(t, "ClaimLogoutJobs", err)
		must(t, "FinishLogoutJob after the lease", s.FinishLogoutJob(ctx, j.ID, "slow"))
	}},
	{"OneJobPerSessionClientAndSubject", func(t *testing.T, s store.LogoutJobs) {
		ctx := t.Context()
		first := newLogoutJob("job-1", "sid-1", "forms", t0)
		enqueueLogoutJobs(t, s, first)
		again := newLogoutJob("job-2", "sid-1", "forms", t0.Add(time.Second))
		other := newLogoutJob("job-3", "sid-1", "portal", t0.Add(time.Second))
		n, err := s.EnqueueLogoutJobs(ctx, []logoutjob.Job{again, other})
		must(t, "EnqueueLogoutJobs", err)
		if n != 1 {
			t.Errorf("EnqueueLogoutJobs stored %d, want 1 (the forms job is queued already)", n)
		}
		countLogoutJobs(t, s, 2)
		got, err := s.ClaimLogoutJobs(ctx, 5, "c", t0.Add(time.Minute), t0.Add(2*time.Minute))
		must(t, "ClaimLogoutJobs", err)
		equal(t, "queued jobs", []string{"job-1", "job-3"}, logoutJobIDs(got))
		must(t, "FinishLogoutJob", s.FinishLogoutJob(ctx, "job-1", "c"))
		// Once delivered, a later end of the same session is a new job.
		n, err = s.EnqueueLogoutJobs(ctx, []logoutjob.Job{again})
		must(t, "EnqueueLogoutJobs after delivery", err)
		if n != 1 {
			t.Errorf("EnqueueLogoutJobs after delivery stored %d, want 1", n)
		}
	}},
	{"Refusals", func(t *testing.T, s store.LogoutJobs) {
		ctx := t.Context()
		ok := newLogoutJob("job-1", "sid-1", "forms", t0)
		for name, mod := range map[string]func(*logoutjob.Job){
			"no id":      func(j *logoutjob.Job) { j.ID = "" },
			"no session": func(j *logoutjob.Job) { j.SessionID = "" },
			"no client":  func(j *logoutjob.Job) { j.ClientID = "" },
		} {
			bad := newLogoutJob("job-2", "sid-2", "portal", t0)
			mod(&bad)
			_, err := s.EnqueueLogoutJobs(ctx, []logoutjob.Job{ok, bad})
			wantKind(t, "EnqueueLogoutJobs "+name, err, fault.Invalid)
		}
		countLogoutJobs(t, s, 0)
		enqueueLogoutJobs(t, s, ok)
		dup := newLogoutJob("job-1", "sid-9", "portal", t0)
		fresh := newLogoutJob("job-2", "sid-2", "portal", t0)
		_, err := s.EnqueueLogoutJobs(ctx, []logoutjob.Job{fresh, dup})
		wantKind(t, "EnqueueLogoutJobs with a duplicate id", err, fault.Conflict)
		countLogoutJobs(t, s, 1) // all or nothing: fresh is not stored either
		_, err = s.ClaimLogoutJobs(ctx, 1, "", t0, t0.Add(time.Minute))
		wantKind(t, "ClaimLogoutJobs without a claim", err, fault.Invalid)
		n, err := s.EnqueueLogoutJobs(ctx, nil)
		must(t, "EnqueueLogoutJobs of nothing", err)
		if n != 0 {
			t.Errorf("EnqueueLogoutJobs(nil) = %d", n)
		}
	}},
}

// logoutJobCancelled checks that every method answers a cancelled
// context with Unavailable and changes nothing.
var logoutJobCancelled = test[store.LogoutJobs]{"CancelledContext", func(t *testing.T, s store.LogoutJobs) {
	ctx := t.Context()
	held := newLogoutJob("job-1", "sid-1", "forms", t0)
	enqueueLogoutJobs(t, s, held)
	_, err := s.ClaimLogoutJobs(ctx, 1, "c", t0, t0.Add(time.Minute))
	must(t, "ClaimLogoutJobs", err)
	c := cancelled(t)
	for name, call := range map[string]func() error{
		"EnqueueLogoutJobs": func() error {
			_, err := s.EnqueueLogoutJobs(c, []logoutjob.Job{newLogoutJob("job-2", "sid-2", "forms", t0)})
			return err
		},
		"ClaimLogoutJobs": func() error {
			_, err := s.ClaimLogoutJobs(c, 5, "d", t0.Add(time.Hour), t0.Add(2*time.Hour))
			return err
		},
		"FinishLogoutJob":         func() error { return s.FinishLogoutJob(c, held.ID, "c") },
		"RetryLogoutJob":          func() error { return s.RetryLogoutJob(c, held.ID, "c", t0, "x") },
		"CountLogoutJobs":         func() error { _, err := s.CountLogoutJobs(c); return err },
		"FinishLogoutJob unknown": func() error { return s.FinishLogoutJob(c, "nope", "c") },
	} {
		wantKind(t, name, call(), fault.Unavailable)
	}
	countLogoutJobs(t, s, 1)
	must(t, "FinishLogoutJob", s.FinishLogoutJob(ctx, held.ID, "c"))
}}

var logoutJobRaceTests = []test[store.LogoutJobs]{
	{"ClaimLogoutJobs", func(t *testing.T, s store.LogoutJobs) {
		var claims atomic.Int64
		claimRace(t, 40, 3, func(i int) string {
			j := newLogoutJob(fmt.Sprintf("job-%02d", i), fmt.Sprintf("sid-%02d", i), "forms", t0.Add(time.Duration(i)*time.Second))
			enqueueLogoutJobs(t, s, j)
			return j.ID
		}, func(ctx context.Context, n int, now, lease time.Time) ([]string, error) {
			js, err := s.ClaimLogoutJobs(ctx, n, fmt.Sprintf("claim-%d", claims.Add(1)), now, lease)
			return logoutJobIDs(js), err
		})
	}},
	{"WorkersDeliverEachJobOnce", func(t *testing.T, s store.LogoutJobs) {
		// Replicas working the queue at once, each claiming a few jobs,
		// "delivering" and finishing them, until nothing is left: every
		// job is delivered exactly once, and every finish succeeds.
		ctx := t.Context()
		const jobs, workers = 60, 6
		for i := range jobs {
			enqueueLogoutJobs(t, s, newLogoutJob(fmt.Sprintf("job-%02d", i), fmt.Sprintf("sid-%02d", i), "forms", t0))
		}
		var mu sync.Mutex
		delivered := map[string]int{}
		now, lease := t0.Add(time.Minute), t0.Add(time.Hour)
		errs := raceN(workers, func(w int) error {
			claim := fmt.Sprintf("worker-%d", w)
			for {
				js, err := s.ClaimLogoutJobs(ctx, 4, claim, now, lease)
				if err != nil {
					return err
				}
				if len(js) == 0 {
					return nil
				}
				for _, j := range js {
					mu.Lock()
					delivered[j.ID]++
					mu.Unlock()
					if err := s.FinishLogoutJob(ctx, j.ID, claim); err != nil {
						return fmt.Errorf("finish %s: %w", j.ID, err)
					}
				}
			}
		})
		for i, err := range errs {
			must(t, fmt.Sprintf("worker %d", i), err)
		}
		if len(delivered) != jobs {
			t.Errorf("%d of %d jobs delivered", len(delivered), jobs)
		}
		for id, n := range delivered {
			if n != 1 {
				t.Errorf("%s delivered %d times", id, n)
			}
		}
		countLogoutJobs(t, s, 0)
	}},
	{"EnqueueSameTarget", func(t *testing.T, s store.LogoutJobs) {
		// A logout and a device revocation ending the same session at
		// once queue one job per client.
		ctx := t.Context()
		stored := make([]int, N)
		errs := race(func(i int) error {
			var err error
			stored[i], err = s.EnqueueLogoutJobs(ctx, []logoutjob.Job{
				newLogoutJob(fmt.Sprintf("job-%02d", i), "sid-1", "forms", t0),
			})
			return err
		})
		total := 0
		for i, err := range errs {
			must(t, fmt.Sprintf("enqueue %d", i), err)
			total += stored[i]
		}
		if total != 1 {
			t.Errorf("%d concurrent enqueues of one target stored %d jobs, want 1", N, total)
		}
		countLogoutJobs(t, s, 1)
	}},
}
