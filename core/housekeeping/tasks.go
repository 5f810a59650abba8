package housekeeping

import (
	"context"
	"time"

	"github.com/pforte-id/pforte/ports/store"
)

// Expirer removes what expired (store.AuthRequests.DeleteExpired, which
// clears requests, codes, tokens, replay entries, rate windows, password
// throttles, challenges, approvals, proofings and their confirmations,
// sessions past their retention and undecided letter requests).
type Expirer interface {
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)
}

// Sweeper queues the back-channel logouts of ended sessions that a crash
// left unqueued (sso.Service).
type Sweeper interface {
	Sweep(ctx context.Context) (int, error)
}

// Sources are what the tasks of Tasks work on. Each is required.
type Sources struct {
	Expired     Expirer
	Logouts     Sweeper
	Letters     store.LetterSecrets
	Enrollments store.AbandonedEnrollments
}

// Task names.
const (
	TaskExpired     = "expired"
	TaskLogouts     = "session-logouts"
	TaskLetters     = "letter-secrets"
	TaskEnrollments = "enrollments"
)

// Tasks is the list of housekeeping tasks, in the order a run does them,
// with the retention periods of c. A new task is a line here and its
// source in Sources. A missing source makes its task fail on every run
// (and say so in the log), never silently skip.
func (c Config) Tasks(s Sources) []Task {
	c = c.withDefaults()
	return []Task{
		{Name: TaskExpired, Run: func(ctx context.Context, now time.Time) (int64, error) {
			if s.Expired == nil {
				return 0, errNoSource
			}
			return s.Expired.DeleteExpired(ctx, now)
		}},
		{Name: TaskLogouts, Run: func(ctx context.Context, _ time.Time) (int64, error) {
			if s.Logouts == nil {
				return 0, errNoSource
			}
			n, err := s.Logouts.Sweep(ctx)
			return int64(n), err
		}},
		{Name: TaskLetters, Run: func(ctx context.Context, now time.Time) (int64, error) {
			if s.Letters == nil {
				return 0, errNoSource
			}
			return s.Letters.EraseLetterSecrets(ctx, now.Add(-c.LetterSecrets))
		}},
		{Name: TaskEnrollments, Run: func(ctx context.Context, now time.Time) (int64, error) {
			if s.Enrollments == nil {
				return 0, errNoSource
			}
			return s.Enrollments.DeleteAbandonedEnrollments(ctx, now.Add(-c.Enrollments))
		}},
	}
}
