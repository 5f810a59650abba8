package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/keys"
	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/registration"
	"github.com/pforte-id/pforte/core/signkey"
)

// These tests run the operator commands in-process with the real wiring on
// a SQLite database in a temporary data directory.

// operatorEnv is a development instance in dir, quiet below warnings.
func operatorEnv(dir string, extra map[string]string) func(string) string {
	m := map[string]string{"PFORTE_DATA_DIR": dir, "PFORTE_LOG_LEVEL": "warn"}
	for k, v := range extra {
		m[k] = v
	}
	return env(m)
}

// pforte runs the real command line on the data directory dir.
func pforte(t *testing.T, dir string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb, operatorEnv(dir, nil))
	return result{code, out.String(), errb.String()}
}

func wantCode(t *testing.T, r result, code int, args ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("pforte %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
}

// The demo member of configs/dev/members.yaml and a second member.
const (
	demoKVNR  = "A123456780"
	otherKVNR = "B987654320"
)

const membersCSV = "kvnr;given_name;family_name;birth_date;street;postal_code;locality;country;insured_from;insured_until;email\n" +
	demoKVNR + ";Anna;Beispiel;14.03.1985;Hauptstraße 12;28195;Bremen;DE;01.01.2019;;anna.beispiel@example.org\n" +
	"A123456781;Bad;Checkdigit;1985-03-14;Hauptstraße 12;28195;Bremen;DE;2019-01-01;;\n" +
	otherKVNR + ";Björn;Mustermann;1972-11-02;Am Wall 7;26122;Oldenburg;DE;2005-07-01;;\n" +
	"C111111118;;Testfrau;1999-06-30;Schillerstraße 3a;01067;Dresden;DE;2021-10-01;;\n" +
	"C111111118;Chiara;Testfrau;30.02.1999;Schillerstraße 3a;01067;Dresden;DE;2021-10-01;;\n"

// importDemo imports membersCSV into dir.
func importDemo(t *testing.T, dir string) result {
	t.Helper()
	p := filepath.Join(t.TempDir(), "members.csv")
	if err := os.WriteFile(p, []byte(membersCSV), 0o600); err != nil {
		t.Fatal(err)
	}
	r := pforte(t, dir, "members", "import", p, "--batch", "1")
	wantCode(t, r, exitOK, "members import")
	return r
}

func TestMembersImportReportsRejectedRows(t *testing.T) {
	dir := t.TempDir()
	r := importDemo(t, dir)
	for _, want := range []string{
		"5 rows read: 2 accepted, 3 rejected",
		`line 3: kvnr: "A123456781" is not a valid member number`,
		"line 5: given_name: required",
		`line 6: birth_date: "30.02.1999" is not a date`,
		"Rejected rows were not stored",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "members import: 5 rows read, 2 accepted, 3 rejected") {
		t.Errorf("no progress on stderr: %q", r.stderr)
	}
	// Importing again changes nothing and reports the same.
	r2 := importDemo(t, dir)
	if !strings.Contains(r2.stdout, "2 accepted, 3 rejected") {
		t.Errorf("second import: %s", r2.stdout)
	}
}

func TestMembersImportFailures(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(t.TempDir(), "nope.csv")
	r := pforte(t, dir, "members", "import", missing)
	assertOneLine(t, r, exitError, "pforte: members import: cannot read "+missing)

	r = pforte(t, dir, "members", "import", t.TempDir())
	assertOneLine(t, r, exitError, "pforte: members import: ")

	badHeader := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(badHeader, []byte("kvnr;name\nA123456780;Anna\n"), 0o600)
	r = pforte(t, dir, "members", "import", badHeader)
	assertOneLine(t, r, exitError, "pforte: members import: "+badHeader+": line 1: unknown column \"name\"")

	empty := filepath.Join(t.TempDir(), "empty.csv")
	os.WriteFile(empty, nil, 0o600)
	r = pforte(t, dir, "members", "import", empty)
	assertOneLine(t, r, exitError, "pforte: members import: "+empty+": the file is empty")

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"members", "import"}, "pforte: accepts 1 arg(s), received 0"},
		{[]string{"members", "import", "a.csv", "b.csv"}, "pforte: accepts 1 arg(s), received 2"},
		{[]string{"members", "import", badHeader, "--batch", "0"}, "pforte: --batch must be between 1 and 100000"},
		{[]string{"members", "import", badHeader, "--batch", "x"}, `pforte: invalid argument "x" for "--batch"`},
		{[]string{"members"}, "pforte: members needs a subcommand: delete, end-sessions, import, letter, lock, search, show, status, sync, unlock"},
	} {
		r := pforte(t, dir, tc.args...)
		assertOneLine(t, r, exitUsage, tc.want)
	}
}

func TestMembersShow(t *testing.T) {
	dir := t.TempDir()
	importDemo(t, dir)

	r := pforte(t, dir, "members", "show", strings.ToLower(demoKVNR))
	wantCode(t, r, exitOK, "members show")
	for _, want := range []string{
		"KVNR: A123456780", "Name: Anna Beispiel", "Birth date: 1985-03-14", "Address: Hauptstraße 12, 28195 Bremen, DE",
		"E-mail: anna.beispiel@example.org", "Insured: from 2019-01-01, open-ended", "Eligible: yes",
		"Account: none", "Latest letter: none",
	} {
		// Columns are aligned with spaces; compare words.
		if !strings.Contains(strings.Join(strings.Fields(r.stdout), " "), want) {
			t.Errorf("members show lacks %q:\n%s", want, r.stdout)
		}
	}

	// An account: its status and level are shown, its hash never.
	const hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"
	cfg := operatorConfig(t, dir)
	st, err := openStore(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	err = st.CreateAccount(t.Context(), account.Account{
		ID: "acc-1", KVNR: otherKVNR, PasswordHash: hash, Status: account.Active, Proofing: loa.Substantial,
		CreatedAt: now, UpdatedAt: now,
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	r = pforte(t, dir, "members", "show", otherKVNR)
	wantCode(t, r, exitOK, "members show")
	if !strings.Contains(r.stdout, "acc-1, status active, proofing level substantial, password set") {
		t.Errorf("account line:\n%s", r.stdout)
	}
	if strings.Contains(r.stdout, "argon2") || strings.Contains(r.stdout, "c2FsdHNhbHRz") {
		t.Errorf("members show prints the password hash:\n%s", r.stdout)
	}

	r = pforte(t, dir, "members", "show", "C111111118")
	assertOneLine(t, r, exitError, "pforte: members show: no member C111111118 in the member directory")
	for _, bad := range []string{"A123456781", "A12345678", "123456789X", "A12345678O"} {
		r = pforte(t, dir, "members", "show", bad)
		assertOneLine(t, r, exitUsage, fmt.Sprintf("pforte: %q is not a valid member number", bad))
	}
}

// Every operator command opens the store along the server's path
// (cmd/pforte/server), so each refuses an outdated schema with the
// server's words.
func TestOperatorCommandsRefuseAnOutdatedSchema(t *testing.T) {
	const want = "pforte: the database schema is at version 0, this Pforte needs "
	for _, args := range [][]string{
		{"members", "show", demoKVNR},
		{"clients", "list"},
		{"keys", "list"},
		{"keys", "rotate"},
		{"letters", "list"},
		{"devices", "list", "--kvnr", demoKVNR},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, &out, &errb,
			operatorEnv(t.TempDir(), map[string]string{"PFORTE_AUTO_MIGRATE": "false", "PFORTE_MASTER_KEY": testMasterKey()}))
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			assertOneLine(t, result{code, out.String(), errb.String()}, exitError, want)
			if !strings.Contains(errb.String(), ": run `pforte migrate up` first (auto-migration is off)") {
				t.Errorf("stderr %q does not say what to do", errb.String())
			}
		})
	}
}

func operatorConfig(t *testing.T, dir string) *Config {
	t.Helper()
	cfg, err := loadConfig(loadOptions{Getenv: operatorEnv(dir, nil)})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// requestLetter requests a letter for the demo member through the
// registration use case, as the app API does, and lets the worker decide
// it: the letter is Requested then.
func requestLetter(t *testing.T, dir string) string {
	t.Helper()
	cfg := operatorConfig(t, dir)
	o, err := baseOptions(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	b, err := server.OpenBackend(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	reg := b.Registration()
	err = reg.Request(t.Context(), registration.RequestInput{KVNR: demoKVNR, BirthDate: "1985-03-14", Method: "letter", ClientIP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := reg.ProcessRegistrations(t.Context(), 10); n != 1 || err != nil {
		t.Fatalf("ProcessRegistrations = %d, %v", n, err)
	}
	ls, err := b.Store().ListLetters(t.Context(), letter.Requested, 10)
	if err != nil || len(ls) != 1 {
		t.Fatalf("requested letters %v, %v", ls, err)
	}
	return ls[0].ID
}

func TestLetters(t *testing.T) {
	dir := t.TempDir()
	importDemo(t, dir)

	r := pforte(t, dir, "letters", "list")
	wantCode(t, r, exitOK, "letters list")
	if r.stdout != "No letters.\n" {
		t.Errorf("empty list: %q", r.stdout)
	}

	id := requestLetter(t, dir)
	r = pforte(t, dir, "letters", "list")
	wantCode(t, r, exitOK, "letters list")
	if !strings.Contains(r.stdout, id+"  A12*****80  requested") {
		t.Errorf("list:\n%s", r.stdout)
	}
	if strings.Contains(r.stdout, demoKVNR) {
		t.Errorf("list shows the member number in clear:\n%s", r.stdout)
	}

	r = pforte(t, dir, "letters", "render", "no-such-letter")
	assertOneLine(t, r, exitError, `pforte: letters render: no letter "no-such-letter"`)
	r = pforte(t, dir, "letters", "retry", "no-such-letter")
	assertOneLine(t, r, exitError, `pforte: letters retry: no letter "no-such-letter"`)

	// render hands the letter over into the outbox.
	r = pforte(t, dir, "letters", "render", "--", id)
	wantCode(t, r, exitOK, "letters render")
	outbox := filepath.Join(dir, "outbox")
	if !strings.HasPrefix(r.stdout, "Letter "+id+" is handed over: "+outbox+string(filepath.Separator)+"pforte-letter-"+id+"-") {
		t.Errorf("render: %q", r.stdout)
	}
	file := strings.TrimSpace(strings.TrimPrefix(r.stdout, "Letter "+id+" is handed over: "))
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("outbox file %s: %v %v", file, fi, err)
	}

	// The list shows the state and the file, never the hashes.
	st, err := openStore(t.Context(), operatorConfig(t, dir), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	stored, err := st.LetterByID(t.Context(), id)
	st.Close()
	if err != nil || stored.PasswordHash == "" || stored.CodeHash == "" {
		t.Fatalf("stored letter %+v %v", stored, err)
	}
	r = pforte(t, dir, "letters", "list", "--state", "handed_over")
	wantCode(t, r, exitOK, "letters list")
	if !strings.Contains(r.stdout, "handed_over") || !strings.Contains(r.stdout, filepath.Base(file)) {
		t.Errorf("list:\n%s", r.stdout)
	}
	if strings.Contains(r.stdout, stored.PasswordHash) || strings.Contains(r.stdout, stored.CodeHash) {
		t.Errorf("list shows a hash:\n%s", r.stdout)
	}
	r = pforte(t, dir, "letters", "list", "--state", "requested")
	if r.stdout != "No letters in state requested.\n" {
		t.Errorf("requested after render: %q", r.stdout)
	}

	// A handed-over letter is not rendered again, and not retried while
	// the print service has not collected it.
	r = pforte(t, dir, "letters", "render", "--", id)
	assertOneLine(t, r, exitError, "pforte: letters render: letter "+id+": the letter is handed_over")
	r = pforte(t, dir, "letters", "retry", "--", id)
	assertOneLine(t, r, exitError, "pforte: letters retry: letter "+id+": the letter is still in the outbox")

	// Collected and lost: retry replaces it and voids the old one.
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	r = pforte(t, dir, "letters", "retry", "--", id)
	wantCode(t, r, exitOK, "letters retry")
	if !strings.HasPrefix(r.stdout, "Letter "+id+" is voided; replacement letter ") {
		t.Fatalf("retry: %q", r.stdout)
	}
	r = pforte(t, dir, "letters", "list", "--state", "voided", "--limit", "1")
	if !strings.Contains(r.stdout, id) || !strings.Contains(r.stdout, "voided (superseded)") {
		t.Errorf("voided list:\n%s", r.stdout)
	}
	r = pforte(t, dir, "letters", "list", "--limit", "1")
	if strings.Contains(r.stdout, id) || !strings.Contains(r.stdout, "handed_over") {
		t.Errorf("newest letter:\n%s", r.stdout)
	}
	r = pforte(t, dir, "letters", "retry", "--", id)
	assertOneLine(t, r, exitError, "pforte: letters retry: letter "+id+": the letter is voided (superseded)")

	r = pforte(t, dir, "members", "show", demoKVNR)
	if !strings.Contains(r.stdout, "Latest letter:") || !strings.Contains(r.stdout, ", handed_over, created ") {
		t.Errorf("members show after retry:\n%s", r.stdout)
	}
}

// TestLettersLost: support reports a letter lost, by its number as
// printed (in groups) and by member number; the first report sends a new
// letter at once, the second the same week voids the new one but sends no
// third (the guard against mass mailing), and says from when one is
// possible.
func TestLettersLost(t *testing.T) {
	dir := t.TempDir()
	importDemo(t, dir)
	id := requestLetter(t, dir)
	wantCode(t, pforte(t, dir, "letters", "render", "--", id), exitOK, "letters render")

	r := pforte(t, dir, "letters", "lost", letter.Group(id), "--operator", "Erika Muster", "--reason", "nicht angekommen")
	wantCode(t, r, exitOK, "letters lost")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || lines[0] != "Letter "+id+" is voided (lost)." || !strings.HasPrefix(lines[1], "New letter ") ||
		!strings.Contains(lines[1], filepath.Join(dir, "outbox")) {
		t.Fatalf("lost: %q", r.stdout)
	}
	r = pforte(t, dir, "letters", "list", "--state", "voided")
	if !strings.Contains(r.stdout, id) || !strings.Contains(r.stdout, "voided (lost)") {
		t.Errorf("voided list:\n%s", r.stdout)
	}
	r = pforte(t, dir, "letters", "list", "--state", "handed_over")
	if strings.Count(r.stdout, "handed_over") != 1 {
		t.Errorf("handed over:\n%s", r.stdout)
	}

	r = pforte(t, dir, "letters", "lost", "--kvnr", strings.ToLower(demoKVNR), "--operator", "Erika Muster", "--reason", "wieder nicht angekommen")
	wantCode(t, r, exitOK, "letters lost --kvnr")
	if !strings.Contains(r.stdout, "is voided (lost).") || !strings.Contains(r.stdout, "No new letter now") || !strings.Contains(r.stdout, "can have a new letter from 20") {
		t.Fatalf("second lost: %q", r.stdout)
	}
	r = pforte(t, dir, "letters", "list", "--state", "handed_over")
	if r.stdout != "No letters in state handed_over.\n" {
		t.Errorf("handed over after the second report:\n%s", r.stdout)
	}

	r = pforte(t, dir, "letters", "lost", "--operator", "x", "--reason", "y", "--", id)
	assertOneLine(t, r, exitError, "pforte: letters lost: letter "+id+": the letter is voided (lost): the member must request a new letter")
	r = pforte(t, dir, "letters", "lost", "NOSUCHLETTER", "--operator", "x", "--reason", "y")
	assertOneLine(t, r, exitError, `pforte: letters lost: no letter "NOSUCHLETTER"`)
	r = pforte(t, dir, "letters", "lost", "--kvnr", "B987654320", "--operator", "x", "--reason", "y")
	assertOneLine(t, r, exitError, "pforte: letters lost: the member B98*****20 has no letter")
	r = pforte(t, dir, "letters", "lost", "--kvnr", "A123", "--operator", "x", "--reason", "y")
	wantCode(t, r, exitUsage, "letters lost --kvnr A123")
}

func TestLettersUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"letters", "list", "--state", "lost"}, `pforte: --state "lost" is not a letter state: use requested, rendered, handed_over, activated, voided`},
		{[]string{"letters", "list", "--limit", "0"}, "pforte: --limit must be between 1 and 1000"},
		{[]string{"letters", "list", "--limit", "1001"}, "pforte: --limit must be between 1 and 1000"},
		{[]string{"letters", "list", "extra"}, `pforte: unknown command "extra" for "pforte letters list"`},
		{[]string{"letters", "render"}, "pforte: accepts 1 arg(s), received 0"},
		{[]string{"letters", "retry", "a", "b"}, "pforte: accepts 1 arg(s), received 2"},
		{[]string{"letters"}, "pforte: letters needs a subcommand: list, lost, render, retry"},
		{[]string{"letters", "lost", "--operator", "x", "--reason", "y"}, "pforte: name the letter (LETTER_ID) or the member (--kvnr), one of them"},
		{[]string{"letters", "lost", "ABCD", "--kvnr", demoKVNR, "--operator", "x", "--reason", "y"}, "pforte: name the letter (LETTER_ID) or the member (--kvnr), one of them"},
		{[]string{"letters", "lost", "ABCD", "--reason", "y"}, "pforte: --operator is required: who reports the letter lost goes into the audit log"},
		{[]string{"letters", "lost", "ABCD", "--operator", "x"}, "pforte: --reason is required: what the member said goes into the audit log"},
		{[]string{"letters", "lost", "a", "b", "--operator", "x", "--reason", "y"}, "pforte: accepts at most 1 arg(s), received 2"},
		{[]string{"letters", "render", "-Bvc4qW4BxLZCZ3DdbmMQQ"}, "pforte: unknown shorthand flag: 'B' in -Bvc4qW4BxLZCZ3DdbmMQQ; a letter id that starts with '-' goes after '--'"},
	} {
		r := pforte(t, dir, tc.args...)
		assertOneLine(t, r, exitUsage, tc.want)
	}
	// --state is case-insensitive.
	r := pforte(t, dir, "letters", "list", "--state", "Handed_Over")
	wantCode(t, r, exitOK, "letters list --state Handed_Over")
}

func TestMaskKVNR(t *testing.T) {
	if got := maskKVNR(demoKVNR); got != "A12*****80" {
		t.Errorf("maskKVNR = %q", got)
	}
	if got := maskKVNR("short"); got != "**********" {
		t.Errorf("maskKVNR(short) = %q", got)
	}
}

// registration.eligible_ahead and eligible_grace 0 reach the registration
// use case as 0 (only members insured today), as `pforte members show`
// reads them, never as the defaults.
func TestZeroEligibilityWindowsReachRegistration(t *testing.T) {
	dir := t.TempDir()
	cfg, err := loadConfig(loadOptions{Getenv: operatorEnv(dir, map[string]string{
		"PFORTE_ELIGIBLE_AHEAD": "0s", "PFORTE_ELIGIBLE_GRACE": "0s",
	})})
	if err != nil {
		t.Fatal(err)
	}
	o, err := baseOptions(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	b, err := server.OpenBackend(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if e := b.Registration().Config().Eligibility; *e != cfg.eligibility() || *e != (member.Eligibility{}) {
		t.Fatalf("registration eligibility %+v, want both windows 0", *e)
	}
}

// `pforte clients add` and `pforte keys rotate` store what the server
// then uses: a secret it accepts and keys it unseals and signs with.
func TestClientsAndKeysCommandsServeTheServer(t *testing.T) {
	dir := t.TempDir()
	args := []string{"clients", "add", "--id", "forms", "--kind", "web", "--redirect-uri", "https://forms.example/cb", "--scope", "openid"}
	r := pforte(t, dir, args...)
	wantCode(t, r, exitOK, args...)
	_, rest, ok := strings.Cut(r.stdout, "client_secret: ")
	secret, _, _ := strings.Cut(rest, "\n")
	if !ok || len(secret) < client.MinSecretLength {
		t.Fatalf("no secret in:\n%s", r.stdout)
	}
	r = pforte(t, dir, "keys", "rotate", "--force")
	wantCode(t, r, exitOK, "keys rotate --force")
	_, rest, ok = strings.Cut(r.stdout, "activated ")
	kid, _, _ := strings.Cut(rest, "\n")
	if !ok || kid == "" {
		t.Fatalf("keys rotate activated nothing:\n%s", r.stdout)
	}

	o, err := options(t.Context(), operatorConfig(t, dir), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := srv.Store().ClientByID(t.Context(), "forms")
	if err != nil {
		t.Fatal(err)
	}
	if h, err := server.SecretHasher(o.MasterKey); err != nil || !h.Verify(secret, c.SecretHash) {
		t.Errorf("the server does not accept the secret clients add printed (%v)", err)
	}
	ks, err := srv.Keys().Keys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(ks, func(k keys.KeyInfo) bool { return k.ID == kid }); i < 0 || ks[i].State != signkey.Active {
		t.Errorf("the server does not sign with the key keys rotate activated: %s not active in %+v", kid, ks)
	}
}
