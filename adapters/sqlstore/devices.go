package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/pin"
)

const bindingColumns = `id, account_id, enrollment_id, name, platform, credential_id, public_key, sign_count,
	aaguid, attestation_format, status, pin_hash, pin_failures, pin_not_before, pin_blocked,
	created_at, last_used_at, pin_set_at, revoked_at, confirmed_at`

type bindingRow struct {
	ID                string        `db:"id"`
	AccountID         string        `db:"account_id"`
	EnrollmentID      string        `db:"enrollment_id"`
	Name              string        `db:"name"`
	Platform          string        `db:"platform"`
	CredentialID      []byte        `db:"credential_id"`
	PublicKey         []byte        `db:"public_key"`
	SignCount         int64         `db:"sign_count"`
	AAGUID            []byte        `db:"aaguid"`
	AttestationFormat string        `db:"attestation_format"`
	Status            string        `db:"status"`
	PINHash           string        `db:"pin_hash"`
	PINFailures       int           `db:"pin_failures"`
	PINNotBefore      sql.NullInt64 `db:"pin_not_before"`
	PINBlocked        bool          `db:"pin_blocked"`
	CreatedAt         sql.NullInt64 `db:"created_at"`
	LastUsedAt        sql.NullInt64 `db:"last_used_at"`
	PINSetAt          sql.NullInt64 `db:"pin_set_at"`
	RevokedAt         sql.NullInt64 `db:"revoked_at"`
	ConfirmedAt       sql.NullInt64 `db:"confirmed_at"`
}

func (r bindingRow) binding() device.Binding {
	return device.Binding{
		ID:                r.ID,
		AccountID:         r.AccountID,
		EnrollmentID:      r.EnrollmentID,
		Name:              r.Name,
		Platform:          device.Platform(r.Platform),
		CredentialID:      fromBlob(r.CredentialID),
		PublicKey:         fromBlob(r.PublicKey),
		SignCount:         uint32(r.SignCount),
		AAGUID:            fromBlob(r.AAGUID),
		AttestationFormat: r.AttestationFormat,
		Status:            device.Status(r.Status),
		PINHash:           r.PINHash,
		PIN: pin.Counter{
			Failures:  r.PINFailures,
			NotBefore: fromMS(r.PINNotBefore),
			Blocked:   r.PINBlocked,
		},
		CreatedAt:   fromMS(r.CreatedAt),
		LastUsedAt:  fromMS(r.LastUsedAt),
		PINSetAt:    fromMS(r.PINSetAt),
		RevokedAt:   fromMS(r.RevokedAt),
		ConfirmedAt: fromMS(r.ConfirmedAt),
	}
}

// BindDevice inserts b only while the enrollment session b.EnrollmentID is
// open at now (not completed, ExpiresAt > now) and has no binding yet. The
// session's row is read FOR UPDATE on PostgreSQL (SQLite's IMMEDIATE
// transaction holds the write lock anyway), so concurrent bindings in one
// session, and a binding racing the session's completion, are serialised;
// the partial unique index on enrollment_id backs the one-key rule. An
// empty b.AccountID is taken as the session's account.
// Errors: NotFound (session); Expired (session over or completed);
// Conflict (the session has a binding, or the credential id is bound);
// Invalid (b names another account than the session, or has no ID,
// credential id or public key).
func (s *Store) BindDevice(ctx context.Context, b device.Binding, now time.Time) error {
	const op = "sqlstore.BindDevice"
	if b.ID == "" || b.EnrollmentID == "" || len(b.CredentialID) == 0 || len(b.PublicKey) == 0 {
		return fault.New(fault.Invalid, op, "a binding needs an ID, an enrollment session, a credential id and a public key")
	}
	return s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		sess, err := s.openEnrollment(ctx, tx, op, b.EnrollmentID, now)
		if err != nil {
			return err
		}
		accountID := b.AccountID
		if accountID == "" {
			accountID = sess.AccountID
		}
		if accountID != sess.AccountID {
			return fault.New(fault.Invalid, op, "the binding names another account than its enrollment session")
		}
		var bound int
		if err := tx.GetContext(ctx, &bound, tx.Rebind(`SELECT COUNT(*) FROM device_bindings WHERE enrollment_id = ?`),
			b.EnrollmentID); err != nil {
			return err
		}
		if bound > 0 {
			return fault.Wrap(fault.Conflict, op, errors.New("the enrollment session has a device binding already"))
		}
		_, err = tx.ExecContext(ctx, tx.Rebind(`INSERT INTO device_bindings (`+bindingColumns+`)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			b.ID, accountID, b.EnrollmentID, b.Name, string(b.Platform), b.CredentialID, b.PublicKey,
			int64(b.SignCount), blob(b.AAGUID), b.AttestationFormat, string(b.Status), b.PINHash,
			b.PIN.Failures, ms(b.PIN.NotBefore), b.PIN.Blocked,
			ms(b.CreatedAt), ms(b.LastUsedAt), ms(b.PINSetAt), ms(b.RevokedAt), ms(b.ConfirmedAt))
		return err
	})
}

// openSession is what a step of an enrollment needs of its session.
type openSession struct {
	AccountID     string        `db:"account_id"`
	ExpiresAt     int64         `db:"expires_at"`
	PasswordSetAt sql.NullInt64 `db:"password_set_at"`
	CompletedAt   sql.NullInt64 `db:"completed_at"`
	TransferID    string        `db:"transfer_id"`
}

// openEnrollment reads session id, locking its row, and checks that it is
// open at now. Errors: NotFound; Expired (over or completed).
func (s *Store) openEnrollment(ctx context.Context, tx *sqlx.Tx, op, id string, now time.Time) (openSession, error) {
	var sess openSession
	err := tx.GetContext(ctx, &sess, tx.Rebind(`SELECT account_id, expires_at, password_set_at, completed_at, transfer_id
			FROM enrollments WHERE id = ?`+s.forUpdate()), id)
	if errors.Is(err, sql.ErrNoRows) {
		return sess, fault.Wrap(fault.NotFound, op, errors.New("no such enrollment session"))
	}
	if err != nil {
		return sess, err
	}
	if sess.CompletedAt.Valid || sess.ExpiresAt <= msInt(now) {
		return sess, fault.Wrap(fault.Expired, op, errors.New("the enrollment session is over or completed"))
	}
	return sess, nil
}

// BindingByID returns binding id. Errors: NotFound.
func (s *Store) BindingByID(ctx context.Context, id string) (device.Binding, error) {
	return s.bindingWhere(ctx, "sqlstore.BindingByID", `id = ?`, id)
}

// BindingByCredentialID returns the binding of a key. Errors: NotFound.
func (s *Store) BindingByCredentialID(ctx context.Context, credentialID []byte) (device.Binding, error) {
	if len(credentialID) == 0 {
		return device.Binding{}, fault.New(fault.NotFound, "sqlstore.BindingByCredentialID", "")
	}
	return s.bindingWhere(ctx, "sqlstore.BindingByCredentialID", `credential_id = ?`, credentialID)
}

func (s *Store) bindingWhere(ctx context.Context, op, where string, arg any) (device.Binding, error) {
	var out device.Binding
	err := s.do(ctx, op, func() error {
		var r bindingRow
		if err := s.db.GetContext(ctx, &r, s.db.Rebind(`SELECT `+bindingColumns+` FROM device_bindings WHERE `+where), arg); err != nil {
			return err
		}
		out = r.binding()
		return nil
	})
	return out, err
}

// ListBindings returns an account's bindings, oldest first (by CreatedAt,
// then ID), revoked ones included.
func (s *Store) ListBindings(ctx context.Context, accountID string) ([]device.Binding, error) {
	var out []device.Binding
	err := s.do(ctx, "sqlstore.ListBindings", func() error {
		var rows []bindingRow
		if err := s.db.SelectContext(ctx, &rows, s.db.Rebind(`SELECT `+bindingColumns+` FROM device_bindings
				WHERE account_id = ? ORDER BY created_at, id`), accountID); err != nil {
			return err
		}
		out = make([]device.Binding, 0, len(rows))
		for _, r := range rows {
			out = append(out, r.binding())
		}
		return nil
	})
	return out, err
}

// UpdateBinding reads binding id and calls f with a copy of it; when f
// returns nil it writes the fields a binding's life changes (name, sign
// counter, status, PIN hash and counter, last use, PIN set, revocation),
// all in one transaction that holds the row: SELECT … FOR UPDATE on
// PostgreSQL, where a concurrent update waits for the lock and then reads
// the committed row; on SQLite the IMMEDIATE transaction holds the
// database's write lock from BEGIN, so writers run one after the other.
// Either way f sees the latest state, and N concurrent wrong PINs bump the
// counter exactly N times (the check-and-bump of pin.Policy.Try).
//
// f runs again, on a fresh read, when the transaction is retried (a busy
// database, a deadlock); only the run whose changes were committed counts.
// When f returns an error the transaction is rolled back and that error is
// returned as it is, not translated. Token families are not touched: the
// caller that revokes or flags a binding revokes them afterwards
// (RevokeFamiliesOfBinding), and the row lock orders this update against
// a CreateFamily for the binding (see there). Returns the binding as
// stored afterwards.
// Errors: NotFound; Invalid when f changed what identifies the binding
// (ID, account, enrollment, platform, credential id, public key, AAGUID,
// attestation format, creation time) — nothing is written then; f's error.
func (s *Store) UpdateBinding(ctx context.Context, id string, f func(b *device.Binding) error) (device.Binding, error) {
	const op = "sqlstore.UpdateBinding"
	var out device.Binding
	var refused error
	err := s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		refused = nil
		var r bindingRow
		if err := tx.GetContext(ctx, &r, tx.Rebind(`SELECT `+bindingColumns+` FROM device_bindings WHERE id = ?`+s.forUpdate()),
			id); err != nil {
			return err
		}
		before := r.binding()
		b := cloneBinding(before)
		if refused = f(&b); refused != nil {
			return refused
		}
		if !sameIdentity(before, b) {
			return fault.New(fault.Invalid, op, "the update changed what identifies the binding")
		}
		var stored bindingRow
		if err := tx.GetContext(ctx, &stored, tx.Rebind(`UPDATE device_bindings SET
				name = ?, sign_count = ?, status = ?, pin_hash = ?, pin_failures = ?, pin_not_before = ?,
				pin_blocked = ?, last_used_at = ?, pin_set_at = ?, revoked_at = ?, confirmed_at = ?
				WHERE id = ? RETURNING `+bindingColumns),
			b.Name, int64(b.SignCount), string(b.Status), b.PINHash, b.PIN.Failures, ms(b.PIN.NotBefore),
			b.PIN.Blocked, ms(b.LastUsedAt), ms(b.PINSetAt), ms(b.RevokedAt), ms(b.ConfirmedAt), id); err != nil {
			return err
		}
		out = stored.binding()
		return nil
	})
	if refused != nil {
		return device.Binding{}, refused
	}
	if err != nil {
		return device.Binding{}, err
	}
	return out, nil
}

// cloneBinding copies b with slices of its own, so that f cannot change the
// row image it is compared with.
func cloneBinding(b device.Binding) device.Binding {
	b.CredentialID = slices.Clone(b.CredentialID)
	b.PublicKey = slices.Clone(b.PublicKey)
	b.AAGUID = slices.Clone(b.AAGUID)
	return b
}

// sameIdentity reports whether a and b agree on the fields UpdateBinding
// never writes.
func sameIdentity(a, b device.Binding) bool {
	return a.ID == b.ID && a.AccountID == b.AccountID && a.EnrollmentID == b.EnrollmentID &&
		a.Platform == b.Platform && a.AttestationFormat == b.AttestationFormat &&
		bytes.Equal(a.CredentialID, b.CredentialID) && bytes.Equal(a.PublicKey, b.PublicKey) &&
		bytes.Equal(a.AAGUID, b.AAGUID) && a.CreatedAt.Equal(b.CreatedAt)
}

// RevokeBindings revokes the account's bindings that are not revoked yet,
// except keep (empty: all), in one UPDATE, and returns how many; then, in
// the same transaction, it revokes the active token families of the
// account's revoked and suspect bindings other than keep. The UPDATE holds
// the rows of the bindings it revoked, which orders it against a
// CreateFamily for one of them (see there); families of bindings revoked
// or flagged earlier are revoked again only if something left them
// active. Idempotent: a revoked binding keeps its first RevokedAt, a
// revoked family its first revocation time.
func (s *Store) RevokeBindings(ctx context.Context, accountID, keep string, now time.Time) (int, error) {
	var n int64
	err := s.inTx(ctx, "sqlstore.RevokeBindings", func(tx *sqlx.Tx) error {
		var err error
		n, err = exec(ctx, tx, tx.Rebind(`UPDATE device_bindings SET status = ?, revoked_at = ?
				WHERE account_id = ? AND status <> ? AND id <> ?`),
			string(device.Revoked), ms(now), accountID, string(device.Revoked), keep)
		if err != nil {
			return err
		}
		_, err = revokeFamiliesOf(ctx, tx, now, `SELECT id FROM device_bindings
				WHERE account_id = ? AND id <> ? AND status IN (?, ?)`,
			accountID, keep, string(device.Revoked), string(device.Suspect))
		return err
	})
	return int(n), err
}

const challengeColumns = `id, purpose, subject, context, state, created_at, expires_at`

type challengeRow struct {
	ID        string        `db:"id"`
	Purpose   string        `db:"purpose"`
	Subject   string        `db:"subject"`
	Context   string        `db:"context"`
	State     []byte        `db:"state"`
	CreatedAt sql.NullInt64 `db:"created_at"`
	ExpiresAt int64         `db:"expires_at"`
}

// CreateChallenge stores c. Errors: Conflict on a duplicate ID.
func (s *Store) CreateChallenge(ctx context.Context, c device.Challenge) error {
	return s.do(ctx, "sqlstore.CreateChallenge", func() error {
		_, err := s.w.ExecContext(ctx, s.db.Rebind(`INSERT INTO challenges (`+challengeColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`),
			c.ID, string(c.Purpose), c.Subject, c.Context, blob(c.State), ms(c.CreatedAt), msInt(c.ExpiresAt))
		return err
	})
}

// ConsumeChallenge deletes challenge id and returns it: one DELETE …
// RETURNING, so exactly one of concurrent callers gets the row. An expired
// challenge is deleted all the same and reported as Expired.
// Errors: NotFound (unknown or used before); Expired (ExpiresAt <= now).
func (s *Store) ConsumeChallenge(ctx context.Context, id string, now time.Time) (device.Challenge, error) {
	const op = "sqlstore.ConsumeChallenge"
	var r challengeRow
	err := s.do(ctx, op, func() error {
		return s.w.GetContext(ctx, &r, s.db.Rebind(`DELETE FROM challenges WHERE id = ? RETURNING `+challengeColumns), id)
	})
	if err != nil {
		return device.Challenge{}, err
	}
	if r.ExpiresAt <= msInt(now) {
		return device.Challenge{}, fault.Wrap(fault.Expired, op, errors.New("the challenge has expired"))
	}
	return device.Challenge{
		ID:        r.ID,
		Purpose:   device.Purpose(r.Purpose),
		Subject:   r.Subject,
		Context:   r.Context,
		State:     fromBlob(r.State),
		CreatedAt: fromMS(r.CreatedAt),
		ExpiresAt: fromMSInt(r.ExpiresAt),
	}, nil
}
