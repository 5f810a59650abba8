package metrics

import (
	"context"
	"time"

	"github.com/pforte-id/pforte/core/proof"
)

// Grant is a token grant counted by Recorder.Grant.
type Grant string

const (
	ClientCredentials Grant = "client_credentials"
	Refresh           Grant = "refresh"
)

// Outcome is how a counted attempt ended.
type Outcome string

const (
	// Success: tokens were issued.
	Success Outcome = "success"
	// Failure: the request was refused (invalid, expired, forbidden,
	// reused).
	Failure Outcome = "failure"
	// Error: the server could not answer (Unavailable, Internal).
	Error Outcome = "error"
)

// Recorder counts. Methods never fail and must not block: a use case
// calls them on its hot path and goes on whatever happens to the count.
// Implementations are safe for concurrent use.
type Recorder interface {
	// Grant counts one token request of grant g with its outcome.
	Grant(ctx context.Context, g Grant, o Outcome)
	// Registration counts one completed proofing (an enrollment started)
	// by method.
	Registration(ctx context.Context, m proof.Method)
}

// Delivery is how one attempt of a back-channel logout delivery ended.
type Delivery string

const (
	// Delivered: the relying party accepted the logout token.
	Delivered Delivery = "delivered"
	// Failed: the attempt failed and the delivery is retried later.
	Failed Delivery = "failed"
	// GivenUp: the attempt failed and the delivery was given up (audited).
	GivenUp Delivery = "given_up"
	// Dropped: the relying party no longer exists or no longer has a
	// back-channel logout URI; nothing was sent.
	Dropped Delivery = "dropped"
)

// LogoutRecorder counts back-channel logout deliveries. Like Recorder,
// it never fails and must not block. A separate interface, because only
// core/backchannel counts them.
type LogoutRecorder interface {
	// LogoutDelivery counts one delivery attempt by how it ended.
	LogoutDelivery(ctx context.Context, d Delivery)
}

// Nop is a Recorder that counts nothing, for use cases built without
// metrics (operator commands, tests).
type Nop struct{}

func (Nop) Grant(context.Context, Grant, Outcome)      {}
func (Nop) Registration(context.Context, proof.Method) {}

func (Nop) LogoutDelivery(context.Context, Delivery) {}

var (
	_ Recorder       = Nop{}
	_ LogoutRecorder = Nop{}
)

// RunOutcome is how one housekeeping run of a replica ended.
type RunOutcome string

const (
	// RunDone: the replica held the lease and ran every task; each
	// succeeded.
	RunDone RunOutcome = "done"
	// RunFailed: the replica ran every task; at least one failed.
	RunFailed RunOutcome = "failed"
	// RunSkipped: another replica holds the lease, or no run is due yet.
	RunSkipped RunOutcome = "skipped"
	// RunLost: the lease ran out during the run and another replica took
	// it; the tasks left were not run.
	RunLost RunOutcome = "lost"
	// RunError: the lease could not be taken (the database failed).
	RunError RunOutcome = "error"
)

// TaskOutcome is how one housekeeping task ended.
type TaskOutcome string

const (
	TaskDone   TaskOutcome = "done"
	TaskFailed TaskOutcome = "failed"
)

// HousekeepingRecorder counts housekeeping runs (core/housekeeping).
// Like Recorder, it never fails and must not block. Task names are the
// closed set of core/housekeeping's tasks.
type HousekeepingRecorder interface {
	// HousekeepingRun counts one run of this replica by how it ended.
	HousekeepingRun(ctx context.Context, o RunOutcome)
	// HousekeepingTask counts one run of task: its outcome, the rows it
	// removed or changed, and how long it took.
	HousekeepingTask(ctx context.Context, task string, o TaskOutcome, rows int64, d time.Duration)
}

func (Nop) HousekeepingRun(context.Context, RunOutcome)                                 {}
func (Nop) HousekeepingTask(context.Context, string, TaskOutcome, int64, time.Duration) {}

var _ HousekeepingRecorder = Nop{}
