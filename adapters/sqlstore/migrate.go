package sqlstore

import (
	"context"
	"embed"
	"errors"
	"hash/fnv"
	"io/fs"
	"path"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrations are the versioned schema changes, one set for both engines,
// embedded so that the binary migrates from any directory.
//
//go:embed migrations/*.sql
var migrations embed.FS

// MigrationStatus is where the schema stands relative to this binary.
type MigrationStatus struct {
	// Current is the highest version applied to the database (0: none).
	Current int64
	// Latest is the highest version this binary knows.
	Latest int64
	// Pending are the versions this binary would apply, ascending.
	Pending []int64
	// Migrations lists every migration this binary knows, oldest first.
	Migrations []Migration
}

// Migration is one versioned schema change.
type Migration struct {
	Version int64
	// Name is the migration's file name, e.g. "00001_initial.sql".
	Name string
	// AppliedAt is when it was applied (UTC); zero while it is pending.
	AppliedAt time.Time
}

// UpToDate reports whether nothing is pending.
func (m MigrationStatus) UpToDate() bool { return len(m.Pending) == 0 }

// Migrate applies the pending migrations and returns their versions
// (none when the schema is current, so it is safe to call at every start).
// On PostgreSQL concurrent Migrate calls of several replicas take turns on
// an advisory lock per database and schema.
// Errors: Unavailable when the database does not answer; Internal when a
// migration fails (the schema stays at the last good version).
func (s *Store) Migrate(ctx context.Context) (applied []int64, err error) {
	const op = "sqlstore.Migrate"
	p, err := s.provider(ctx, true)
	if err != nil {
		return nil, translate(ctx, op, err)
	}
	for attempt := 1; ; attempt++ {
		res, err := p.Up(ctx)
		// A failed run returns what it applied before the failure only in
		// its PartialError: those are applied all the same.
		var partial *goose.PartialError
		if errors.As(err, &partial) {
			res = append(res, partial.Applied...)
		}
		for _, r := range res {
			if r.Error == nil {
				applied = append(applied, r.Source.Version)
			}
		}
		// SQLite has no advisory lock: two processes may both find a
		// migration pending, and the second then fails inside its own
		// transaction, which rolls back. Each migration is atomic (SQLite
		// DDL is transactional), so running Up again either finds nothing
		// left to do or reports the real error.
		if err == nil || s.driver != DriverSQLite || attempt >= maxAttempts || ctx.Err() != nil {
			if err != nil {
				return applied, translate(ctx, op, err)
			}
			return applied, nil
		}
	}
}

// MigrationStatus reports the current and pending versions without changing
// anything, so that a server started with auto-migration off can refuse to
// run on an outdated schema. Errors: Unavailable.
func (s *Store) MigrationStatus(ctx context.Context) (MigrationStatus, error) {
	const op = "sqlstore.MigrationStatus"
	var st MigrationStatus
	p, err := s.provider(ctx, false)
	if err != nil {
		return st, translate(ctx, op, err)
	}
	list, err := p.Status(ctx)
	if err != nil {
		return st, translate(ctx, op, err)
	}
	for _, m := range list {
		v := m.Source.Version
		st.Latest = max(st.Latest, v)
		mig := Migration{Version: v, Name: path.Base(m.Source.Path)}
		if m.State == goose.StateApplied && !m.AppliedAt.IsZero() {
			mig.AppliedAt = m.AppliedAt.UTC()
		}
		st.Migrations = append(st.Migrations, mig)
		switch m.State {
		case goose.StateApplied:
			st.Current = max(st.Current, v)
		case goose.StatePending:
			st.Pending = append(st.Pending, v)
		}
	}
	// A database migrated by a newer binary is ahead of Latest.
	cur, err := p.GetDBVersion(ctx)
	if err != nil {
		return st, translate(ctx, op, err)
	}
	st.Current = max(st.Current, cur)
	return st, nil
}

// provider builds a goose provider over the embedded migrations. With
// locking, PostgreSQL migrations hold a session advisory lock.
func (s *Store) provider(ctx context.Context, locking bool) (*goose.Provider, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	opts := []goose.ProviderOption{
		goose.WithDisableGlobalRegistry(true),
		goose.WithLogger(goose.NopLogger()),
	}
	dialect := goose.DialectSQLite3
	if s.driver == DriverPostgres {
		dialect = goose.DialectPostgres
		if locking {
			id, err := s.lockID(ctx)
			if err != nil {
				return nil, err
			}
			// Poll every second for up to five minutes: a replica that
			// starts while another migrates waits instead of failing.
			locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(id), lock.WithLockTimeout(1, 300))
			if err != nil {
				return nil, err
			}
			opts = append(opts, goose.WithSessionLocker(locker))
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return goose.NewProvider(dialect, s.w.DB.DB, fsys, opts...)
}

// lockID derives the advisory lock from the database and schema, so that
// replicas sharing a schema exclude each other while separate schemas (one
// per test, one per tenant) migrate independently.
func (s *Store) lockID(ctx context.Context) (int64, error) {
	var name string
	if err := s.db.GetContext(ctx, &name, `SELECT current_database() || '.' || current_schema()`); err != nil {
		return 0, err
	}
	h := fnv.New64a()
	h.Write([]byte("pforte-migrate:" + name))
	return int64(h.Sum64()), nil
}
