package sqlstore

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/pforte-id/pforte/core/consent"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/ports/store"
)

var _ store.Consents = (*Store)(nil)

type consentRow struct {
	AccountID string `db:"account_id"`
	ClientID  string `db:"client_id"`
	Scopes    string `db:"scopes"`
	GrantedAt int64  `db:"granted_at"`
}

func (r consentRow) consent() (consent.Consent, error) {
	scopes, err := fromList(r.Scopes)
	return consent.Consent{AccountID: r.AccountID, ClientID: r.ClientID, Scopes: scopes, GrantedAt: fromMSInt(r.GrantedAt)}, err
}

// ConsentOf returns the account's consent for the client. Errors: NotFound.
func (s *Store) ConsentOf(ctx context.Context, accountID, clientID string) (consent.Consent, error) {
	var r consentRow
	err := s.do(ctx, "sqlstore.ConsentOf", func() error {
		return s.db.GetContext(ctx, &r, s.db.Rebind(`SELECT account_id, client_id, scopes, granted_at FROM consents
			WHERE account_id = ? AND client_id = ?`), accountID, clientID)
	})
	if err != nil {
		return consent.Consent{}, err
	}
	return r.consent()
}

// GrantConsent adds scopes to the consent in one transaction: the row is
// inserted empty when missing (a concurrent first grant does the same and
// one insert wins), then read under its lock and given the union.
func (s *Store) GrantConsent(ctx context.Context, accountID, clientID string, scopes []string, now time.Time) (consent.Consent, error) {
	const op = "sqlstore.GrantConsent"
	var out consent.Consent
	err := s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO consents (account_id, client_id, scopes, granted_at)
			VALUES (?, ?, '[]', ?) ON CONFLICT (account_id, client_id) DO NOTHING`), accountID, clientID, msInt(now)); err != nil {
			return err
		}
		var r consentRow
		if err := tx.GetContext(ctx, &r, tx.Rebind(`SELECT account_id, client_id, scopes, granted_at FROM consents
			WHERE account_id = ? AND client_id = ?`+s.forUpdate()), accountID, clientID); err != nil {
			return err
		}
		cur, err := r.consent()
		if err != nil {
			return err
		}
		out = cur.Add(scopes, now)
		_, err = tx.ExecContext(ctx, tx.Rebind(`UPDATE consents SET scopes = ?, granted_at = ? WHERE account_id = ? AND client_id = ?`),
			list(out.Scopes), msInt(now), accountID, clientID)
		return err
	})
	return out, err
}

// Consents returns the account's consents by client id.
func (s *Store) Consents(ctx context.Context, accountID string) ([]consent.Consent, error) {
	const op = "sqlstore.Consents"
	var rows []consentRow
	err := s.do(ctx, op, func() error {
		rows = nil
		return s.db.SelectContext(ctx, &rows, s.db.Rebind(`SELECT account_id, client_id, scopes, granted_at FROM consents
			WHERE account_id = ? ORDER BY client_id`), accountID)
	})
	if err != nil {
		return nil, err
	}
	out := make([]consent.Consent, 0, len(rows))
	for _, r := range rows {
		c, err := r.consent()
		if err != nil {
			return nil, fault.Wrap(fault.Internal, op, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// RevokeConsent deletes the consent and revokes the client's families of
// the account in one transaction.
func (s *Store) RevokeConsent(ctx context.Context, accountID, clientID string, now time.Time) (int, error) {
	const op = "sqlstore.RevokeConsent"
	var n int64
	err := s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		gone, err := exec(ctx, tx, tx.Rebind(`DELETE FROM consents WHERE account_id = ? AND client_id = ?`), accountID, clientID)
		if err != nil {
			return err
		}
		if gone == 0 {
			return fault.New(fault.NotFound, op, "")
		}
		n, err = exec(ctx, tx, tx.Rebind(`UPDATE token_families SET revoked_at = ?
			WHERE client_id = ? AND subject = ? AND revoked_at IS NULL`), msInt(now), clientID, accountID)
		return err
	})
	return int(n), err
}
