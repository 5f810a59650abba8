package sqlstore

import (
	"context"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/ports/store"
)

var (
	_ store.Leases               = (*Store)(nil)
	_ store.LetterSecrets        = (*Store)(nil)
	_ store.AbandonedEnrollments = (*Store)(nil)
)

// AcquireLease takes lease name for holder in one statement: the insert
// creates a lease never seen before, and the update under ON CONFLICT
// takes an existing one only when its condition holds. Both engines
// evaluate that condition on the row as it is after any concurrent
// writer committed (PostgreSQL locks the conflicting row; SQLite has one
// writer), so of concurrent callers for a free lease exactly one changes
// a row; the others touch none, which is the refusal.
// Errors: Invalid; Unavailable.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, until, now time.Time, scheduled bool) (bool, error) {
	const op = "sqlstore.AcquireLease"
	if name == "" || holder == "" {
		return false, fault.New(fault.Invalid, op, "a lease needs a name and a holder")
	}
	if !until.After(now) {
		return false, fault.New(fault.Invalid, op, "until must be after now")
	}
	var taken bool
	err := s.do(ctx, op, func() error {
		n, err := exec(ctx, s.w, s.db.Rebind(`INSERT INTO leases (name, holder, until_at, due_at) VALUES (?, ?, ?, 0)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until_at = excluded.until_at
			WHERE (leases.holder = '' OR leases.until_at <= ?) AND (? = 0 OR leases.due_at <= ?)`),
			name, holder, msInt(until), msInt(now), boolInt(scheduled), msInt(now))
		taken = n == 1
		return err
	})
	return taken, err
}

// RenewLease moves the end of holder's hold, in one statement that finds
// the row only while holder holds it. Errors: Invalid; Unavailable.
func (s *Store) RenewLease(ctx context.Context, name, holder string, until, now time.Time) (bool, error) {
	const op = "sqlstore.RenewLease"
	if name == "" || holder == "" {
		return false, fault.New(fault.Invalid, op, "a lease needs a name and a holder")
	}
	if !until.After(now) {
		return false, fault.New(fault.Invalid, op, "until must be after now")
	}
	var held bool
	err := s.do(ctx, op, func() error {
		n, err := exec(ctx, s.w, s.db.Rebind(`UPDATE leases SET until_at = ? WHERE name = ? AND holder = ? AND until_at > ?`),
			msInt(until), name, holder, msInt(now))
		held = n == 1
		return err
	})
	return held, err
}

// ReleaseLease empties the holder of lease name when holder holds it, and
// sets when the next run is due. Errors: Invalid; Unavailable.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string, due time.Time) (bool, error) {
	const op = "sqlstore.ReleaseLease"
	if name == "" || holder == "" {
		return false, fault.New(fault.Invalid, op, "a lease needs a name and a holder")
	}
	var released bool
	err := s.do(ctx, op, func() error {
		n, err := exec(ctx, s.w, s.db.Rebind(`UPDATE leases SET holder = '', due_at = ? WHERE name = ? AND holder = ?`),
			msInt(due), name, holder)
		released = n == 1
		return err
	})
	return released, err
}

// LeaseByName returns lease name. Errors: NotFound; Unavailable.
func (s *Store) LeaseByName(ctx context.Context, name string) (store.Lease, error) {
	var r struct {
		Name   string `db:"name"`
		Holder string `db:"holder"`
		Until  int64  `db:"until_at"`
		Due    int64  `db:"due_at"`
	}
	err := s.do(ctx, "sqlstore.LeaseByName", func() error {
		return s.db.GetContext(ctx, &r, s.db.Rebind(`SELECT name, holder, until_at, due_at FROM leases WHERE name = ?`), name)
	})
	if err != nil {
		return store.Lease{}, err
	}
	l := store.Lease{Name: r.Name, Holder: r.Holder, Until: fromMSInt(r.Until)}
	if r.Due != 0 {
		l.Due = fromMSInt(r.Due)
	}
	return l, nil
}

// EraseLetterSecrets empties the hashes of letters that expired before
// expiredBefore. Errors: Unavailable.
func (s *Store) EraseLetterSecrets(ctx context.Context, expiredBefore time.Time) (int64, error) {
	var n int64
	err := s.do(ctx, "sqlstore.EraseLetterSecrets", func() (err error) {
		n, err = exec(ctx, s.w, s.db.Rebind(`UPDATE letters SET password_hash = '', code_hash = ''
			WHERE expires_at < ? AND (password_hash <> '' OR code_hash <> '')`),
			msInt(expiredBefore))
		return err
	})
	return n, err
}

// DeleteAbandonedEnrollments deletes enrollment sessions that expired
// before expiredBefore, were never completed and have no device binding.
// Errors: Unavailable.
func (s *Store) DeleteAbandonedEnrollments(ctx context.Context, expiredBefore time.Time) (int64, error) {
	var n int64
	err := s.do(ctx, "sqlstore.DeleteAbandonedEnrollments", func() (err error) {
		n, err = exec(ctx, s.w, s.db.Rebind(`DELETE FROM enrollments
			WHERE expires_at < ? AND completed_at IS NULL
			  AND NOT EXISTS (SELECT 1 FROM device_bindings b WHERE b.enrollment_id = enrollments.id)`),
			msInt(expiredBefore))
		return err
	})
	return n, err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
