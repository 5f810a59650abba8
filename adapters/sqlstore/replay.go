package sqlstore

import (
	"context"
	"time"

	"github.com/pforte-id/pforte/core/fault"
)

// UseOnce records value in scope until expiresAt, in one statement: the
// insert succeeds for a new value, and replaces an old entry of the same
// value only when that entry has expired at now. A live entry makes the
// upsert touch no row, which is the replay. Concurrent callers with one
// value have exactly one winner on both engines.
// Errors: Conflict when value was recorded before and has not expired.
func (s *Store) UseOnce(ctx context.Context, scope, value string, expiresAt, now time.Time) error {
	const op = "sqlstore.UseOnce"
	return s.do(ctx, op, func() error {
		n, err := exec(ctx, s.w, s.db.Rebind(`INSERT INTO replay_values (scope, value, expires_at) VALUES (?, ?, ?)
			ON CONFLICT (scope, value) DO UPDATE SET expires_at = excluded.expires_at
			WHERE replay_values.expires_at <= ?`), scope, value, msInt(expiresAt), msInt(now))
		if err == nil && n == 0 {
			return fault.New(fault.Conflict, op, "value was used before")
		}
		return err
	})
}
