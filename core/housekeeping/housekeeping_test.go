package housekeeping_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/adapters/sqlstore/sqlstoretest"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/housekeeping"
	"github.com/pforte-id/pforte/ports/metrics"
	"github.com/pforte-id/pforte/ports/store"
)

var t0 = time.Date(2031, time.March, 3, 4, 0, 0, 0, time.UTC)

// clock is a clock the tests move; replicas share one.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }
func (c *clock) now() time.Time   { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) set(t time.Time)  { c.ns.Store(t.UnixNano()) }
func (c *clock) add(d time.Duration) {
	c.ns.Add(int64(d))
}

// engine opens stores on one database, as separate replicas do: each
// call of open returns a store with connections of its own.
type engine struct {
	name string
	cfg  func(t testing.TB) sqlstore.Config
}

var engines = []engine{
	{"SQLite", sqlstoretest.SQLite},
	{"PostgreSQL", func(t testing.TB) sqlstore.Config { return sqlstoretest.Postgres(t, 10) }},
}

// replicas returns n stores on one fresh, migrated database of e.
func replicas(t *testing.T, e engine, n int) []*sqlstore.Store {
	t.Helper()
	cfg := e.cfg(t)
	var out []*sqlstore.Store
	for i := range n {
		s, err := sqlstore.Open(t.Context(), cfg)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		if i == 0 {
			if _, err := s.Migrate(t.Context()); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
		}
		out = append(out, s)
	}
	return out
}

// recorder is a metrics.HousekeepingRecorder that remembers.
type recorder struct {
	mu    sync.Mutex
	runs  []metrics.RunOutcome
	tasks []string // "task outcome rows"
}

func (r *recorder) HousekeepingRun(_ context.Context, o metrics.RunOutcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runs = append(r.runs, o)
}

func (r *recorder) HousekeepingTask(_ context.Context, task string, o metrics.TaskOutcome, rows int64, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tasks = append(r.tasks, fmt.Sprintf("%s %s %d", task, o, rows))
}

func newRunner(t *testing.T, leases store.Leases, c *clock, name string, log *slog.Logger, m metrics.HousekeepingRecorder, tasks ...housekeeping.Task) *housekeeping.Runner {
	t.Helper()
	r, err := housekeeping.New(housekeeping.Config{Interval: time.Minute, Lease: time.Minute}, housekeeping.Deps{
		Leases: leases, Metrics: m, Replica: name, Now: c.now, Logger: log,
	}, tasks)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   housekeeping.Config
		field string // "" valid
	}{
		{"defaults", housekeeping.Config{}, ""},
		{"bounds", housekeeping.Config{Interval: time.Second, Lease: 10 * time.Second, LetterSecrets: time.Hour, Enrollments: 365 * 24 * time.Hour}, ""},
		{"interval short", housekeeping.Config{Interval: time.Second - 1}, "Interval"},
		{"interval long", housekeeping.Config{Interval: 24*time.Hour + 1}, "Interval"},
		{"interval negative", housekeeping.Config{Interval: -time.Minute}, "Interval"},
		{"lease short", housekeeping.Config{Lease: 9 * time.Second}, "Lease"},
		{"lease long", housekeeping.Config{Lease: 25 * time.Hour}, "Lease"},
		{"letter secrets short", housekeeping.Config{LetterSecrets: time.Minute}, "LetterSecrets"},
		{"letter secrets long", housekeeping.Config{LetterSecrets: 366 * 24 * time.Hour}, "LetterSecrets"},
		{"enrollments short", housekeeping.Config{Enrollments: -time.Hour}, "Enrollments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var fe *fault.Error
			if !errors.As(err, &fe) || fe.Kind != fault.Invalid || fe.Op != "housekeeping.Config."+tc.field {
				t.Fatalf("Validate: got %v, want Invalid of housekeeping.Config.%s", err, tc.field)
			}
		})
	}
}

func TestNewRefusesBadTasks(t *testing.T) {
	s := sqlstoretest.Open(t)
	ok := func(context.Context, time.Time) (int64, error) { return 0, nil }
	for _, tc := range []struct {
		name  string
		tasks []housekeeping.Task
	}{
		{"no name", []housekeeping.Task{{Name: "", Run: ok}}},
		{"upper case", []housekeeping.Task{{Name: "Expired", Run: ok}}},
		{"space", []housekeeping.Task{{Name: "expired rows", Run: ok}}},
		{"no function", []housekeeping.Task{{Name: "expired"}}},
		{"twice", []housekeeping.Task{{Name: "expired", Run: ok}, {Name: "expired", Run: ok}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := housekeeping.New(housekeeping.Config{}, housekeeping.Deps{Leases: s}, tc.tasks)
			if !errors.Is(err, fault.Invalid) {
				t.Fatalf("New: got %v, want Invalid", err)
			}
		})
	}
	if _, err := housekeeping.New(housekeeping.Config{}, housekeeping.Deps{}, nil); !errors.Is(err, fault.Invalid) {
		t.Fatalf("New without leases: got %v, want Invalid", err)
	}
	if _, err := housekeeping.New(housekeeping.Config{Interval: time.Millisecond}, housekeeping.Deps{Leases: s}, nil); !errors.Is(err, fault.Invalid) {
		t.Fatalf("New with a bad config: got %v, want Invalid", err)
	}
}

// TestTwoReplicas runs two replicas' runners on one database round after
// round, both at once, with expired entries added between the rounds:
// in each due round exactly one of them runs, between the due times
// neither, and every expired entry is removed by exactly one run.
func TestTwoReplicas(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			rs := replicas(t, e, 2)
			c := newClock(t0)
			var mu sync.Mutex
			var ran []string // the replica of each run of the "count" task
			runners := make([]*housekeeping.Runner, 2)
			for i, s := range rs {
				name := fmt.Sprintf("replica-%d", i)
				runners[i] = newRunner(t, s, c, name, nil, nil,
					housekeeping.Task{Name: "expired", Run: s.DeleteExpired},
					housekeeping.Task{Name: "count", Run: func(context.Context, time.Time) (int64, error) {
						mu.Lock()
						defer mu.Unlock()
						ran = append(ran, name)
						return 1, nil
					}})
			}
			const rounds, perRound = 6, 5
			var removed int64
			for round := range rounds {
				now := t0.Add(time.Duration(round) * time.Minute)
				for i := range perRound {
					// Expired a millisecond before the round begins.
					if err := rs[i%2].UseOnce(t.Context(), "dpop", fmt.Sprintf("jti-%d-%d", round, i), now.Add(-time.Millisecond), now.Add(-time.Second)); err != nil {
						t.Fatalf("UseOnce: %v", err)
					}
				}
				for _, at := range []time.Time{now, now.Add(30 * time.Second)} {
					c.set(at)
					reps := make([]housekeeping.Report, 2)
					errs := make([]error, 2)
					var wg sync.WaitGroup
					for i, r := range runners {
						wg.Go(func() { reps[i], errs[i] = r.RunDue(t.Context()) })
					}
					wg.Wait()
					done := 0
					for i, rep := range reps {
						if errs[i] != nil {
							t.Fatalf("round %d: RunDue: %v", round, errs[i])
						}
						switch rep.Outcome {
						case metrics.RunDone:
							done++
							removed += rep.Results[0].Rows
						case metrics.RunSkipped:
						default:
							t.Fatalf("round %d: outcome %s", round, rep.Outcome)
						}
					}
					want := 1
					if at != now {
						want = 0 // not due before the next interval
					}
					if done != want {
						t.Fatalf("round %d at +%s: %d runs, want %d", round, at.Sub(now), done, want)
					}
				}
			}
			if len(ran) != rounds {
				t.Errorf("the task ran %d times in %d rounds: %v", len(ran), rounds, ran)
			}
			if removed != rounds*perRound {
				t.Errorf("the runs removed %d entries, want %d (each once)", removed, rounds*perRound)
			}
		})
	}
}

// TestNoOverlap: while one replica's run is in a task, the other neither
// runs when due nor when asked to run now.
func TestNoOverlap(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			rs := replicas(t, e, 2)
			c := newClock(t0)
			entered, leave := make(chan struct{}), make(chan struct{})
			slow := newRunner(t, rs[0], c, "slow", nil, nil, housekeeping.Task{Name: "slow", Run: func(context.Context, time.Time) (int64, error) {
				close(entered)
				<-leave
				return 0, nil
			}})
			var other atomic.Int32
			fast := newRunner(t, rs[1], c, "fast", nil, nil, housekeeping.Task{Name: "fast", Run: func(context.Context, time.Time) (int64, error) {
				other.Add(1)
				return 0, nil
			}})
			done := make(chan housekeeping.Report)
			go func() {
				rep, err := slow.RunDue(t.Context())
				if err != nil {
					t.Errorf("slow RunDue: %v", err)
				}
				done <- rep
			}()
			<-entered
			rep, err := fast.RunDue(t.Context())
			if err != nil || rep.Outcome != metrics.RunSkipped {
				t.Fatalf("RunDue during another run: %v, %v; want skipped", rep.Outcome, err)
			}
			_, err = fast.RunNow(t.Context())
			if !errors.Is(err, fault.Conflict) {
				t.Fatalf("RunNow during another run: %v, want Conflict", err)
			}
			l, err := rs[1].LeaseByName(t.Context(), housekeeping.LeaseName)
			if err != nil || !strings.HasPrefix(l.Holder, "slow/") {
				t.Fatalf("lease during the run: %+v, %v", l, err)
			}
			close(leave)
			if rep := <-done; rep.Outcome != metrics.RunDone {
				t.Fatalf("slow run: %s", rep.Outcome)
			}
			if other.Load() != 0 {
				t.Fatalf("the other replica's task ran %d times during the run", other.Load())
			}
			// Asked to run now, after the run: not due, but runs.
			if rep, err := fast.RunNow(t.Context()); err != nil || rep.Outcome != metrics.RunDone {
				t.Fatalf("RunNow after the run: %v, %v", rep.Outcome, err)
			}
			if other.Load() != 1 {
				t.Fatalf("the other replica's task ran %d times, want 1", other.Load())
			}
		})
	}
}

// TestHolderDies: a replica that took the lease and died holds it until
// the lease runs out; then another takes over.
func TestHolderDies(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			rs := replicas(t, e, 2)
			c := newClock(t0)
			// The dead replica took the lease as a run does, then nothing.
			if ok, err := rs[0].AcquireLease(t.Context(), housekeeping.LeaseName, "dead/1", t0.Add(time.Minute), t0, true); err != nil || !ok {
				t.Fatalf("AcquireLease: %v, %v", ok, err)
			}
			var runs atomic.Int32
			r := newRunner(t, rs[1], c, "survivor", nil, nil, housekeeping.Task{Name: "count", Run: func(context.Context, time.Time) (int64, error) {
				runs.Add(1)
				return 0, nil
			}})
			for _, tc := range []struct {
				at   time.Duration
				want metrics.RunOutcome
			}{
				{30 * time.Second, metrics.RunSkipped},
				{time.Minute - time.Millisecond, metrics.RunSkipped},
				{time.Minute, metrics.RunDone},
				{time.Minute + time.Second, metrics.RunSkipped}, // the next is due a minute later
				{2 * time.Minute, metrics.RunDone},
			} {
				c.set(t0.Add(tc.at))
				rep, err := r.RunDue(t.Context())
				if err != nil || rep.Outcome != tc.want {
					t.Fatalf("at +%s: %v, %v; want %s", tc.at, rep.Outcome, err, tc.want)
				}
			}
			if runs.Load() != 2 {
				t.Fatalf("ran %d times, want 2", runs.Load())
			}
		})
	}
}

// TestLeaseLost: a run whose task overran the lease, while another
// replica took over, does not go on with its next task and leaves the
// other's lease alone.
func TestLeaseLost(t *testing.T) {
	rs := replicas(t, engines[0], 2)
	c := newClock(t0)
	var second atomic.Int32
	rec := &recorder{}
	slow := newRunner(t, rs[0], c, "slow", nil, rec,
		housekeeping.Task{Name: "overrun", Run: func(ctx context.Context, _ time.Time) (int64, error) {
			c.add(time.Minute + time.Second)
			// The other replica finds the lease run out and takes it.
			if ok, err := rs[1].AcquireLease(ctx, housekeeping.LeaseName, "other/1", c.now().Add(time.Minute), c.now(), true); err != nil || !ok {
				t.Errorf("take over: %v, %v", ok, err)
			}
			return 3, nil
		}},
		housekeeping.Task{Name: "second", Run: func(context.Context, time.Time) (int64, error) {
			second.Add(1)
			return 0, nil
		}})
	rep, err := slow.RunDue(t.Context())
	if err != nil || rep.Outcome != metrics.RunLost {
		t.Fatalf("RunDue: %v, %v; want lost", rep.Outcome, err)
	}
	if second.Load() != 0 || len(rep.Results) != 1 {
		t.Fatalf("after the lease was lost: second task ran %d times, results %+v", second.Load(), rep.Results)
	}
	l, err := rs[1].LeaseByName(t.Context(), housekeeping.LeaseName)
	if err != nil || l.Holder != "other/1" {
		t.Fatalf("lease after the lost run: %+v, %v; want held by other/1", l, err)
	}
	if want := []metrics.RunOutcome{metrics.RunLost}; fmt.Sprint(rec.runs) != fmt.Sprint(want) {
		t.Errorf("runs counted: %v, want %v", rec.runs, want)
	}
	if want := []string{"overrun done 3"}; fmt.Sprint(rec.tasks) != fmt.Sprint(want) {
		t.Errorf("tasks counted: %v, want %v", rec.tasks, want)
	}
}

// TestFailingTask: a task that fails does not stop the others; the run
// is counted failed and every task writes its log line.
func TestFailingTask(t *testing.T) {
	s := sqlstoretest.Open(t)
	c := newClock(t0)
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	rec := &recorder{}
	r := newRunner(t, s, c, "replica", log, rec,
		housekeeping.Task{Name: "first", Run: func(context.Context, time.Time) (int64, error) {
			c.add(1500 * time.Millisecond)
			return 7, nil
		}},
		housekeeping.Task{Name: "broken", Run: func(context.Context, time.Time) (int64, error) {
			return 0, fault.New(fault.Unavailable, "test", "database gone")
		}},
		housekeeping.Task{Name: "last", Run: func(context.Context, time.Time) (int64, error) { return 2, nil }})
	rep, err := r.RunDue(t.Context())
	if err != nil || rep.Outcome != metrics.RunFailed || rep.Rows() != 9 || len(rep.Results) != 3 {
		t.Fatalf("RunDue: %+v, %v", rep, err)
	}
	var lines []map[string]any
	for l := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	want := []string{
		"housekeeping task first 7 1500 done",
		"housekeeping task broken 0 0 failed",
		"housekeeping task last 2 0 done",
		"housekeeping run  9 1500 failed",
	}
	if len(lines) != len(want) {
		t.Fatalf("%d log lines, want %d: %s", len(lines), len(want), buf.String())
	}
	for i, m := range lines {
		got := fmt.Sprintf("%v %v %v %v %v", m["msg"], str(m["task"]), m["rows"], m["duration_ms"], m["outcome"])
		if got != want[i] {
			t.Errorf("log line %d: %q, want %q", i, got, want[i])
		}
	}
	if lines[1]["kind"] != "unavailable" || lines[1]["level"] != "WARN" {
		t.Errorf("failed task's line: %v", lines[1])
	}
	if want := "[first done 7 broken failed 0 last done 2]"; fmt.Sprint(rec.tasks) != want {
		t.Errorf("tasks counted: %v, want %s", rec.tasks, want)
	}
	// The failed run was a run: the next is due an interval later.
	c.add(30 * time.Second)
	if rep, err := r.RunDue(t.Context()); err != nil || rep.Outcome != metrics.RunSkipped {
		t.Fatalf("RunDue before the next is due: %v, %v", rep.Outcome, err)
	}
}

func str(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// TestStoreOutage: a lease that cannot be taken is an error, counted.
func TestStoreOutage(t *testing.T) {
	s := sqlstoretest.Open(t)
	c := newClock(t0)
	rec := &recorder{}
	r := newRunner(t, s, c, "replica", nil, rec, housekeeping.Task{Name: "never", Run: func(context.Context, time.Time) (int64, error) {
		t.Error("a task ran without the lease")
		return 0, nil
	}})
	s.Close()
	rep, err := r.RunDue(t.Context())
	if !errors.Is(err, fault.Unavailable) || rep.Outcome != metrics.RunError {
		t.Fatalf("RunDue on a closed store: %v, %v", rep.Outcome, err)
	}
	if fmt.Sprint(rec.runs) != "[error]" {
		t.Errorf("runs counted: %v", rec.runs)
	}
}
