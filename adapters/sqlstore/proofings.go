package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/proof"
)

const proofingColumns = `state_hash, method, kvnr, data, created_at, expires_at, token_hash, return_uri, code_challenge, account_id, binding_id`

type proofingRow struct {
	StateHash string        `db:"state_hash"`
	Method    string        `db:"method"`
	KVNR      string        `db:"kvnr"`
	Data      []byte        `db:"data"`
	CreatedAt sql.NullInt64 `db:"created_at"`
	ExpiresAt int64         `db:"expires_at"`
	TokenHash string        `db:"token_hash"`
	ReturnURI string        `db:"return_uri"`
	Challenge string        `db:"code_challenge"`
	AccountID string        `db:"account_id"`
	BindingID string        `db:"binding_id"`
}

// BeginProofing stores p. Errors: Conflict on a duplicate StateHash.
func (s *Store) BeginProofing(ctx context.Context, p proof.Pending) error {
	return s.do(ctx, "sqlstore.BeginProofing", func() error {
		_, err := s.w.ExecContext(ctx, s.db.Rebind(`INSERT INTO proofings (`+proofingColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			p.StateHash, string(p.Method), string(p.KVNR), blob(p.Data), ms(p.CreatedAt), msInt(p.ExpiresAt), p.TokenHash,
			p.ReturnURI, p.Challenge, p.AccountID, p.BindingID)
		return err
	})
}

// TakeProofing deletes the proofing with stateHash and returns it: one
// DELETE … RETURNING, so exactly one of concurrent callers gets the row.
// An expired proofing is deleted all the same and reported as Expired.
// Errors: NotFound (unknown or taken before); Expired (ExpiresAt <= now).
func (s *Store) TakeProofing(ctx context.Context, stateHash string, now time.Time) (proof.Pending, error) {
	const op = "sqlstore.TakeProofing"
	var r proofingRow
	err := s.do(ctx, op, func() error {
		return s.w.GetContext(ctx, &r, s.db.Rebind(`DELETE FROM proofings WHERE state_hash = ? RETURNING `+proofingColumns), stateHash)
	})
	if err != nil {
		return proof.Pending{}, err
	}
	if r.ExpiresAt <= msInt(now) {
		return proof.Pending{}, fault.Wrap(fault.Expired, op, errors.New("the proofing has expired"))
	}
	return proof.Pending{
		StateHash: r.StateHash,
		Method:    proof.Method(r.Method),
		KVNR:      kvnr.KVNR(r.KVNR),
		Data:      fromBlob(r.Data),
		CreatedAt: fromMS(r.CreatedAt),
		ExpiresAt: fromMSInt(r.ExpiresAt),
		TokenHash: r.TokenHash,
		ReturnURI: r.ReturnURI,
		Challenge: r.Challenge,
		AccountID: r.AccountID,
		BindingID: r.BindingID,
	}, nil
}

const confirmationColumns = `code_hash, token_hash, code_challenge, account_id, proof, created_at, expires_at, binding_id`

type confirmationRow struct {
	CodeHash  string        `db:"code_hash"`
	TokenHash string        `db:"token_hash"`
	Challenge string        `db:"code_challenge"`
	AccountID string        `db:"account_id"`
	Proof     string        `db:"proof"`
	CreatedAt sql.NullInt64 `db:"created_at"`
	ExpiresAt int64         `db:"expires_at"`
	BindingID string        `db:"binding_id"`
}

// ConfirmProofing stores c. Errors: Conflict on a duplicate CodeHash.
func (s *Store) ConfirmProofing(ctx context.Context, c proof.Confirmed) error {
	return s.do(ctx, "sqlstore.ConfirmProofing", func() error {
		_, err := s.w.ExecContext(ctx, s.db.Rebind(`INSERT INTO proofing_confirmations (`+confirmationColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			c.CodeHash, c.TokenHash, c.Challenge, c.AccountID, encodeProof(c.Proof), ms(c.CreatedAt), msInt(c.ExpiresAt), c.BindingID)
		return err
	})
}

// TakeConfirmation deletes the confirmation with codeHash and returns it:
// one DELETE … RETURNING, so exactly one of concurrent callers gets the
// row. An expired one is deleted all the same and reported as Expired.
// Errors: NotFound (unknown or taken before); Expired (ExpiresAt <= now).
func (s *Store) TakeConfirmation(ctx context.Context, codeHash string, now time.Time) (proof.Confirmed, error) {
	const op = "sqlstore.TakeConfirmation"
	var r confirmationRow
	err := s.do(ctx, op, func() error {
		return s.w.GetContext(ctx, &r, s.db.Rebind(`DELETE FROM proofing_confirmations WHERE code_hash = ? RETURNING `+confirmationColumns), codeHash)
	})
	if err != nil {
		return proof.Confirmed{}, err
	}
	if r.ExpiresAt <= msInt(now) {
		return proof.Confirmed{}, fault.Wrap(fault.Expired, op, errors.New("the confirmation has expired"))
	}
	p, err := decodeProof(r.Proof)
	if err != nil {
		return proof.Confirmed{}, fault.Wrap(fault.Internal, op, err)
	}
	return proof.Confirmed{
		CodeHash: r.CodeHash, TokenHash: r.TokenHash, Challenge: r.Challenge, AccountID: r.AccountID, BindingID: r.BindingID, Proof: p,
		CreatedAt: fromMS(r.CreatedAt), ExpiresAt: fromMSInt(r.ExpiresAt),
	}, nil
}
