package housekeeping_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/sqlstore/sqlstoretest"
	"github.com/pforte-id/pforte/core/housekeeping"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/ports/metrics"
)

// sweeper counts its calls and returns n.
type sweeper struct {
	calls int
	n     int
}

func (s *sweeper) Sweep(context.Context) (int, error) { s.calls++; return s.n, nil }

// TestTasks runs the standard list on a store with a handed-over letter:
// its secrets are erased only once its validity ended LetterSecrets ago.
func TestTasks(t *testing.T) {
	s := sqlstoretest.Open(t)
	ctx := t.Context()
	cfg := housekeeping.Config{LetterSecrets: 48 * time.Hour}
	l := letter.Letter{
		ID: "letter-1", KVNR: kvnr.MustParse("A123456780"), State: letter.Requested,
		Recipient: letter.Recipient{Name: "Erika Mustermann", Address: member.Address{Street: "Hauptstraße 1", PostalCode: "28195", Locality: "Bremen", Country: "DE"}},
		CreatedAt: t0, ExpiresAt: t0.Add(60 * 24 * time.Hour),
	}
	if err := s.CreateLetter(ctx, l, t0.Add(-7*24*time.Hour), t0); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkRendered(ctx, l.ID, "pw-hash", "code-hash", "letter-1.pdf", t0); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkHandedOver(ctx, l.ID, t0); err != nil {
		t.Fatal(err)
	}
	logouts := &sweeper{n: 2}
	tasks := cfg.Tasks(housekeeping.Sources{Expired: s, Logouts: logouts, Letters: s, Enrollments: s})
	var names []string
	for _, tk := range tasks {
		names = append(names, tk.Name)
	}
	if want := []string{housekeeping.TaskExpired, housekeeping.TaskLogouts, housekeeping.TaskLetters, housekeeping.TaskEnrollments}; !slices.Equal(names, want) {
		t.Fatalf("tasks %v, want %v", names, want)
	}
	c := newClock(l.ExpiresAt.Add(48*time.Hour - time.Millisecond))
	r, err := housekeeping.New(cfg, housekeeping.Deps{Leases: s, Now: c.now}, tasks)
	if err != nil {
		t.Fatal(err)
	}
	rows := func() map[string]int64 {
		t.Helper()
		rep, err := r.RunNow(ctx)
		if err != nil || rep.Outcome != metrics.RunDone {
			t.Fatalf("RunNow: %v, %v", rep.Outcome, err)
		}
		m := map[string]int64{}
		for _, res := range rep.Results {
			m[res.Task] = res.Rows
		}
		return m
	}
	if got := rows(); got[housekeeping.TaskLetters] != 0 || got[housekeeping.TaskLogouts] != 2 {
		t.Fatalf("before the retention ended: %v", got)
	}
	if got, _ := s.LetterByID(ctx, l.ID); got.PasswordHash == "" {
		t.Fatal("the hashes went before the retention ended")
	}
	c.add(2 * time.Millisecond)
	if got := rows(); got[housekeeping.TaskLetters] != 1 {
		t.Fatalf("after the retention ended: %v", got)
	}
	if got, _ := s.LetterByID(ctx, l.ID); got.PasswordHash != "" || got.CodeHash != "" || got.State != letter.HandedOver {
		t.Fatalf("letter after the run: %+v", got)
	}
	if logouts.calls != 2 {
		t.Fatalf("sweeps: %d, want 2", logouts.calls)
	}
}

// TestTaskWithoutSource: a source left out fails its task on every run
// instead of skipping it unseen.
func TestTaskWithoutSource(t *testing.T) {
	s := sqlstoretest.Open(t)
	tasks := housekeeping.Config{}.Tasks(housekeeping.Sources{Expired: s, Letters: s, Enrollments: s})
	r, err := housekeeping.New(housekeeping.Config{}, housekeeping.Deps{Leases: s, Now: newClock(t0).now}, tasks)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.RunNow(t.Context())
	if err != nil || rep.Outcome != metrics.RunFailed {
		t.Fatalf("RunNow: %v, %v", rep.Outcome, err)
	}
	for _, res := range rep.Results {
		failed := res.Outcome == metrics.TaskFailed
		if failed != (res.Task == housekeeping.TaskLogouts) || failed != (res.Err != nil) {
			t.Errorf("%s: %s (%v)", res.Task, res.Outcome, res.Err)
		}
	}
}
