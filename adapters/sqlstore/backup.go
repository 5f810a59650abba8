package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/pforte-id/pforte/core/fault"
)

// Backup writes a consistent copy of a SQLite database to the file path,
// while the database keeps serving. It runs SQLite's VACUUM INTO on a
// connection of the read pool: under WAL that is one read transaction, so
// writers (of this process and of others on the same file) go on while
// it runs, and the copy holds exactly the transactions committed before
// it began. The copy is a complete database file of its own, without a
// write-ahead log, compacted, with mode 0600.
//
// It is written to a temporary file beside path, synced and then linked
// to path, so path is either absent or the whole backup, and an existing
// file is never overwritten. Errors: Invalid on PostgreSQL (back it up
// with pg_dump) and when path exists or its directory does not;
// Unavailable when the database does not answer or the file cannot be
// written (the temporary file is removed).
func (s *Store) Backup(ctx context.Context, path string) error {
	const op = "sqlstore.Backup"
	if s.driver != DriverSQLite {
		return fault.New(fault.Invalid, op, "a PostgreSQL database is backed up with pg_dump, not by Pforte")
	}
	if s.closed.Load() {
		return fault.Wrap(fault.Unavailable, op, errClosed)
	}
	if _, err := os.Lstat(path); err == nil {
		return fault.New(fault.Invalid, op, path+" exists already; name a new file")
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fault.Wrap(fault.Unavailable, op, err)
	}
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fault.New(fault.Invalid, op, "the directory "+dir+" does not exist")
	}
	// CreateTemp makes the file 0600; VACUUM INTO accepts an empty file
	// and keeps its mode.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fault.Wrap(fault.Unavailable, op, err)
	}
	tmpName := tmp.Name()
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmpName)
		return fault.Wrap(fault.Unavailable, op, err)
	}
	done := false
	defer func() {
		if !done {
			_ = os.Remove(tmpName)
		}
	}()
	if err := s.vacuumInto(ctx, tmpName); err != nil {
		return translate(ctx, op, err)
	}
	if err := syncFile(tmpName); err != nil {
		return fault.Wrap(fault.Unavailable, op, err)
	}
	// A hard link fails when path exists, where a rename would replace
	// a file created meanwhile.
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fault.New(fault.Invalid, op, path+" exists already; name a new file")
		}
		return fault.Wrap(fault.Unavailable, op, err)
	}
	done = true
	_ = os.Remove(tmpName)
	if err := syncFile(dir); err != nil {
		return fault.Wrap(fault.Unavailable, op, fmt.Errorf("sync %s: %w", dir, err))
	}
	return nil
}

// vacuumInto runs VACUUM INTO name on a connection of the read pool. The
// pool's connections refuse writes (query_only), which SQLite applies to
// VACUUM INTO too although it writes only the new file: the connection
// lifts it for the one statement and sets it again before it goes back to
// the pool, or is discarded when that fails.
func (s *Store) vacuumInto(ctx context.Context, name string) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA query_only(0)`); err != nil {
		return err
	}
	_, err = conn.ExecContext(ctx, `VACUUM INTO ?`, name)
	// Not ctx: the connection must become read-only again even when the
	// backup was cancelled.
	if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA query_only(1)`); rerr != nil {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	return err
}

// syncFile flushes a file or directory to stable storage.
func syncFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Clock returns the database's current time in UTC, read with one query.
// On PostgreSQL it is the server's clock (clock_timestamp, not the
// transaction's start), which every replica's rate windows, code
// lifetimes and key rotations are compared against; on SQLite it is this
// host's clock. Errors: Unavailable.
func (s *Store) Clock(ctx context.Context) (time.Time, error) {
	const op = "sqlstore.Clock"
	if s.closed.Load() {
		return time.Time{}, fault.Wrap(fault.Unavailable, op, errClosed)
	}
	if s.driver == DriverPostgres {
		var t time.Time
		if err := s.db.GetContext(ctx, &t, `SELECT clock_timestamp()`); err != nil {
			return time.Time{}, fault.Wrap(fault.Unavailable, op, err)
		}
		return t.UTC(), nil
	}
	var text string
	if err := s.db.GetContext(ctx, &text, `SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`); err != nil {
		return time.Time{}, fault.Wrap(fault.Unavailable, op, err)
	}
	t, err := time.Parse("2006-01-02T15:04:05.999Z", text)
	if err != nil {
		return time.Time{}, fault.Wrap(fault.Internal, op, err)
	}
	return t, nil
}

// IntegrityCheck runs SQLite's integrity check over the whole database
// (every page, index and constraint), for a backup before it is trusted.
// Errors: Invalid on PostgreSQL, which checks its pages itself;
// Internal naming the first problem SQLite reports; Unavailable.
func (s *Store) IntegrityCheck(ctx context.Context) error {
	const op = "sqlstore.IntegrityCheck"
	if s.driver != DriverSQLite {
		return fault.New(fault.Invalid, op, "only SQLite databases are checked by Pforte")
	}
	if s.closed.Load() {
		return fault.Wrap(fault.Unavailable, op, errClosed)
	}
	var problems []string
	if err := s.db.SelectContext(ctx, &problems, `PRAGMA integrity_check`); err != nil {
		return translate(ctx, op, err)
	}
	if len(problems) == 1 && problems[0] == "ok" {
		return nil
	}
	if len(problems) == 0 {
		return fault.New(fault.Internal, op, "the integrity check returned nothing")
	}
	return fault.New(fault.Internal, op, fmt.Sprintf("the database is damaged: %s (%d problems)", problems[0], len(problems)))
}
