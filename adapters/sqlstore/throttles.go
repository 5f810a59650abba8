package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/pforte-id/pforte/core/throttle"
	"github.com/pforte-id/pforte/ports/store"
)

var _ store.PasswordThrottles = (*Store)(nil)

type throttleRow struct {
	Failures    int           `db:"failures"`
	NotBefore   sql.NullInt64 `db:"not_before"`
	LastFailure sql.NullInt64 `db:"last_failure"`
}

// UpdatePasswordThrottle runs f on the counter of key and stores what f
// leaves, in one transaction. The row is first inserted as zero if it is
// missing (ON CONFLICT DO NOTHING waits for a concurrent insert of the same
// key to commit), then read under its write lock (FOR UPDATE on
// PostgreSQL; SQLite's BEGIN IMMEDIATE holds the database's one write
// lock), so concurrent updates of a key run one after the other and each
// sees the counter the one before stored. A zero counter deletes the row.
func (s *Store) UpdatePasswordThrottle(ctx context.Context, key string, keepUntil func(throttle.Counter) time.Time,
	f func(c *throttle.Counter) error) (throttle.Counter, error) {
	const op = "sqlstore.UpdatePasswordThrottle"
	var out throttle.Counter
	var refused error
	err := s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		refused = nil
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO password_throttles
				(throttle_key, failures, not_before, last_failure, expires_at) VALUES (?, 0, NULL, NULL, 0)
				ON CONFLICT (throttle_key) DO NOTHING`), key); err != nil {
			return err
		}
		var r throttleRow
		if err := tx.GetContext(ctx, &r, tx.Rebind(`SELECT failures, not_before, last_failure
				FROM password_throttles WHERE throttle_key = ?`+s.forUpdate()), key); err != nil {
			return err
		}
		c := throttle.Counter{Failures: r.Failures, NotBefore: fromMS(r.NotBefore), LastFailure: fromMS(r.LastFailure)}
		if refused = f(&c); refused != nil {
			return refused
		}
		if c == (throttle.Counter{}) {
			_, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM password_throttles WHERE throttle_key = ?`), key)
			out = c
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE password_throttles
				SET failures = ?, not_before = ?, last_failure = ?, expires_at = ? WHERE throttle_key = ?`),
			c.Failures, ms(c.NotBefore), ms(c.LastFailure), msInt(keepUntil(c)), key); err != nil {
			return err
		}
		// What was stored, at the store's precision.
		out = throttle.Counter{Failures: c.Failures, NotBefore: fromMS(ms(c.NotBefore)), LastFailure: fromMS(ms(c.LastFailure))}
		return nil
	})
	if refused != nil {
		return throttle.Counter{}, refused
	}
	if err != nil {
		return throttle.Counter{}, err
	}
	return out, nil
}

// PasswordThrottle reads the counter of key without a transaction (see
// store.PasswordThrottles).
func (s *Store) PasswordThrottle(ctx context.Context, key string) (throttle.Counter, error) {
	var out throttle.Counter
	err := s.do(ctx, "sqlstore.PasswordThrottle", func() error {
		var r throttleRow
		err := s.db.GetContext(ctx, &r, s.db.Rebind(`SELECT failures, not_before, last_failure
			FROM password_throttles WHERE throttle_key = ?`), key)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		out = throttle.Counter{Failures: r.Failures, NotBefore: fromMS(r.NotBefore), LastFailure: fromMS(r.LastFailure)}
		return nil
	})
	return out, err
}
