package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/pforte-id/pforte/core/approval"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/ports/store"
)

var _ store.Approvals = (*Store)(nil)

const approvalColumns = `id, account_id, request_id, client_id, browser, number, choice_1, choice_2, choice_3,
	session_hash, created_at, expires_at, status, reason, binding_id, decided_at`

type approvalRow struct {
	ID          string        `db:"id"`
	AccountID   string        `db:"account_id"`
	RequestID   string        `db:"request_id"`
	ClientID    string        `db:"client_id"`
	Browser     string        `db:"browser"`
	Number      int           `db:"number"`
	Choice1     int           `db:"choice_1"`
	Choice2     int           `db:"choice_2"`
	Choice3     int           `db:"choice_3"`
	SessionHash []byte        `db:"session_hash"`
	CreatedAt   sql.NullInt64 `db:"created_at"`
	ExpiresAt   int64         `db:"expires_at"`
	Status      string        `db:"status"`
	Reason      string        `db:"reason"`
	BindingID   string        `db:"binding_id"`
	DecidedAt   sql.NullInt64 `db:"decided_at"`
}

func (r approvalRow) approval() approval.Approval {
	a := approval.Approval{
		ID: r.ID, AccountID: r.AccountID, RequestID: r.RequestID, ClientID: r.ClientID, Browser: r.Browser,
		Number: r.Number, Choices: [3]int{r.Choice1, r.Choice2, r.Choice3},
		CreatedAt: fromMS(r.CreatedAt), ExpiresAt: fromMSInt(r.ExpiresAt),
		Status: approval.Status(r.Status), Reason: approval.Reason(r.Reason), BindingID: r.BindingID,
		DecidedAt: fromMS(r.DecidedAt),
	}
	copy(a.SessionHash[:], r.SessionHash)
	return a
}

// CreateApproval stores a. Errors: Conflict on a duplicate ID.
func (s *Store) CreateApproval(ctx context.Context, a approval.Approval) error {
	return s.do(ctx, "sqlstore.CreateApproval", func() error {
		_, err := s.w.ExecContext(ctx, s.db.Rebind(`INSERT INTO approvals (`+approvalColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			a.ID, a.AccountID, a.RequestID, a.ClientID, a.Browser, a.Number, a.Choices[0], a.Choices[1], a.Choices[2],
			a.SessionHash[:], ms(a.CreatedAt), msInt(a.ExpiresAt), string(a.Status), string(a.Reason), a.BindingID,
			ms(a.DecidedAt))
		return err
	})
}

// ApprovalByID returns approval id. Errors: NotFound.
func (s *Store) ApprovalByID(ctx context.Context, id string) (approval.Approval, error) {
	var r approvalRow
	err := s.do(ctx, "sqlstore.ApprovalByID", func() error {
		return s.db.GetContext(ctx, &r, s.db.Rebind(`SELECT `+approvalColumns+` FROM approvals WHERE id = ?`), id)
	})
	if err != nil {
		return approval.Approval{}, err
	}
	return r.approval(), nil
}

// PendingApprovals returns the account's pending, unexpired approvals,
// oldest first (ties by id, so the order is stable).
func (s *Store) PendingApprovals(ctx context.Context, accountID string, now time.Time) ([]approval.Approval, error) {
	var rows []approvalRow
	err := s.do(ctx, "sqlstore.PendingApprovals", func() error {
		rows = nil
		return s.db.SelectContext(ctx, &rows, s.db.Rebind(`SELECT `+approvalColumns+` FROM approvals
			WHERE account_id = ? AND status = ? AND expires_at > ? ORDER BY created_at, id`),
			accountID, string(approval.Pending), msInt(now))
	})
	if err != nil {
		return nil, err
	}
	out := make([]approval.Approval, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.approval())
	}
	return out, nil
}

// UpdateApproval is the read-modify-write of an approval, in one
// transaction that holds the row (SELECT … FOR UPDATE on PostgreSQL; the
// one writer on SQLite).
func (s *Store) UpdateApproval(ctx context.Context, id string, f func(a *approval.Approval) error) (approval.Approval, error) {
	const op = "sqlstore.UpdateApproval"
	var out approval.Approval
	var refused error
	err := s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		refused = nil
		var r approvalRow
		if err := tx.GetContext(ctx, &r, tx.Rebind(`SELECT `+approvalColumns+` FROM approvals WHERE id = ?`+s.forUpdate()), id); err != nil {
			return err
		}
		before := r.approval()
		a := before
		if refused = f(&a); refused != nil {
			return refused
		}
		if !sameApprovalIdentity(before, a) {
			return fault.New(fault.Invalid, op, "the update changed more than the decision")
		}
		var stored approvalRow
		if err := tx.GetContext(ctx, &stored, tx.Rebind(`UPDATE approvals SET status = ?, reason = ?, binding_id = ?, decided_at = ?
				WHERE id = ? RETURNING `+approvalColumns),
			string(a.Status), string(a.Reason), a.BindingID, ms(a.DecidedAt), id); err != nil {
			return err
		}
		out = stored.approval()
		return nil
	})
	if refused != nil {
		return approval.Approval{}, refused
	}
	if err != nil {
		return approval.Approval{}, err
	}
	return out, nil
}

// sameApprovalIdentity reports whether a and b agree on every field
// UpdateApproval never writes.
func sameApprovalIdentity(a, b approval.Approval) bool {
	a.Status, a.Reason, a.BindingID, a.DecidedAt = b.Status, b.Reason, b.BindingID, b.DecidedAt
	return a.ID == b.ID && a.AccountID == b.AccountID && a.RequestID == b.RequestID && a.ClientID == b.ClientID &&
		a.Browser == b.Browser && a.Number == b.Number && a.Choices == b.Choices && a.SessionHash == b.SessionHash &&
		a.CreatedAt.Equal(b.CreatedAt) && a.ExpiresAt.Equal(b.ExpiresAt)
}
