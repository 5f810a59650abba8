package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/session"
	"github.com/pforte-id/pforte/ports/store"
)

var _ store.MemberLifecycle = (*Store)(nil)

// markChunk is how many member numbers one UPDATE … IN (…) names.
const markChunk = 500

// SyncMembers makes the directory the full file ms (see
// store.MemberLifecycle). On PostgreSQL the members table is locked
// against other writers for the transaction, so that two syncs, or a sync
// and an import, do not interleave; SQLite's IMMEDIATE transaction
// serialises writers anyway.
func (s *Store) SyncMembers(ctx context.Context, members []member.Member, now time.Time, allow func(store.SyncCount) error) (store.SyncCount, error) {
	const op = "sqlstore.SyncMembers"
	sorted := slices.Clone(members)
	slices.SortFunc(sorted, func(a, b member.Member) int { return strings.Compare(string(a.KVNR), string(b.KVNR)) })
	inFile := make(map[string]bool, len(sorted))
	for _, m := range sorted {
		if inFile[string(m.KVNR)] {
			return store.SyncCount{}, fault.New(fault.Invalid, op, "member "+string(m.KVNR)+" appears twice")
		}
		inFile[string(m.KVNR)] = true
	}
	upsert := s.upsertMembersSQLite
	if s.driver == DriverPostgres {
		upsert = s.upsertMembersPostgres
	}
	var out store.SyncCount
	err := s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		out = store.SyncCount{}
		if s.driver == DriverPostgres {
			if _, err := tx.ExecContext(ctx, `LOCK TABLE members IN SHARE ROW EXCLUSIVE MODE`); err != nil {
				return err
			}
		}
		var rows []struct {
			KVNR      string        `db:"kvnr"`
			RemovedAt sql.NullInt64 `db:"removed_at"`
		}
		if err := tx.SelectContext(ctx, &rows, `SELECT kvnr, removed_at FROM members ORDER BY kvnr`); err != nil {
			return err
		}
		var removing []string
		for _, r := range rows {
			switch {
			case !r.RemovedAt.Valid:
				out.Present++
				if !inFile[r.KVNR] {
					removing = append(removing, r.KVNR)
				}
			case inFile[r.KVNR]:
				out.Resuming++
			}
		}
		out.Removing = len(removing)
		if err := allow(out); err != nil {
			return err
		}
		for i := 0; i < len(sorted); i += memberChunkRows {
			if err := upsert(ctx, tx, sorted[i:min(i+memberChunkRows, len(sorted))]); err != nil {
				return err
			}
		}
		for i := 0; i < len(removing); i += markChunk {
			part := removing[i:min(i+markChunk, len(removing))]
			q, args, err := sqlx.In(`UPDATE members SET removed_at = ? WHERE removed_at IS NULL AND kvnr IN (?)`, ms(now), part)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, tx.Rebind(q), args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return store.SyncCount{}, err
	}
	return out, nil
}

// DeleteAccount deletes account id and what belongs to it (see
// store.MemberLifecycle). The account's row goes first, with RETURNING:
// of concurrent deletions exactly one finds it (PostgreSQL makes the
// others wait for the row and then find nothing; SQLite serialises the
// transactions), and the others roll back with NotFound.
func (s *Store) DeleteAccount(ctx context.Context, id string, e audit.Event, now time.Time) (account.Account, error) {
	const op = "sqlstore.DeleteAccount"
	if e.AccountID == "" {
		e.AccountID = id
	}
	if e.AccountID != id {
		return account.Account{}, fault.New(fault.Invalid, op, "the audit event names another account")
	}
	var out account.Account
	err := s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		var r accountRow
		err := tx.GetContext(ctx, &r, tx.Rebind(`DELETE FROM accounts WHERE id = ? RETURNING `+accountColumns), id)
		if errors.Is(err, sql.ErrNoRows) {
			return fault.New(fault.NotFound, op, "no such account")
		}
		if err != nil {
			return err
		}
		if out, err = r.account(); err != nil {
			return err
		}
		k := r.KVNR
		for _, q := range []struct {
			sql string
			arg string
		}{
			// Bindings, enrollments and proofs reference the account and
			// would go with it (ON DELETE CASCADE); they are named here so
			// that the deletion does not depend on the foreign keys being
			// enforced.
			{`DELETE FROM device_bindings WHERE account_id = ?`, id},
			{`DELETE FROM enrollments WHERE account_id = ?`, id},
			{`DELETE FROM proofs WHERE account_id = ?`, id},
			// A session whose relying parties are not told yet is ended
			// here if it was not, and stays until a server's Sweep has
			// queued its back-channel logouts (which need only its id,
			// clients and account id); DeleteExpired removes it later.
			// A command beside the servers ends sessions that way.
			{`UPDATE sessions SET ended_at = ` + msText(now) + `, end_reason = '` + string(session.EndDeleted) + `'
				WHERE account_id = ? AND ended_at IS NULL`, id},
			{`DELETE FROM sessions WHERE account_id = ? AND notified_at IS NOT NULL`, id},
			{`DELETE FROM consents WHERE account_id = ?`, id},
			{`DELETE FROM approvals WHERE account_id = ?`, id},
			{`DELETE FROM access_tokens WHERE family_id IN (SELECT id FROM token_families WHERE subject = ?)`, id},
			{`DELETE FROM refresh_tokens WHERE family_id IN (SELECT id FROM token_families WHERE subject = ?)`, id},
			{`DELETE FROM token_families WHERE subject = ?`, id},
			{`DELETE FROM proofing_confirmations WHERE account_id = ?`, id},
			{`DELETE FROM proofings WHERE account_id = ? OR kvnr = ?`, id},
		} {
			args := []any{q.arg}
			if strings.Count(q.sql, "?") == 2 {
				args = append(args, k)
			}
			if _, err := tx.ExecContext(ctx, tx.Rebind(q.sql), args...); err != nil {
				return err
			}
		}
		if err := s.forgetMemberNumber(ctx, tx, k, now); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, tx.Rebind(insertAudit), auditArgs(e)...)
		return err
	})
	if err != nil {
		return account.Account{}, err
	}
	return out, nil
}

// forgetMemberNumber removes what is kept under member number k beside
// the account: the links of eID cards to it, queued letter requests, and
// the recipients of its letters (the letters themselves stay, without
// name and address, as the record that a letter was sent); open letters
// are voided, so that no letter in the post opens an account.
func (s *Store) forgetMemberNumber(ctx context.Context, tx *sqlx.Tx, k string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM proof_holders WHERE kvnr = ?`), k); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM registrations WHERE kvnr = ?`), k); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE letters SET state = ?, voided_at = ?, void_reason = ?, lease_until = NULL
			WHERE kvnr = ? AND state IN (?, ?, ?)`),
		string(letter.Voided), ms(now), letter.VoidDeleted, k,
		string(letter.Requested), string(letter.Rendered), string(letter.HandedOver)); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE letters SET recipient = ? WHERE kvnr = ?`), `{}`, k)
	return err
}

// endedBefore is the condition of a membership that ended before a
// cut-off (two parameters, the same): removed from the file, or insured
// until a day, before it.
const endedBefore = `((removed_at IS NOT NULL AND removed_at < ?) OR (insured_until IS NOT NULL AND insured_until < ?))`

// ExpiredMembers returns member numbers whose membership ended before
// endedBefore (see store.MemberLifecycle).
func (s *Store) ExpiredMembers(ctx context.Context, before time.Time, limit int) ([]kvnr.KVNR, error) {
	var out []kvnr.KVNR
	err := s.do(ctx, "sqlstore.ExpiredMembers", func() error {
		var ks []string
		if err := s.db.SelectContext(ctx, &ks, s.db.Rebind(`SELECT kvnr FROM members WHERE `+endedBefore+`
				ORDER BY kvnr LIMIT ?`), before.UnixMilli(), before.UnixMilli(), limit); err != nil {
			return err
		}
		out = make([]kvnr.KVNR, len(ks))
		for i, k := range ks {
			out[i] = kvnr.KVNR(k)
		}
		return nil
	})
	return out, err
}

// DeleteMember removes member k if its membership still ended before
// endedBefore and it has no account (see store.MemberLifecycle).
func (s *Store) DeleteMember(ctx context.Context, k kvnr.KVNR, before, now time.Time) error {
	const op = "sqlstore.DeleteMember"
	return s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		var expired bool
		err := tx.GetContext(ctx, &expired, tx.Rebind(`SELECT `+endedBefore+` FROM members WHERE kvnr = ?`+s.forUpdate()),
			before.UnixMilli(), before.UnixMilli(), string(k))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fault.New(fault.NotFound, op, "no such member")
		case err != nil:
			return err
		case !expired:
			return fault.New(fault.Conflict, op, "the membership did not end before the cut-off")
		}
		var accounts int
		if err := tx.GetContext(ctx, &accounts, tx.Rebind(`SELECT COUNT(*) FROM accounts WHERE kvnr = ?`), string(k)); err != nil {
			return err
		}
		if accounts > 0 {
			return fault.New(fault.Forbidden, op, "the member still has an account")
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM members WHERE kvnr = ?`), string(k)); err != nil {
			return err
		}
		return s.forgetMemberNumber(ctx, tx, string(k), now)
	})
}

// msText is t as the literal of a time column (UTC milliseconds).
func msText(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
