package store

import (
	"context"
	"time"

	"github.com/pforte-id/pforte/core/throttle"
)

// PasswordThrottles keeps the counters of core/throttle, one per key (an
// account's member number), in the database, so that every replica applies
// the same delays.
type PasswordThrottles interface {
	// UpdatePasswordThrottle runs f on the counter stored under key (the
	// zero Counter when there is none) and stores the counter f leaves:
	// removed when it is the zero Counter, otherwise kept until
	// keepUntil(counter) and then removed by DeleteExpired. Atomic:
	// concurrent updates of one key run one after the other, each seeing
	// the counter the one before stored, so N concurrent failures count N.
	// f may run more than once (a retried transaction); only its last run
	// counts. Errors: f's error, unchanged, with nothing stored;
	// Unavailable.
	UpdatePasswordThrottle(ctx context.Context, key string, keepUntil func(throttle.Counter) time.Time,
		f func(c *throttle.Counter) error) (throttle.Counter, error)
	// PasswordThrottle returns the counter stored under key (the zero
	// Counter when there is none), writing nothing: support's view of a
	// lockout. Errors: Unavailable.
	PasswordThrottle(ctx context.Context, key string) (throttle.Counter, error)
}
