package sqlstore_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/adapters/sqlstore/sqlstoretest"
	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/ports/store"
	"github.com/pforte-id/pforte/ports/store/storetest"
)

// engine opens fresh stores of one database engine.
type engine struct {
	name string
	// open returns a store on a fresh, empty database (not migrated),
	// closed in t.Cleanup.
	open func(t testing.TB) *sqlstore.Store
}

func engines() []engine {
	return []engine{
		{name: "SQLite", open: openSQLite},
		{name: "PostgreSQL", open: openPostgres},
	}
}

func openSQLite(t testing.TB) *sqlstore.Store {
	t.Helper()
	return mustOpen(t, sqliteConfig(t))
}

func sqliteConfig(t testing.TB) sqlstore.Config { return sqlstoretest.SQLite(t) }

func postgresDSN(t testing.TB) string { return sqlstoretest.PostgresDSN(t) }

func postgresConfig(t testing.TB) sqlstore.Config { return sqlstoretest.Postgres(t, 10) }

func openPostgres(t testing.TB) *sqlstore.Store {
	t.Helper()
	return mustOpen(t, postgresConfig(t))
}

func mustOpen(t testing.TB, cfg sqlstore.Config) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func migrated(t testing.TB, s *sqlstore.Store) *sqlstore.Store {
	t.Helper()
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

var sampleTime = time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)

func sampleAccount() account.Account {
	return account.Account{ID: "acct", KVNR: kvnr.MustParse("A123456780"), Status: account.Active}
}

func kindOf(err error) string {
	if err == nil {
		return "none"
	}
	return fault.KindOf(err).String()
}

func TestConformanceSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return migrated(t, openSQLite(t)) })
}

func TestConformancePostgres(t *testing.T) {
	postgresDSN(t) // fail or skip once, not in every sub-test
	storetest.Run(t, func(t *testing.T) store.Store { return migrated(t, openPostgres(t)) })
}

func TestMigrations(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			ctx := t.Context()
			s := e.open(t)
			st, err := s.MigrationStatus(ctx)
			if err != nil {
				t.Fatalf("MigrationStatus before: %v", err)
			}
			if st.UpToDate() || st.Current != 0 || len(st.Pending) == 0 || st.Latest != st.Pending[len(st.Pending)-1] {
				t.Fatalf("status of an empty database: %+v", st)
			}
			pending := st.Pending
			for _, m := range st.Migrations {
				if !m.AppliedAt.IsZero() {
					t.Errorf("migration %d applied before Migrate", m.Version)
				}
			}

			applied, err := s.Migrate(ctx)
			if err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			if !slices.Equal(applied, pending) {
				t.Errorf("Migrate applied %v, status said %v were pending", applied, pending)
			}
			again, err := s.Migrate(ctx)
			if err != nil {
				t.Fatalf("Migrate again: %v", err)
			}
			if len(again) != 0 {
				t.Errorf("second Migrate applied %v", again)
			}
			st, err = s.MigrationStatus(ctx)
			if err != nil {
				t.Fatalf("MigrationStatus after: %v", err)
			}
			if !st.UpToDate() || st.Current != st.Latest {
				t.Errorf("status after Migrate: %+v", st)
			}
			if len(st.Migrations) == 0 || st.Migrations[0].Name != "00001_initial.sql" {
				t.Errorf("migrations listed: %+v", st.Migrations)
			}
			for _, m := range st.Migrations {
				if m.AppliedAt.IsZero() || m.AppliedAt.Location() != time.UTC {
					t.Errorf("migration %d: AppliedAt %v, want a UTC time", m.Version, m.AppliedAt)
				}
			}
			if err := s.Ping(ctx); err != nil {
				t.Errorf("Ping: %v", err)
			}
		})
	}
}

// Replicas starting at once all migrate; the schema is applied once.
func TestConcurrentMigrate(t *testing.T) {
	for _, e := range []struct {
		name string
		cfg  func(t testing.TB) sqlstore.Config
	}{{"SQLite", sqliteConfig}, {"PostgreSQL", postgresConfig}} {
		t.Run(e.name, func(t *testing.T) {
			cfg := e.cfg(t)
			const replicas = 3
			stores := make([]*sqlstore.Store, replicas)
			for i := range stores {
				stores[i] = mustOpen(t, cfg)
			}
			applied := make([][]int64, replicas)
			errs := make([]error, replicas)
			var wg sync.WaitGroup
			for i, s := range stores {
				wg.Go(func() { applied[i], errs[i] = s.Migrate(t.Context()) })
			}
			wg.Wait()
			total := 0
			for i := range stores {
				if errs[i] != nil {
					t.Errorf("replica %d: Migrate: %v", i, errs[i])
				}
				total += len(applied[i])
			}
			st, err := stores[0].MigrationStatus(t.Context())
			if err != nil {
				t.Fatalf("MigrationStatus: %v", err)
			}
			// Versions need not be consecutive (numbers are assigned to
			// changes before they land), so count the migrations.
			if !st.UpToDate() || total != len(st.Migrations) {
				t.Errorf("after concurrent Migrate: status %+v, %d migrations applied in all", st, total)
			}
		})
	}
}

// A closed store answers Unavailable, never NotFound: to a caller a stopped
// database is an outage.
func TestClosedStoreIsUnavailable(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			ctx := t.Context()
			s := migrated(t, e.open(t))
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			checks := map[string]error{
				"Ping":          s.Ping(ctx),
				"CreateAccount": s.CreateAccount(ctx, sampleAccount()),
				"RevokeFamily":  s.RevokeFamily(ctx, "nope", sampleTime),
				"UseOnce":       s.UseOnce(ctx, "x", "y", sampleTime, sampleTime),
			}
			_, checks["AccountByID"] = s.AccountByID(ctx, "nope")
			_, checks["RedeemCode"] = s.RedeemCode(ctx, "nope", sampleTime)
			_, checks["Migrate"] = s.Migrate(ctx)
			_, checks["MigrationStatus"] = s.MigrationStatus(ctx)
			for name, err := range checks {
				if !errors.Is(err, fault.Unavailable) {
					t.Errorf("%s on a closed store: %v (kind %v), want Unavailable", name, err, kindOf(err))
				}
			}
			if err := s.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
		})
	}
}

// A database that cannot be reached makes Open fail with Unavailable.
func TestUnreachableDatabase(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "missing", "dir")
		_, err := sqlstore.Open(t.Context(), sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: sqlstore.SQLiteDSN(filepath.Join(dir, "x.db"))})
		if !errors.Is(err, fault.Unavailable) {
			t.Errorf("Open in a missing directory: %v (kind %v), want Unavailable", err, kindOf(err))
		}
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		postgresDSN(t)
		// Port 1 on loopback: nothing listens, the connection is refused.
		_, err := sqlstore.Open(t.Context(), sqlstore.Config{Driver: sqlstore.DriverPostgres,
			DSN: "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2"})
		if !errors.Is(err, fault.Unavailable) {
			t.Errorf("Open of an unreachable server: %v (kind %v), want Unavailable", err, kindOf(err))
		}
	})
}

func TestConfig(t *testing.T) {
	valid := []sqlstore.Config{
		{Driver: "sqlite", DSN: "pforte.db"},
		{Driver: "postgres", DSN: "postgres://localhost/pforte", MaxOpenConns: 10, MaxIdleConns: 5},
	}
	for _, c := range valid {
		if err := c.Validate(); err != nil {
			t.Errorf("Validate(%+v): %v", c, err)
		}
	}
	invalid := map[string]sqlstore.Config{
		"no driver":      {DSN: "x"},
		"unknown driver": {Driver: "mysql", DSN: "x"},
		"no dsn":         {Driver: "sqlite"},
		"negative open":  {Driver: "sqlite", DSN: "x", MaxOpenConns: -1},
		"negative idle":  {Driver: "sqlite", DSN: "x", MaxIdleConns: -1},
		"idle over open": {Driver: "sqlite", DSN: "x", MaxOpenConns: 2, MaxIdleConns: 3},
		"lifetime":       {Driver: "sqlite", DSN: "x", ConnMaxLifetime: -1},
		"bad pg dsn":     {Driver: "postgres", DSN: "postgres://u:secret@host/db?sslmode=bogus"},
	}
	for name, c := range invalid {
		err := c.Validate()
		var fe *fault.Error
		if !errors.Is(err, fault.Invalid) || !errors.As(err, &fe) || !strings.HasPrefix(fe.Op, "sqlstore.Config.") {
			t.Errorf("%s: Validate = %v, want Invalid naming the field", name, err)
		}
		if strings.Contains(fault.PublicOf(err), "secret") || strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: the password shows in %q", name, err)
		}
	}
	d := sqlstore.Config{Driver: "sqlite", DSN: "x"}.WithDefaults()
	if d.MaxOpenConns <= 0 || d.MaxIdleConns != d.MaxOpenConns {
		t.Errorf("sqlite defaults: %+v", d)
	}
	d = sqlstore.Config{Driver: "postgres", DSN: "x"}.WithDefaults()
	if d.MaxOpenConns <= 0 || d.ConnMaxLifetime <= 0 {
		t.Errorf("postgres defaults: %+v", d)
	}
	if _, err := sqlstore.Open(t.Context(), sqlstore.Config{Driver: "oracle", DSN: "x"}); !errors.Is(err, fault.Invalid) {
		t.Errorf("Open with a bad config: %v", err)
	}
}

func TestSQLiteDSN(t *testing.T) {
	dsn := sqlstore.SQLiteDSN("/var/lib/pforte/pforte.db")
	for _, want := range []string{
		"/var/lib/pforte/pforte.db?",
		"_pragma=journal_mode(WAL)",
		"_pragma=busy_timeout(5000)",
		"_pragma=foreign_keys(1)",
		"_pragma=synchronous(NORMAL)",
		"_txlock=immediate",
	} {
		if !strings.Contains(dsn, want) {
			t.Errorf("SQLiteDSN = %q, lacks %q", dsn, want)
		}
	}
	// A bare path in Config.DSN gets the same pragmas.
	s := mustOpen(t, sqlstore.Config{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "bare.db")})
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate on a bare path: %v", err)
	}
}

// DeleteExpired removes rate limit windows that are over and letter
// requests nobody decided within the retention, and keeps letters, also
// expired ones: they are the record of what was sent.
func TestDeleteExpiredRegistration(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			ctx := t.Context()
			s := migrated(t, e.open(t))
			now := sampleTime
			k := kvnr.MustParse("A123456780")
			l := letter.Letter{ID: "letter-old", KVNR: k, State: letter.Requested,
				CreatedAt: now.AddDate(0, -6, 0), ExpiresAt: now.AddDate(0, -4, 0)}
			if err := s.CreateLetter(ctx, l, l.CreatedAt, l.CreatedAt); err != nil {
				t.Fatal(err)
			}
			for _, r := range []letter.Request{
				{ID: "reg-stale", KVNR: k, BirthDate: "1970-01-31", RequestedAt: now.Add(-30 * 24 * time.Hour)},
				{ID: "reg-fresh", KVNR: k, BirthDate: "1970-01-31", RequestedAt: now.Add(-time.Hour)},
			} {
				if err := s.EnqueueRegistration(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			for _, at := range []time.Time{now.Add(-2 * time.Hour), now} {
				if _, _, err := s.Hit(ctx, "ip:a", 1, time.Hour, at); err != nil {
					t.Fatal(err)
				}
			}

			n, err := s.DeleteExpired(ctx, now)
			if err != nil {
				t.Fatal(err)
			}
			if n != 2 {
				t.Errorf("DeleteExpired = %d, want 2 (the stale request and the old window)", n)
			}
			if _, err := s.LetterByID(ctx, l.ID); err != nil {
				t.Errorf("the expired letter is gone: %v", err)
			}
			regs, err := s.ClaimRegistrations(ctx, 10, now, now.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if len(regs) != 1 || regs[0].ID != "reg-fresh" {
				t.Errorf("queue after DeleteExpired: %+v, want reg-fresh only", regs)
			}
			if ok, _, err := s.Hit(ctx, "ip:a", 1, time.Hour, now); err != nil || ok {
				t.Errorf("the running window was forgotten: allowed %v, %v", ok, err)
			}
			if n, err := s.DeleteExpired(ctx, now); err != nil || n != 0 {
				t.Errorf("second DeleteExpired = %d, %v", n, err)
			}
		})
	}
}

// The SQLite database holds members' data: its file and the WAL and shared
// memory files beside it are the owner's only, whatever the umask allows.
func TestSQLiteFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "pforte.db")
	s := mustOpen(t, sqlstore.Config{Driver: "sqlite", DSN: sqlstore.SQLiteDSN(path)})
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("after a write under WAL: %v", err)
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s: mode %o, want 600", filepath.Base(p), mode)
		}
	}
}
