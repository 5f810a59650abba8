package sqlstore

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/ratelimit"
)

// Hit counts one event for key and reports whether key's events within
// the sliding window (core/ratelimit) are still within limit; when not,
// retryAfter is the time until one more event would be.
//
// A row counts one bucket of the window (a tenth of it, aligned to the
// Unix epoch in milliseconds so that every replica computes the same
// buckets). The count is one upsert (insert the bucket with 1, or add 1 to
// it) that returns the new count: both engines apply it to the row under
// its write lock, so N concurrent hits count N. The earlier buckets are
// over and no longer change, so reading them afterwards keeps that exact:
// of N concurrent hits exactly as many are allowed as the limit leaves
// room for. A bucket's row is kept while it counts and then removed by
// DeleteExpired. Errors: Invalid for a window shorter than a millisecond
// or a negative limit.
func (s *Store) Hit(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (bool, time.Duration, error) {
	const op = "sqlstore.Hit"
	w := window.Milliseconds()
	if w < 1 || limit < 0 {
		return false, 0, fault.New(fault.Invalid, op, "rate limit window must be at least 1ms and the limit not negative")
	}
	sp := ratelimit.SpanOf(now, window)
	var buckets []ratelimit.Bucket
	err := s.do(ctx, op, func() error {
		cur := ratelimit.Bucket{Start: sp.Current}
		if err := s.w.GetContext(ctx, &cur.Hits, s.db.Rebind(`INSERT INTO rate_windows (rate_key, window_ms, window_start, hits, expires_at)
			VALUES (?, ?, ?, 1, ?)
			ON CONFLICT (rate_key, window_ms, window_start) DO UPDATE SET hits = rate_windows.hits + 1
			RETURNING hits`), key, w, sp.Current, sp.ExpiresAt(sp.Current)); err != nil {
			return err
		}
		var err error
		buckets, err = s.buckets(ctx, s.w, key, w, sp.From, sp.Current-1)
		buckets = append(buckets, cur)
		return err
	})
	if err != nil {
		return false, 0, err
	}
	if sp.Total(buckets) <= int64(limit) {
		return true, 0, nil
	}
	return false, sp.Until(buckets, limit-1), nil
}

// buckets returns key's buckets of window w that start in [from, to].
func (s *Store) buckets(ctx context.Context, q *pool, key string, w, from, to int64) ([]ratelimit.Bucket, error) {
	var rows []struct {
		Start int64 `db:"window_start"`
		Hits  int64 `db:"hits"`
	}
	if err := q.SelectContext(ctx, &rows, s.db.Rebind(`SELECT window_start, hits FROM rate_windows
		WHERE rate_key = ? AND window_ms = ? AND window_start BETWEEN ? AND ?`), key, w, from, to); err != nil {
		return nil, err
	}
	out := make([]ratelimit.Bucket, len(rows))
	for i, r := range rows {
		out[i] = ratelimit.Bucket{Start: r.Start, Hits: r.Hits}
	}
	return out, nil
}

// Count returns key's events within the sliding window of now and the
// time until one more event would be within limit (0 when it is now); it
// changes nothing. Errors: Invalid for a window shorter than a
// millisecond.
func (s *Store) Count(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (int, time.Duration, error) {
	const op = "sqlstore.Count"
	w := window.Milliseconds()
	if w < 1 {
		return 0, 0, fault.New(fault.Invalid, op, "rate limit window must be at least 1ms")
	}
	sp := ratelimit.SpanOf(now, window)
	var buckets []ratelimit.Bucket
	err := s.do(ctx, op, func() error {
		var err error
		buckets, err = s.buckets(ctx, s.db, key, w, sp.From, sp.Current)
		return err
	})
	if err != nil {
		return 0, 0, err
	}
	return int(sp.Total(buckets)), sp.Until(buckets, limit-1), nil
}

// Release takes back one event Hit counted for key in the bucket of now:
// the bucket's count goes down by one, never below zero, and a bucket left
// at zero is removed, so that events that did not count leave no row.
// Errors: Invalid for a window shorter than a millisecond.
func (s *Store) Release(ctx context.Context, key string, window time.Duration, now time.Time) error {
	const op = "sqlstore.Release"
	w := window.Milliseconds()
	if w < 1 {
		return fault.New(fault.Invalid, op, "rate limit window must be at least 1ms")
	}
	start := ratelimit.SpanOf(now, window).Current
	return s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE rate_windows SET hits = hits - 1
			WHERE rate_key = ? AND window_ms = ? AND window_start = ? AND hits > 0`), key, w, start); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM rate_windows
			WHERE rate_key = ? AND window_ms = ? AND window_start = ? AND hits <= 0`), key, w, start)
		return err
	})
}
