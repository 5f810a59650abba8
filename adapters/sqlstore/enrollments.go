package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/enrollment"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/ports/store"
)

const enrollmentColumns = `id, token_hash, account_id, kvnr, method, created_at, expires_at, password_set_at, completed_at, transfer_id`

type enrollmentRow struct {
	ID            string        `db:"id"`
	TokenHash     string        `db:"token_hash"`
	AccountID     string        `db:"account_id"`
	KVNR          string        `db:"kvnr"`
	Method        string        `db:"method"`
	CreatedAt     sql.NullInt64 `db:"created_at"`
	ExpiresAt     int64         `db:"expires_at"`
	PasswordSetAt sql.NullInt64 `db:"password_set_at"`
	CompletedAt   sql.NullInt64 `db:"completed_at"`
	TransferID    string        `db:"transfer_id"`
}

func (r enrollmentRow) session() enrollment.Session {
	return enrollment.Session{
		ID:            r.ID,
		TokenHash:     r.TokenHash,
		AccountID:     r.AccountID,
		KVNR:          kvnr.KVNR(r.KVNR),
		Method:        proof.Method(r.Method),
		CreatedAt:     fromMS(r.CreatedAt),
		ExpiresAt:     fromMSInt(r.ExpiresAt),
		PasswordSetAt: fromMS(r.PasswordSetAt),
		CompletedAt:   fromMS(r.CompletedAt),
		TransferID:    r.TransferID,
	}
}

// proofJSON is the stored form of a whole proof.Proof. The JSON names
// are the storage format; times are milliseconds since the epoch (UTC),
// absent for the zero time.
type proofJSON struct {
	Method     string         `json:"method"`
	Level      string         `json:"level"`
	KVNR       string         `json:"kvnr"`
	Attributes attributesJSON `json:"attributes"`
	Evidence   evidenceJSON   `json:"evidence"`
	Time       *int64         `json:"time,omitempty"`
}

type attributesJSON struct {
	GivenName    string      `json:"given_name"`
	FamilyName   string      `json:"family_name"`
	BirthName    string      `json:"birth_name,omitempty"`
	BirthDate    string      `json:"birth_date"`
	PlaceOfBirth string      `json:"place_of_birth,omitempty"`
	Address      addressJSON `json:"address"`
}

type evidenceJSON struct {
	Type        string      `json:"type"`
	Reference   string      `json:"reference"`
	Issuer      string      `json:"issuer,omitempty"`
	Subject     string      `json:"subject,omitempty"`
	IssuedAt    *int64      `json:"issued_at,omitempty"`
	DeliveredTo addressJSON `json:"delivered_to"`
}

func encodeProof(p proof.Proof) string {
	b, err := json.Marshal(proofJSON{
		Method: string(p.Method),
		Level:  p.Level.String(),
		KVNR:   string(p.KVNR),
		Attributes: attributesJSON{
			GivenName:    p.Attributes.GivenName,
			FamilyName:   p.Attributes.FamilyName,
			BirthName:    p.Attributes.BirthName,
			BirthDate:    p.Attributes.BirthDate,
			PlaceOfBirth: p.Attributes.PlaceOfBirth,
			Address:      toAddressJSON(p.Attributes.Address),
		},
		Evidence: evidenceJSON{
			Type:        p.Evidence.Type,
			Reference:   p.Evidence.Reference,
			Issuer:      p.Evidence.Issuer,
			Subject:     p.Evidence.Subject,
			IssuedAt:    msPtr(p.Evidence.IssuedAt),
			DeliveredTo: toAddressJSON(p.Evidence.DeliveredTo),
		},
		Time: msPtr(p.Time),
	})
	if err != nil {
		// Strings and integers always marshal.
		panic(err)
	}
	return string(b)
}

func decodeProof(s string) (proof.Proof, error) {
	var j proofJSON
	if err := json.Unmarshal([]byte(s), &j); err != nil {
		return proof.Proof{}, err
	}
	level, err := loa.ParseLevel(j.Level)
	if err != nil {
		return proof.Proof{}, err
	}
	return proof.Proof{
		Method: proof.Method(j.Method),
		Level:  level,
		KVNR:   kvnr.KVNR(j.KVNR),
		Attributes: proof.Attributes{
			GivenName:    j.Attributes.GivenName,
			FamilyName:   j.Attributes.FamilyName,
			BirthName:    j.Attributes.BirthName,
			BirthDate:    j.Attributes.BirthDate,
			PlaceOfBirth: j.Attributes.PlaceOfBirth,
			Address:      j.Attributes.Address.address(),
		},
		Evidence: proof.Evidence{
			Type:        j.Evidence.Type,
			Reference:   j.Evidence.Reference,
			Issuer:      j.Evidence.Issuer,
			Subject:     j.Evidence.Subject,
			IssuedAt:    fromMSPtr(j.Evidence.IssuedAt),
			DeliveredTo: j.Evidence.DeliveredTo.address(),
		},
		Time: fromMSPtr(j.Time),
	}, nil
}

// StartEnrollment, in one transaction, creates account a for p.KVNR if
// none exists (else raises its proofing level to p.Level when higher,
// keeping its ID, status and password), records proof p for it, and
// inserts session sess with AccountID set to the account's ID. A new
// account gets at least p.Level. Empty KVNRs in a and sess are taken as
// p.KVNR. A proof with Evidence.Subject links (Evidence.Issuer,
// Evidence.Subject) to p.KVNR in proof_holders, first come first served.
// Returns the account as stored. Errors: Conflict on a duplicate session
// ID or token hash (or an account ID taken by another member); Conflict
// wrapping store.ErrHolderLinked for a pseudonym of another member;
// Invalid when a or sess names another member than p.
//
// Two enrollments of one member at once (a letter and an eID, say) do not
// collide on the account: the insert skips an existing KVNR (on
// PostgreSQL it waits for a concurrent insert of the same KVNR to commit
// and then skips it), and the account row is then read FOR UPDATE, so the
// level raise and the proof sequence number are decided under its lock.
func (s *Store) StartEnrollment(ctx context.Context, sess enrollment.Session, a account.Account, p proof.Proof) (account.Account, error) {
	const op = "sqlstore.StartEnrollment"
	if a.KVNR == "" {
		a.KVNR = p.KVNR
	}
	if sess.KVNR == "" {
		sess.KVNR = p.KVNR
	}
	if p.KVNR == "" || a.KVNR != p.KVNR || sess.KVNR != p.KVNR {
		return account.Account{}, fault.New(fault.Invalid, op, "account, session and proof name different members")
	}
	changed := sess.CreatedAt
	if changed.IsZero() {
		changed = p.Time
	}
	var stored account.Account
	err := s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO accounts (`+accountColumns+`)
				VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (kvnr) DO NOTHING`),
			a.ID, string(a.KVNR), a.PasswordHash, string(a.Status), max(a.Proofing, p.Level).String(),
			ms(a.CreatedAt), ms(a.UpdatedAt)); err != nil {
			return err
		}
		var r accountRow
		if err := tx.GetContext(ctx, &r, tx.Rebind(`SELECT `+accountColumns+` FROM accounts WHERE kvnr = ?`+s.forUpdate()),
			string(p.KVNR)); err != nil {
			return err
		}
		var err error
		if stored, err = r.account(); err != nil {
			return err
		}
		if err := s.recordProof(ctx, tx, op, &stored, p, changed); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, tx.Rebind(`INSERT INTO enrollments (`+enrollmentColumns+`)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '')`),
			sess.ID, sess.TokenHash, stored.ID, string(sess.KVNR), string(sess.Method), ms(sess.CreatedAt),
			msInt(sess.ExpiresAt), ms(sess.PasswordSetAt), ms(sess.CompletedAt))
		return err
	})
	if err != nil {
		return account.Account{}, err
	}
	return stored, nil
}

// recordProof, inside tx, raises the level of account stored (read FOR
// UPDATE) to p.Level when higher, links a pseudonym (Evidence.Subject) to
// p.KVNR, first come first served, and records proof p. Errors: Conflict
// wrapping store.ErrHolderLinked for a pseudonym of another member.
func (s *Store) recordProof(ctx context.Context, tx *sqlx.Tx, op string, stored *account.Account, p proof.Proof, changed time.Time) error {
	if stored.Proofing < p.Level {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE accounts SET proofing = ?, updated_at = ? WHERE id = ?`),
			p.Level.String(), ms(changed), stored.ID); err != nil {
			return err
		}
		stored.Proofing = p.Level
		stored.UpdatedAt = fromMS(ms(changed))
	}
	if p.Evidence.Subject != "" {
		// The first member a pseudonym is recorded for keeps it. On
		// PostgreSQL a concurrent insert of the same pair makes this
		// one wait for its commit, and the SELECT then sees its row.
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO proof_holders (issuer, subject, kvnr, created_at)
			VALUES (?, ?, ?, ?) ON CONFLICT (issuer, subject) DO NOTHING`),
			p.Evidence.Issuer, p.Evidence.Subject, string(p.KVNR), ms(p.Time)); err != nil {
			return err
		}
		var holder string
		if err := tx.GetContext(ctx, &holder, tx.Rebind(`SELECT kvnr FROM proof_holders WHERE issuer = ? AND subject = ?`),
			p.Evidence.Issuer, p.Evidence.Subject); err != nil {
			return err
		}
		if holder != string(p.KVNR) {
			return fault.Wrap(fault.Conflict, op, store.ErrHolderLinked)
		}
	}
	var seq int64
	if err := tx.GetContext(ctx, &seq, tx.Rebind(`SELECT COALESCE(MAX(seq), 0) + 1 FROM proofs WHERE account_id = ?`),
		stored.ID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO proofs (account_id, seq, kvnr, method, level, proved_at, proof)
		VALUES (?, ?, ?, ?, ?, ?, ?)`),
		stored.ID, seq, string(p.KVNR), string(p.Method), p.Level.String(), ms(p.Time), encodeProof(p)); err != nil {
		return err
	}
	return nil
}

// RecordProof, in one transaction, records proof p for account accountID
// (a step-up: no enrollment session), raises its level to p.Level when
// higher and links a pseudonym as StartEnrollment does. Returns the
// account as stored. Errors: NotFound (no such account); Invalid (the
// account is another member's than p names); Conflict wrapping
// store.ErrHolderLinked.
func (s *Store) RecordProof(ctx context.Context, accountID string, p proof.Proof) (account.Account, error) {
	const op = "sqlstore.RecordProof"
	var stored account.Account
	err := s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		var r accountRow
		if err := tx.GetContext(ctx, &r, tx.Rebind(`SELECT `+accountColumns+` FROM accounts WHERE id = ?`+s.forUpdate()),
			accountID); err != nil {
			return err
		}
		var err error
		if stored, err = r.account(); err != nil {
			return err
		}
		if p.KVNR == "" || stored.KVNR != p.KVNR {
			return fault.New(fault.Invalid, op, "the proof names another member than the account")
		}
		return s.recordProof(ctx, tx, op, &stored, p, p.Time)
	})
	if err != nil {
		return account.Account{}, err
	}
	return stored, nil
}

// forUpdate is the row lock clause of a SELECT in a write transaction:
// FOR UPDATE on PostgreSQL; nothing on SQLite, whose IMMEDIATE
// transactions hold the database's write lock from the start.
func (s *Store) forUpdate() string {
	if s.driver == DriverPostgres {
		return ` FOR UPDATE`
	}
	return ``
}

// EnrollmentByTokenHash returns the session. Errors: NotFound.
func (s *Store) EnrollmentByTokenHash(ctx context.Context, tokenHash string) (enrollment.Session, error) {
	var out enrollment.Session
	err := s.do(ctx, "sqlstore.EnrollmentByTokenHash", func() error {
		var r enrollmentRow
		if err := s.db.GetContext(ctx, &r, s.db.Rebind(`SELECT `+enrollmentColumns+` FROM enrollments WHERE token_hash = ?`),
			tokenHash); err != nil {
			return err
		}
		out = r.session()
		return nil
	})
	return out, err
}

// SetEnrollmentPassword sets the password hash of the session's account
// and PasswordSetAt of the session in one transaction, only while the
// session is open at now (not completed, ExpiresAt > now). The condition
// is part of the session's UPDATE, so a session that closes meanwhile
// cannot take a password. A session a device transfer opened takes none:
// the old phone's approval does not stand in for the password.
// Errors: NotFound; Expired; Forbidden (a transfer's session).
func (s *Store) SetEnrollmentPassword(ctx context.Context, sessionID, passwordHash string, now time.Time) error {
	const op = "sqlstore.SetEnrollmentPassword"
	return s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		var accountID string
		err := tx.GetContext(ctx, &accountID, tx.Rebind(`UPDATE enrollments SET password_set_at = ?
			WHERE id = ? AND completed_at IS NULL AND expires_at > ? AND transfer_id = '' RETURNING account_id`),
			ms(now), sessionID, msInt(now))
		if errors.Is(err, sql.ErrNoRows) {
			var transfers []string
			if err := tx.SelectContext(ctx, &transfers, tx.Rebind(`SELECT transfer_id FROM enrollments WHERE id = ?`), sessionID); err != nil {
				return err
			}
			switch {
			case len(transfers) == 0:
				return fault.New(fault.NotFound, op, "")
			case transfers[0] != "":
				return fault.New(fault.Forbidden, op, "a device transfer's session takes no password")
			}
			return fault.New(fault.Expired, op, "")
		}
		if err != nil {
			return err
		}
		n, err := exec(ctx, tx, tx.Rebind(`UPDATE accounts SET password_hash = ?, updated_at = ? WHERE id = ?`),
			passwordHash, ms(now), accountID)
		if err == nil && n == 0 {
			// The foreign key keeps the account while the session exists.
			return fault.New(fault.Internal, op, "")
		}
		return err
	})
}

// Proofs returns the proofs recorded for an account, oldest first (in the
// order they were recorded).
func (s *Store) Proofs(ctx context.Context, accountID string) ([]proof.Proof, error) {
	var out []proof.Proof
	err := s.do(ctx, "sqlstore.Proofs", func() error {
		var texts []string
		if err := s.db.SelectContext(ctx, &texts, s.db.Rebind(`SELECT proof FROM proofs WHERE account_id = ? ORDER BY seq`),
			accountID); err != nil {
			return err
		}
		out = make([]proof.Proof, 0, len(texts))
		for _, t := range texts {
			p, err := decodeProof(t)
			if err != nil {
				return err
			}
			out = append(out, p)
		}
		return nil
	})
	return out, err
}
