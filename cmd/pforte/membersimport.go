package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/ports/store"
)

// The member import file (pforte members import FILE.csv) is the insurer's
// export of its member master data, as a CSV file:
//
//   - Encoding UTF-8, with or without a byte order mark (Excel's "CSV UTF-8
//     (comma delimited)" writes one). Other encodings are refused row by
//     row, since Windows-1252 umlauts are not valid UTF-8.
//   - Separator ";" (German Excel) or ",", detected from the header line.
//     A first line "sep=;" or "sep=," (which Excel understands) sets it
//     explicitly.
//   - Quoting as in RFC 4180: a field in double quotes may contain the
//     separator, line breaks and "" for a quote. CRLF or LF line ends.
//   - The first line (after a sep= line) names the columns, in any order,
//     case-insensitively. Unknown or repeated names make the whole file
//     fail, before anything is stored.
//   - Every further line is one member. Lines whose fields are all empty
//     (Excel writes them for formatted empty rows) are skipped.
//
// Columns (kvnr, given_name, family_name, birth_date, street, postal_code,
// locality and insured_from must be in the header; the others may be left
// out):
//
//	kvnr           member number: a capital letter and nine digits, the
//	               last a valid check digit (lower case is accepted)
//	given_name     1-100 characters
//	family_name    1-100 characters
//	birth_date     YYYY-MM-DD or DD.MM.YYYY, from 1900, not in the future
//	street         street and house number, 1-100 characters
//	postal_code    five digits in Germany; elsewhere 1-10 letters, digits,
//	               spaces or hyphens
//	locality       1-100 characters
//	country        ISO 3166-1 alpha-2 code; empty: DE
//	insured_from   date the insurance begins (formats as birth_date)
//	insured_until  date it ends, not before insured_from; empty: open-ended
//	email          optional e-mail address, at most 254 characters
//
// Example:
//
//	kvnr;given_name;family_name;birth_date;street;postal_code;locality;country;insured_from;insured_until;email
//	A123456780;Erika;Mustermann;12.08.1964;Heidestraße 17;51147;Köln;DE;01.04.2001;;erika@example.org
//
// A row that breaks a rule is rejected with its line number and the reason
// and the import goes on; a member number that appeared on an earlier line
// is rejected too, naming that line. Accepted rows are stored in batches,
// one transaction each, as upserts by member number: importing the same
// file twice changes nothing, and a corrected file replaces what an
// earlier one stored.

// defaultImportBatch is how many rows are stored per transaction.
const defaultImportBatch = 1000

// maxListedRejections bounds the rejected rows the report lists one by
// one; a file that is wrong throughout would otherwise list every line.
const maxListedRejections = 10_000

// importColumns are the columns of the import file; required ones must be
// in the header.
var importColumns = []struct {
	name     string
	required bool
}{
	{"kvnr", true}, {"given_name", true}, {"family_name", true}, {"birth_date", true},
	{"street", true}, {"postal_code", true}, {"locality", true}, {"country", false},
	{"insured_from", true}, {"insured_until", false}, {"email", false},
}

// Indexes into importColumns.
const (
	colKVNR = iota
	colGivenName
	colFamilyName
	colBirthDate
	colStreet
	colPostalCode
	colLocality
	colCountry
	colInsuredFrom
	colInsuredUntil
	colEmail
	colCount
)

// importReport is the outcome of an import.
type importReport struct {
	// Rows is the number of member rows read (not the header, not empty
	// rows).
	Rows int
	// Accepted rows passed every check and are stored.
	Accepted int
	// Rejected rows were not stored; Rejections lists the first
	// maxListedRejections of them, in file order.
	Rejected   int
	Rejections []importRejection
	// Batches is the number of transactions that stored rows.
	Batches int
	Elapsed time.Duration
}

// importRejection is one rejected row.
type importRejection struct {
	Line   int // 1-based line of the file on which the row starts
	Reason string
}

// write prints the report for the operator.
func (r importReport) write(w io.Writer) {
	fmt.Fprintf(w, "%d rows read: %d accepted, %d rejected (%s)\n", r.Rows, r.Accepted, r.Rejected, r.Elapsed.Round(time.Millisecond))
	for _, x := range r.Rejections {
		fmt.Fprintf(w, "line %d: %s\n", x.Line, x.Reason)
	}
	if more := r.Rejected - len(r.Rejections); more > 0 {
		fmt.Fprintf(w, "... and %d more rejected rows\n", more)
	}
}

func (r *importReport) reject(line int, reason string) {
	r.Rejected++
	if len(r.Rejections) < maxListedRejections {
		r.Rejections = append(r.Rejections, importRejection{Line: line, Reason: reason})
	}
}

// importMembers reads the CSV member file r (format above), validates every
// row and upserts the accepted rows into imp in batches of batch rows (0 or
// less: defaultImportBatch), one transaction each. Every 10 batches, and at
// the end, it writes a progress line to progress (may be nil).
//
// It fails, returning the report so far, when the header is unusable
// (nothing stored then), when r cannot be read, when the store fails or
// ctx ends; rows stored by earlier batches stay stored, and running the
// import again completes it. Rejected rows are no error: they are in the
// report.
func importMembers(ctx context.Context, r io.Reader, imp store.MemberImport, progress io.Writer, batch int) (rep importReport, err error) {
	start := time.Now()
	defer func() { rep.Elapsed = time.Since(start) }()
	if batch <= 0 {
		batch = defaultImportBatch
	}
	if progress == nil {
		progress = io.Discard
	}
	today := start.UTC().Format("2006-01-02")

	cr, lineOffset, err := newImportReader(r)
	if err != nil {
		return rep, err
	}
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return rep, errors.New("the file is empty: the first line must name the columns")
	}
	if err != nil {
		return rep, fmt.Errorf("line %d: the header is not valid CSV: %w", 1+lineOffset, csvCause(err))
	}
	index, width, err := importHeader(header)
	if err != nil {
		return rep, fmt.Errorf("line %d: %w", 1+lineOffset, err)
	}

	seen := make(map[uint64]uint32) // KVNR → line of its first row
	pending := make([]member.Member, 0, batch)
	lastProgress := 0
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		if err := imp.UpsertMembers(ctx, pending); err != nil {
			return fmt.Errorf("storing %d rows: %w", len(pending), err)
		}
		rep.Accepted += len(pending)
		rep.Batches++
		pending = pending[:0]
		if rep.Rows-lastProgress >= 10*batch {
			lastProgress = rep.Rows
			writeImportProgress(progress, rep, start)
		}
		return nil
	}

	fields := make([]string, colCount)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return rep, fmt.Errorf("reading the file: %w", err)
			}
			// The reader goes on after the broken row.
			rep.Rows++
			rep.reject(pe.StartLine+lineOffset, "not valid CSV: "+csvCause(err).Error())
			continue
		}
		line, _ := cr.FieldPos(0)
		line += lineOffset
		if blankRow(rec) {
			continue
		}
		rep.Rows++
		if rep.Rows%batch == 0 && ctx.Err() != nil {
			return rep, ctx.Err()
		}
		if len(rec) != width {
			rep.reject(line, fmt.Sprintf("has %d fields, the header names %d", len(rec), width))
			continue
		}
		for i := range fields {
			fields[i] = ""
			if index[i] >= 0 {
				fields[i] = strings.TrimSpace(rec[index[i]])
			}
		}
		m, reason := importRow(fields, today)
		if reason != "" {
			rep.reject(line, reason)
			continue
		}
		key := kvnrKey(m.KVNR)
		if first, dup := seen[key]; dup {
			rep.reject(line, fmt.Sprintf("kvnr: %s appears already on line %d", m.KVNR, first))
			continue
		}
		seen[key] = uint32(line)
		m.UpdatedAt = start.UTC()
		pending = append(pending, m)
		if len(pending) == batch {
			if err := flush(); err != nil {
				return rep, err
			}
		}
	}
	if err := flush(); err != nil {
		return rep, err
	}
	if rep.Rows != lastProgress {
		writeImportProgress(progress, rep, start)
	}
	return rep, nil
}

func writeImportProgress(w io.Writer, rep importReport, start time.Time) {
	rate := float64(rep.Rows) / max(time.Since(start).Seconds(), 1e-3)
	fmt.Fprintf(w, "members import: %d rows read, %d accepted, %d rejected, %.0f rows/s\n",
		rep.Rows, rep.Accepted, rep.Rejected, rate)
}

// newImportReader returns a CSV reader for r: the byte order mark dropped,
// the separator taken from a "sep=" line or detected from the header line.
// lineOffset is the number of lines before the header (the sep= line).
func newImportReader(r io.Reader) (cr *csv.Reader, lineOffset int, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if b, _ := br.Peek(3); string(b) == "\uFEFF" {
		br.Discard(3)
	}
	first, err := br.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, fmt.Errorf("reading the file: %w", err)
	}
	var sep rune
	if s := strings.TrimRight(first, "\r\n"); len(s) == 5 && strings.EqualFold(s[:4], "sep=") && (s[4] == ';' || s[4] == ',') {
		sep, lineOffset = rune(s[4]), 1
		if first, err = br.ReadString('\n'); err != nil && !errors.Is(err, io.EOF) {
			return nil, 0, fmt.Errorf("reading the file: %w", err)
		}
	} else {
		// The header holds column names without either separator, so the
		// more frequent one is the separator.
		sep = ','
		if strings.Count(first, ";") > strings.Count(first, ",") {
			sep = ';'
		}
	}
	cr = csv.NewReader(io.MultiReader(strings.NewReader(first), br))
	cr.Comma = sep
	cr.FieldsPerRecord = -1 // counted per row, so that a short row is one rejection
	cr.ReuseRecord = true
	return cr, lineOffset, nil
}

// csvCause strips the position from a csv.ParseError: the report names
// the line itself.
func csvCause(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// importHeader maps the header to column indexes (-1: column absent) and
// returns the number of fields a row must have.
func importHeader(header []string) (index [colCount]int, width int, err error) {
	for i := range index {
		index[i] = -1
	}
	for pos, raw := range header {
		name := strings.ToLower(strings.TrimSpace(raw))
		col := -1
		for i, c := range importColumns {
			if c.name == name {
				col = i
			}
		}
		switch {
		case name == "":
			return index, 0, fmt.Errorf("column %d has no name", pos+1)
		case col < 0:
			return index, 0, fmt.Errorf("unknown column %q; the columns are %s", clip(raw), importColumnNames())
		case index[col] >= 0:
			return index, 0, fmt.Errorf("column %q appears twice", name)
		}
		index[col] = pos
	}
	var missing []string
	for i, c := range importColumns {
		if c.required && index[i] < 0 {
			missing = append(missing, c.name)
		}
	}
	if len(missing) > 0 {
		return index, 0, fmt.Errorf("required columns missing: %s", strings.Join(missing, ", "))
	}
	return index, len(header), nil
}

func importColumnNames() string {
	names := make([]string, len(importColumns))
	for i, c := range importColumns {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

func blankRow(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// Length limits of the text columns, in characters.
const (
	maxNameLength   = 100
	maxEmailLength  = 254
	maxPostalLength = 10
)

// importRow validates one row (fields by column, trimmed) and returns the
// member, or the reason to reject it. today is YYYY-MM-DD in UTC.
func importRow(f []string, today string) (member.Member, string) {
	for i, v := range f {
		if !utf8.ValidString(v) {
			return member.Member{}, importColumns[i].name + ": not UTF-8 text (save the file as \"CSV UTF-8\")"
		}
		if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return member.Member{}, importColumns[i].name + ": contains a line break or control character"
		}
	}
	k, err := kvnr.Parse(f[colKVNR])
	if err != nil {
		if f[colKVNR] == "" {
			return member.Member{}, "kvnr: required"
		}
		return member.Member{}, fmt.Sprintf("kvnr: %q is not a valid member number (a letter, nine digits, the last a check digit)", clip(f[colKVNR]))
	}
	for _, c := range []int{colGivenName, colFamilyName, colStreet, colLocality} {
		if reason := checkLength(c, f[c], 1, maxNameLength); reason != "" {
			return member.Member{}, reason
		}
	}
	birth, reason := importDate(colBirthDate, f[colBirthDate], true)
	if reason != "" {
		return member.Member{}, reason
	}
	if b := birth.Format("2006-01-02"); b > today || birth.Year() < 1900 {
		return member.Member{}, fmt.Sprintf("birth_date: %s is not a plausible date of birth", b)
	}
	country := strings.ToUpper(f[colCountry])
	if country == "" {
		country = "DE"
	}
	if len(country) != 2 || !isASCIILetters(country) {
		return member.Member{}, fmt.Sprintf("country: %q is not a two-letter country code such as DE", clip(f[colCountry]))
	}
	postal := f[colPostalCode]
	switch {
	case postal == "":
		return member.Member{}, "postal_code: required"
	case country == "DE" && (len(postal) != 5 || strings.Trim(postal, "0123456789") != ""):
		hint := ""
		if len(postal) == 4 && strings.Trim(postal, "0123456789") == "" {
			hint = " (a leading zero lost? format the column as text in Excel)"
		}
		return member.Member{}, fmt.Sprintf("postal_code: %q is not a German postal code of five digits%s", clip(postal), hint)
	case utf8.RuneCountInString(postal) > maxPostalLength || strings.Trim(postal, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz -") != "":
		return member.Member{}, fmt.Sprintf("postal_code: %q must be at most %d letters, digits, spaces or hyphens", clip(postal), maxPostalLength)
	}
	from, reason := importDate(colInsuredFrom, f[colInsuredFrom], true)
	if reason != "" {
		return member.Member{}, reason
	}
	until, reason := importDate(colInsuredUntil, f[colInsuredUntil], false)
	if reason != "" {
		return member.Member{}, reason
	}
	if !until.IsZero() && until.Before(from) {
		return member.Member{}, "insured_until: before insured_from"
	}
	email := f[colEmail]
	if email != "" {
		if reason := checkLength(colEmail, email, 1, maxEmailLength); reason != "" {
			return member.Member{}, reason
		}
		if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
			return member.Member{}, fmt.Sprintf("email: %q is not an e-mail address", clip(email))
		}
	}
	return member.Member{
		KVNR:       k,
		GivenName:  f[colGivenName],
		FamilyName: f[colFamilyName],
		BirthDate:  birth.Format("2006-01-02"),
		Address: member.Address{
			Street:     f[colStreet],
			PostalCode: postal,
			Locality:   f[colLocality],
			Country:    country,
		},
		Email:        email,
		InsuredFrom:  from,
		InsuredUntil: until,
	}, ""
}

func checkLength(col int, v string, least, most int) string {
	n := utf8.RuneCountInString(v)
	switch {
	case n == 0 && least > 0:
		return importColumns[col].name + ": required"
	case n > most:
		return fmt.Sprintf("%s: %d characters, at most %d allowed", importColumns[col].name, n, most)
	}
	return ""
}

// importDate reads a date column as YYYY-MM-DD or DD.MM.YYYY, as a UTC
// midnight; an empty optional column is the zero time.
func importDate(col int, v string, required bool) (time.Time, string) {
	name := importColumns[col].name
	if v == "" {
		if required {
			return time.Time{}, name + ": required"
		}
		return time.Time{}, ""
	}
	d, ok := member.ParseDate(v)
	if !ok {
		return time.Time{}, fmt.Sprintf("%s: %q is not a date (YYYY-MM-DD or DD.MM.YYYY)", name, clip(v))
	}
	t, err := time.Parse("2006-01-02", d)
	if err != nil {
		return time.Time{}, fmt.Sprintf("%s: %q is not a date (YYYY-MM-DD or DD.MM.YYYY)", name, clip(v))
	}
	return t, ""
}

func isASCIILetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// kvnrKey packs a valid KVNR into a number (letter and nine digits), so
// that the duplicate check of a million rows stays small.
func kvnrKey(k kvnr.KVNR) uint64 {
	v := uint64(k[0] - 'A')
	for i := 1; i < len(k); i++ {
		v = v*10 + uint64(k[i]-'0')
	}
	return v
}

// clip shortens a value quoted in a reason.
func clip(s string) string {
	const most = 40
	if utf8.RuneCountInString(s) <= most {
		return s
	}
	return string([]rune(s)[:most]) + "…"
}
