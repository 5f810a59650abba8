package sqlstore

import (
	"context"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers driver "pgx"
	"github.com/jmoiron/sqlx"
	"go.opentelemetry.io/otel/trace"
	_ "modernc.org/sqlite" // registers driver "sqlite"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/ports/store"
)

var _ store.Store = (*Store)(nil)

// Store is the SQL implementation of store.Store. It is safe for concurrent
// use by many goroutines and, on PostgreSQL, by many replicas.
type Store struct {
	db *pool
	// w runs every write. On SQLite it is a pool of one connection: the
	// database has one writer at a time anyway, and waiting for the pool
	// queues writers in order, where SQLite's busy handler makes them poll
	// with sleeps of up to 100 ms (the tail latency under load). Readers
	// use db and run beside the writer (WAL). On PostgreSQL w is db.
	w      *pool
	driver string // DriverSQLite or DriverPostgres
	closed atomic.Bool
	// tracer starts the span of each call (nil: tracing is off).
	tracer trace.Tracer
}

var bindOnce sync.Once

// Open connects to the database described by cfg and checks that it
// answers. It does not migrate: call Migrate, or MigrationStatus to refuse
// to start on an outdated schema.
// Errors: Invalid for a bad cfg; Unavailable when the database does not answer.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	const op = "sqlstore.Open"
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	bindOnce.Do(func() {
		// sqlx knows "sqlite3" (mattn) but not modernc's driver name.
		sqlx.BindDriver(DriverSQLite, sqlx.QUESTION)
	})
	driverName := DriverSQLite
	if cfg.Driver == DriverPostgres {
		driverName = "pgx"
	}
	dsn := cfg.dsn()
	if cfg.Driver == DriverSQLite {
		if err := createPrivate(cfg.DSN); err != nil {
			return nil, fault.Wrap(fault.Unavailable, op, err)
		}
		// The read pool refuses writes, so that a write put on it by
		// mistake fails every test instead of bypassing the writer.
		dsn = withPragma(dsn, "query_only(1)")
	}
	db, err := sqlx.Open(driverName, dsn)
	if err != nil {
		// Validate has parsed the DSN already; only an unregistered driver
		// fails here.
		return nil, fault.Wrap(fault.Internal, op, err)
	}
	db.SetMaxOpenConns(cfg.MaxOpenConns)
	db.SetMaxIdleConns(cfg.MaxIdleConns)
	db.SetConnMaxLifetime(cfg.ConnMaxLifetime)
	sqlite := cfg.Driver == DriverSQLite
	s := &Store{db: newPool(db, sqlite), driver: cfg.Driver}
	if cfg.Tracer != nil {
		s.tracer = cfg.Tracer.Tracer(tracerScope)
	}
	s.w = s.db
	if sqlite {
		w, err := sqlx.Open(driverName, cfg.dsn())
		if err != nil {
			db.Close()
			return nil, fault.Wrap(fault.Internal, op, err)
		}
		w.SetMaxOpenConns(1)
		w.SetMaxIdleConns(1)
		s.w = newPool(w, true)
	}
	if err := s.Ping(ctx); err != nil {
		s.closeDBs()
		return nil, err
	}
	return s, nil
}

// createPrivate creates the SQLite database file of dsn with mode 0600 when
// it does not exist yet: it holds members' data and encrypted keys, and
// SQLite would create it with 0644 (less the umask). SQLite gives the -wal
// and -shm files the mode of the database file, so they are 0600 too. An
// in-memory database has no file; an existing file keeps its mode.
func createPrivate(dsn string) error {
	path, query, _ := strings.Cut(dsn, "?")
	path = strings.TrimPrefix(path, "file:")
	if path == "" || strings.HasPrefix(path, ":memory:") || strings.Contains(query, "mode=memory") {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// withPragma adds a _pragma parameter to a SQLite DSN.
func withPragma(dsn, pragma string) string {
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "_pragma=" + pragma
}

func (s *Store) closeDBs() error {
	err := s.db.Close()
	if s.w != s.db {
		if werr := s.w.Close(); err == nil {
			err = werr
		}
	}
	return err
}

// Close releases the connections. Later calls fail with Unavailable.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.closeDBs()
}

// Driver returns "sqlite" or "postgres".
func (s *Store) Driver() string { return s.driver }

// Ping checks the database answers. Errors: Unavailable.
func (s *Store) Ping(ctx context.Context) error {
	const op = "sqlstore.Ping"
	if s.closed.Load() {
		return fault.Wrap(fault.Unavailable, op, errClosed)
	}
	if err := s.db.PingContext(ctx); err != nil {
		return fault.Wrap(fault.Unavailable, op, err)
	}
	if s.w != s.db {
		if err := s.w.PingContext(ctx); err != nil {
			return fault.Wrap(fault.Unavailable, op, err)
		}
	}
	return nil
}

// maxAttempts bounds the retries of an operation that lost against a
// concurrent transaction (SQLITE_BUSY after the busy timeout, PostgreSQL
// serialization failure or deadlock).
const maxAttempts = 3

// do runs f, retrying transient conflicts, and translates its error.
// f must be safe to repeat: it either applied completely or not at all.
// Every call of the store's ports comes through here (inTx too), which
// makes it the one place a call's span is recorded (trace.go).
func (s *Store) do(ctx context.Context, op string, f func() error) (err error) {
	if s.tracer != nil && trace.SpanContextFromContext(ctx).IsValid() {
		span := s.startSpan(ctx, op)
		defer func() { endSpan(span, err) }()
	}
	if s.closed.Load() {
		return fault.Wrap(fault.Unavailable, op, errClosed)
	}
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil {
			return nil
		}
		if attempt >= maxAttempts || !retryable(err) || ctx.Err() != nil {
			return translate(ctx, op, err)
		}
		// A short, jittered pause, so that the losers do not collide again.
		pause := time.Duration(attempt)*5*time.Millisecond + rand.N(5*time.Millisecond)
		select {
		case <-ctx.Done():
			return translate(ctx, op, ctx.Err())
		case <-time.After(pause):
		}
	}
}

// inTx runs f in a write transaction (BEGIN IMMEDIATE on SQLite, READ
// COMMITTED on PostgreSQL), committing when f returns nil and rolling back
// otherwise, with the retries of do.
func (s *Store) inTx(ctx context.Context, op string, f func(tx *sqlx.Tx) error) error {
	return s.do(ctx, op, func() error {
		tx, err := s.w.BeginTxx(ctx, nil)
		if err != nil {
			return err
		}
		if err := f(tx); err != nil {
			_ = tx.Rollback()
			return err
		}
		return tx.Commit()
	})
}

// exec runs one statement and returns the number of affected rows.
func exec(ctx context.Context, e sqlx.ExecerContext, query string, args ...any) (int64, error) {
	res, err := e.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
