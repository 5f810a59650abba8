package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
)

// The audit log is append-only: this file inserts and reads audit_events
// and nothing in the adapter updates or deletes them (DeleteExpired leaves
// the table alone).

const auditColumns = `id, event_time, kind, actor, account_id, client_id, ip_hash, detail`

const insertAudit = `INSERT INTO audit_events (` + auditColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

func auditArgs(e audit.Event) []any {
	return []any{e.ID, msInt(e.Time), string(e.Kind), string(e.Actor), e.AccountID, e.ClientID, e.IPHash, detail(e.Detail)}
}

type auditRow struct {
	ID        string `db:"id"`
	Time      int64  `db:"event_time"`
	Kind      string `db:"kind"`
	Actor     string `db:"actor"`
	AccountID string `db:"account_id"`
	ClientID  string `db:"client_id"`
	IPHash    string `db:"ip_hash"`
	Detail    string `db:"detail"`
}

func (r auditRow) event() (audit.Event, error) {
	d, err := fromDetail(r.Detail)
	if err != nil {
		return audit.Event{}, err
	}
	return audit.Event{
		ID:        r.ID,
		Time:      fromMSInt(r.Time),
		Kind:      audit.Kind(r.Kind),
		Actor:     audit.Actor(r.Actor),
		AccountID: r.AccountID,
		ClientID:  r.ClientID,
		IPHash:    r.IPHash,
		Detail:    d,
	}, nil
}

// detail is the stored form of an event's details: a JSON object.
func detail(d map[string]string) string {
	if len(d) == 0 {
		return "{}"
	}
	b, err := json.Marshal(d)
	if err != nil {
		// Marshalling map[string]string cannot fail.
		panic(err)
	}
	return string(b)
}

// fromDetail reads details back; no details are nil.
func fromDetail(s string) (map[string]string, error) {
	var d map[string]string
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		return nil, err
	}
	if len(d) == 0 {
		return nil, nil
	}
	return d, nil
}

// AppendAudit stores e. Errors: Conflict on a duplicate ID.
func (s *Store) AppendAudit(ctx context.Context, e audit.Event) error {
	return s.do(ctx, "sqlstore.AppendAudit", func() error {
		_, err := s.w.ExecContext(ctx, s.db.Rebind(insertAudit), auditArgs(e)...)
		return err
	})
}

// AuditEvents returns an account's events, newest first (by Time, then ID
// descending), at most limit (none when limit < 1).
func (s *Store) AuditEvents(ctx context.Context, accountID string, limit int) ([]audit.Event, error) {
	var out []audit.Event
	err := s.do(ctx, "sqlstore.AuditEvents", func() error {
		out = nil
		if limit < 1 {
			return nil
		}
		var rows []auditRow
		if err := s.db.SelectContext(ctx, &rows, s.db.Rebind(`SELECT `+auditColumns+` FROM audit_events
				WHERE account_id = ? ORDER BY event_time DESC, id DESC LIMIT ?`), accountID, limit); err != nil {
			return err
		}
		out = make([]audit.Event, 0, len(rows))
		for _, r := range rows {
			e, err := r.event()
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// CompleteEnrollment, in one transaction, checks that session sessionID is
// open at now, has its password set and a binding of this session that is
// active and has a PIN, then sets the account Active (UpdatedAt now), marks
// the session completed and appends e (an empty e.AccountID is taken as the
// session's account). The session's and the binding's rows are locked
// (FOR UPDATE on PostgreSQL; SQLite's IMMEDIATE transaction serialises
// writers), so a binding revoked or blocked meanwhile, or a second
// completion, cannot slip in between the checks and the writes. When it
// fails nothing changed. Returns the account as stored. A session a device
// transfer opened leaves the account's status as it is and completes only
// while the account is Active.
// Errors: NotFound; Expired (over or completed); Forbidden (a step is
// missing; a transfer's account is not active); Conflict (e's ID exists);
// Invalid (e names another account).
func (s *Store) CompleteEnrollment(ctx context.Context, sessionID string, e audit.Event, now time.Time) (account.Account, error) {
	const op = "sqlstore.CompleteEnrollment"
	var out account.Account
	err := s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		sess, err := s.openEnrollment(ctx, tx, op, sessionID, now)
		if err != nil {
			return err
		}
		if e.AccountID == "" {
			e.AccountID = sess.AccountID
		}
		if e.AccountID != sess.AccountID {
			return fault.New(fault.Invalid, op, "the audit event names another account than the enrollment session")
		}
		if !sess.PasswordSetAt.Valid {
			return fault.Wrap(fault.Forbidden, op, errors.New("the member has not set a password"))
		}
		var bindings []struct {
			AccountID string `db:"account_id"`
			Status    string `db:"status"`
			PINHash   string `db:"pin_hash"`
		}
		if err := tx.SelectContext(ctx, &bindings, tx.Rebind(`SELECT account_id, status, pin_hash FROM device_bindings
				WHERE enrollment_id = ?`+s.forUpdate()), sessionID); err != nil {
			return err
		}
		switch {
		case len(bindings) == 0:
			return fault.Wrap(fault.Forbidden, op, errors.New("no device is bound in the session"))
		case bindings[0].AccountID != sess.AccountID || device.Status(bindings[0].Status) != device.Active:
			return fault.Wrap(fault.Forbidden, op, errors.New("the session's device binding is not active"))
		case bindings[0].PINHash == "":
			return fault.Wrap(fault.Forbidden, op, errors.New("the member has not set a release PIN"))
		}
		var r accountRow
		if sess.TransferID != "" {
			// A transfer adds a device to an active account and changes
			// nothing else: an account locked meanwhile stays locked.
			if err := tx.GetContext(ctx, &r, tx.Rebind(`SELECT `+accountColumns+` FROM accounts WHERE id = ?`+s.forUpdate()),
				sess.AccountID); err != nil {
				return err
			}
			if account.Status(r.Status) != account.Active {
				return fault.Wrap(fault.Forbidden, op, errors.New("the account of the transfer is not active"))
			}
		} else if err := tx.GetContext(ctx, &r, tx.Rebind(`UPDATE accounts SET status = ?, updated_at = ? WHERE id = ?
				RETURNING `+accountColumns), string(account.Active), ms(now), sess.AccountID); err != nil {
			return err
		}
		if out, err = r.account(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE enrollments SET completed_at = ? WHERE id = ?`),
			ms(now), sessionID); err != nil {
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

// QueryAudit returns the events q selects, newest first (by Time, then ID
// descending), at most q.Limit (none when q.Limit < 1).
func (s *Store) QueryAudit(ctx context.Context, q audit.Query) ([]audit.Event, error) {
	var out []audit.Event
	err := s.do(ctx, "sqlstore.QueryAudit", func() error {
		out = nil
		if q.Limit < 1 {
			return nil
		}
		where, args := []string{"1 = 1"}, []any{}
		if q.AccountID != "" {
			where, args = append(where, "account_id = ?"), append(args, q.AccountID)
		}
		if len(q.Kinds) > 0 {
			marks := strings.TrimSuffix(strings.Repeat("?, ", len(q.Kinds)), ", ")
			where = append(where, "kind IN ("+marks+")")
			for _, k := range q.Kinds {
				args = append(args, string(k))
			}
		}
		if !q.From.IsZero() {
			where, args = append(where, "event_time >= ?"), append(args, msInt(q.From))
		}
		if !q.To.IsZero() {
			where, args = append(where, "event_time < ?"), append(args, msInt(q.To))
		}
		args = append(args, q.Limit)
		var rows []auditRow
		if err := s.db.SelectContext(ctx, &rows, s.db.Rebind(`SELECT `+auditColumns+` FROM audit_events
				WHERE `+strings.Join(where, " AND ")+` ORDER BY event_time DESC, id DESC LIMIT ?`), args...); err != nil {
			return err
		}
		out = make([]audit.Event, 0, len(rows))
		for _, r := range rows {
			e, err := r.event()
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}
