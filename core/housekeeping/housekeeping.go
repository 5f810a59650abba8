package housekeeping

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/ports/metrics"
	"github.com/pforte-id/pforte/ports/store"
)

// LeaseName is the name of the lease a run holds.
const LeaseName = "housekeeping"

// Config holds the schedule and the retention periods. Zero values take
// the defaults.
type Config struct {
	// Interval is how often a run is due. Every replica looks this
	// often; the first to look after the due time runs.
	Interval time.Duration
	// Lease is how long a run holds the lock without renewing it: the
	// lease is renewed before each task, so it bounds one task, and a
	// replica that dies during a run keeps the others waiting at most
	// this long.
	Lease time.Duration
	// LetterSecrets is how long after a letter's validity ended its
	// secret hashes are kept: until then its secrets are still answered
	// as those of an expired (or used, or voided) letter, so a member who
	// finds an old letter learns why it no longer works; afterwards they
	// are answered like any wrong ones.
	LetterSecrets time.Duration
	// Enrollments is how long after its end an enrollment session that
	// led to no device binding is kept (for support questions about a
	// registration that was broken off).
	Enrollments time.Duration
}

// Defaults and bounds (Validate).
const (
	DefaultInterval      = time.Minute
	DefaultLease         = 10 * time.Minute
	DefaultLetterSecrets = 30 * 24 * time.Hour
	DefaultEnrollments   = 7 * 24 * time.Hour

	MinInterval  = time.Second
	MaxInterval  = 24 * time.Hour
	MinLease     = 10 * time.Second
	MaxLease     = 24 * time.Hour
	MinRetention = time.Hour
	MaxRetention = 365 * 24 * time.Hour
)

func (c Config) withDefaults() Config {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Lease == 0 {
		c.Lease = DefaultLease
	}
	if c.LetterSecrets == 0 {
		c.LetterSecrets = DefaultLetterSecrets
	}
	if c.Enrollments == 0 {
		c.Enrollments = DefaultEnrollments
	}
	return c
}

// WithDefaults returns c with its zero values set to the defaults.
func (c Config) WithDefaults() Config { return c.withDefaults() }

// Validate checks the configuration after defaults are applied: the one
// place its bounds are written. Errors: fault.Invalid whose Op names the
// field ("housekeeping.Config.Interval").
func (c Config) Validate() error {
	c = c.withDefaults()
	field := func(name, msg string) error { return fault.New(fault.Invalid, "housekeeping.Config."+name, msg) }
	between := func(lo, hi time.Duration) string { return "must be between " + lo.String() + " and " + hi.String() }
	switch {
	case c.Interval < MinInterval || c.Interval > MaxInterval:
		return field("Interval", between(MinInterval, MaxInterval))
	case c.Lease < MinLease || c.Lease > MaxLease:
		return field("Lease", between(MinLease, MaxLease))
	case c.LetterSecrets < MinRetention || c.LetterSecrets > MaxRetention:
		return field("LetterSecrets", between(MinRetention, MaxRetention))
	case c.Enrollments < MinRetention || c.Enrollments > MaxRetention:
		return field("Enrollments", between(MinRetention, MaxRetention))
	}
	return nil
}

// Task is one named piece of housekeeping. Run does its work as of now
// and returns how many rows it removed or changed. It must be safe to
// run again after a failure or a run cut short (idempotent), since a run
// that lost its lease may be repeated by another replica.
type Task struct {
	// Name is the task's name in logs and metrics: lower case letters,
	// digits and hyphens, unique in a Runner.
	Name string
	Run  func(ctx context.Context, now time.Time) (int64, error)
}

var taskName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,39}$`)

// Deps are the ports the runner uses.
type Deps struct {
	Leases store.Leases
	// Metrics counts runs and tasks (nil: nothing is counted).
	Metrics metrics.HousekeepingRecorder
	// Replica names this replica in the lease's holder (a host name);
	// each run adds a random part, so that two runs never share a hold.
	Replica string
	Now     func() time.Time
	Logger  *slog.Logger
}

// Runner runs the tasks under the lease.
type Runner struct {
	cfg   Config
	d     Deps
	tasks []Task
	log   *slog.Logger
}

// New returns a runner of tasks, run in their order. Errors: Invalid for
// a bad cfg, a missing dependency, or a task without a valid name or
// function, or with a name used twice.
func New(cfg Config, d Deps, tasks []Task) (*Runner, error) {
	const op = "housekeeping.New"
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Leases == nil {
		return nil, fault.New(fault.Invalid, op, "the lease store is missing")
	}
	seen := map[string]bool{}
	for _, t := range tasks {
		if !taskName.MatchString(t.Name) || t.Run == nil || seen[t.Name] {
			return nil, fault.New(fault.Invalid, op, "task "+t.Name+": needs a unique name of lower case letters, digits and hyphens, and a function")
		}
		seen[t.Name] = true
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Metrics == nil {
		d.Metrics = metrics.Nop{}
	}
	if d.Replica == "" {
		d.Replica = "pforte"
	}
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{cfg: cfg.withDefaults(), d: d, tasks: tasks, log: log}, nil
}

// Config returns the configuration in use, defaults applied.
func (r *Runner) Config() Config { return r.cfg }

// Tasks returns the names of the tasks, in their order.
func (r *Runner) Tasks() []string {
	names := make([]string, len(r.tasks))
	for i, t := range r.tasks {
		names[i] = t.Name
	}
	return names
}

func (r *Runner) clock() time.Time { return r.d.Now().UTC() }

// Result is what one task did in a run.
type Result struct {
	Task     string
	Rows     int64
	Duration time.Duration
	Outcome  metrics.TaskOutcome
	// Err is the task's error when it failed.
	Err error
}

// Report is one run of this replica.
type Report struct {
	// Holder is the lease holder the run used.
	Holder  string
	Outcome metrics.RunOutcome
	Started time.Time
	// Results are the tasks that ran, in their order.
	Results []Result
}

// Rows is the sum of the rows of the report's tasks.
func (rep Report) Rows() int64 {
	var n int64
	for _, res := range rep.Results {
		n += res.Rows
	}
	return n
}

// RunDue runs the tasks when a run is due and no other replica holds the
// lease, and reports what happened (RunSkipped: nothing ran). A task that
// fails does not stop the others (RunFailed). Errors: only those of the
// lease store taking the lease (the report is then RunError).
func (r *Runner) RunDue(ctx context.Context) (Report, error) { return r.run(ctx, true) }

// RunNow runs the tasks now, whether or not a run is due, unless another
// replica holds the lease (an operator's "run now"). The next scheduled
// run is then due an Interval later. Errors: Conflict when another run
// holds the lease (see store.Leases.LeaseByName for which); those of the
// lease store.
func (r *Runner) RunNow(ctx context.Context) (Report, error) {
	rep, err := r.run(ctx, false)
	if err == nil && rep.Outcome == metrics.RunSkipped {
		err = fault.New(fault.Conflict, "housekeeping.RunNow", "another replica is running housekeeping")
	}
	return rep, err
}

// Run calls RunDue every Interval until ctx is done; failures are logged
// and counted, and the next interval tries again.
func (r *Runner) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := r.RunDue(ctx); err != nil && ctx.Err() == nil {
			r.log.WarnContext(ctx, "housekeeping: taking the lease failed", "err", err)
		}
	}
}

func (r *Runner) run(ctx context.Context, scheduled bool) (Report, error) {
	rep := Report{Holder: r.d.Replica + "/" + grant.NewID(), Started: r.clock()}
	taken, err := r.d.Leases.AcquireLease(ctx, LeaseName, rep.Holder, rep.Started.Add(r.cfg.Lease), rep.Started, scheduled)
	switch {
	case err != nil:
		rep.Outcome = metrics.RunError
		r.d.Metrics.HousekeepingRun(ctx, rep.Outcome)
		return rep, err
	case !taken:
		rep.Outcome = metrics.RunSkipped
		r.d.Metrics.HousekeepingRun(ctx, rep.Outcome)
		return rep, nil
	}
	rep.Outcome = metrics.RunDone
	for i, t := range r.tasks {
		if i > 0 {
			// Renew before each task: a run that overran its lease must
			// not go on beside the replica that took over.
			now := r.clock()
			held, err := r.d.Leases.RenewLease(ctx, LeaseName, rep.Holder, now.Add(r.cfg.Lease), now)
			if err != nil || !held {
				rep.Outcome = metrics.RunLost
				r.log.WarnContext(ctx, "housekeeping: the lease was lost during the run; the tasks left are not run",
					"holder", rep.Holder, "next_task", t.Name, "err", err)
				break
			}
		}
		res := r.runTask(ctx, t)
		rep.Results = append(rep.Results, res)
		if res.Outcome != metrics.TaskDone {
			rep.Outcome = metrics.RunFailed
		}
	}
	if rep.Outcome != metrics.RunLost {
		// The next run is due an interval after this one began, whoever
		// runs it. A lease this run no longer holds is left alone.
		if _, err := r.d.Leases.ReleaseLease(context.WithoutCancel(ctx), LeaseName, rep.Holder, rep.Started.Add(r.cfg.Interval)); err != nil {
			r.log.WarnContext(ctx, "housekeeping: releasing the lease failed; it runs out by itself", "holder", rep.Holder, "err", err)
		}
	}
	r.d.Metrics.HousekeepingRun(ctx, rep.Outcome)
	r.log.LogAttrs(ctx, slog.LevelInfo, "housekeeping run",
		slog.String("holder", rep.Holder), slog.String("outcome", string(rep.Outcome)),
		slog.Int("tasks", len(rep.Results)), slog.Int64("rows", rep.Rows()),
		slog.Int64("duration_ms", r.clock().Sub(rep.Started).Milliseconds()))
	return rep, nil
}

// runTask runs t and writes its metric-ready log line: task, rows,
// duration_ms, outcome (and the error of a failed one).
func (r *Runner) runTask(ctx context.Context, t Task) Result {
	start := r.clock()
	rows, err := t.Run(ctx, start)
	res := Result{Task: t.Name, Rows: rows, Duration: r.clock().Sub(start), Outcome: metrics.TaskDone, Err: err}
	level := slog.LevelInfo
	attrs := []slog.Attr{
		slog.String("task", t.Name), slog.Int64("rows", rows),
		slog.Int64("duration_ms", res.Duration.Milliseconds()),
	}
	if err != nil {
		res.Outcome, level = metrics.TaskFailed, slog.LevelWarn
		attrs = append(attrs, slog.String("kind", fault.KindOf(err).String()), slog.Any("err", err))
	}
	attrs = append(attrs, slog.String("outcome", string(res.Outcome)))
	r.log.LogAttrs(ctx, level, "housekeeping task", attrs...)
	r.d.Metrics.HousekeepingTask(ctx, t.Name, res.Outcome, rows, res.Duration)
	return res
}

// errNoSource is a task's error when its source was not wired.
var errNoSource = errors.New("housekeeping: the task's source is missing")
