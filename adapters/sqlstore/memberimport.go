package sqlstore

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/member"
)

// memberColumnCount is the number of columns of memberColumns.
const memberColumnCount = 12

// memberChunkRows is how many members one statement carries. On SQLite
// it keeps the bound parameters (rows × 12) far below the limit of 32766
// host variables (PostgreSQL's statements take 12 arrays, whatever the
// rows), while one statement still amortises its round trip over many
// rows. Measured with BenchmarkUpsertMembers: larger statements gain
// nothing.
const memberChunkRows = 1000

// upsertMembersTail is the conflict clause of both upserts. A row whose
// data equals the stored one is left alone (the WHERE of DO UPDATE), so
// that importing the same file again writes nothing and keeps updated_at:
// it says when the data last changed. A member in the file is in the
// insurer's file again: a removed mark (SyncMembers) is cleared.
const upsertMembersTail = ` ON CONFLICT (kvnr) DO UPDATE SET
		given_name = excluded.given_name, family_name = excluded.family_name,
		birth_date = excluded.birth_date, street = excluded.street,
		postal_code = excluded.postal_code, locality = excluded.locality,
		country = excluded.country, email = excluded.email,
		insured_from = excluded.insured_from, insured_until = excluded.insured_until,
		updated_at = excluded.updated_at, removed_at = NULL
	WHERE members.removed_at IS NOT NULL OR members.given_name <> excluded.given_name OR members.family_name <> excluded.family_name
		OR members.birth_date <> excluded.birth_date OR members.street <> excluded.street
		OR members.postal_code <> excluded.postal_code OR members.locality <> excluded.locality
		OR members.country <> excluded.country OR members.email <> excluded.email
		OR members.insured_from IS DISTINCT FROM excluded.insured_from
		OR members.insured_until IS DISTINCT FROM excluded.insured_until`

// upsertMembersSQLite is the multi-row upsert of n members for SQLite:
// VALUES with 12 parameters per row.
func upsertMembersSQLite(n int) string {
	var b strings.Builder
	b.Grow(100 + n*(3*memberColumnCount+4) + len(upsertMembersTail))
	b.WriteString(`INSERT INTO members (` + memberColumns + `) VALUES `)
	row := `(` + strings.TrimSuffix(strings.Repeat(`?, `, memberColumnCount), `, `) + `)`
	for i := range n {
		if i > 0 {
			b.WriteString(`, `)
		}
		b.WriteString(row)
	}
	b.WriteString(upsertMembersTail)
	return b.String()
}

// upsertMembersPostgres is the multi-row upsert for PostgreSQL: one array
// per column, unnested into rows. Twelve parameters whatever the number of
// rows, so no parameter limit applies, and the statement is planned once
// per connection. Measured three times as fast as VALUES lists.
const upsertMembersPostgres = `INSERT INTO members (` + memberColumns + `)
	SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[],
		?::text[], ?::text[], ?::bigint[], ?::bigint[], ?::bigint[])` + upsertMembersTail

// msArg is a nullable time parameter as a plain value: the drivers bind
// an int64 or nil without the detour through driver.Valuer.
func msArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// UpsertMembers inserts or replaces members (by KVNR) in one transaction:
// all or nothing. Rows equal to the stored record are not written (see
// upsertMembersTail). The rows go in statements of memberChunkRows, sorted
// by KVNR, so that two imports running at once lock rows in the same
// order and cannot deadlock. Errors: Invalid for a duplicate KVNR within
// members.
func (s *Store) UpsertMembers(ctx context.Context, members []member.Member) error {
	const op = "sqlstore.UpsertMembers"
	if len(members) == 0 {
		return s.do(ctx, op, ctx.Err)
	}
	sorted := slices.Clone(members)
	slices.SortFunc(sorted, func(a, b member.Member) int { return strings.Compare(string(a.KVNR), string(b.KVNR)) })
	for i := 1; i < len(sorted); i++ {
		if sorted[i].KVNR == sorted[i-1].KVNR {
			return fault.New(fault.Invalid, op, "member "+string(sorted[i].KVNR)+" appears twice")
		}
	}
	upsert := s.upsertMembersSQLite
	if s.driver == DriverPostgres {
		upsert = s.upsertMembersPostgres
	}
	return s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		for i := 0; i < len(sorted); i += memberChunkRows {
			if err := upsert(ctx, tx, sorted[i:min(i+memberChunkRows, len(sorted))]); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) upsertMembersSQLite(ctx context.Context, tx *sqlx.Tx, part []member.Member) error {
	args := make([]any, 0, len(part)*memberColumnCount)
	for _, m := range part {
		args = append(args, string(m.KVNR), m.GivenName, m.FamilyName, m.BirthDate,
			m.Address.Street, m.Address.PostalCode, m.Address.Locality, m.Address.Country,
			m.Email, msArg(m.InsuredFrom), msArg(m.InsuredUntil), msArg(m.UpdatedAt))
	}
	_, err := tx.ExecContext(ctx, upsertMembersSQLite(len(part)), args...)
	return err
}

func (s *Store) upsertMembersPostgres(ctx context.Context, tx *sqlx.Tx, part []member.Member) error {
	var text [9][]string
	var times [3][]*int64
	for i := range text {
		text[i] = make([]string, 0, len(part))
	}
	for i := range times {
		times[i] = make([]*int64, 0, len(part))
	}
	for _, m := range part {
		for i, v := range [...]string{string(m.KVNR), m.GivenName, m.FamilyName, m.BirthDate,
			m.Address.Street, m.Address.PostalCode, m.Address.Locality, m.Address.Country, m.Email} {
			text[i] = append(text[i], v)
		}
		for i, v := range [...]time.Time{m.InsuredFrom, m.InsuredUntil, m.UpdatedAt} {
			times[i] = append(times[i], msPtr(v))
		}
	}
	args := make([]any, 0, memberColumnCount)
	for _, c := range text {
		args = append(args, c)
	}
	for _, c := range times {
		args = append(args, c)
	}
	_, err := tx.ExecContext(ctx, tx.Rebind(upsertMembersPostgres), args...)
	return err
}
