package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/member"
)

// fakeImport records the batches it is given.
type fakeImport struct {
	batches [][]member.Member
	failAt  int // fail the failAt-th batch (1-based); 0: never
}

func (f *fakeImport) UpsertMembers(ctx context.Context, ms []member.Member) error {
	if f.failAt > 0 && len(f.batches)+1 == f.failAt {
		return fault.New(fault.Unavailable, "fake.UpsertMembers", "")
	}
	f.batches = append(f.batches, slices.Clone(ms))
	return nil
}

func (f *fakeImport) members() []member.Member {
	var all []member.Member
	for _, b := range f.batches {
		all = append(all, b...)
	}
	return all
}

func testKVNR(i int) kvnr.KVNR {
	k, err := kvnr.WithCheckDigit(fmt.Sprintf("T%08d", i))
	if err != nil {
		panic(err)
	}
	return k
}

// wrongCheckDigit is testKVNR(1) with another last digit.
func wrongCheckDigit() string {
	k := []byte(testKVNR(1))
	k[9] = '0' + (k[9]-'0'+1)%10
	return string(k)
}

const header = "kvnr;given_name;family_name;birth_date;street;postal_code;locality;country;insured_from;insured_until;email\n"

func TestImportGoodFile(t *testing.T) {
	// As Excel writes it: BOM, semicolons, CRLF, German dates, a quoted
	// field with the separator, an empty row of separators.
	file := "\uFEFF" + strings.ReplaceAll(
		"KVNR; Given_Name ;family_name;birth_date;street;postal_code;locality;country;insured_from;insured_until;email\n"+
			fmt.Sprintf("%s;Erika;Mustermann;12.08.1964;Heidestraße 17;51147;Köln;DE;01.04.2001;;erika@example.org\n", testKVNR(1))+
			fmt.Sprintf("%s;Jürgen;\"Müller; Lüdenscheidt\";1970-01-31;Am Wall 2;28195;Bremen;;2020-01-01;31.12.2031;\n", strings.ToLower(string(testKVNR(2))))+
			";;;;;;;;;;\n"+
			fmt.Sprintf("%s;Anne;Dupont;1980-02-29;1 Rue de Rivoli;75001;Paris;fr;2024-01-01;2024-01-01;\n", testKVNR(3)),
		"\n", "\r\n")
	var f fakeImport
	var progress bytes.Buffer
	rep, err := importMembers(t.Context(), strings.NewReader(file), &f, &progress, 0)
	if err != nil {
		t.Fatalf("importMembers: %v", err)
	}
	if rep.Rows != 3 || rep.Accepted != 3 || rep.Rejected != 0 || rep.Batches != 1 || rep.Elapsed <= 0 {
		t.Errorf("report %+v, want 3 rows accepted in one batch", rep)
	}
	got := f.members()
	if len(got) != 3 {
		t.Fatalf("stored %d members, want 3", len(got))
	}
	want := []member.Member{
		{KVNR: testKVNR(1), GivenName: "Erika", FamilyName: "Mustermann", BirthDate: "1964-08-12",
			Address: member.Address{Street: "Heidestraße 17", PostalCode: "51147", Locality: "Köln", Country: "DE"},
			Email:   "erika@example.org", InsuredFrom: time.Date(2001, 4, 1, 0, 0, 0, 0, time.UTC)},
		{KVNR: testKVNR(2), GivenName: "Jürgen", FamilyName: "Müller; Lüdenscheidt", BirthDate: "1970-01-31",
			Address:     member.Address{Street: "Am Wall 2", PostalCode: "28195", Locality: "Bremen", Country: "DE"},
			InsuredFrom: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), InsuredUntil: time.Date(2031, 12, 31, 0, 0, 0, 0, time.UTC)},
		{KVNR: testKVNR(3), GivenName: "Anne", FamilyName: "Dupont", BirthDate: "1980-02-29",
			Address:     member.Address{Street: "1 Rue de Rivoli", PostalCode: "75001", Locality: "Paris", Country: "FR"},
			InsuredFrom: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), InsuredUntil: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for i := range want {
		if got[i].UpdatedAt.IsZero() || got[i].UpdatedAt.Location() != time.UTC {
			t.Errorf("member %d: UpdatedAt %v, want the import time in UTC", i, got[i].UpdatedAt)
		}
		got[i].UpdatedAt = time.Time{}
		if got[i] != want[i] {
			t.Errorf("member %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	if !strings.Contains(progress.String(), "3 rows read, 3 accepted, 0 rejected") {
		t.Errorf("progress: %q", progress.String())
	}
}

func TestImportCommaAndSepLine(t *testing.T) {
	row := fmt.Sprintf("%s,Erika,\"Mustermann, geb. Gabler\",1964-08-12,Heidestraße 17,51147,Köln,DE,2001-04-01,,\n", testKVNR(1))
	for name, file := range map[string]string{
		"comma":        strings.ReplaceAll(header, ";", ",") + row,
		"sep line":     "sep=,\n" + strings.ReplaceAll(header, ";", ",") + row,
		"sep line BOM": "\uFEFFsep=,\r\n" + strings.ReplaceAll(header, ";", ",") + row,
	} {
		t.Run(name, func(t *testing.T) {
			var f fakeImport
			rep, err := importMembers(t.Context(), strings.NewReader(file), &f, nil, 0)
			if err != nil {
				t.Fatalf("importMembers: %v", err)
			}
			if rep.Accepted != 1 || rep.Rejected != 0 {
				t.Fatalf("report %+v", rep)
			}
			if got := f.members()[0].FamilyName; got != "Mustermann, geb. Gabler" {
				t.Errorf("family name %q", got)
			}
		})
	}
	// A sep= line shifts the line numbers by one.
	file := "sep=;\n" + header + fmt.Sprintf("%s;Erika;Mustermann;1964-08-12;Heidestraße 17;51147;Köln;DE;;;\n", testKVNR(1))
	rep, err := importMembers(t.Context(), strings.NewReader(file), &fakeImport{}, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rejections) != 1 || rep.Rejections[0].Line != 3 {
		t.Errorf("rejections %+v, want one on line 3", rep.Rejections)
	}
}

func TestImportBadRows(t *testing.T) {
	good := func(i int) string {
		return fmt.Sprintf("%s;Erika;Mustermann;1964-08-12;Heidestraße 17;51147;Köln;DE;2001-04-01;;", testKVNR(i))
	}
	// Each bad row breaks one rule; the line it is on and a piece of the
	// reason.
	bad := []struct {
		row, reason string
	}{
		{wrongCheckDigit() + ";Erika;Mustermann;1964-08-12;Heidestraße 17;51147;Köln;DE;2001-04-01;;", "kvnr: "},
		{"123456789;Erika;Mustermann;1964-08-12;Heidestraße 17;51147;Köln;DE;2001-04-01;;", "not a valid member number"},
		{";Erika;Mustermann;1964-08-12;Heidestraße 17;51147;Köln;DE;2001-04-01;;", "kvnr: required"},
		{string(testKVNR(20)) + ";;Mustermann;1964-08-12;Heidestraße 17;51147;Köln;DE;2001-04-01;;", "given_name: required"},
		{string(testKVNR(21)) + ";Erika;" + strings.Repeat("x", 101) + ";1964-08-12;Heidestraße 17;51147;Köln;DE;2001-04-01;;", "family_name: 101 characters, at most 100"},
		{string(testKVNR(22)) + ";Erika;Mustermann;1964-13-12;Heidestraße 17;51147;Köln;DE;2001-04-01;;", "birth_date: \"1964-13-12\" is not a date"},
		{string(testKVNR(23)) + ";Erika;Mustermann;08/12/1964;Heidestraße 17;51147;Köln;DE;2001-04-01;;", "birth_date: "},
		{string(testKVNR(24)) + ";Erika;Mustermann;2999-01-01;Heidestraße 17;51147;Köln;DE;2001-04-01;;", "not a plausible date of birth"},
		{string(testKVNR(25)) + ";Erika;Mustermann;1964-08-12;;51147;Köln;DE;2001-04-01;;", "street: required"},
		{string(testKVNR(26)) + ";Erika;Mustermann;1964-08-12;Heidestraße 17;1067;Dresden;DE;2001-04-01;;", "leading zero"},
		{string(testKVNR(27)) + ";Erika;Mustermann;1964-08-12;Heidestraße 17;51147;Köln;Deutschland;2001-04-01;;", "country: "},
		{string(testKVNR(28)) + ";Erika;Mustermann;1964-08-12;Heidestraße 17;51147;Köln;DE;;;", "insured_from: required"},
		{string(testKVNR(29)) + ";Erika;Mustermann;1964-08-12;Heidestraße 17;51147;Köln;DE;2001-04-01;31.03.2001;", "insured_until: before insured_from"},
		{string(testKVNR(30)) + ";Erika;Mustermann;1964-08-12;Heidestraße 17;51147;Köln;DE;2001-04-01;;Erika <erika@example.org>", "email: "},
		{string(testKVNR(31)) + ";Erika;Mustermann;1964-08-12;Heidestraße 17;51147;Köln;DE;2001-04-01;;" + strings.Repeat("e", 250) + "@x.de", "email: 255 characters"},
		{string(testKVNR(32)) + ";Erika;Mustermann;1964-08-12;Heidestraße 17;51147;Köln;DE;2001-04-01", "has 9 fields, the header names 11"},
		{string(testKVNR(33)) + ";Erika;M\xfcller;1964-08-12;Heidestraße 17;51147;Köln;DE;2001-04-01;;", "family_name: not UTF-8"},
		{string(testKVNR(34)) + ";Erika;Muster\"mann;1964-08-12;Heidestraße 17;51147;Köln;DE;2001-04-01;;", "not valid CSV"},
		{string(testKVNR(35)) + ";Erika;\"Muster\nmann\";1964-08-12;Heidestraße 17;51147;Köln;DE;2001-04-01;;", "family_name: contains a line break"},
		{good(1), "kvnr: " + string(testKVNR(1)) + " appears already on line 2"},
	}
	var b strings.Builder
	b.WriteString(header)
	b.WriteString(good(1) + "\n") // line 2
	lines := map[int]string{}
	line := 3
	for i, c := range bad {
		lines[line] = c.reason
		b.WriteString(c.row + "\n")
		line += 1 + strings.Count(c.row, "\n")
		b.WriteString(good(100+i) + "\n")
		line++
	}
	var f fakeImport
	rep, err := importMembers(t.Context(), strings.NewReader(b.String()), &f, nil, 7)
	if err != nil {
		t.Fatalf("importMembers: %v", err)
	}
	if rep.Rows != 1+2*len(bad) || rep.Accepted != 1+len(bad) || rep.Rejected != len(bad) {
		t.Errorf("report: %d rows, %d accepted, %d rejected; want %d, %d, %d",
			rep.Rows, rep.Accepted, rep.Rejected, 1+2*len(bad), 1+len(bad), len(bad))
	}
	if len(f.members()) != rep.Accepted {
		t.Errorf("stored %d members, report says %d", len(f.members()), rep.Accepted)
	}
	for _, r := range rep.Rejections {
		want, ok := lines[r.Line]
		switch {
		case !ok:
			t.Errorf("line %d rejected (%s), which is a good row", r.Line, r.Reason)
		case !strings.Contains(r.Reason, want):
			t.Errorf("line %d: reason %q, want it to contain %q", r.Line, r.Reason, want)
		}
		delete(lines, r.Line)
	}
	for l, want := range lines {
		t.Errorf("line %d not rejected (want %q)", l, want)
	}
	var out bytes.Buffer
	rep.write(&out)
	if !strings.Contains(out.String(), "rejected") || !strings.Contains(out.String(), "\nline 3: kvnr: ") {
		t.Errorf("printed report:\n%s", out.String())
	}
}

func TestImportHeaderErrors(t *testing.T) {
	cases := map[string]struct{ file, want string }{
		"empty":     {"", "empty"},
		"only BOM":  {"\uFEFF", "empty"},
		"missing":   {"kvnr;given_name;family_name\n", "required columns missing: birth_date, street, postal_code, locality, insured_from"},
		"unknown":   {strings.Replace(header, "email", "e_mail", 1), `unknown column "e_mail"`},
		"twice":     {strings.Replace(header, "email", "KVNR", 1), `column "kvnr" appears twice`},
		"no name":   {strings.Replace(header, ";email", ";", 1), "column 11 has no name"},
		"tabs":      {strings.ReplaceAll(header, ";", "\t"), "unknown column"},
		"bad quote": {"kvnr;\"given_name\n", "not valid CSV"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var f fakeImport
			_, err := importMembers(t.Context(), strings.NewReader(c.file+fmt.Sprintf("%s;Erika\n", testKVNR(1))), &f, nil, 0)
			if c.file == "" || c.file == "\uFEFF" {
				_, err = importMembers(t.Context(), strings.NewReader(c.file), &f, nil, 0)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
			if len(f.batches) != 0 {
				t.Errorf("stored %d batches despite a bad header", len(f.batches))
			}
		})
	}
}

func TestImportBatchesAndProgress(t *testing.T) {
	var b strings.Builder
	b.WriteString(header)
	const n = 95
	for i := range n {
		fmt.Fprintf(&b, "%s;Erika;Mustermann;1964-08-12;Heidestraße 17;51147;Köln;DE;2001-04-01;;\n", testKVNR(i))
	}
	var f fakeImport
	var progress bytes.Buffer
	rep, err := importMembers(t.Context(), strings.NewReader(b.String()), &f, &progress, 4)
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, batch := range f.batches {
		sizes = append(sizes, len(batch))
	}
	want := slices.Repeat([]int{4}, 23)
	want = append(want, 3)
	if !slices.Equal(sizes, want) || rep.Batches != len(want) || rep.Accepted != n {
		t.Errorf("batches of %v (report: %d batches, %d accepted), want %v", sizes, rep.Batches, rep.Accepted, want)
	}
	// A line every 40 rows (10 batches), and one at the end.
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "members import: 40 rows read, 40 accepted") ||
		!strings.HasPrefix(lines[1], "members import: 80 rows read") || !strings.HasPrefix(lines[2], "members import: 95 rows read, 95 accepted, 0 rejected") {
		t.Errorf("progress:\n%s", progress.String())
	}
}

func TestImportStoreFailure(t *testing.T) {
	var b strings.Builder
	b.WriteString(header)
	for i := range 10 {
		fmt.Fprintf(&b, "%s;Erika;Mustermann;1964-08-12;Heidestraße 17;51147;Köln;DE;2001-04-01;;\n", testKVNR(i))
	}
	f := fakeImport{failAt: 2}
	rep, err := importMembers(t.Context(), strings.NewReader(b.String()), &f, nil, 3)
	if !errors.Is(err, fault.Unavailable) {
		t.Fatalf("err = %v, want the store's Unavailable", err)
	}
	if rep.Accepted != 3 || rep.Batches != 1 {
		t.Errorf("report %+v, want the first batch of 3 accepted", rep)
	}
}

func TestImportCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var b strings.Builder
	b.WriteString(header)
	for i := range 10 {
		fmt.Fprintf(&b, "%s;;;;;;;;;;\n", testKVNR(i)) // all rejected: nothing stored
	}
	_, err := importMembers(ctx, strings.NewReader(b.String()), &fakeImport{}, nil, 5)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// Importing a file twice changes nothing; a corrected file changes what
// it corrects, and only that.
func TestImportIdempotent(t *testing.T) {
	ctx := t.Context()
	s, err := sqlstore.Open(ctx, sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: filepath.Join(t.TempDir(), "pforte.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	rows := func(street string) string {
		var b strings.Builder
		b.WriteString(header)
		for i := range 25 {
			st := "Heidestraße 17"
			if i == 7 {
				st = street
			}
			fmt.Fprintf(&b, "%s;Erika;Mustermann;1964-08-12;%s;51147;Köln;DE;2001-04-01;;erika%d@example.org\n", testKVNR(i), st, i)
		}
		return b.String()
	}
	snapshot := func() []member.Member {
		var out []member.Member
		for i := range 25 {
			m, err := s.MemberByKVNR(ctx, testKVNR(i))
			if err != nil {
				t.Fatalf("MemberByKVNR: %v", err)
			}
			out = append(out, m)
		}
		return out
	}
	if _, err := importMembers(ctx, strings.NewReader(rows("Heidestraße 17")), s, nil, 10); err != nil {
		t.Fatal(err)
	}
	first := snapshot()
	time.Sleep(5 * time.Millisecond) // so that a rewrite would show in UpdatedAt
	rep, err := importMembers(ctx, strings.NewReader(rows("Heidestraße 17")), s, nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Accepted != 25 {
		t.Errorf("second import accepted %d", rep.Accepted)
	}
	if second := snapshot(); !slices.Equal(first, second) {
		t.Errorf("importing the same file again changed the members")
	}
	if _, err := importMembers(ctx, strings.NewReader(rows("Am Wall 2")), s, nil, 10); err != nil {
		t.Fatal(err)
	}
	third := snapshot()
	for i := range third {
		switch {
		case i == 7 && (third[i].Address.Street != "Am Wall 2" || !third[i].UpdatedAt.After(first[i].UpdatedAt)):
			t.Errorf("the corrected member: %+v", third[i])
		case i != 7 && third[i] != first[i]:
			t.Errorf("member %d changed by a correction of another", i)
		}
	}
}

// BenchmarkImportMembers reads and stores a CSV file of 100,000 members
// into SQLite, the whole path of pforte members import, and reports rows/s.
// go test -run '^$' -bench ImportMembers -benchtime 1x ./cmd/pforte/
func BenchmarkImportMembers(b *testing.B) {
	const n = 100_000
	var file strings.Builder
	file.WriteString(header)
	for i := range n {
		fmt.Fprintf(&file, "%s;Erika;Mustermann-%d;12.08.1964;Heidestraße 17;51147;Köln;DE;01.04.2001;;erika.%d@example.org\n", testKVNR(i), i, i)
	}
	data := file.String()
	for b.Loop() {
		b.StopTimer()
		s, err := sqlstore.Open(b.Context(), sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: filepath.Join(b.TempDir(), "pforte.db")})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Migrate(b.Context()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		rep, err := importMembers(b.Context(), strings.NewReader(data), s, nil, 0)
		if err != nil || rep.Accepted != n {
			b.Fatalf("import: %v, %+v", err, rep)
		}
		b.ReportMetric(float64(n)/rep.Elapsed.Seconds(), "rows/s")
		s.Close()
	}
}
