package outbox

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/fault"
)

func open(t *testing.T) *Outbox {
	t.Helper()
	o, err := New(Config{Dir: filepath.Join(t.TempDir(), "outbox")})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// names lists the directory, temporary files included.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestNewCreatesPrivateDirectory(t *testing.T) {
	o := open(t)
	st, err := os.Stat(o.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if !st.IsDir() || st.Mode().Perm() != 0o700 {
		t.Fatalf("outbox dir mode %v, want drwx------", st.Mode())
	}
	for _, c := range []Config{{}, {Dir: "  "}, {Dir: "a\x00b"}} {
		if _, err := New(c); !errors.Is(err, fault.Invalid) {
			t.Errorf("New(%q) = %v, want Invalid", c.Dir, err)
		}
	}
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Dir: notDir}); err == nil {
		t.Fatal("New on a regular file succeeded")
	}
}

func TestPutExistsAndPermissions(t *testing.T) {
	o := open(t)
	ctx := context.Background()
	if ok, err := o.Exists(ctx, "L-1.pdf"); err != nil || ok {
		t.Fatalf("Exists before Put = %v, %v", ok, err)
	}
	if err := o.Put(ctx, "L-1.pdf", []byte("%PDF-1 first")); err != nil {
		t.Fatal(err)
	}
	if err := o.Put(ctx, "L-1.pdf", []byte("%PDF-1 second")); err != nil {
		t.Fatal(err)
	}
	if ok, err := o.Exists(ctx, "L-1.pdf"); err != nil || !ok {
		t.Fatalf("Exists after Put = %v, %v", ok, err)
	}
	path := filepath.Join(o.Dir(), "L-1.pdf")
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "%PDF-1 second" {
		t.Fatalf("file = %q, %v; want the second Put", got, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v, want -rw-------", st.Mode())
	}
	if n := names(t, o.Dir()); len(n) != 1 {
		t.Fatalf("directory holds %v, want only the letter", n)
	}
	// A directory of that name is not a letter.
	if err := os.Mkdir(filepath.Join(o.Dir(), "dir.pdf"), 0o700); err != nil {
		t.Fatal(err)
	}
	if ok, err := o.Exists(ctx, "dir.pdf"); err != nil || ok {
		t.Fatalf("Exists(dir.pdf) = %v, %v", ok, err)
	}
}

func TestBadNamesRefused(t *testing.T) {
	o := open(t)
	ctx := context.Background()
	for _, name := range []string{
		"", ".pdf", "letter", "letter.txt", "letter.PDF", "../x.pdf", "a/b.pdf", `a\b.pdf`, "..pdf",
		"a..b.pdf", ".hidden.pdf", "x.pdf/", "umläut.pdf", "sp ace.pdf", "tab\t.pdf", "nul\x00.pdf",
		strings.Repeat("a", MaxNameLength) + ".pdf",
	} {
		if err := o.Put(ctx, name, []byte("x")); !errors.Is(err, fault.Invalid) {
			t.Errorf("Put(%q) = %v, want Invalid", name, err)
		}
		if _, err := o.Exists(ctx, name); !errors.Is(err, fault.Invalid) {
			t.Errorf("Exists(%q) = %v, want Invalid", name, err)
		}
	}
	for _, name := range []string{"a.pdf", "L_2026-11-29.0001.pdf", "ABC-def_123.pdf"} {
		if err := ValidName(name); err != nil {
			t.Errorf("ValidName(%q) = %v", name, err)
		}
	}
	if n := names(t, o.Dir()); len(n) != 0 {
		t.Fatalf("refused names left %v", n)
	}
}

func TestConcurrentPuts(t *testing.T) {
	o := open(t)
	const n = 24
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			errs <- o.Put(context.Background(), fmt.Sprintf("letter-%02d.pdf", i), bytes.Repeat([]byte{byte(i)}, 1000+i))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := names(t, o.Dir())
	if len(got) != n {
		t.Fatalf("directory holds %d files, want %d: %v", len(got), n, got)
	}
	for i := range n {
		b, err := os.ReadFile(filepath.Join(o.Dir(), fmt.Sprintf("letter-%02d.pdf", i)))
		if err != nil || !bytes.Equal(b, bytes.Repeat([]byte{byte(i)}, 1000+i)) {
			t.Fatalf("letter %d wrong: %d bytes, %v", i, len(b), err)
		}
	}
}

// failingFile writes part of the data and then fails, or fails to sync.
type failingFile struct {
	*os.File
	failWrite, failSync bool
}

func (f *failingFile) Write(p []byte) (int, error) {
	if f.failWrite {
		n, _ := f.File.Write(p[:len(p)/2])
		return n, errors.New("disk full")
	}
	return f.File.Write(p)
}

func (f *failingFile) Sync() error {
	if f.failSync {
		return errors.New("I/O error")
	}
	return f.File.Sync()
}

func TestFailedPutLeavesNothing(t *testing.T) {
	for _, tc := range []struct {
		name                string
		failWrite, failSync bool
		cancelledBefore     bool
	}{
		{name: "write fails half-way", failWrite: true},
		{name: "sync fails", failSync: true},
		{name: "context cancelled", cancelledBefore: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := open(t)
			var temp string
			o.create = func(dir, pattern string) (file, error) {
				f, err := os.CreateTemp(dir, pattern)
				if err != nil {
					return nil, err
				}
				temp = filepath.Base(f.Name())
				return &failingFile{File: f, failWrite: tc.failWrite, failSync: tc.failSync}, nil
			}
			ctx, cancel := context.WithCancel(context.Background())
			if tc.cancelledBefore {
				cancel()
			}
			defer cancel()
			err := o.Put(ctx, "letter.pdf", bytes.Repeat([]byte("x"), 100_000))
			if !errors.Is(err, fault.Unavailable) {
				t.Fatalf("Put = %v, want Unavailable", err)
			}
			if n := names(t, o.Dir()); len(n) != 0 {
				t.Fatalf("failed Put left %v", n)
			}
			// The print service collects *.pdf and skips hidden files.
			if temp != "" && (!strings.HasPrefix(temp, ".letter.pdf.") || !strings.HasSuffix(temp, ".tmp")) {
				t.Fatalf("temporary name %q", temp)
			}
		})
	}

	t.Run("rename fails", func(t *testing.T) {
		o := open(t)
		// A non-empty directory under the final name cannot be replaced.
		blocker := filepath.Join(o.Dir(), "letter.pdf")
		if err := os.MkdirAll(filepath.Join(blocker, "x"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := o.Put(context.Background(), "letter.pdf", []byte("%PDF")); !errors.Is(err, fault.Unavailable) {
			t.Fatalf("Put = %v, want Unavailable", err)
		}
		if n := names(t, o.Dir()); len(n) != 1 || n[0] != "letter.pdf" {
			t.Fatalf("failed Put left %v", n)
		}
	})

	t.Run("read-only directory", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root writes to read-only directories; covered by the failing writer above")
		}
		o := open(t)
		if err := os.Chmod(o.Dir(), 0o500); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(o.Dir(), 0o700)
		if err := o.Put(context.Background(), "letter.pdf", []byte("%PDF")); !errors.Is(err, fault.Unavailable) {
			t.Fatalf("Put = %v, want Unavailable", err)
		}
		if n := names(t, o.Dir()); len(n) != 0 {
			t.Fatalf("failed Put left %v", n)
		}
	})
}

func TestCleanRemovesOnlyStaleTemporaryFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * StaleAfter)
	for name, age := range map[string]time.Time{
		".a.pdf.123.tmp": old,        // stale temporary file: removed
		".b.pdf.456.tmp": time.Now(), // a Put in progress: kept
		"c.pdf":          old,        // a letter not yet collected: kept
		".keep":          old,        // not ours: kept
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, age, age); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := New(Config{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(names(t, dir), " ")
	if got != ".b.pdf.456.tmp .keep c.pdf" {
		t.Fatalf("after New the directory holds %q", got)
	}
}

// payload is self-checking: its first 8 bytes are its length and every
// further byte is derived from the length, so a reader can tell a complete
// file from a truncated or mixed one.
func payload(n int) []byte {
	b := make([]byte, n)
	binary.BigEndian.PutUint64(b, uint64(n))
	for i := 8; i < n; i++ {
		b[i] = byte(n + i)
	}
	return b
}

func complete(b []byte) bool {
	if len(b) < 8 {
		return false
	}
	n := int(binary.BigEndian.Uint64(b))
	return n == len(b) && bytes.Equal(b, payload(n))
}

func TestReaderNeverSeesPartialFile(t *testing.T) {
	o := open(t)
	done := make(chan struct{})
	var reads int
	var readerErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		check := func() bool {
			entries, err := os.ReadDir(o.Dir())
			if err != nil {
				readerErr = err
				return false
			}
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), ".") {
					continue // temporary files are not for the print service
				}
				b, err := os.ReadFile(filepath.Join(o.Dir(), e.Name()))
				if errors.Is(err, os.ErrNotExist) {
					continue
				}
				if err != nil {
					readerErr = err
					return false
				}
				reads++
				if !complete(b) {
					readerErr = fmt.Errorf("%s: partial file of %d bytes", e.Name(), len(b))
					return false
				}
			}
			return true
		}
		for {
			select {
			case <-done:
				check()
				return
			default:
				if !check() {
					return
				}
			}
		}
	})
	ctx := context.Background()
	for i := range 300 {
		name := fmt.Sprintf("letter-%d.pdf", i%4)
		if err := o.Put(ctx, name, payload(8+(i*7919)%60_000)); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	if readerErr != nil {
		t.Fatal(readerErr)
	}
	if reads == 0 {
		t.Fatal("the reader never read a letter")
	}
}

// Probe writes and removes a file, creates nothing else, and names what
// is wrong: a missing directory, a file in its place, one it cannot
// write to.
func TestProbe(t *testing.T) {
	o := open(t)
	if err := Probe(Config{Dir: o.Dir()}); err != nil {
		t.Fatalf("Probe of a writable outbox: %v", err)
	}
	if got := names(t, o.Dir()); len(got) != 0 {
		t.Errorf("Probe left %v", got)
	}

	missing := filepath.Join(t.TempDir(), "missing")
	if err := Probe(Config{Dir: missing}); !errors.Is(err, fault.NotFound) {
		t.Errorf("Probe of a missing directory: %v, want NotFound", err)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("Probe created the directory")
	}

	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Probe(Config{Dir: file}); !errors.Is(err, fault.Invalid) {
		t.Errorf("Probe of a file: %v, want Invalid", err)
	}
	if err := Probe(Config{}); !errors.Is(err, fault.Invalid) {
		t.Errorf("Probe without a directory: %v, want Invalid", err)
	}

	// A directory no process may create files in, the superuser (who
	// ignores file modes) included: procfs.
	if fi, err := os.Stat("/proc/self"); err != nil || !fi.IsDir() {
		t.Skip("no /proc on this system")
	}
	if err := Probe(Config{Dir: "/proc/self"}); !errors.Is(err, fault.Unavailable) {
		t.Errorf("Probe of a directory that takes no files: %v, want Unavailable", err)
	}
}
