package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
)

const insertFamily = `INSERT INTO token_families
	(id, client_id, subject, scopes, auth_time, amr, acr, code_hash, binding_id, dpop_jkt,
	 created_at, expires_at, revoked_at, session_id)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

const insertRefreshToken = `INSERT INTO refresh_tokens (hash, family_id, created_at, expires_at, used_at)
	VALUES (?, ?, ?, ?, ?)`

const insertAccessToken = `INSERT INTO access_tokens
	(jti, family_id, client_id, subject, scopes, dpop_jkt, issued_at, expires_at, revoked_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

func accessTokenArgs(at grant.AccessToken, familyID string) []any {
	fam := sql.NullString{String: familyID, Valid: familyID != ""}
	return []any{at.JTI, fam, at.ClientID, at.Subject, list(at.Scopes), at.DPoPJKT, ms(at.IssuedAt), msInt(at.ExpiresAt), ms(at.RevokedAt)}
}

// sameFamily checks that a token handed in for family id names no other family.
func sameFamily(op, tokenFamily, id string) error {
	if tokenFamily != "" && tokenFamily != id {
		return fault.New(fault.Invalid, op, "token belongs to another family")
	}
	return nil
}

// CreateFamily inserts family f with its first refresh token rt (may be
// nil) and first access token at, in one transaction. The tokens are stored
// under f.ID. When f.CodeHash names a code marked replayed, nothing is
// inserted. Errors: Conflict when the code was replayed, or on a duplicate
// ID, hash or JTI; Invalid when a token names another family.
//
// Why no interleaving with RevokeFamiliesOfCode (R) leaves an unrevoked
// family for a replayed code: both transactions begin with an UPDATE of the
// code's auth_codes row, R setting replayed_at and CreateFamily (C) touching
// the row only where replayed_at IS NULL. An UPDATE that matches a row holds
// its row lock until commit, so R and C take turns on the row.
//
// On PostgreSQL (READ COMMITTED):
//   - C first: R's UPDATE waits for C's commit. R's next statement, the
//     UPDATE of token_families, runs on a snapshot taken after that commit
//     (READ COMMITTED takes one per statement), so it sees C's family and
//     revokes it. If C rolled back, there is nothing to revoke.
//   - R first: C's UPDATE waits for R's commit, then re-evaluates its WHERE
//     on the committed row version: replayed_at is set, no row matches, C
//     finds the row still there and returns Conflict before inserting
//     anything. If R rolled back, C proceeds: the code was not marked.
//   - One committed before the other began: the same outcomes without
//     waiting.
//
// Under REPEATABLE READ or SERIALIZABLE the waiting statement fails with a
// serialization failure instead, and inTx runs the whole transaction again,
// which then sees the other's commit. On SQLite, BEGIN IMMEDIATE serialises
// every write transaction, so R and C run one after the other and one of
// the last two outcomes holds.
//
// A code that is not in auth_codes (unknown, or deleted by DeleteExpired
// after store.CodeRetention) matches no row and does not stop the insert;
// codes are kept long past any exchange, so the winner of RedeemCode always
// finds its code here.
//
// A family of a device login (f.BindingID set) is ordered against the
// revocation of its binding the same way, on the binding's row:
// bindingUsable reads it FOR UPDATE, and RevokeBindings and UpdateBinding
// change it holding its lock; RevokeBindings then revokes the binding's
// families in the same transaction, and the caller of UpdateBinding with
// RevokeFamiliesOfBinding after its commit. If CreateFamily goes first,
// that revocation of token_families runs after its commit and revokes the
// new family; if the revocation of the binding goes first, CreateFamily
// reads the revoked status and stores nothing.
func (s *Store) CreateFamily(ctx context.Context, f grant.Family, rt *grant.RefreshToken, at grant.AccessToken) error {
	const op = "sqlstore.CreateFamily"
	if rt != nil {
		if err := sameFamily(op, rt.FamilyID, f.ID); err != nil {
			return err
		}
	}
	if err := sameFamily(op, at.FamilyID, f.ID); err != nil {
		return err
	}
	return s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		if f.CodeHash != "" {
			if err := codeNotReplayed(ctx, tx, op, f.CodeHash); err != nil {
				return err
			}
		}
		if f.BindingID != "" {
			if err := s.bindingUsable(ctx, tx, op, f.BindingID); err != nil {
				return err
			}
		}
		if f.SessionID != "" {
			if err := s.sessionOpen(ctx, tx, op, f.SessionID); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(insertFamily),
			f.ID, f.ClientID, f.Subject, list(f.Scopes), ms(f.AuthTime), list(f.AMR), f.ACR, f.CodeHash,
			f.BindingID, f.DPoPJKT, ms(f.CreatedAt), msInt(f.ExpiresAt), ms(f.RevokedAt), f.SessionID); err != nil {
			return err
		}
		if rt != nil {
			if _, err := tx.ExecContext(ctx, tx.Rebind(insertRefreshToken),
				rt.Hash, f.ID, ms(rt.CreatedAt), msInt(rt.ExpiresAt), ms(rt.UsedAt)); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, tx.Rebind(insertAccessToken), accessTokenArgs(at, f.ID)...)
		return err
	})
}

// codeNotReplayed locks the row of code hash, if there is one, and fails
// with Conflict when the code is marked replayed. The UPDATE writes nothing
// new (replayed_at stays NULL); it is there for the row lock it takes and
// for the atomic check of its WHERE clause (see CreateFamily).
func codeNotReplayed(ctx context.Context, tx *sqlx.Tx, op, hash string) error {
	n, err := exec(ctx, tx, tx.Rebind(`UPDATE auth_codes SET replayed_at = NULL
		WHERE hash = ? AND replayed_at IS NULL`), hash)
	if err != nil || n == 1 {
		return err
	}
	var one int
	err = tx.GetContext(ctx, &one, tx.Rebind(`SELECT 1 FROM auth_codes WHERE hash = ?`), hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil // not (or no longer) stored: nothing marks it
	case err != nil:
		return err
	}
	return fault.New(fault.Conflict, op, "")
}

// bindingUsable locks the row of device binding id and fails with
// Forbidden when it is gone, revoked or suspect: a family may not be
// stored for a key whose families a revocation has ended (see
// CreateFamily).
func (s *Store) bindingUsable(ctx context.Context, tx *sqlx.Tx, op, id string) error {
	var status string
	err := tx.GetContext(ctx, &status, tx.Rebind(`SELECT status FROM device_bindings WHERE id = ?`+s.forUpdate()), id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fault.New(fault.Forbidden, op, "")
	case err != nil:
		return err
	case endsFamilies(device.Status(status)):
		return fault.New(fault.Forbidden, op, "")
	}
	return nil
}

// endsFamilies reports whether a binding in status st may no longer have
// active token families: revoked, or suspected of being cloned.
func endsFamilies(st device.Status) bool { return st == device.Revoked || st == device.Suspect }

// revokeFamiliesOf revokes, at now, the active families of the device
// bindings the subquery bindings (a SELECT of ids, with args) names, in
// transaction tx, and returns how many.
func revokeFamiliesOf(ctx context.Context, tx *sqlx.Tx, now time.Time, bindings string, args ...any) (int64, error) {
	return exec(ctx, tx, tx.Rebind(`UPDATE token_families SET revoked_at = ?
		WHERE revoked_at IS NULL AND binding_id IN (`+bindings+`)`), append([]any{msInt(now)}, args...)...)
}

// RevokeFamiliesOfBinding revokes the active families of device binding
// bindingID in one UPDATE (on the binding_id index) and returns how many.
// Idempotent: revoked families keep their first revocation time.
// Errors: Invalid for an empty bindingID.
func (s *Store) RevokeFamiliesOfBinding(ctx context.Context, bindingID string, now time.Time) (int, error) {
	const op = "sqlstore.RevokeFamiliesOfBinding"
	if bindingID == "" {
		return 0, fault.New(fault.Invalid, op, "no binding named: an empty binding id would name every password login")
	}
	var n int64
	err := s.do(ctx, op, func() error {
		var err error
		n, err = exec(ctx, s.w, s.db.Rebind(`UPDATE token_families SET revoked_at = ?
			WHERE binding_id = ? AND revoked_at IS NULL`), msInt(now), bindingID)
		return err
	})
	return int(n), err
}

type familyRow struct {
	ID        string        `db:"f_id"`
	ClientID  string        `db:"f_client_id"`
	Subject   string        `db:"f_subject"`
	Scopes    string        `db:"f_scopes"`
	AuthTime  sql.NullInt64 `db:"f_auth_time"`
	AMR       string        `db:"f_amr"`
	ACR       string        `db:"f_acr"`
	CodeHash  string        `db:"f_code_hash"`
	BindingID string        `db:"f_binding_id"`
	DPoPJKT   string        `db:"f_dpop_jkt"`
	SessionID string        `db:"f_session_id"`
	CreatedAt sql.NullInt64 `db:"f_created_at"`
	ExpiresAt int64         `db:"f_expires_at"`
	RevokedAt sql.NullInt64 `db:"f_revoked_at"`
}

const familyColumns = `f.id AS f_id, f.client_id AS f_client_id, f.subject AS f_subject,
	f.scopes AS f_scopes, f.auth_time AS f_auth_time, f.amr AS f_amr, f.acr AS f_acr,
	f.code_hash AS f_code_hash, f.binding_id AS f_binding_id, f.dpop_jkt AS f_dpop_jkt, f.session_id AS f_session_id,
	f.created_at AS f_created_at, f.expires_at AS f_expires_at, f.revoked_at AS f_revoked_at`

func (r familyRow) family() (grant.Family, error) {
	f := grant.Family{
		ID:        r.ID,
		ClientID:  r.ClientID,
		Subject:   r.Subject,
		AuthTime:  fromMS(r.AuthTime),
		ACR:       r.ACR,
		CodeHash:  r.CodeHash,
		BindingID: r.BindingID,
		DPoPJKT:   r.DPoPJKT,
		SessionID: r.SessionID,
		CreatedAt: fromMS(r.CreatedAt),
		ExpiresAt: fromMSInt(r.ExpiresAt),
		RevokedAt: fromMS(r.RevokedAt),
	}
	var err error
	if f.Scopes, err = fromList(r.Scopes); err != nil {
		return f, err
	}
	f.AMR, err = fromList(r.AMR)
	return f, err
}

type refreshRow struct {
	Hash      string        `db:"hash"`
	FamilyID  string        `db:"family_id"`
	CreatedAt sql.NullInt64 `db:"created_at"`
	ExpiresAt int64         `db:"expires_at"`
	UsedAt    sql.NullInt64 `db:"used_at"`
	familyRow
}

const selectRefresh = `SELECT rt.hash, rt.family_id, rt.created_at, rt.expires_at, rt.used_at, ` + familyColumns + `
	FROM refresh_tokens rt JOIN token_families f ON f.id = rt.family_id
	WHERE rt.hash = ?`

// RefreshToken returns the refresh token with hash and its family, in one
// query. Errors: NotFound.
func (s *Store) RefreshToken(ctx context.Context, hash string) (grant.RefreshToken, grant.Family, error) {
	var (
		rt grant.RefreshToken
		f  grant.Family
	)
	err := s.do(ctx, "sqlstore.RefreshToken", func() error {
		var r refreshRow
		if err := s.db.GetContext(ctx, &r, s.db.Rebind(selectRefresh), hash); err != nil {
			return err
		}
		rt = grant.RefreshToken{
			Hash:      r.Hash,
			FamilyID:  r.FamilyID,
			CreatedAt: fromMS(r.CreatedAt),
			ExpiresAt: fromMSInt(r.ExpiresAt),
			UsedAt:    fromMS(r.UsedAt),
		}
		var err error
		f, err = r.family()
		return err
	})
	return rt, f, err
}

// RotateRefreshToken marks the token with oldHash used and inserts next and
// at in one transaction, only if the old token is unused and unexpired and
// its family is neither revoked nor expired. The conditional UPDATE decides
// the race: exactly one of concurrent callers succeeds. next and at are
// stored in the old token's family.
// Errors: NotFound; Conflict when the old token was used already (reuse,
// also in a revoked family); Forbidden when the family is revoked; Expired
// when the token or its family has expired; Invalid when next or at names
// another family.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash string, next grant.RefreshToken, at grant.AccessToken, now time.Time) error {
	const op = "sqlstore.RotateRefreshToken"
	return s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		var familyID string
		err := tx.GetContext(ctx, &familyID, tx.Rebind(`UPDATE refresh_tokens SET used_at = ?
			WHERE hash = ? AND used_at IS NULL AND expires_at > ?
			  AND EXISTS (SELECT 1 FROM token_families f
			              WHERE f.id = refresh_tokens.family_id AND f.revoked_at IS NULL AND f.expires_at > ?)
			RETURNING family_id`), msInt(now), oldHash, msInt(now), msInt(now))
		if errors.Is(err, sql.ErrNoRows) {
			return s.whyNotRotated(ctx, tx, op, oldHash, now)
		}
		if err != nil {
			return err
		}
		if err := sameFamily(op, next.FamilyID, familyID); err != nil {
			return err
		}
		if err := sameFamily(op, at.FamilyID, familyID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(insertRefreshToken),
			next.Hash, familyID, ms(next.CreatedAt), msInt(next.ExpiresAt), ms(next.UsedAt)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, tx.Rebind(insertAccessToken), accessTokenArgs(at, familyID)...)
		return err
	})
}

// whyNotRotated names the reason a rotation did not take place.
func (s *Store) whyNotRotated(ctx context.Context, tx *sqlx.Tx, op, hash string, now time.Time) error {
	var r refreshRow
	err := tx.GetContext(ctx, &r, tx.Rebind(selectRefresh), hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fault.New(fault.NotFound, op, "")
	case err != nil:
		return err
	case r.UsedAt.Valid:
		// Reuse first, even in a revoked family, so that the caller sees
		// (and records) every replay of a spent token.
		return fault.New(fault.Conflict, op, "")
	case r.RevokedAt.Valid:
		return fault.New(fault.Forbidden, op, "")
	case r.ExpiresAt <= msInt(now) || r.familyRow.ExpiresAt <= msInt(now):
		return fault.New(fault.Expired, op, "")
	}
	return fault.New(fault.Internal, op, "")
}

// RevokeFamily revokes family id; its refresh tokens and access tokens stop
// working because every read joins the family. Idempotent: the first
// revocation time stays. Errors: NotFound.
func (s *Store) RevokeFamily(ctx context.Context, id string, now time.Time) error {
	const op = "sqlstore.RevokeFamily"
	return s.do(ctx, op, func() error {
		n, err := exec(ctx, s.w, s.db.Rebind(`UPDATE token_families SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`),
			msInt(now), id)
		if err == nil && n == 0 {
			return fault.New(fault.NotFound, op, "")
		}
		return err
	})
}

// RevokeFamiliesOfCode marks the code with codeHash replayed and revokes
// every family issued for it, in one transaction, and returns how many
// families were newly revoked (0 is not an error). The mark comes first: it
// takes the code's row lock, which orders this transaction against a
// concurrent CreateFamily for the code (see there). Idempotent: the first
// replay time stays. An unknown code has no row to mark.
func (s *Store) RevokeFamiliesOfCode(ctx context.Context, codeHash string, now time.Time) (int, error) {
	var n int64
	err := s.inTx(ctx, "sqlstore.RevokeFamiliesOfCode", func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE auth_codes SET replayed_at = COALESCE(replayed_at, ?)
			WHERE hash = ?`), msInt(now), codeHash); err != nil {
			return err
		}
		var err error
		n, err = exec(ctx, tx, tx.Rebind(`UPDATE token_families SET revoked_at = ?
			WHERE code_hash = ? AND revoked_at IS NULL`), msInt(now), codeHash)
		return err
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

// CreateAccessToken records a token issued without a family
// (client_credentials); at.FamilyID is stored as given, normally empty.
// Errors: Conflict on a duplicate JTI.
func (s *Store) CreateAccessToken(ctx context.Context, at grant.AccessToken) error {
	return s.do(ctx, "sqlstore.CreateAccessToken", func() error {
		_, err := s.w.ExecContext(ctx, s.db.Rebind(insertAccessToken), accessTokenArgs(at, at.FamilyID)...)
		return err
	})
}

type accessRow struct {
	JTI       string         `db:"jti"`
	FamilyID  sql.NullString `db:"family_id"`
	ClientID  string         `db:"client_id"`
	Subject   string         `db:"subject"`
	Scopes    string         `db:"scopes"`
	DPoPJKT   string         `db:"dpop_jkt"`
	IssuedAt  sql.NullInt64  `db:"issued_at"`
	ExpiresAt int64          `db:"expires_at"`
	RevokedAt sql.NullInt64  `db:"revoked_at"`
}

// AccessToken returns the record of jti; RevokedAt is set when the token or
// its family was revoked (the token's own revocation time first).
// Errors: NotFound.
func (s *Store) AccessToken(ctx context.Context, jti string) (grant.AccessToken, error) {
	var at grant.AccessToken
	err := s.do(ctx, "sqlstore.AccessToken", func() error {
		var r accessRow
		if err := s.db.GetContext(ctx, &r, s.db.Rebind(`SELECT a.jti, a.family_id, a.client_id, a.subject, a.scopes, a.dpop_jkt,
				a.issued_at, a.expires_at, COALESCE(a.revoked_at, f.revoked_at) AS revoked_at
			FROM access_tokens a LEFT JOIN token_families f ON f.id = a.family_id
			WHERE a.jti = ?`), jti); err != nil {
			return err
		}
		at = grant.AccessToken{
			JTI:       r.JTI,
			FamilyID:  r.FamilyID.String,
			ClientID:  r.ClientID,
			Subject:   r.Subject,
			DPoPJKT:   r.DPoPJKT,
			IssuedAt:  fromMS(r.IssuedAt),
			ExpiresAt: fromMSInt(r.ExpiresAt),
			RevokedAt: fromMS(r.RevokedAt),
		}
		var err error
		at.Scopes, err = fromList(r.Scopes)
		return err
	})
	return at, err
}

// RevokeAccessToken revokes one access token. Idempotent: the first
// revocation time stays. Errors: NotFound.
func (s *Store) RevokeAccessToken(ctx context.Context, jti string, now time.Time) error {
	const op = "sqlstore.RevokeAccessToken"
	return s.do(ctx, op, func() error {
		n, err := exec(ctx, s.w, s.db.Rebind(`UPDATE access_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE jti = ?`),
			msInt(now), jti)
		if err == nil && n == 0 {
			return fault.New(fault.NotFound, op, "")
		}
		return err
	})
}
