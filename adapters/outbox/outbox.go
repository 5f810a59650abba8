package outbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/ports/letterprint"
)

var _ letterprint.Outbox = (*Outbox)(nil)

// StaleAfter is the age from which New removes temporary files: leftovers
// of a Put that crashed. It is far longer than any Put takes, so a
// temporary file another process is writing right now is never removed.
const StaleAfter = time.Hour

// MaxNameLength bounds file names (most file systems allow 255 bytes; the
// temporary name adds a prefix and a suffix).
const MaxNameLength = 200

// tempSuffix ends every temporary name; with the leading dot it keeps the
// print service, which collects *.pdf, away from unfinished files.
const tempSuffix = ".tmp"

// Config configures an Outbox.
type Config struct {
	// Dir is the directory the print service collects from. New creates it
	// (0700) when it is missing.
	Dir string
}

// Validate checks c. Errors: Invalid whose Op names the field.
func (c Config) Validate() error {
	if strings.TrimSpace(c.Dir) == "" {
		return fault.New(fault.Invalid, "outbox.Config.Dir", "must be set")
	}
	if strings.ContainsRune(c.Dir, 0) {
		return fault.New(fault.Invalid, "outbox.Config.Dir", "must be a path")
	}
	return nil
}

// Outbox is a directory of letters. It is safe for concurrent use, also by
// several processes sharing the directory: Puts of one name race only for
// which complete file stays.
type Outbox struct {
	dir string
	now func() time.Time
	// create opens a new temporary file; tests replace it to fail a Put
	// half-way.
	create func(dir, pattern string) (file, error)
}

// file is what Put needs of an *os.File.
type file interface {
	io.Writer
	Sync() error
	Close() error
	Name() string
}

func createTemp(dir, pattern string) (file, error) { return os.CreateTemp(dir, pattern) }

// New opens the outbox in c.Dir, creating the directory when it is missing,
// and removes stale temporary files (see Clean). Errors: Invalid for a bad
// configuration or a Dir that is not a directory; Unavailable when the
// directory cannot be created or read.
func New(c Config) (*Outbox, error) {
	const op = "outbox.New"
	if err := c.Validate(); err != nil {
		return nil, err
	}
	dir := filepath.Clean(c.Dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fault.Wrap(fault.Unavailable, op, err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, op, err)
	}
	if !st.IsDir() {
		return nil, fault.New(fault.Invalid, op, "outbox.dir is not a directory")
	}
	o := &Outbox{dir: dir, now: time.Now, create: createTemp}
	if _, err := o.Clean(StaleAfter); err != nil {
		return nil, err
	}
	return o, nil
}

// Dir returns the outbox directory.
func (o *Outbox) Dir() string { return o.dir }

// ValidName checks a file name for the outbox: only [A-Za-z0-9._-], ending
// in ".pdf", not starting with a dot (hidden names are temporary files),
// no "..", at most MaxNameLength bytes. Path separators are therefore
// refused, so a name can never leave the directory. Errors: Invalid.
func ValidName(name string) error {
	bad := func(why string) error {
		return fault.New(fault.Invalid, "outbox.ValidName", "outbox file name "+why)
	}
	switch {
	case len(name) > MaxNameLength:
		return bad(fmt.Sprintf("is longer than %d bytes", MaxNameLength))
	case !strings.HasSuffix(name, ".pdf") || len(name) == len(".pdf"):
		return bad("must end in .pdf")
	case strings.HasPrefix(name, "."):
		return bad("must not start with a dot")
	case strings.Contains(name, ".."):
		return bad("must not contain ..")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return bad("may contain only A-Z, a-z, 0-9, '.', '_' and '-'")
		}
	}
	return nil
}

// Put stores file under name atomically: until the rename the bytes exist
// only under a temporary name, and the directory entry is flushed after
// the rename, so a crash leaves either the old state or the whole new
// file. An existing file of that name is replaced. On any failure the
// temporary file is removed. Errors: Invalid for a bad name; Unavailable
// when writing fails or ctx ends before the file is in place.
func (o *Outbox) Put(ctx context.Context, name string, data []byte) (err error) {
	const op = "outbox.Put"
	if err := ValidName(name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fault.Wrap(fault.Unavailable, op, err)
	}
	f, err := o.create(o.dir, "."+name+".*"+tempSuffix)
	if err != nil {
		return fault.Wrap(fault.Unavailable, op, err)
	}
	tmp := f.Name()
	closed := false
	defer func() {
		if err != nil {
			if !closed {
				_ = f.Close()
			}
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fault.Wrap(fault.Unavailable, op, err)
	}
	// The data must be on disk before the rename makes it visible:
	// otherwise a crash can leave the final name pointing at an empty or
	// partial file.
	if err = f.Sync(); err != nil {
		return fault.Wrap(fault.Unavailable, op, err)
	}
	closed = true
	if err = f.Close(); err != nil {
		return fault.Wrap(fault.Unavailable, op, err)
	}
	if err = ctx.Err(); err != nil {
		return fault.Wrap(fault.Unavailable, op, err)
	}
	if err = os.Rename(tmp, filepath.Join(o.dir, name)); err != nil {
		return fault.Wrap(fault.Unavailable, op, err)
	}
	// The file is in place; a failure to flush the directory is reported
	// (the caller retries, and a retry replaces the file with the same
	// bytes), but the file stays.
	if derr := syncDir(o.dir); derr != nil {
		return fault.Wrap(fault.Unavailable, op, derr)
	}
	return nil
}

// syncDir flushes a directory's entries, so that a rename survives a crash.
// File systems that cannot sync a directory (EINVAL) are accepted.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, errors.ErrUnsupported) {
		return nil
	}
	return err
}

// Exists reports whether a regular file called name is in the outbox, i.e.
// handed over and not yet collected. Errors: Invalid for a bad name;
// Unavailable when the directory cannot be read.
func (o *Outbox) Exists(ctx context.Context, name string) (bool, error) {
	const op = "outbox.Exists"
	if err := ValidName(name); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, fault.Wrap(fault.Unavailable, op, err)
	}
	st, err := os.Lstat(filepath.Join(o.dir, name))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fault.Wrap(fault.Unavailable, op, err)
	}
	return st.Mode().IsRegular(), nil
}

// Clean removes temporary files (hidden, ending in .tmp) last modified
// more than olderThan ago: what a Put left behind when its process died.
// Younger ones may belong to a Put in progress, in this process or another
// one, and stay. It returns how many files it removed. Errors:
// Unavailable.
func (o *Outbox) Clean(olderThan time.Duration) (int, error) {
	const op = "outbox.Clean"
	entries, err := os.ReadDir(o.dir)
	if err != nil {
		return 0, fault.Wrap(fault.Unavailable, op, err)
	}
	cutoff := o.now().Add(-olderThan)
	n := 0
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasPrefix(name, ".") || !strings.HasSuffix(name, tempSuffix) {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // renamed or removed meanwhile
		}
		if err != nil {
			return n, fault.Wrap(fault.Unavailable, op, err)
		}
		if !info.ModTime().Before(cutoff) {
			continue
		}
		if err := os.Remove(filepath.Join(o.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return n, fault.Wrap(fault.Unavailable, op, err)
		}
		n++
	}
	return n, nil
}

// Probe checks, without creating the directory, that c.Dir exists and
// that a letter could be handed over there now: it writes, syncs and
// removes a temporary file, named as Put names its temporary files, so
// the print service never collects it and Clean removes it should the
// process die in between. Errors: Invalid for a bad configuration or a
// Dir that is not a directory; NotFound when Dir does not exist (New
// creates it); Unavailable when the file cannot be written (permissions,
// a read-only or full file system).
func Probe(c Config) error {
	const op = "outbox.Probe"
	if err := c.Validate(); err != nil {
		return err
	}
	dir := filepath.Clean(c.Dir)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fault.Wrap(fault.NotFound, op, err).WithPublic(dir + " does not exist")
	case err != nil:
		return fault.Wrap(fault.Unavailable, op, err)
	case !st.IsDir():
		return fault.New(fault.Invalid, op, dir+" is not a directory")
	}
	f, err := createTemp(dir, ".probe.*"+tempSuffix)
	if err != nil {
		return fault.Wrap(fault.Unavailable, op, err)
	}
	_, werr := f.Write([]byte("probe\n"))
	if werr == nil {
		werr = f.Sync()
	}
	cerr := f.Close()
	rerr := os.Remove(f.Name())
	if err := errors.Join(werr, cerr, rerr); err != nil {
		return fault.Wrap(fault.Unavailable, op, err)
	}
	return nil
}
