package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pforte-id/pforte/core/kvnr"
)

const syncHeader = "kvnr;given_name;family_name;birth_date;street;postal_code;locality;insured_from\n"

// syncKVNR is the member number of the i-th member of the sync tests.
func syncKVNR(t *testing.T, i int) string {
	k, err := kvnr.WithCheckDigit(fmt.Sprintf("S%08d", i))
	if err != nil {
		t.Fatal(err)
	}
	return string(k)
}

// syncFile writes a member file with members from … to-1 (and extra
// lines) and returns its path.
func syncFile(t *testing.T, from, to int, extra ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(syncHeader)
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "%s;Vor%d;Nach;1980-01-01;Weg 1;28195;Bremen;2020-01-01\n", syncKVNR(t, i), i)
	}
	for _, l := range extra {
		b.WriteString(l + "\n")
	}
	p := filepath.Join(t.TempDir(), "members.csv")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// ended reports whether `members show` says member i left the file.
func ended(t *testing.T, dir string, i int) bool {
	t.Helper()
	r := pforte(t, dir, "members", "show", syncKVNR(t, i))
	wantCode(t, r, exitOK, "members show")
	return strings.Contains(r.stdout, "Not in the file since")
}

func TestMembersSync(t *testing.T) {
	dir := t.TempDir()
	full := syncFile(t, 0, 40)
	r := pforte(t, dir, "members", "sync", full)
	wantCode(t, r, exitOK, "members sync (first)")
	if !strings.Contains(r.stdout, "0 members were present") {
		t.Fatalf("first sync: %s", r.stdout)
	}

	// A file that drops every member but one is refused; nothing changes.
	r = pforte(t, dir, "members", "sync", syncFile(t, 0, 1))
	wantCode(t, r, exitError, "members sync (truncated)")
	if !strings.Contains(r.stderr, "would end 39 of 40 memberships, more than the allowed 5 %") || !strings.Contains(r.stderr, "Nothing was changed") {
		t.Fatalf("truncated file: %s", r.stderr)
	}
	if ended(t, dir, 39) {
		t.Fatal("a refused sync marked a member")
	}
	// So is a file with a header only, and one with rejected rows.
	r = pforte(t, dir, "members", "sync", syncFile(t, 0, 0))
	wantCode(t, r, exitError, "members sync (empty)")
	if !strings.Contains(r.stderr, "contains no members") {
		t.Fatalf("empty file: %s", r.stderr)
	}
	r = pforte(t, dir, "members", "sync", syncFile(t, 0, 40, "A123456781;Bad;Checkdigit;1985-03-14;Weg 1;28195;Bremen;2019-01-01"))
	wantCode(t, r, exitError, "members sync (rejected row)")
	if !strings.Contains(r.stderr, "1 rows rejected") {
		t.Fatalf("rejected row: %s", r.stderr)
	}

	// Two of forty (5 %) may go.
	r = pforte(t, dir, "members", "sync", syncFile(t, 0, 38))
	wantCode(t, r, exitOK, "members sync (two gone)")
	if !strings.Contains(r.stdout, "40 members were present: 38 in the file, 2 no longer in it") {
		t.Fatalf("sync: %s", r.stdout)
	}
	if !ended(t, dir, 38) || !ended(t, dir, 39) || ended(t, dir, 37) {
		t.Fatal("the wrong members were marked")
	}
	// The same file again changes nothing.
	r = pforte(t, dir, "members", "sync", syncFile(t, 0, 38))
	wantCode(t, r, exitOK, "members sync (again)")
	if !strings.Contains(r.stdout, "38 members were present: 38 in the file, 0 no longer in it and marked ended today, 0 back") {
		t.Fatalf("second sync: %s", r.stdout)
	}

	// A member imported again resumes.
	r = pforte(t, dir, "members", "import", syncFile(t, 39, 40))
	wantCode(t, r, exitOK, "members import")
	if ended(t, dir, 39) {
		t.Fatal("member 39 imported again is still marked")
	}

	// Forcing needs a reason; with one, the limit does not apply.
	r = pforte(t, dir, "members", "sync", "--force", syncFile(t, 0, 10))
	wantCode(t, r, exitUsage, "members sync --force")
	r = pforte(t, dir, "members", "sync", "--force", "--reason", "Bestand übertragen", syncFile(t, 0, 10))
	wantCode(t, r, exitOK, "members sync --force --reason")
	if !ended(t, dir, 20) {
		t.Fatal("a forced sync did not mark the members")
	}
}
