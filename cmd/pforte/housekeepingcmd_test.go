package main

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/core/housekeeping"
)

// `pforte housekeeping run` runs every task once on the server's
// database, and refuses while a server's run holds the lease.
func TestHousekeepingRun(t *testing.T) {
	dir := t.TempDir()
	r := pforte(t, dir, "housekeeping", "run")
	wantCode(t, r, exitOK, "housekeeping run")
	for _, task := range []string{housekeeping.TaskExpired, housekeeping.TaskLogouts, housekeeping.TaskLetters, housekeeping.TaskEnrollments} {
		if !strings.Contains(r.stdout, task+" ") {
			t.Errorf("the output names no task %s:\n%s", task, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "Housekeeping done: ") {
		t.Errorf("no summary:\n%s", r.stdout)
	}

	// A server's run holds the lease (as it does during its tasks).
	o, err := options(t.Context(), operatorConfig(t, dir), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if ok, err := srv.Store().AcquireLease(t.Context(), housekeeping.LeaseName, "replica-a/run-1", now.Add(time.Hour), now, false); err != nil || !ok {
		t.Fatalf("AcquireLease: %v, %v", ok, err)
	}
	srv.Close()
	r = pforte(t, dir, "housekeeping", "run")
	wantCode(t, r, exitError, "housekeeping run")
	if !strings.Contains(r.stderr, "replica-a/run-1 is running it") {
		t.Errorf("the refusal does not name the holder:\n%s", r.stderr)
	}
}
