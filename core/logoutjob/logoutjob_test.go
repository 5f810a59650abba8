package logoutjob_test

import (
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/logoutjob"
)

func TestBackoffGrowsWithinBounds(t *testing.T) {
	b := logoutjob.Backoff{First: 10 * time.Second, Max: time.Hour}
	now := time.Date(2031, 5, 17, 10, 0, 0, 0, time.UTC)
	far := now.Add(48 * time.Hour)
	for _, tc := range []struct {
		attempts int
		nominal  time.Duration
	}{
		{1, 10 * time.Second}, {2, 20 * time.Second}, {3, 40 * time.Second}, {8, 1280 * time.Second},
		{9, 2560 * time.Second}, {10, time.Hour}, {50, time.Hour}, {1000, time.Hour},
	} {
		for range 200 {
			wait := b.Next(tc.attempts, now, far).Sub(now)
			if wait > tc.nominal || wait < tc.nominal/2 {
				t.Fatalf("attempt %d: wait %s outside [%s, %s]", tc.attempts, wait, tc.nominal/2, tc.nominal)
			}
		}
	}
}

func TestBackoffEndsAtTheDeadline(t *testing.T) {
	b := logoutjob.Backoff{First: time.Minute, Max: time.Hour}
	now := time.Date(2031, 5, 17, 10, 0, 0, 0, time.UTC)
	deadline := now.Add(10 * time.Second)
	if got := b.Next(5, now, deadline); !got.Equal(deadline) {
		t.Errorf("next attempt at %s, want the deadline %s", got, deadline)
	}
}
