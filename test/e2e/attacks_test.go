package e2e

import (
	"cmp"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pforte-id/pforte/adapters/sqlstore"
)

// Pforte's attack catalogue: every case is an attack performed over HTTP
// against a real server, the check that it is refused (status and error
// code) and the check that it changed nothing it must not (a fingerprint
// of every table before and after). The catalogue is listed, case by case
// with its source, in test/security/README.md; TestAttackCatalogueListed
// keeps that table and the cases here the same.

// attack is one case of the catalogue.
type attack struct {
	// id names the case in the table and the test: a group and a number,
	// "OAUTH-03".
	id string
	// name says what the attacker tries, in a few words.
	name string
	// source is where the attack is described: an RFC's section, FAPI 2.0's
	// attacker model, OpenID Connect Core, or "Pforte" for the member flows.
	source string
	// alone runs the case without other cases beside it (a case that
	// measures time).
	alone bool
	run   func(t *testing.T)
}

// groups orders the catalogue: the id's prefix is the group.
var groups = []string{"OAUTH", "OIDC", "DPOP", "FAPI", "CLIENT", "SESSION", "PIN", "PW", "ENUM", "LETTER", "EID", "DEVICE", "TRANSFER", "APPROVAL", "IDOR", "OPS"}

// attacks is the catalogue; each file of attacks adds its cases in init.
var attacks []attack

func addAttacks(as ...attack) { attacks = append(attacks, as...) }

// catalogue is the catalogue in the table's order: by group, then id.
func catalogue(t *testing.T) []attack {
	t.Helper()
	out := slices.Clone(attacks)
	group := func(a attack) int {
		prefix, _, _ := strings.Cut(a.id, "-")
		return slices.Index(groups, prefix)
	}
	seen := map[string]bool{}
	for _, a := range out {
		if group(a) < 0 || a.name == "" || a.source == "" || a.run == nil {
			t.Fatalf("attack %q: a known group, a name, a source and a test are required", a.id)
		}
		if seen[a.id] {
			t.Fatalf("attack %s is in the catalogue twice", a.id)
		}
		seen[a.id] = true
	}
	slices.SortFunc(out, func(a, b attack) int {
		return cmp.Or(cmp.Compare(group(a), group(b)), cmp.Compare(a.id, b.id))
	})
	return out
}

// TestAttacks runs the catalogue, each case as the subtest named by its id.
func TestAttacks(t *testing.T) {
	for _, a := range catalogue(t) {
		t.Run(a.id, func(t *testing.T) {
			if !a.alone {
				t.Parallel()
			}
			a.run(t)
		})
	}
}

// catalogueFile is the table of the catalogue, between its two markers.
const (
	catalogueFile  = "../security/README.md"
	catalogueBegin = "<!-- catalogue:begin (written by PFORTE_WRITE_CATALOGUE=1 go test ./test/e2e -run TestAttackCatalogueListed) -->"
	catalogueEnd   = "<!-- catalogue:end -->"
)

// TestAttackCatalogueListed checks that the README's table lists exactly
// the cases of the catalogue, and that there are at least 80. With
// PFORTE_WRITE_CATALOGUE=1 it writes the table instead.
func TestAttackCatalogueListed(t *testing.T) {
	cases := catalogue(t)
	if len(cases) < 80 {
		t.Errorf("the catalogue has %d attacks, at least 80 are wanted", len(cases))
	}
	var b strings.Builder
	b.WriteString("| Case | Attack | Source | Test |\n|---|---|---|---|\n")
	for _, a := range cases {
		fmt.Fprintf(&b, "| %s | %s | %s | `TestAttacks/%s` |\n", a.id, a.name, a.source, a.id)
	}
	table := b.String()
	raw, err := os.ReadFile(catalogueFile)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	before, rest, ok1 := strings.Cut(doc, catalogueBegin+"\n")
	_, after, ok2 := strings.Cut(rest, catalogueEnd)
	if !ok1 || !ok2 {
		t.Fatalf("%s lacks the catalogue markers %q and %q", catalogueFile, catalogueBegin, catalogueEnd)
	}
	want := before + catalogueBegin + "\n" + table + catalogueEnd + after
	if os.Getenv("PFORTE_WRITE_CATALOGUE") == "1" {
		if err := os.WriteFile(catalogueFile, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if doc != want {
		t.Errorf("%s does not list the catalogue as it is; write it with PFORTE_WRITE_CATALOGUE=1 go test ./test/e2e -run TestAttackCatalogueListed", catalogueFile)
	}
}

// ---- what an attack may change ----

// fingerprint is a hash of every row of every table of a database, by
// table.
type fingerprint map[string]string

// fingerprint reads every table of in's database.
func (in *instance) fingerprint(t *testing.T) fingerprint {
	t.Helper()
	driver, dsn, list := "pgx", in.storage.DSN, "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
	if in.storage.Driver == sqlstore.DriverSQLite {
		driver, dsn, list = "sqlite", "file:"+filepath.ToSlash(in.storage.DSN)+"?mode=ro&_pragma=busy_timeout(10000)", "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tables []string
	rows, err := db.QueryContext(t.Context(), list)
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	fp := fingerprint{}
	for _, table := range tables {
		fp[table] = tableHash(t, db, table)
	}
	return fp
}

// tableHash hashes the rows of table, independent of their order.
func tableHash(t *testing.T, db *sql.DB, table string) string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "SELECT * FROM "+table)
	if err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, fmt.Sprintf("%v", vals))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return fmt.Sprintf("%d rows %s", len(lines), hex.EncodeToString(sum[:8]))
}

// changedSince lists the tables whose rows differ from before.
func (in *instance) changedSince(t *testing.T, before fingerprint) []string {
	t.Helper()
	var changed []string
	for table, now := range in.fingerprint(t) {
		if before[table] != now {
			changed = append(changed, table)
		}
	}
	slices.Sort(changed)
	return changed
}

// unchanged fails t when the attack changed a table other than the allowed
// ones (the audit log that records a refusal, the counters that count it).
func (in *instance) unchanged(t *testing.T, before fingerprint, allowed ...string) {
	t.Helper()
	var wrong []string
	for _, table := range in.changedSince(t, before) {
		if !slices.Contains(allowed, table) {
			wrong = append(wrong, table)
		}
	}
	if len(wrong) > 0 {
		t.Errorf("the refused attack changed %s (allowed: %v)", strings.Join(wrong, ", "), allowed)
	}
}
