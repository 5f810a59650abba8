package store

import (
	"context"
	"time"

	"github.com/pforte-id/pforte/core/logoutjob"
)

// LogoutJobs is the durable queue of back-channel logout deliveries
// (core/backchannel). Several replicas work it at once: a job is leased
// to one worker at a time, under a claim token the worker chose, and only
// that claim may finish or reschedule it.
type LogoutJobs interface {
	// EnqueueLogoutJobs stores jobs in one transaction. A job whose
	// (SessionID, ClientID, Subject) is queued already is left out, so
	// that a session ended twice (a logout racing a device revocation)
	// owes each client one token, not two; returns how many were stored.
	// Errors: Invalid for a job without ID, SessionID or ClientID (nothing
	// is stored); Conflict on a duplicate ID (nothing is stored).
	EnqueueLogoutJobs(ctx context.Context, jobs []logoutjob.Job) (int, error)
	// ClaimLogoutJobs leases up to n jobs that are due at now (DueAt <=
	// now) and whose lease is free at now, earliest due first, until
	// leaseUntil, under claim, and counts an attempt on each (Attempts
	// as returned includes it). Concurrent callers never get the same job
	// while its lease runs; a job whose worker died is claimed again once
	// its lease has run out. Errors: Invalid for an empty claim.
	ClaimLogoutJobs(ctx context.Context, n int, claim string, now, leaseUntil time.Time) ([]logoutjob.Job, error)
	// FinishLogoutJob removes job id, delivered or given up, if it is held
	// under claim. Errors: NotFound when it is gone; Conflict when another
	// claim holds it (the lease ran out and another worker took it over),
	// in which case it stays.
	FinishLogoutJob(ctx context.Context, id, claim string) error
	// RetryLogoutJob releases job id held under claim, due again at dueAt,
	// with lastError as the reason of the failed attempt. Errors: as
	// FinishLogoutJob.
	RetryLogoutJob(ctx context.Context, id, claim string, dueAt time.Time, lastError string) error
	// CountLogoutJobs returns how many jobs are queued, due or not (the
	// queue depth an operator watches).
	CountLogoutJobs(ctx context.Context) (int, error)
}
