package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/signkey"
)

const insertSigningKey = `INSERT INTO signing_keys
	(id, algorithm, state, public_jwk, sealed, created_at, activated_at, retired_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

func signingKeyArgs(k signkey.Key) []any {
	return []any{k.ID, k.Algorithm, string(k.State), blob(k.PublicJWK), blob(k.Sealed),
		ms(k.CreatedAt), ms(k.ActivatedAt), ms(k.RetiredAt)}
}

// CreateSigningKey inserts k. Errors: Conflict when the ID exists, or when k
// would be a second next or a second active key (the schema allows at most
// one of each).
func (s *Store) CreateSigningKey(ctx context.Context, k signkey.Key) error {
	return s.do(ctx, "sqlstore.CreateSigningKey", func() error {
		_, err := s.w.ExecContext(ctx, s.db.Rebind(insertSigningKey), signingKeyArgs(k)...)
		return err
	})
}

type signingKeyRow struct {
	ID          string        `db:"id"`
	Algorithm   string        `db:"algorithm"`
	State       string        `db:"state"`
	PublicJWK   []byte        `db:"public_jwk"`
	Sealed      []byte        `db:"sealed"`
	CreatedAt   sql.NullInt64 `db:"created_at"`
	ActivatedAt sql.NullInt64 `db:"activated_at"`
	RetiredAt   sql.NullInt64 `db:"retired_at"`
}

// ListSigningKeys returns all keys, oldest first (by CreatedAt, then ID).
func (s *Store) ListSigningKeys(ctx context.Context) ([]signkey.Key, error) {
	var out []signkey.Key
	err := s.do(ctx, "sqlstore.ListSigningKeys", func() error {
		var rows []signingKeyRow
		if err := s.db.SelectContext(ctx, &rows, `SELECT id, algorithm, state, public_jwk, sealed,
				created_at, activated_at, retired_at FROM signing_keys`); err != nil {
			return err
		}
		out = make([]signkey.Key, 0, len(rows))
		for _, r := range rows {
			out = append(out, signkey.Key{
				ID:          r.ID,
				Algorithm:   r.Algorithm,
				State:       signkey.State(r.State),
				PublicJWK:   fromBlob(r.PublicJWK),
				Sealed:      fromBlob(r.Sealed),
				CreatedAt:   fromMS(r.CreatedAt),
				ActivatedAt: fromMS(r.ActivatedAt),
				RetiredAt:   fromMS(r.RetiredAt),
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Sorted here rather than in SQL: NULL ordering and text collation
	// differ between the engines.
	slices.SortFunc(out, func(a, b signkey.Key) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// ApplyKeyPlan carries out plan in one transaction: retire, activate (in
// this order, so that there is never a second active key), insert newNext,
// drop. Every step is conditional on the state the plan was decided on
// (retire: still active; activate: still next), and the schema allows at
// most one active and one next key, so activating without retiring fails
// while a key is active and a new next key fails while one is next. Of two
// replicas applying plans for the same key set one wins, the other rolls
// back. Keys to drop that are gone already (or not retired) are left alone.
// Errors: Conflict when the states moved.
func (s *Store) ApplyKeyPlan(ctx context.Context, plan signkey.Plan, newNext *signkey.Key, now time.Time) error {
	const op = "sqlstore.ApplyKeyPlan"
	moved := func() error { return fault.New(fault.Conflict, op, "signing key states changed") }
	// A unique violation (a second active or next key: another replica got
	// there first) becomes Conflict in translate.
	return s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		if plan.Retire != "" {
			n, err := exec(ctx, tx, tx.Rebind(`UPDATE signing_keys SET state = ?, retired_at = ? WHERE id = ? AND state = ?`),
				string(signkey.Retired), msInt(now), plan.Retire, string(signkey.Active))
			if err != nil {
				return err
			}
			if n != 1 {
				return moved()
			}
		}
		if plan.Activate != "" {
			n, err := exec(ctx, tx, tx.Rebind(`UPDATE signing_keys SET state = ?, activated_at = ? WHERE id = ? AND state = ?`),
				string(signkey.Active), msInt(now), plan.Activate, string(signkey.Next))
			if err != nil {
				return err
			}
			if n != 1 {
				return moved()
			}
		}
		if newNext != nil {
			if _, err := tx.ExecContext(ctx, tx.Rebind(insertSigningKey), signingKeyArgs(*newNext)...); err != nil {
				return err
			}
		}
		for _, id := range plan.Drop {
			if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM signing_keys WHERE id = ? AND state = ?`),
				id, string(signkey.Retired)); err != nil {
				return err
			}
		}
		return nil
	})
}
