package sqlstoretest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/pforte-id/pforte/adapters/sqlstore"
)

// Open returns a store on a new, migrated SQLite database in t.TempDir,
// closed when the test ends. Each call has a database of its own.
//
// The database starts as a copy of one migrated once per test binary:
// running the migrations for each of hundreds of tests would cost more
// than the tests.
func Open(t testing.TB) *sqlstore.Store {
	t.Helper()
	image, err := migratedImage()
	if err != nil {
		t.Fatalf("sqlstoretest: %v", err)
	}
	path := filepath.Join(t.TempDir(), "pforte.db")
	if err := os.WriteFile(path, image, 0o600); err != nil {
		t.Fatalf("sqlstoretest: %v", err)
	}
	s, err := openSQLite(t.Context(), path)
	if err != nil {
		t.Fatalf("sqlstoretest: open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	// Up to date already; Migrate checks that the copy is.
	if applied, err := s.Migrate(t.Context()); err != nil || len(applied) != 0 {
		t.Fatalf("sqlstoretest: migrate: %v (applied %v)", err, applied)
	}
	return s
}

// migratedImage returns the bytes of a freshly migrated database file.
var migratedImage = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "pforte-sqlstoretest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "pforte.db")
	ctx := context.Background()
	s, err := openSQLite(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	if _, err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	// Closing the last connection checkpoints the write-ahead log into
	// the file and removes it, so the file alone is the database.
	if err := s.Close(); err != nil {
		return nil, fmt.Errorf("close: %w", err)
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		return nil, errors.New("the write-ahead log outlived Close")
	}
	return os.ReadFile(path)
})

func openSQLite(ctx context.Context, path string) (*sqlstore.Store, error) {
	return sqlstore.Open(ctx, sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: sqlstore.SQLiteDSN(path)})
}
