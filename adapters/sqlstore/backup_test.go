package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/fault"
)

// accountN is the n-th account of the backup test: each one is written
// in a transaction of its own, in order.
func accountN(n int) account.Account {
	return account.Account{
		ID: fmt.Sprintf("acct-%06d", n), KVNR: coretest.KVNR(fmt.Sprintf("Z%08d", n)), Status: account.Active,
		CreatedAt: sampleTime,
	}
}

// A backup taken while a writer keeps committing is a consistent
// database: it opens on its own (no write-ahead log beside it), passes
// SQLite's integrity check, and holds a prefix of the writer's
// transactions without a gap, each of them complete.
func TestBackupWhileWriting(t *testing.T) {
	ctx := t.Context()
	cfg := sqliteConfig(t)
	s := migrated(t, mustOpen(t, cfg))
	const before = 50
	for i := range before {
		if err := s.CreateAccount(ctx, accountN(i)); err != nil {
			t.Fatal(err)
		}
	}

	// A second process's worth of writes: another store on the same file.
	writer := mustOpen(t, cfg)
	wctx, stop := context.WithCancel(ctx)
	var written atomic.Int64
	written.Store(before)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := before; wctx.Err() == nil; n++ {
			if err := writer.CreateAccount(wctx, accountN(n)); err != nil {
				if wctx.Err() == nil {
					t.Errorf("write %d: %v", n, err)
				}
				return
			}
			written.Store(int64(n + 1))
		}
	}()
	// Let the writer commit some transactions before and during the backup.
	for written.Load() < before+20 {
		time.Sleep(time.Millisecond)
	}
	path := filepath.Join(t.TempDir(), "backup.db")
	err := s.Backup(ctx, path)
	for written.Load() < before+40 {
		time.Sleep(time.Millisecond) // still writing after the backup
	}
	stop()
	wg.Wait()
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %04o, want 0600", fi.Mode().Perm())
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		t.Error("the backup left a write-ahead log beside it")
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*.tmp")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}

	// The backup on its own, as a restored database is opened.
	restored := mustOpen(t, sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: sqlstore.SQLiteDSN(path)})
	if st, err := restored.MigrationStatus(ctx); err != nil || !st.UpToDate() {
		t.Fatalf("restored schema: %+v, %v", st, err)
	}
	if err := restored.IntegrityCheck(ctx); err != nil {
		t.Fatalf("integrity check of the backup: %v", err)
	}
	n := 0
	for ; ; n++ {
		a, err := restored.AccountByKVNR(ctx, accountN(n).KVNR)
		if errors.Is(err, fault.NotFound) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if a.ID != accountN(n).ID {
			t.Fatalf("account %d: %+v", n, a)
		}
	}
	total := int(written.Load())
	if n < before+20 || n > total {
		t.Fatalf("the backup holds accounts 0..%d; %d were written before it began, %d in all", n-1, before+20, total)
	}
	// No gap: nothing after the first missing account.
	for i := n; i < total; i++ {
		if _, err := restored.AccountByKVNR(ctx, accountN(i).KVNR); !errors.Is(err, fault.NotFound) {
			t.Fatalf("account %d is in the backup although %d is not: %v", i, n, err)
		}
	}
	// The backup is a database Pforte writes to, not a read-only image.
	if err := restored.CreateAccount(ctx, accountN(total)); err != nil {
		t.Fatalf("write to the restored database: %v", err)
	}
}

func TestBackupRefusals(t *testing.T) {
	ctx := t.Context()
	s := migrated(t, openSQLite(t))
	dir := t.TempDir()

	existing := filepath.Join(dir, "existing.db")
	if err := os.WriteFile(existing, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Backup(ctx, existing); !errors.Is(err, fault.Invalid) {
		t.Errorf("backup onto an existing file: %v, want Invalid", err)
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Errorf("the existing file was changed: %q", b)
	}
	if err := s.Backup(ctx, filepath.Join(dir, "missing", "b.db")); !errors.Is(err, fault.Invalid) {
		t.Errorf("backup into a missing directory: %v, want Invalid", err)
	}

	closed := migrated(t, openSQLite(t))
	closed.Close()
	if err := closed.Backup(ctx, filepath.Join(dir, "closed.db")); !errors.Is(err, fault.Unavailable) {
		t.Errorf("backup of a closed store: %v, want Unavailable", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "closed.db")); err == nil {
		t.Error("a failed backup left its file")
	}

	pg := openPostgres(t)
	err := pg.Backup(ctx, filepath.Join(dir, "pg.db"))
	if !errors.Is(err, fault.Invalid) || fault.PublicOf(err) == "" {
		t.Errorf("backup of PostgreSQL: %v, want Invalid pointing to pg_dump", err)
	}
}

// Clock reads the database's time; on this machine both engines share
// the test's clock, so it is close to the local time.
func TestClock(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			s := e.open(t)
			before := time.Now()
			got, err := s.Clock(t.Context())
			after := time.Now()
			if err != nil {
				t.Fatal(err)
			}
			if got.Location() != time.UTC {
				t.Errorf("Clock is in %v, want UTC", got.Location())
			}
			// Truncation to milliseconds (SQLite) and a few seconds of
			// leeway for a database server on another clock source.
			if got.Before(before.Add(-5*time.Second)) || got.After(after.Add(5*time.Second)) {
				t.Errorf("Clock %v, local time %v … %v", got, before, after)
			}
			s.Close()
			if _, err := s.Clock(t.Context()); !errors.Is(err, fault.Unavailable) {
				t.Errorf("Clock of a closed store: %v, want Unavailable", err)
			}
		})
	}
}
