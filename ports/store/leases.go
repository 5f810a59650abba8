package store

import (
	"context"
	"time"
)

// Lease is a named lock with an expiry, shared by every replica through
// the database: whoever holds it does the work it guards, and when the
// holder dies, the lease runs out and another replica takes it over.
type Lease struct {
	Name string
	// Holder is who holds the lease; empty: nobody (released).
	Holder string
	// Until is when a holder's hold ends by itself (a holder that died
	// holds it no longer than this).
	Until time.Time
	// Due is when the next scheduled run of the work is due: set by
	// ReleaseLease, zero before the first release.
	Due time.Time
}

// Leases stores leases (core/housekeeping takes one per run).
type Leases interface {
	// AcquireLease makes holder the holder of lease name until until, in
	// one atomic step, when at now the lease is free: nobody holds it, or
	// its holder's Until is not after now (the holder died or overran).
	// With scheduled set, a lease that is free is taken only when its Due
	// is not after now as well, so that of several replicas that look
	// each interval only the first after the due time runs. A lease never
	// seen before is created. Of concurrent callers for a free lease
	// exactly one gets true. Returns whether holder holds it now.
	// Errors: Invalid for an empty name or holder, or until not after now.
	AcquireLease(ctx context.Context, name, holder string, until, now time.Time, scheduled bool) (bool, error)
	// RenewLease moves the end of holder's hold of lease name to until,
	// only while holder holds it at now (Until after now). Returns false,
	// changing nothing, when it does not: the hold ran out, whether or
	// not another holder took the lease since. Errors: Invalid for an
	// empty name or holder, or until not after now.
	RenewLease(ctx context.Context, name, holder string, until, now time.Time) (bool, error)
	// ReleaseLease ends holder's hold of lease name and records when the
	// next scheduled run is due. Returns false, changing nothing, when
	// holder does not hold the lease (any more: it ran out and another
	// took it). Errors: Invalid for an empty name or holder.
	ReleaseLease(ctx context.Context, name, holder string, due time.Time) (bool, error)
	// LeaseByName returns lease name. Errors: NotFound when it was never
	// acquired.
	LeaseByName(ctx context.Context, name string) (Lease, error)
}

// LetterSecrets erases what is left of letters that can no longer be
// used (core/housekeeping).
type LetterSecrets interface {
	// EraseLetterSecrets empties the password and code hashes of every
	// letter whose ExpiresAt is before expiredBefore and that still has
	// them, and returns how many letters it changed. The letter stays as
	// the record of what was sent; with its hashes gone, its secrets are
	// answered like any wrong ones. Idempotent.
	EraseLetterSecrets(ctx context.Context, expiredBefore time.Time) (int64, error)
}

// AbandonedEnrollments removes enrollment sessions that led nowhere
// (core/housekeeping).
type AbandonedEnrollments interface {
	// DeleteAbandonedEnrollments deletes the enrollment sessions that
	// expired before expiredBefore without being completed and without a
	// device bound in them, and returns how many. A completed session, or
	// one a device binding names, stays: it is the record of how that
	// device came to be bound. Idempotent.
	DeleteAbandonedEnrollments(ctx context.Context, expiredBefore time.Time) (int64, error)
}
