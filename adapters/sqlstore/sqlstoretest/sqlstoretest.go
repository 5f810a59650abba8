package sqlstoretest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx" for the schema set-up

	"github.com/pforte-id/pforte/adapters/sqlstore"
)

// Environment variables of the PostgreSQL tests.
const (
	EnvDSN     = "PFORTE_TEST_POSTGRES_DSN"
	EnvRequire = "PFORTE_TEST_REQUIRE_POSTGRES"
)

// Hint is the command that runs the PostgreSQL tests against a local server.
const Hint = EnvDSN + "='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' go test ./..."

// SQLite returns the configuration of a new SQLite database in t's
// temporary directory.
func SQLite(t testing.TB) sqlstore.Config {
	return sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: sqlstore.SQLiteDSN(filepath.Join(t.TempDir(), "pforte.db"))}
}

// PostgresDSN returns the DSN of the test server. Without one, t is
// skipped (and the skip announced once per go test run), or fails when
// PFORTE_TEST_REQUIRE_POSTGRES=1.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatal(EnvRequire + "=1 but " + EnvDSN + " is not set")
		}
		announceSkip()
		t.Skip(EnvDSN + " is not set; run the PostgreSQL tests with: " + Hint)
	}
	return dsn
}

// Postgres creates a schema of its own for t on the test server (dropped
// when t ends) and returns a configuration whose connections use it, with
// at most maxOpen connections (0: the adapter's default).
func Postgres(t testing.TB, maxOpen int) sqlstore.Config {
	t.Helper()
	dsn := PostgresDSN(t)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "pforte_test_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("open admin connection: %v", err)
	}
	if _, err := admin.ExecContext(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return sqlstore.Config{Driver: sqlstore.DriverPostgres, DSN: WithSearchPath(t, dsn, schema), MaxOpenConns: maxOpen}
}

// WithSearchPath adds search_path to a URL or keyword/value DSN; pgx sends
// unknown parameters as session settings.
func WithSearchPath(t testing.TB, dsn, schema string) string {
	t.Helper()
	if !strings.Contains(dsn, "://") {
		return dsn + " search_path=" + schema
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("%s: %v", EnvDSN, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// announceSkip tells the person at the terminal, once per go test run,
// that the PostgreSQL tests were skipped. go test shows nothing of a
// passing package's output, so the line goes to the controlling terminal;
// the test binaries of one run share their parent (the go command), and a
// marker file named after it lets only the first one speak. Without a
// terminal (CI) there is nobody to tell, and CI requires PostgreSQL.
var announceSkip = sync.OnceFunc(func() {
	marker := filepath.Join(os.TempDir(), fmt.Sprintf("pforte-postgres-skipped-%d", os.Getppid()))
	if fi, err := os.Stat(marker); err == nil && time.Since(fi.ModTime()) > time.Hour {
		_ = os.Remove(marker) // left by an earlier run whose go command had this pid
	}
	f, err := os.OpenFile(marker, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return // another package of this run has spoken
	}
	f.Close()
	tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0)
	if err != nil {
		return
	}
	defer tty.Close()
	fmt.Fprintf(tty, "pforte: the PostgreSQL tests are skipped (%s is not set); run them with: %s\n", EnvDSN, Hint)
})
