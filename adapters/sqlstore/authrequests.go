package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/ports/store"
)

type authRequestRow struct {
	ID                  string         `db:"id"`
	ClientID            string         `db:"client_id"`
	RedirectURI         string         `db:"redirect_uri"`
	Scopes              string         `db:"scopes"`
	State               string         `db:"state"`
	Nonce               string         `db:"nonce"`
	CodeChallenge       string         `db:"code_challenge"`
	CodeChallengeMethod string         `db:"code_challenge_method"`
	Prompt              string         `db:"prompt"`
	MaxAge              sql.NullInt64  `db:"max_age"`
	ACRValues           string         `db:"acr_values"`
	UILocales           string         `db:"ui_locales"`
	LoginHint           string         `db:"login_hint"`
	DPoPJKT             string         `db:"dpop_jkt"`
	CreatedAt           sql.NullInt64  `db:"created_at"`
	ExpiresAt           int64          `db:"expires_at"`
	LoginSubject        sql.NullString `db:"login_subject"`
	LoginAuthTime       sql.NullInt64  `db:"login_auth_time"`
	LoginAMR            sql.NullString `db:"login_amr"`
	LoginACR            sql.NullString `db:"login_acr"`
	LoginBindingID      sql.NullString `db:"login_binding_id"`
	LoginSessionID      sql.NullString `db:"login_session_id"`
	HintSubject         string         `db:"hint_subject"`
	HintClientID        string         `db:"hint_client_id"`
}

const authRequestColumns = `id, client_id, redirect_uri, scopes, state, nonce, code_challenge,
	code_challenge_method, prompt, max_age, acr_values, ui_locales, login_hint, dpop_jkt, created_at,
	expires_at, hint_subject, hint_client_id, login_subject, login_auth_time, login_amr, login_acr,
	login_binding_id, login_session_id`

// authRequestValues are the placeholders of authRequestColumns.
const authRequestValues = `?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?`

// pending is the condition on auth_requests rows that are ordinary
// authorization requests: not pushed, or pushed and taken by
// ConsumePushedRequest. A pushed request waiting for its request_uri is
// invisible to everything else, so that nobody can log in to it or learn
// of it by its ID before the client has sent the member to it.
const pending = `(request_uri_hash IS NULL OR request_uri_used_at IS NOT NULL)`

func (r authRequestRow) request() (grant.AuthRequest, error) {
	a := grant.AuthRequest{
		ID:                  r.ID,
		ClientID:            r.ClientID,
		RedirectURI:         r.RedirectURI,
		State:               r.State,
		Nonce:               r.Nonce,
		CodeChallenge:       r.CodeChallenge,
		CodeChallengeMethod: r.CodeChallengeMethod,
		MaxAge:              fromDuration(r.MaxAge),
		LoginHint:           r.LoginHint,
		DPoPJKT:             r.DPoPJKT,
		HintSubject:         r.HintSubject,
		HintClientID:        r.HintClientID,
		CreatedAt:           fromMS(r.CreatedAt),
		ExpiresAt:           fromMSInt(r.ExpiresAt),
	}
	var err error
	if a.Scopes, err = fromList(r.Scopes); err != nil {
		return a, err
	}
	if a.Prompt, err = fromList(r.Prompt); err != nil {
		return a, err
	}
	if a.ACRValues, err = fromList(r.ACRValues); err != nil {
		return a, err
	}
	if a.UILocales, err = fromList(r.UILocales); err != nil {
		return a, err
	}
	if r.LoginSubject.Valid {
		l := &grant.Login{
			Subject:   r.LoginSubject.String,
			AuthTime:  fromMS(r.LoginAuthTime),
			ACR:       r.LoginACR.String,
			BindingID: r.LoginBindingID.String,
			SessionID: r.LoginSessionID.String,
		}
		if l.AMR, err = fromOptList(r.LoginAMR); err != nil {
			return a, err
		}
		a.Login = l
	}
	return a, nil
}

// loginArgs are the login_* column values of l (all NULL without a login).
func loginArgs(l *grant.Login) []any {
	if l == nil {
		return []any{sql.NullString{}, sql.NullInt64{}, sql.NullString{}, sql.NullString{}, sql.NullString{}, sql.NullString{}}
	}
	return []any{l.Subject, ms(l.AuthTime), list(l.AMR), l.ACR, l.BindingID, l.SessionID}
}

// authRequestArgs are the values of authRequestColumns for r.
func authRequestArgs(r grant.AuthRequest) []any {
	return append([]any{
		r.ID, r.ClientID, r.RedirectURI, list(r.Scopes), r.State, r.Nonce, r.CodeChallenge,
		r.CodeChallengeMethod, list(r.Prompt), duration(r.MaxAge), list(r.ACRValues), list(r.UILocales),
		r.LoginHint, r.DPoPJKT, ms(r.CreatedAt), msInt(r.ExpiresAt), r.HintSubject, r.HintClientID,
	}, loginArgs(r.Login)...)
}

// CreateAuthRequest inserts r. Errors: Conflict when the ID exists (also
// as a pushed request).
func (s *Store) CreateAuthRequest(ctx context.Context, r grant.AuthRequest) error {
	args := authRequestArgs(r)
	return s.do(ctx, "sqlstore.CreateAuthRequest", func() error {
		_, err := s.w.ExecContext(ctx, s.db.Rebind(`INSERT INTO auth_requests (`+authRequestColumns+`)
			VALUES (`+authRequestValues+`)`), args...)
		return err
	})
}

// CreatePushedRequest stores r as a pushed request under requestURIHash,
// usable until expiresAt; it stays hidden (see pending) until
// ConsumePushedRequest takes it. Errors: Conflict when r.ID or
// requestURIHash exists; Invalid when requestURIHash is empty, r has a
// login, or expiresAt is after r.ExpiresAt.
func (s *Store) CreatePushedRequest(ctx context.Context, r grant.AuthRequest, requestURIHash string, expiresAt time.Time) error {
	const op = "sqlstore.CreatePushedRequest"
	switch {
	case requestURIHash == "":
		return fault.New(fault.Invalid, op, "a pushed request needs its request_uri hash")
	case r.Login != nil:
		return fault.New(fault.Invalid, op, "a pushed request has no login")
	case msInt(expiresAt) > msInt(r.ExpiresAt):
		return fault.New(fault.Invalid, op, "the request_uri would outlive its request")
	}
	args := append(authRequestArgs(r), requestURIHash, msInt(expiresAt))
	return s.do(ctx, op, func() error {
		_, err := s.w.ExecContext(ctx, s.db.Rebind(`INSERT INTO auth_requests (`+authRequestColumns+`,
				request_uri_hash, request_uri_expires_at)
			VALUES (`+authRequestValues+`, ?, ?)`), args...)
		return err
	})
}

// ConsumePushedRequest takes the pushed request under requestURIHash for
// clientID: one conditional UPDATE … RETURNING sets request_uri_used_at,
// so exactly one of concurrent callers gets the row, which from then on is
// an ordinary pending request. The losers and every other refusal read the
// row to say why. Errors: NotFound (unknown or used); Forbidden (another
// client's; left unused); Expired (request_uri_expires_at <= now).
func (s *Store) ConsumePushedRequest(ctx context.Context, requestURIHash, clientID string, now time.Time) (grant.AuthRequest, error) {
	const op = "sqlstore.ConsumePushedRequest"
	var a grant.AuthRequest
	err := s.do(ctx, op, func() error {
		var r authRequestRow
		err := s.w.GetContext(ctx, &r, s.db.Rebind(`UPDATE auth_requests SET request_uri_used_at = ?
			WHERE request_uri_hash = ? AND request_uri_used_at IS NULL AND client_id = ?
			  AND request_uri_expires_at > ?
			RETURNING `+authRequestColumns), msInt(now), requestURIHash, clientID, msInt(now))
		if err == nil {
			a, err = r.request()
			return err
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var why struct {
			ClientID  string        `db:"client_id"`
			ExpiresAt int64         `db:"request_uri_expires_at"`
			UsedAt    sql.NullInt64 `db:"request_uri_used_at"`
		}
		err = s.db.GetContext(ctx, &why, s.db.Rebind(`SELECT client_id, request_uri_expires_at, request_uri_used_at
			FROM auth_requests WHERE request_uri_hash = ?`), requestURIHash)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fault.New(fault.NotFound, op, "")
		case err != nil:
			return err
		case why.UsedAt.Valid:
			return fault.New(fault.NotFound, op, "")
		case why.ClientID != clientID:
			return fault.New(fault.Forbidden, op, "")
		case why.ExpiresAt <= msInt(now):
			return fault.New(fault.Expired, op, "")
		}
		// Unused, this client's and valid, yet the UPDATE missed it: only a
		// clock running backwards between the two statements does that.
		return fault.New(fault.Internal, op, "")
	})
	if err != nil {
		return grant.AuthRequest{}, err
	}
	return a, nil
}

// AuthRequestByID returns request id, expired or not. Errors: NotFound.
func (s *Store) AuthRequestByID(ctx context.Context, id string) (grant.AuthRequest, error) {
	var a grant.AuthRequest
	err := s.do(ctx, "sqlstore.AuthRequestByID", func() error {
		var r authRequestRow
		if err := s.db.GetContext(ctx, &r, s.db.Rebind(`SELECT `+authRequestColumns+` FROM auth_requests WHERE id = ? AND `+pending), id); err != nil {
			return err
		}
		var err error
		a, err = r.request()
		return err
	})
	return a, err
}

// CompleteAuthRequest records the login on request id, at most once: the
// conditional UPDATE is the race, its row count names the winner.
// Errors: NotFound; Expired when ExpiresAt <= now; Conflict when it already
// has a login.
func (s *Store) CompleteAuthRequest(ctx context.Context, id string, l grant.Login, now time.Time) error {
	const op = "sqlstore.CompleteAuthRequest"
	args := append(loginArgs(&l), id, msInt(now))
	return s.do(ctx, op, func() error {
		n, err := exec(ctx, s.w, s.db.Rebind(`UPDATE auth_requests
			SET login_subject = ?, login_auth_time = ?, login_amr = ?, login_acr = ?, login_binding_id = ?, login_session_id = ?
			WHERE id = ? AND login_subject IS NULL AND expires_at > ? AND `+pending), args...)
		if err != nil || n == 1 {
			return err
		}
		// Lost: find out why.
		var why struct {
			ExpiresAt    int64          `db:"expires_at"`
			LoginSubject sql.NullString `db:"login_subject"`
		}
		err = s.db.GetContext(ctx, &why, s.db.Rebind(`SELECT expires_at, login_subject FROM auth_requests WHERE id = ? AND `+pending), id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fault.New(fault.NotFound, op, "")
		case err != nil:
			return err
		case why.ExpiresAt <= msInt(now):
			return fault.New(fault.Expired, op, "")
		default:
			return fault.New(fault.Conflict, op, "")
		}
	})
}

// codeRequest is the JSON snapshot of the request a code was issued for;
// times as UTC milliseconds like every other column.
type codeRequest struct {
	ID                  string     `json:"id"`
	ClientID            string     `json:"client_id"`
	RedirectURI         string     `json:"redirect_uri"`
	Scopes              []string   `json:"scopes,omitempty"`
	State               string     `json:"state,omitempty"`
	Nonce               string     `json:"nonce,omitempty"`
	CodeChallenge       string     `json:"code_challenge,omitempty"`
	CodeChallengeMethod string     `json:"code_challenge_method,omitempty"`
	Prompt              []string   `json:"prompt,omitempty"`
	MaxAge              *int64     `json:"max_age_ns,omitempty"`
	ACRValues           []string   `json:"acr_values,omitempty"`
	UILocales           []string   `json:"ui_locales,omitempty"`
	LoginHint           string     `json:"login_hint,omitempty"`
	DPoPJKT             string     `json:"dpop_jkt,omitempty"`
	HintSubject         string     `json:"hint_sub,omitempty"`
	HintClientID        string     `json:"hint_client_id,omitempty"`
	CreatedAt           *int64     `json:"created_at,omitempty"`
	ExpiresAt           *int64     `json:"expires_at,omitempty"`
	Login               *codeLogin `json:"login,omitempty"`
}

type codeLogin struct {
	Subject  string   `json:"sub"`
	AuthTime *int64   `json:"auth_time,omitempty"`
	AMR      []string `json:"amr,omitempty"`
	ACR      string   `json:"acr,omitempty"`
	// BindingID is absent in snapshots written before 00005: "".
	BindingID string `json:"binding_id,omitempty"`
	// SessionID is absent in snapshots written before 00014: "".
	SessionID string `json:"sid,omitempty"`
}

func msPtr(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	v := t.UnixMilli()
	return &v
}

func fromMSPtr(v *int64) time.Time {
	if v == nil {
		return time.Time{}
	}
	return fromMSInt(*v)
}

func encodeRequest(r grant.AuthRequest) (string, error) {
	c := codeRequest{
		ID: r.ID, ClientID: r.ClientID, RedirectURI: r.RedirectURI, Scopes: r.Scopes,
		State: r.State, Nonce: r.Nonce, CodeChallenge: r.CodeChallenge,
		CodeChallengeMethod: r.CodeChallengeMethod, Prompt: r.Prompt, ACRValues: r.ACRValues,
		UILocales: r.UILocales, LoginHint: r.LoginHint, DPoPJKT: r.DPoPJKT,
		HintSubject: r.HintSubject, HintClientID: r.HintClientID,
		CreatedAt: msPtr(r.CreatedAt), ExpiresAt: msPtr(r.ExpiresAt),
	}
	if r.MaxAge != nil {
		v := int64(*r.MaxAge)
		c.MaxAge = &v
	}
	if r.Login != nil {
		c.Login = &codeLogin{Subject: r.Login.Subject, AuthTime: msPtr(r.Login.AuthTime), AMR: r.Login.AMR, ACR: r.Login.ACR,
			BindingID: r.Login.BindingID, SessionID: r.Login.SessionID}
	}
	b, err := json.Marshal(c)
	return string(b), err
}

func decodeRequest(s string) (grant.AuthRequest, error) {
	var c codeRequest
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return grant.AuthRequest{}, err
	}
	r := grant.AuthRequest{
		ID: c.ID, ClientID: c.ClientID, RedirectURI: c.RedirectURI, Scopes: nilIfEmpty(c.Scopes),
		State: c.State, Nonce: c.Nonce, CodeChallenge: c.CodeChallenge,
		CodeChallengeMethod: c.CodeChallengeMethod, Prompt: nilIfEmpty(c.Prompt),
		ACRValues: nilIfEmpty(c.ACRValues), UILocales: nilIfEmpty(c.UILocales), LoginHint: c.LoginHint,
		DPoPJKT: c.DPoPJKT, HintSubject: c.HintSubject, HintClientID: c.HintClientID, CreatedAt: fromMSPtr(c.CreatedAt), ExpiresAt: fromMSPtr(c.ExpiresAt),
	}
	if c.MaxAge != nil {
		d := time.Duration(*c.MaxAge)
		r.MaxAge = &d
	}
	if c.Login != nil {
		r.Login = &grant.Login{Subject: c.Login.Subject, AuthTime: fromMSPtr(c.Login.AuthTime), AMR: nilIfEmpty(c.Login.AMR),
			ACR: c.Login.ACR, BindingID: c.Login.BindingID, SessionID: c.Login.SessionID}
	}
	return r, nil
}

func nilIfEmpty(v []string) []string {
	if len(v) == 0 {
		return nil
	}
	return v
}

// IssueCode deletes the completed request c.Request.ID and stores code c in
// one transaction, so a request yields at most one code: of concurrent
// callers only the one whose DELETE removed the row inserts a code.
// Errors: NotFound when the request does not exist (any more); Forbidden
// when it has no login yet; Conflict on a duplicate code hash.
func (s *Store) IssueCode(ctx context.Context, c grant.Code) error {
	const op = "sqlstore.IssueCode"
	req, err := encodeRequest(c.Request)
	if err != nil {
		return fault.Wrap(fault.Internal, op, err)
	}
	return s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		n, err := exec(ctx, tx, tx.Rebind(`DELETE FROM auth_requests WHERE id = ? AND login_subject IS NOT NULL AND `+pending), c.Request.ID)
		if err != nil {
			return err
		}
		if n == 0 {
			var one int
			err := tx.GetContext(ctx, &one, tx.Rebind(`SELECT 1 FROM auth_requests WHERE id = ? AND `+pending), c.Request.ID)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				return fault.New(fault.NotFound, op, "")
			case err != nil:
				return err
			default:
				return fault.New(fault.Forbidden, op, "")
			}
		}
		_, err = tx.ExecContext(ctx, tx.Rebind(`INSERT INTO auth_codes (hash, request, created_at, expires_at, used_at)
			VALUES (?, ?, ?, ?, ?)`), c.Hash, req, ms(c.CreatedAt), msInt(c.ExpiresAt), ms(c.UsedAt))
		return err
	})
}

type codeRow struct {
	Hash      string        `db:"hash"`
	Request   string        `db:"request"`
	CreatedAt sql.NullInt64 `db:"created_at"`
	ExpiresAt int64         `db:"expires_at"`
	UsedAt    sql.NullInt64 `db:"used_at"`
}

func (r codeRow) code() (grant.Code, error) {
	req, err := decodeRequest(r.Request)
	if err != nil {
		return grant.Code{}, err
	}
	return grant.Code{
		Hash:      r.Hash,
		Request:   req,
		CreatedAt: fromMS(r.CreatedAt),
		ExpiresAt: fromMSInt(r.ExpiresAt),
		UsedAt:    fromMS(r.UsedAt),
	}, nil
}

// RedeemCode marks the code with hash as used and returns it. The
// conditional UPDATE ... RETURNING is the whole race in one round trip:
// exactly one of any number of concurrent callers gets the row.
// Errors: NotFound for an unknown hash; Conflict (with the code) when it was
// used before — also after it expired, so that a late replay still revokes
// what the code issued; Expired when it expired unused.
func (s *Store) RedeemCode(ctx context.Context, hash string, now time.Time) (grant.Code, error) {
	const op = "sqlstore.RedeemCode"
	var c grant.Code
	err := s.do(ctx, op, func() error {
		var r codeRow
		err := s.w.GetContext(ctx, &r, s.db.Rebind(`UPDATE auth_codes SET used_at = ?
			WHERE hash = ? AND used_at IS NULL AND expires_at > ?
			RETURNING hash, request, created_at, expires_at, used_at`), msInt(now), hash, msInt(now))
		if err == nil {
			c, err = r.code()
			return err
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		// Lost, replayed, expired or unknown: read it to say which.
		err = s.db.GetContext(ctx, &r, s.db.Rebind(`SELECT hash, request, created_at, expires_at, used_at
			FROM auth_codes WHERE hash = ?`), hash)
		if errors.Is(err, sql.ErrNoRows) {
			return fault.New(fault.NotFound, op, "")
		}
		if err != nil {
			return err
		}
		if r.UsedAt.Valid {
			if c, err = r.code(); err != nil {
				return err
			}
			return fault.New(fault.Conflict, op, "")
		}
		if r.ExpiresAt <= msInt(now) {
			return fault.New(fault.Expired, op, "")
		}
		// Unused and valid, yet the UPDATE missed it: cannot happen short of
		// a clock running backwards between the two statements.
		return fault.New(fault.Internal, op, "")
	})
	return c, err
}

// DeleteExpired removes everything that expired strictly before now:
// authorization requests, refresh tokens, access tokens and token families,
// one-time values, rate limit windows, unanswered WebAuthn challenges and
// device transfers;
// authorization codes only
// store.CodeRetention after their expiry, so that a replay in that window
// still finds its code (and RevokeFamiliesOfCode its mark); letter requests
// that nobody decided within registrationRetention. Letters and enrollment
// sessions stay: they are the record of what was sent and activated; so do
// device bindings and the append-only audit log. It
// serves both AuthRequests and Tokens, whose methods of this name have the
// same signature. It returns how many rows went.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	// Children before families, so that ON DELETE CASCADE only takes tokens
	// that outlive their family and every row is counted once. Each DELETE
	// is its own statement, retried on its own, so that a busy database
	// does not make the count forget rows already gone.
	for _, d := range []struct {
		table, column string
		before        time.Time
	}{
		{"auth_requests", "expires_at", now},
		{"auth_codes", "expires_at", now.Add(-store.CodeRetention)},
		{"refresh_tokens", "expires_at", now},
		{"access_tokens", "expires_at", now},
		{"token_families", "expires_at", now},
		{"replay_values", "expires_at", now},
		{"rate_windows", "expires_at", now},
		{"password_throttles", "expires_at", now},
		{"challenges", "expires_at", now},
		{"proofings", "expires_at", now},
		{"proofing_confirmations", "expires_at", now},
		{"approvals", "expires_at", now},
		{"device_transfers", "expires_at", now},
		{"sessions", "expires_at", now.Add(-sessionRetention)},
		{"registrations", "requested_at", now.Add(-registrationRetention)},
	} {
		err := s.do(ctx, "sqlstore.DeleteExpired", func() error {
			n, err := exec(ctx, s.w, s.db.Rebind(`DELETE FROM `+d.table+` WHERE `+d.column+` < ?`), msInt(d.before))
			total += n
			return err
		})
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
