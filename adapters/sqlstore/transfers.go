package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/enrollment"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/ports/store"
)

var _ store.Transfers = (*Store)(nil)

const transferColumns = `id, code_hash, secret_hash, kvnr, created_at, expires_at, account_id, approved_by, approved_at,
	redeemed_at, enrollment_id`

type transferRow struct {
	ID           string        `db:"id"`
	CodeHash     string        `db:"code_hash"`
	SecretHash   string        `db:"secret_hash"`
	KVNR         string        `db:"kvnr"`
	CreatedAt    sql.NullInt64 `db:"created_at"`
	ExpiresAt    int64         `db:"expires_at"`
	AccountID    string        `db:"account_id"`
	ApprovedBy   string        `db:"approved_by"`
	ApprovedAt   sql.NullInt64 `db:"approved_at"`
	RedeemedAt   sql.NullInt64 `db:"redeemed_at"`
	EnrollmentID string        `db:"enrollment_id"`
}

func (r transferRow) transfer() device.Transfer {
	return device.Transfer{
		ID: r.ID, CodeHash: r.CodeHash, SecretHash: r.SecretHash, KVNR: kvnr.KVNR(r.KVNR),
		CreatedAt: fromMS(r.CreatedAt), ExpiresAt: fromMSInt(r.ExpiresAt), AccountID: r.AccountID,
		ApprovedBy: r.ApprovedBy, ApprovedAt: fromMS(r.ApprovedAt), RedeemedAt: fromMS(r.RedeemedAt),
		EnrollmentID: r.EnrollmentID,
	}
}

// CreateTransfer stores t, pending. Errors: Conflict on a duplicate ID,
// code hash or secret hash; Invalid when a hash or the expiry is missing.
func (s *Store) CreateTransfer(ctx context.Context, t device.Transfer) error {
	const op = "sqlstore.CreateTransfer"
	if t.ID == "" || t.CodeHash == "" || t.SecretHash == "" || t.KVNR == "" || t.ExpiresAt.IsZero() {
		return fault.New(fault.Invalid, op, "a transfer needs its id, hashes, member number and expiry")
	}
	return s.do(ctx, op, func() error {
		_, err := s.w.ExecContext(ctx, s.db.Rebind(`INSERT INTO device_transfers (id, code_hash, secret_hash, kvnr,
			created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`),
			t.ID, t.CodeHash, t.SecretHash, string(t.KVNR), ms(t.CreatedAt), msInt(t.ExpiresAt))
		return err
	})
}

// TransferByCodeHash returns the transfer of a code. Errors: NotFound.
func (s *Store) TransferByCodeHash(ctx context.Context, codeHash string) (device.Transfer, error) {
	var out device.Transfer
	err := s.do(ctx, "sqlstore.TransferByCodeHash", func() error {
		var r transferRow
		if err := s.db.GetContext(ctx, &r, s.db.Rebind(`SELECT `+transferColumns+` FROM device_transfers WHERE code_hash = ?`),
			codeHash); err != nil {
			return err
		}
		out = r.transfer()
		return nil
	})
	return out, err
}

// lockTransfer reads the transfer whose column (code_hash or secret_hash)
// is hash, locking its row. Errors: NotFound.
func (s *Store) lockTransfer(ctx context.Context, tx *sqlx.Tx, op, column, hash string) (device.Transfer, error) {
	var r transferRow
	err := tx.GetContext(ctx, &r, tx.Rebind(`SELECT `+transferColumns+` FROM device_transfers WHERE `+column+` = ?`+s.forUpdate()),
		hash)
	if errors.Is(err, sql.ErrNoRows) {
		return device.Transfer{}, fault.Wrap(fault.NotFound, op, errors.New("no such transfer"))
	}
	if err != nil {
		return device.Transfer{}, err
	}
	return r.transfer(), nil
}

// activeBinding reports whether binding id is an active binding of
// account accountID with a PIN, locking its row: a revocation waits for
// the transaction, or the transaction sees it.
func (s *Store) activeBinding(ctx context.Context, tx *sqlx.Tx, id, accountID string) (bool, error) {
	var rows []struct {
		AccountID string `db:"account_id"`
		Status    string `db:"status"`
		PINHash   string `db:"pin_hash"`
	}
	if err := tx.SelectContext(ctx, &rows, tx.Rebind(`SELECT account_id, status, pin_hash FROM device_bindings
		WHERE id = ?`+s.forUpdate()), id); err != nil {
		return false, err
	}
	return len(rows) == 1 && rows[0].AccountID == accountID && device.Status(rows[0].Status) == device.Active &&
		rows[0].PINHash != "", nil
}

// ApproveTransfer approves the pending transfer of codeHash for account
// accountID by its binding bindingID, as store.Transfers describes. The
// transfer's and the binding's rows are locked (FOR UPDATE on PostgreSQL;
// SQLite's IMMEDIATE transaction serialises writers), so of concurrent
// approvals exactly one finds it pending.
func (s *Store) ApproveTransfer(ctx context.Context, codeHash string, k kvnr.KVNR, accountID, bindingID string,
	now time.Time) (device.Transfer, error) {
	const op = "sqlstore.ApproveTransfer"
	var out device.Transfer
	err := s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		t, err := s.lockTransfer(ctx, tx, op, "code_hash", codeHash)
		if err != nil {
			return err
		}
		switch t.State(now) {
		case device.TransferRedeemed, device.TransferApproved:
			return fault.New(fault.Conflict, op, "the transfer was approved before")
		case device.TransferExpired:
			if !t.ApprovedAt.IsZero() {
				return fault.New(fault.Conflict, op, "the transfer was approved before")
			}
			return fault.New(fault.Expired, op, "")
		}
		if k == "" || t.KVNR != k {
			return fault.Wrap(fault.Forbidden, op, store.ErrTransferOtherMember)
		}
		ok, err := s.activeBinding(ctx, tx, bindingID, accountID)
		if err != nil {
			return err
		}
		if !ok {
			return fault.Wrap(fault.Forbidden, op, store.ErrApproverInactive)
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE device_transfers SET account_id = ?, approved_by = ?, approved_at = ?
			WHERE id = ?`), accountID, bindingID, ms(now), t.ID); err != nil {
			return err
		}
		t.AccountID, t.ApprovedBy, t.ApprovedAt = accountID, bindingID, fromMS(ms(now))
		out = t
		return nil
	})
	if err != nil {
		return device.Transfer{}, err
	}
	return out, nil
}

// RedeemTransfer redeems the approved transfer of secretHash and opens
// enrollment session sess for its account, as store.Transfers describes,
// in one transaction that locks the transfer's row: of concurrent
// redemptions exactly one finds it approved and unredeemed.
func (s *Store) RedeemTransfer(ctx context.Context, secretHash string, sess enrollment.Session,
	now time.Time) (device.Transfer, enrollment.Session, error) {
	const op = "sqlstore.RedeemTransfer"
	var out device.Transfer
	err := s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		t, err := s.lockTransfer(ctx, tx, op, "secret_hash", secretHash)
		if err != nil {
			return err
		}
		switch t.State(now) {
		case device.TransferRedeemed:
			return fault.New(fault.Conflict, op, "the transfer was redeemed before")
		case device.TransferExpired:
			return fault.New(fault.Expired, op, "")
		case device.TransferPending:
			return fault.Wrap(fault.Conflict, op, store.ErrTransferPending)
		}
		ok, err := s.activeBinding(ctx, tx, t.ApprovedBy, t.AccountID)
		if err != nil {
			return err
		}
		if !ok {
			return fault.Wrap(fault.Forbidden, op, store.ErrApproverInactive)
		}
		sess.AccountID, sess.KVNR, sess.TransferID = t.AccountID, t.KVNR, t.ID
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO enrollments (`+enrollmentColumns+`)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			sess.ID, sess.TokenHash, sess.AccountID, string(sess.KVNR), string(sess.Method), ms(sess.CreatedAt),
			msInt(sess.ExpiresAt), ms(sess.PasswordSetAt), ms(sess.CompletedAt), sess.TransferID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE device_transfers SET redeemed_at = ?, enrollment_id = ? WHERE id = ?`),
			ms(now), sess.ID, t.ID); err != nil {
			return err
		}
		t.RedeemedAt, t.EnrollmentID = fromMS(ms(now)), sess.ID
		out = t
		return nil
	})
	if err != nil {
		return device.Transfer{}, enrollment.Session{}, err
	}
	return out, sess, nil
}
