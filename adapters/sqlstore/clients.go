package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/loa"
)

// minACR is the column value of a client's MinACR (” for none).
func minACR(l loa.Level) string {
	if l == loa.None {
		return ""
	}
	return l.String()
}

type clientRow struct {
	ID                     string        `db:"id"`
	Name                   string        `db:"name"`
	NameEN                 string        `db:"name_en"`
	Kind                   string        `db:"kind"`
	AuthMethod             string        `db:"auth_method"`
	SecretHash             string        `db:"secret_hash"`
	PreviousSecretHash     string        `db:"previous_secret_hash"`
	PreviousSecretUntil    sql.NullInt64 `db:"previous_secret_until"`
	JWKS                   []byte        `db:"jwks"`
	RedirectURIs           string        `db:"redirect_uris"`
	PostLogoutRedirectURIs string        `db:"post_logout_redirect_uris"`
	GrantTypes             string        `db:"grant_types"`
	Scopes                 string        `db:"scopes"`
	AccessTokenTTL         int64         `db:"access_token_ttl"`
	IDTokenTTL             int64         `db:"id_token_ttl"`
	RequirePAR             bool          `db:"require_par"`
	RequireDPoP            bool          `db:"require_dpop"`
	SectorIdentifier       string        `db:"sector_identifier"`
	MinACR                 string        `db:"min_acr"`
	IntrospectionAudiences string        `db:"introspection_audiences"`
	Consent                bool          `db:"consent"`
	BackchannelLogoutURI   string        `db:"backchannel_logout_uri"`
	CreatedAt              sql.NullInt64 `db:"created_at"`
}

const clientColumns = `id, name, kind, auth_method, secret_hash, jwks, redirect_uris,
	post_logout_redirect_uris, grant_types, scopes, access_token_ttl, id_token_ttl, require_par, require_dpop,
	sector_identifier, created_at, name_en, min_acr, introspection_audiences, consent, backchannel_logout_uri,
	previous_secret_hash, previous_secret_until`

func clientArgs(c client.Client) []any {
	return []any{
		c.ID, c.Name, string(c.Kind), string(c.AuthMethod), c.SecretHash, blob(c.JWKS),
		list(c.RedirectURIs), list(c.PostLogoutRedirectURIs), list(c.GrantTypes), list(c.Scopes),
		int64(c.AccessTokenTTL), int64(c.IDTokenTTL), c.RequirePAR, c.RequireDPoP, c.SectorIdentifier,
		ms(c.CreatedAt), c.NameEN, minACR(c.MinACR), list(c.IntrospectionAudiences), c.Consent, c.BackchannelLogoutURI,
		c.PreviousSecretHash, ms(c.PreviousSecretUntil),
	}
}

func (r clientRow) client() (client.Client, error) {
	c := client.Client{
		ID:                   r.ID,
		Name:                 r.Name,
		NameEN:               r.NameEN,
		Kind:                 client.Kind(r.Kind),
		AuthMethod:           client.AuthMethod(r.AuthMethod),
		SecretHash:           r.SecretHash,
		PreviousSecretHash:   r.PreviousSecretHash,
		PreviousSecretUntil:  fromMS(r.PreviousSecretUntil),
		JWKS:                 fromBlob(r.JWKS),
		AccessTokenTTL:       time.Duration(r.AccessTokenTTL),
		IDTokenTTL:           time.Duration(r.IDTokenTTL),
		RequirePAR:           r.RequirePAR,
		RequireDPoP:          r.RequireDPoP,
		SectorIdentifier:     r.SectorIdentifier,
		BackchannelLogoutURI: r.BackchannelLogoutURI,
		Consent:              r.Consent,
		CreatedAt:            fromMS(r.CreatedAt),
	}
	var err error
	if c.MinACR, err = loa.ParseLevel(r.MinACR); err != nil {
		return client.Client{}, err
	}
	for _, f := range []struct {
		dst *[]string
		src string
	}{
		{&c.RedirectURIs, r.RedirectURIs},
		{&c.PostLogoutRedirectURIs, r.PostLogoutRedirectURIs},
		{&c.GrantTypes, r.GrantTypes},
		{&c.Scopes, r.Scopes},
		{&c.IntrospectionAudiences, r.IntrospectionAudiences},
	} {
		if *f.dst, err = fromList(f.src); err != nil {
			return client.Client{}, err
		}
	}
	return c, nil
}

const insertClient = `INSERT INTO clients (` + clientColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// CreateClient inserts c. Errors: Conflict when the ID exists.
func (s *Store) CreateClient(ctx context.Context, c client.Client) error {
	return s.do(ctx, "sqlstore.CreateClient", func() error {
		_, err := s.w.ExecContext(ctx, s.db.Rebind(insertClient), clientArgs(c)...)
		return err
	})
}

// PutClient inserts c or replaces the client with c's ID.
func (s *Store) PutClient(ctx context.Context, c client.Client) error {
	return s.do(ctx, "sqlstore.PutClient", func() error {
		_, err := s.w.ExecContext(ctx, s.db.Rebind(insertClient+`
			ON CONFLICT (id) DO UPDATE SET
				name = excluded.name, name_en = excluded.name_en, kind = excluded.kind, auth_method = excluded.auth_method,
				secret_hash = excluded.secret_hash, jwks = excluded.jwks,
				redirect_uris = excluded.redirect_uris,
				post_logout_redirect_uris = excluded.post_logout_redirect_uris,
				grant_types = excluded.grant_types, scopes = excluded.scopes,
				access_token_ttl = excluded.access_token_ttl, id_token_ttl = excluded.id_token_ttl,
				require_par = excluded.require_par, require_dpop = excluded.require_dpop,
				sector_identifier = excluded.sector_identifier, created_at = excluded.created_at,
				min_acr = excluded.min_acr, introspection_audiences = excluded.introspection_audiences,
				consent = excluded.consent, backchannel_logout_uri = excluded.backchannel_logout_uri,
				previous_secret_hash = excluded.previous_secret_hash,
				previous_secret_until = excluded.previous_secret_until`), clientArgs(c)...)
		return err
	})
}

// ClientByID returns the client id. Errors: NotFound.
func (s *Store) ClientByID(ctx context.Context, id string) (client.Client, error) {
	var c client.Client
	err := s.do(ctx, "sqlstore.ClientByID", func() error {
		var r clientRow
		if err := s.db.GetContext(ctx, &r, s.db.Rebind(`SELECT `+clientColumns+` FROM clients WHERE id = ?`), id); err != nil {
			return err
		}
		var err error
		c, err = r.client()
		return err
	})
	return c, err
}

// ListClients returns all clients ordered by ID (byte order on both
// engines, whatever the database collation).
func (s *Store) ListClients(ctx context.Context) ([]client.Client, error) {
	var out []client.Client
	err := s.do(ctx, "sqlstore.ListClients", func() error {
		var rows []clientRow
		if err := s.db.SelectContext(ctx, &rows, `SELECT `+clientColumns+` FROM clients`); err != nil {
			return err
		}
		out = make([]client.Client, 0, len(rows))
		for _, r := range rows {
			c, err := r.client()
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b client.Client) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// DeleteClient removes client id. Errors: NotFound.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	const op = "sqlstore.DeleteClient"
	return s.do(ctx, op, func() error {
		n, err := exec(ctx, s.w, s.db.Rebind(`DELETE FROM clients WHERE id = ?`), id)
		if err == nil && n == 0 {
			return fault.New(fault.NotFound, op, "")
		}
		return err
	})
}

// UpdateClient changes client id under its row lock: f gets the stored
// client and changes it; when f returns an error nothing is written and
// the error is returned as it is. The ID and CreatedAt cannot change.
// Errors: NotFound; Invalid (f changed the ID).
func (s *Store) UpdateClient(ctx context.Context, id string, f func(c *client.Client) error) (client.Client, error) {
	const op = "sqlstore.UpdateClient"
	var out client.Client
	var refused error
	err := s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		refused = nil
		var r clientRow
		if err := tx.GetContext(ctx, &r, tx.Rebind(`SELECT `+clientColumns+` FROM clients WHERE id = ?`+s.forUpdate()), id); err != nil {
			return err
		}
		c, err := r.client()
		if err != nil {
			return err
		}
		created := c.CreatedAt
		if refused = f(&c); refused != nil {
			return refused
		}
		if c.ID != id {
			return fault.New(fault.Invalid, op, "the update changed the client's id")
		}
		c.CreatedAt = created
		args := clientArgs(c)
		// Every column but id (first) is written; id is the WHERE.
		var stored clientRow
		if err := tx.GetContext(ctx, &stored, tx.Rebind(`UPDATE clients SET
				name = ?, kind = ?, auth_method = ?, secret_hash = ?, jwks = ?, redirect_uris = ?,
				post_logout_redirect_uris = ?, grant_types = ?, scopes = ?, access_token_ttl = ?, id_token_ttl = ?,
				require_par = ?, require_dpop = ?, sector_identifier = ?, created_at = ?, name_en = ?, min_acr = ?,
				introspection_audiences = ?, consent = ?, backchannel_logout_uri = ?,
				previous_secret_hash = ?, previous_secret_until = ?
				WHERE id = ? RETURNING `+clientColumns), append(args[1:], id)...); err != nil {
			return err
		}
		out, err = stored.client()
		return err
	})
	if refused != nil {
		return client.Client{}, refused
	}
	if err != nil {
		return client.Client{}, err
	}
	return out, nil
}
