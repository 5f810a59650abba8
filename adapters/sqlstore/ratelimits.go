package sqlstore

import (
	"context"
	"time"

	"github.com/pforte-id/pforte/core/fault"
)

// Hit counts one event for key in the fixed window of length window that
// contains now and reports whether the count is still within limit; when
// not, retryAfter is the time until the window ends.
//
// Windows are aligned to the Unix epoch in milliseconds, so every replica
// computes the same window for the same instant. The count is one upsert
// (insert the window with 1, or add 1 to it) that returns the new count:
// both engines apply it to the row under its write lock, so N concurrent
// hits count N and exactly limit of them are allowed. Rows of windows that
// are over go in DeleteExpired. Errors: Invalid for a window shorter than
// a millisecond or a negative limit.
func (s *Store) Hit(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (bool, time.Duration, error) {
	const op = "sqlstore.Hit"
	w := window.Milliseconds()
	if w < 1 || limit < 0 {
		return false, 0, fault.New(fault.Invalid, op, "rate limit window must be at least 1ms and the limit not negative")
	}
	start, end := windowOf(now, w)
	var hits int64
	err := s.do(ctx, op, func() error {
		return s.w.GetContext(ctx, &hits, s.db.Rebind(`INSERT INTO rate_windows (rate_key, window_ms, window_start, hits, expires_at)
			VALUES (?, ?, ?, 1, ?)
			ON CONFLICT (rate_key, window_ms, window_start) DO UPDATE SET hits = rate_windows.hits + 1
			RETURNING hits`), key, w, start, end)
	})
	if err != nil {
		return false, 0, err
	}
	if hits <= int64(limit) {
		return true, 0, nil
	}
	return false, time.UnixMilli(end).Sub(now), nil
}

// windowOf is the fixed window of length w ms that contains now.
func windowOf(now time.Time, w int64) (start, end int64) {
	t := now.UnixMilli()
	start = t - ((t%w)+w)%w // floor, also before 1970
	return start, start + w
}

// Count returns the hits of key in the fixed window of length window that
// contains now, and the time until that window ends; it changes nothing.
// Errors: Invalid for a window shorter than a millisecond.
func (s *Store) Count(ctx context.Context, key string, window time.Duration, now time.Time) (int, time.Duration, error) {
	const op = "sqlstore.Count"
	w := window.Milliseconds()
	if w < 1 {
		return 0, 0, fault.New(fault.Invalid, op, "rate limit window must be at least 1ms")
	}
	start, end := windowOf(now, w)
	var hits []int64
	err := s.do(ctx, op, func() error {
		hits = hits[:0]
		return s.db.SelectContext(ctx, &hits, s.db.Rebind(`SELECT hits FROM rate_windows
			WHERE rate_key = ? AND window_ms = ? AND window_start = ?`), key, w, start)
	})
	if err != nil {
		return 0, 0, err
	}
	n := 0
	if len(hits) > 0 {
		n = int(hits[0])
	}
	return n, time.UnixMilli(end).Sub(now), nil
}
