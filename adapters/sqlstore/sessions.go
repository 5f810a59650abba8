package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/session"
	"github.com/pforte-id/pforte/ports/store"
)

var _ store.Sessions = (*Store)(nil)

// sessionRetention is how long a session is kept after its absolute end:
// as long as a token family issued in it can live
// (authz.MaxRefreshAbsoluteTTL), so that a logout that names the session
// by its sid still finds it and revokes what it issued.
const sessionRetention = 90 * 24 * time.Hour

const sessionColumns = `id, secret_hash, account_id, level, amr, auth_time, binding_id, browser, clients,
	created_at, last_seen_at, idle_until, expires_at, ended_at, end_reason, notified_at`

type sessionRow struct {
	ID         string        `db:"id"`
	SecretHash string        `db:"secret_hash"`
	AccountID  string        `db:"account_id"`
	Level      int           `db:"level"`
	AMR        string        `db:"amr"`
	AuthTime   int64         `db:"auth_time"`
	BindingID  string        `db:"binding_id"`
	Browser    string        `db:"browser"`
	Clients    string        `db:"clients"`
	CreatedAt  int64         `db:"created_at"`
	LastSeenAt int64         `db:"last_seen_at"`
	IdleUntil  int64         `db:"idle_until"`
	ExpiresAt  int64         `db:"expires_at"`
	EndedAt    sql.NullInt64 `db:"ended_at"`
	EndReason  string        `db:"end_reason"`
	NotifiedAt sql.NullInt64 `db:"notified_at"`
}

func (r sessionRow) session() (session.Session, error) {
	s := session.Session{
		ID: r.ID, SecretHash: r.SecretHash, AccountID: r.AccountID, Level: loa.Level(r.Level),
		AuthTime: fromMSInt(r.AuthTime), BindingID: r.BindingID, Browser: r.Browser,
		CreatedAt: fromMSInt(r.CreatedAt), LastSeenAt: fromMSInt(r.LastSeenAt), IdleUntil: fromMSInt(r.IdleUntil),
		ExpiresAt: fromMSInt(r.ExpiresAt), EndedAt: fromMS(r.EndedAt), EndReason: session.EndReason(r.EndReason),
		NotifiedAt: fromMS(r.NotifiedAt),
	}
	var err error
	if s.AMR, err = fromList(r.AMR); err != nil {
		return s, err
	}
	s.Clients, err = fromList(r.Clients)
	return s, err
}

// CreateSession stores s. Errors: Conflict on a duplicate ID or secret.
func (s *Store) CreateSession(ctx context.Context, ss session.Session) error {
	return s.do(ctx, "sqlstore.CreateSession", func() error {
		_, err := s.w.ExecContext(ctx, s.db.Rebind(`INSERT INTO sessions (`+sessionColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			ss.ID, ss.SecretHash, ss.AccountID, int(ss.Level), list(ss.AMR), msInt(ss.AuthTime), ss.BindingID,
			ss.Browser, list(ss.Clients), msInt(ss.CreatedAt), msInt(ss.LastSeenAt), msInt(ss.IdleUntil),
			msInt(ss.ExpiresAt), ms(ss.EndedAt), string(ss.EndReason), ms(ss.NotifiedAt))
		return err
	})
}

func (s *Store) oneSession(ctx context.Context, op, where string, arg any) (session.Session, error) {
	var r sessionRow
	err := s.do(ctx, op, func() error {
		return s.db.GetContext(ctx, &r, s.db.Rebind(`SELECT `+sessionColumns+` FROM sessions WHERE `+where+` = ?`), arg)
	})
	if err != nil {
		return session.Session{}, err
	}
	return r.session()
}

// SessionBySecret returns the session with secret hash hash. Errors:
// NotFound.
func (s *Store) SessionBySecret(ctx context.Context, hash string) (session.Session, error) {
	return s.oneSession(ctx, "sqlstore.SessionBySecret", "secret_hash", hash)
}

// SessionByID returns session id. Errors: NotFound.
func (s *Store) SessionByID(ctx context.Context, id string) (session.Session, error) {
	return s.oneSession(ctx, "sqlstore.SessionByID", "id", id)
}

// UpdateSession is the read-modify-write of a session, in one transaction
// that holds the row.
func (s *Store) UpdateSession(ctx context.Context, id string, f func(*session.Session) error) (session.Session, error) {
	const op = "sqlstore.UpdateSession"
	var out session.Session
	var refused error
	err := s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		refused = nil
		var r sessionRow
		if err := tx.GetContext(ctx, &r, tx.Rebind(`SELECT `+sessionColumns+` FROM sessions WHERE id = ?`+s.forUpdate()), id); err != nil {
			return err
		}
		before, err := r.session()
		if err != nil {
			return err
		}
		if !before.EndedAt.IsZero() {
			refused = fault.New(fault.Conflict, op, "the session has ended")
			return refused
		}
		ss := before
		ss.AMR, ss.Clients = slices.Clone(before.AMR), slices.Clone(before.Clients)
		if refused = f(&ss); refused != nil {
			return refused
		}
		if !sameSessionIdentity(before, ss) {
			return fault.New(fault.Invalid, op, "the update changed a field that never changes")
		}
		var stored sessionRow
		if err := tx.GetContext(ctx, &stored, tx.Rebind(`UPDATE sessions SET level = ?, amr = ?, auth_time = ?,
				binding_id = ?, clients = ?, last_seen_at = ?, idle_until = ? WHERE id = ? RETURNING `+sessionColumns),
			int(ss.Level), list(ss.AMR), msInt(ss.AuthTime), ss.BindingID, list(ss.Clients), msInt(ss.LastSeenAt),
			msInt(ss.IdleUntil), id); err != nil {
			return err
		}
		out, err = stored.session()
		return err
	})
	if refused != nil {
		return session.Session{}, refused
	}
	if err != nil {
		return session.Session{}, err
	}
	return out, nil
}

// sameSessionIdentity reports whether a and b agree on every field
// UpdateSession never writes.
func sameSessionIdentity(a, b session.Session) bool {
	return a.ID == b.ID && a.SecretHash == b.SecretHash && a.AccountID == b.AccountID && a.Browser == b.Browser &&
		a.CreatedAt.Equal(b.CreatedAt) && a.ExpiresAt.Equal(b.ExpiresAt) && a.EndedAt.Equal(b.EndedAt) &&
		a.EndReason == b.EndReason && a.NotifiedAt.Equal(b.NotifiedAt)
}

// MarkNotified records that the session's back-channel logouts were queued.
func (s *Store) MarkNotified(ctx context.Context, id string, now time.Time) error {
	const op = "sqlstore.MarkNotified"
	return s.do(ctx, op, func() error {
		n, err := exec(ctx, s.w, s.db.Rebind(`UPDATE sessions SET notified_at = COALESCE(notified_at, ?) WHERE id = ?`), msInt(now), id)
		if err == nil && n == 0 {
			return fault.New(fault.NotFound, op, "")
		}
		return err
	})
}

// UnnotifiedSessions returns ended sessions whose logouts were not queued.
func (s *Store) UnnotifiedSessions(ctx context.Context, endedBefore time.Time, limit int) ([]session.Session, error) {
	const op = "sqlstore.UnnotifiedSessions"
	var rows []sessionRow
	err := s.do(ctx, op, func() error {
		rows = nil
		return s.db.SelectContext(ctx, &rows, s.db.Rebind(`SELECT `+sessionColumns+` FROM sessions
			WHERE ended_at IS NOT NULL AND ended_at < ? AND notified_at IS NULL ORDER BY ended_at, id LIMIT ?`),
			msInt(endedBefore), limit)
	})
	if err != nil {
		return nil, err
	}
	return sessionsOf(op, rows)
}

func sessionsOf(op string, rows []sessionRow) ([]session.Session, error) {
	out := make([]session.Session, 0, len(rows))
	for _, r := range rows {
		ss, err := r.session()
		if err != nil {
			return nil, fault.Wrap(fault.Internal, op, err)
		}
		out = append(out, ss)
	}
	return out, nil
}

// EndSession ends session id and revokes its token families in one
// transaction.
func (s *Store) EndSession(ctx context.Context, id string, reason session.EndReason, now time.Time) (session.Session, bool, error) {
	const op = "sqlstore.EndSession"
	var out session.Session
	var ended bool
	err := s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		n, err := exec(ctx, tx, tx.Rebind(`UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL`),
			msInt(now), string(reason), id)
		if err != nil {
			return err
		}
		ended = n == 1
		// Under the session's row lock (the UPDATE took it, or the row is
		// ended and nothing can be added to it any more).
		if _, err := exec(ctx, tx, tx.Rebind(`UPDATE token_families SET revoked_at = ?
				WHERE session_id = ? AND revoked_at IS NULL`), msInt(now), id); err != nil {
			return err
		}
		var r sessionRow
		if err := tx.GetContext(ctx, &r, tx.Rebind(`SELECT `+sessionColumns+` FROM sessions WHERE id = ?`), id); err != nil {
			return err
		}
		out, err = r.session()
		return err
	})
	return out, ended, err
}

// sessionOpen locks the row of session id and fails with Forbidden when it
// is gone or ended (see CreateFamily).
func (s *Store) sessionOpen(ctx context.Context, tx *sqlx.Tx, op, id string) error {
	var ended sql.NullInt64
	err := tx.GetContext(ctx, &ended, tx.Rebind(`SELECT ended_at FROM sessions WHERE id = ?`+s.forUpdate()), id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fault.New(fault.Forbidden, op, "")
	case err != nil:
		return err
	case ended.Valid:
		return fault.New(fault.Forbidden, op, "")
	}
	return nil
}

func (s *Store) activeSessions(ctx context.Context, op, where, arg string, now time.Time) ([]session.Session, error) {
	var rows []sessionRow
	err := s.do(ctx, op, func() error {
		rows = nil
		return s.db.SelectContext(ctx, &rows, s.db.Rebind(`SELECT `+sessionColumns+` FROM sessions
			WHERE `+where+` = ? AND ended_at IS NULL AND idle_until > ? AND expires_at > ?
			ORDER BY created_at DESC, id`), arg, msInt(now), msInt(now))
	})
	if err != nil {
		return nil, err
	}
	return sessionsOf(op, rows)
}

// ActiveSessions returns the account's active sessions, newest first.
func (s *Store) ActiveSessions(ctx context.Context, accountID string, now time.Time) ([]session.Session, error) {
	return s.activeSessions(ctx, "sqlstore.ActiveSessions", "account_id", accountID, now)
}

// ActiveSessionsOfBinding returns the active sessions confirmed by binding
// bindingID. Errors: Invalid for an empty id.
func (s *Store) ActiveSessionsOfBinding(ctx context.Context, bindingID string, now time.Time) ([]session.Session, error) {
	const op = "sqlstore.ActiveSessionsOfBinding"
	if bindingID == "" {
		return nil, fault.New(fault.Invalid, op, "no binding named: an empty binding id would name every password session")
	}
	return s.activeSessions(ctx, op, "binding_id", bindingID, now)
}
