package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pforte-id/pforte/core/fault"
)

// The pragmas of SQLiteDSN are in force on every pooled connection.
func TestSQLitePragmas(t *testing.T) {
	s, err := Open(t.Context(), Config{Driver: DriverSQLite, DSN: SQLiteDSN(filepath.Join(t.TempDir(), "p.db"))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for pool, db := range map[string]*pool{"readers": s.db, "writer": s.w} {
		for pragma, want := range map[string]string{
			"journal_mode": "wal",
			"busy_timeout": "5000",
			"foreign_keys": "1",
			"synchronous":  "1", // NORMAL
			"query_only":   map[string]string{"readers": "1", "writer": "0"}[pool],
		} {
			var got string
			if err := db.GetContext(t.Context(), &got, "PRAGMA "+pragma); err != nil {
				t.Fatalf("%s: PRAGMA %s: %v", pool, pragma, err)
			}
			if got != want {
				t.Errorf("%s: PRAGMA %s = %q, want %q", pool, pragma, got, want)
			}
		}
	}
	if n := s.w.Stats().MaxOpenConnections; n != 1 {
		t.Errorf("the SQLite writer pool has %d connections, want 1", n)
	}
	if _, err := s.db.ExecContext(t.Context(), `CREATE TABLE t (x INTEGER)`); err == nil {
		t.Error("the read pool accepted a write")
	}
}

func TestTranslate(t *testing.T) {
	ctx := context.Background()
	done, cancel := context.WithCancel(ctx)
	cancel()
	cases := []struct {
		name string
		ctx  context.Context
		err  error
		want fault.Kind
	}{
		{"no rows", ctx, sql.ErrNoRows, fault.NotFound},
		{"wrapped no rows", ctx, fmt.Errorf("get: %w", sql.ErrNoRows), fault.NotFound},
		{"no rows on a cancelled request", done, sql.ErrNoRows, fault.Unavailable},
		{"cancelled", ctx, context.Canceled, fault.Unavailable},
		{"deadline", ctx, fmt.Errorf("query: %w", context.DeadlineExceeded), fault.Unavailable},
		{"pg unique", ctx, &pgconn.PgError{Code: "23505"}, fault.Conflict},
		{"pg serialization", ctx, &pgconn.PgError{Code: "40001"}, fault.Unavailable},
		{"pg deadlock", ctx, &pgconn.PgError{Code: "40P01"}, fault.Unavailable},
		{"pg admin shutdown", ctx, &pgconn.PgError{Code: "57P01"}, fault.Unavailable},
		{"pg connection failure", ctx, &pgconn.PgError{Code: "08006"}, fault.Unavailable},
		{"pg too many connections", ctx, &pgconn.PgError{Code: "53300"}, fault.Unavailable},
		{"pg not null", ctx, &pgconn.PgError{Code: "23502"}, fault.Internal},
		{"pg foreign key", ctx, &pgconn.PgError{Code: "23503"}, fault.Internal},
		{"pg syntax", ctx, &pgconn.PgError{Code: "42601"}, fault.Internal},
		{"conn done", ctx, sql.ErrConnDone, fault.Unavailable},
		{"closed", ctx, errClosed, fault.Unavailable},
		{"fault passes through", ctx, fault.New(fault.Forbidden, "x", ""), fault.Forbidden},
		{"other", ctx, errors.New("boom"), fault.Internal},
	}
	for _, c := range cases {
		err := translate(c.ctx, "op", c.err)
		if got := fault.KindOf(err); got != c.want {
			t.Errorf("%s: kind %v, want %v", c.name, got, c.want)
		}
		if !errors.Is(err, c.err) && c.err != nil {
			t.Errorf("%s: the cause is lost", c.name)
		}
		if fault.PublicOf(err) != "" && c.name != "fault passes through" {
			t.Errorf("%s: public text %q shows more than the kind", c.name, fault.PublicOf(err))
		}
	}
}

// SQLite's constraint codes map as PostgreSQL's do: unique is Conflict,
// NOT NULL and foreign key violations are bugs.
func TestTranslateSQLiteConstraints(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, Config{Driver: DriverSQLite, DSN: SQLiteDSN(filepath.Join(t.TempDir(), "c.db"))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	run := func(q string) error {
		_, err := s.w.ExecContext(ctx, q)
		return translate(ctx, "op", err)
	}
	if err := run(`INSERT INTO replay_values (scope, value, expires_at) VALUES ('s', 'v', 1)`); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		q    string
		want fault.Kind
		ok   bool
	}{
		{`INSERT INTO replay_values (scope, value, expires_at) VALUES ('s', 'v', 1)`, fault.Conflict, false},
		{`INSERT INTO replay_values (scope, value, expires_at) VALUES ('s', 'w', NULL)`, fault.Internal, false},
		{`INSERT INTO refresh_tokens (hash, family_id, expires_at) VALUES ('h', 'no-such-family', 1)`, fault.Internal, false},
		{`INSERT INTO accounts (id, kvnr, password_hash, status, proofing) VALUES ('a', 'k', '', 'active', 'low')`, 0, true},
		{`INSERT INTO accounts (id, kvnr, password_hash, status, proofing) VALUES ('b', 'k', '', 'active', 'low')`, fault.Conflict, false},
		{`SELEC nonsense`, fault.Internal, false},
	}
	for _, c := range checks {
		err := run(c.q)
		switch {
		case c.ok && err != nil:
			t.Errorf("%s: %v", c.q, err)
		case !c.ok && fault.KindOf(err) != c.want:
			t.Errorf("%s: %v, want kind %v", c.q, err, c.want)
		}
	}
}

// On SQLite single statements run prepared, each compiled once per pool,
// and the cache is bounded; statements beyond the bound still run.
func TestPreparedStatements(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, Config{Driver: DriverSQLite, DSN: SQLiteDSN(filepath.Join(t.TempDir(), "s.db"))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := s.UseOnce(ctx, "scope", fmt.Sprint("v", i), time.Now().Add(time.Hour), time.Now()); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := s.db.GetContext(ctx, &n, `SELECT COUNT(*) FROM replay_values`); err != nil || n != i+1 {
			t.Fatalf("count %d, %v", n, err)
		}
	}
	if len(s.w.stmts) != 1 || len(s.db.stmts) != 1 {
		t.Errorf("prepared: writer %d, readers %d; want one each", len(s.w.stmts), len(s.db.stmts))
	}
	for i := range maxPrepared + 10 {
		var n int
		if err := s.db.GetContext(ctx, &n, fmt.Sprintf(`SELECT %d`, i)); err != nil || n != i {
			t.Fatalf("SELECT %d: %d, %v", i, n, err)
		}
	}
	if len(s.db.stmts) > maxPrepared {
		t.Errorf("%d prepared statements, bound %d", len(s.db.stmts), maxPrepared)
	}
	// A statement that does not compile is an error, and is not cached.
	if err := s.db.GetContext(ctx, new(int), `SELEKT 1`); err == nil {
		t.Error("a malformed statement ran")
	}
}

// A backup lifts query_only on the read connection it borrows and sets it
// again: afterwards the read pool still refuses writes, also when the
// backup failed or was cancelled.
func TestBackupKeepsReadPoolReadOnly(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(t.Context(), Config{Driver: DriverSQLite, DSN: SQLiteDSN(filepath.Join(dir, "p.db")), MaxOpenConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Backup(t.Context(), filepath.Join(dir, "b.db")); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Backup(cancelled, filepath.Join(dir, "c.db")); err == nil {
		t.Error("a cancelled backup succeeded")
	}
	// One connection in the read pool: the one the backups used.
	if _, err := s.db.ExecContext(t.Context(), `CREATE TABLE t (x INTEGER)`); err == nil {
		t.Error("the read pool accepted a write after a backup")
	}
}
