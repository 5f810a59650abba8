package sqlstore

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
)

// registrationRetention is how long DeleteExpired keeps a request nobody
// decided. A worker decides requests within seconds; one still queued
// after this long outlived an outage of the workers, and the member, who
// was told that a letter would come, can simply ask again. The request
// holds the birth date the member typed, which is not kept longer than
// needed.
const registrationRetention = 3 * 24 * time.Hour

const registrationColumns = `id, kvnr, birth_date, requested_at, lost`

type registrationRow struct {
	ID          string `db:"id"`
	KVNR        string `db:"kvnr"`
	BirthDate   string `db:"birth_date"`
	RequestedAt int64  `db:"requested_at"`
	Lost        bool   `db:"lost"`
}

// EnqueueRegistration stores r. Errors: Conflict on a duplicate ID.
func (s *Store) EnqueueRegistration(ctx context.Context, r letter.Request) error {
	return s.do(ctx, "sqlstore.EnqueueRegistration", func() error {
		_, err := s.w.ExecContext(ctx, s.db.Rebind(`INSERT INTO registrations (`+registrationColumns+`)
			VALUES (?, ?, ?, ?, ?)`), r.ID, string(r.KVNR), r.BirthDate, msInt(r.RequestedAt), r.Lost)
		return err
	})
}

// ClaimRegistrations leases up to n queued requests whose lease is free at
// now, oldest first, until leaseUntil; concurrent callers never get the
// same request while its lease runs (see ClaimLetters for how).
func (s *Store) ClaimRegistrations(ctx context.Context, n int, now, leaseUntil time.Time) ([]letter.Request, error) {
	var out []letter.Request
	err := s.inTx(ctx, "sqlstore.ClaimRegistrations", func(tx *sqlx.Tx) error {
		out = nil
		if n < 1 {
			return nil
		}
		var rows []registrationRow
		if err := tx.SelectContext(ctx, &rows, tx.Rebind(s.claimSQL("registrations", registrationColumns,
			`lease_until IS NULL OR lease_until <= ?`, `requested_at, id`)),
			msInt(leaseUntil), msInt(now), n); err != nil {
			return err
		}
		out = make([]letter.Request, 0, len(rows))
		for _, r := range rows {
			out = append(out, letter.Request{ID: r.ID, KVNR: kvnr.KVNR(r.KVNR), BirthDate: r.BirthDate,
				RequestedAt: fromMSInt(r.RequestedAt), Lost: r.Lost})
		}
		slices.SortFunc(out, func(a, b letter.Request) int {
			return cmp.Or(a.RequestedAt.Compare(b.RequestedAt), strings.Compare(a.ID, b.ID))
		})
		return nil
	})
	return out, err
}

// DeleteRegistration removes a decided request. Idempotent.
func (s *Store) DeleteRegistration(ctx context.Context, id string) error {
	return s.do(ctx, "sqlstore.DeleteRegistration", func() error {
		_, err := s.w.ExecContext(ctx, s.db.Rebind(`DELETE FROM registrations WHERE id = ?`), id)
		return err
	})
}
