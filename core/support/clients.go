package support

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/fault"
)

// Client is a client as support sees it: never a secret or its hash.
type Client struct {
	ID                     string
	Name                   string
	NameEN                 string
	Kind                   client.Kind
	AuthMethod             client.AuthMethod
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	GrantTypes             []string
	Scopes                 []string
	// Declared: the client comes from the clients file (or is built in)
	// and cannot be changed here.
	Declared bool
	// PreviousSecretUntil is when the previous secret stops working
	// during a rollover; zero: no rollover.
	PreviousSecretUntil time.Time
	CreatedAt           time.Time
}

func (s *Service) view(c client.Client) Client {
	v := Client{
		ID: c.ID, Name: c.Name, NameEN: c.NameEN, Kind: c.Kind, AuthMethod: c.AuthMethod,
		RedirectURIs: c.RedirectURIs, PostLogoutRedirectURIs: c.PostLogoutRedirectURIs, GrantTypes: c.GrantTypes,
		Scopes: c.Scopes, Declared: s.d.Declared(c.ID), CreatedAt: c.CreatedAt,
	}
	if c.RolloverOpen(s.clock()) {
		v.PreviousSecretUntil = c.PreviousSecretUntil
	}
	return v
}

// Client returns client id. Audited as SupportRead ("what" client).
// Errors: NotFound coded CodeUnknownClient; Invalid coded CodeAgent;
// Unavailable.
func (s *Service) Client(ctx context.Context, a Agent, id string) (Client, error) {
	const op = "support.Client"
	a, err := a.check(op)
	if err != nil {
		return Client{}, err
	}
	c, err := s.d.Clients.ClientByID(ctx, id)
	if errors.Is(err, fault.NotFound) {
		return Client{}, fault.Coded(fault.NotFound, op, CodeUnknownClient)
	}
	if err != nil {
		return Client{}, err
	}
	s.record(ctx, a, audit.SupportRead, "", map[string]string{"what": "client", "client": id})
	return s.view(c), nil
}

// ClientEdit is a change of a client; nil fields stay as they are.
type ClientEdit struct {
	Name                   *string
	NameEN                 *string
	RedirectURIs           *[]string
	PostLogoutRedirectURIs *[]string
}

// update changes client id with f under its row lock, refusing declared
// clients and results client.Validate refuses, and records the change.
// d is the event's detail ("what"); f may add to it.
func (s *Service) update(ctx context.Context, op string, a Agent, id string, d map[string]string, f func(c *client.Client) error) (client.Client, error) {
	if s.d.Declared(id) {
		return client.Client{}, fault.Coded(fault.Conflict, op, CodeClientDeclared)
	}
	c, err := s.d.Clients.UpdateClient(ctx, id, func(c *client.Client) error {
		if err := f(c); err != nil {
			return err
		}
		if err := c.Validate(); err != nil {
			return fault.Coded(fault.Invalid, op, CodeClientInvalid, fault.PublicOf(err))
		}
		return nil
	})
	if errors.Is(err, fault.NotFound) {
		return client.Client{}, fault.Coded(fault.NotFound, op, CodeUnknownClient)
	}
	if err != nil {
		return client.Client{}, err
	}
	d["client"] = id
	s.record(ctx, a, audit.ClientChanged, "", d)
	return c, nil
}

// EditClient changes the names and redirect URIs of client id. Audited
// as ClientChanged ("what" edit, the fields changed).
// Errors: NotFound coded CodeUnknownClient; Conflict coded
// CodeClientDeclared; Invalid coded CodeClientInvalid (the text names
// why) or CodeAgent; Unavailable.
func (s *Service) EditClient(ctx context.Context, a Agent, id string, e ClientEdit) (Client, error) {
	const op = "support.EditClient"
	a, err := a.check(op)
	if err != nil {
		return Client{}, err
	}
	var fields []string
	d := map[string]string{"what": "edit"}
	c, err := s.update(ctx, op, a, id, d, func(c *client.Client) error {
		if e.Name != nil {
			c.Name, fields = strings.TrimSpace(*e.Name), append(fields, "name")
		}
		if e.NameEN != nil {
			c.NameEN, fields = strings.TrimSpace(*e.NameEN), append(fields, "name_en")
		}
		if e.RedirectURIs != nil {
			c.RedirectURIs, fields = slices.Clone(*e.RedirectURIs), append(fields, "redirect_uris")
		}
		if e.PostLogoutRedirectURIs != nil {
			c.PostLogoutRedirectURIs, fields = slices.Clone(*e.PostLogoutRedirectURIs), append(fields, "post_logout_redirect_uris")
		}
		if c.Name == "" {
			return fault.Coded(fault.Invalid, op, CodeClientInvalid, "the name is empty")
		}
		d["fields"] = strings.Join(fields, ",")
		return nil
	})
	if err != nil {
		return Client{}, err
	}
	return s.view(c), nil
}

// RotateSecret gives client id a new secret (returned once; Pforte keeps
// only its hash) and keeps the current one valid until oldValidUntil, so
// that the client's operator can deploy the new secret without an outage
// (zero: client.DefaultRollover from now); immediately ends the old
// secret at once instead. A rollover still open is replaced: the oldest
// secret stops. Audited as ClientChanged ("what" secret_rotated, the end
// of the rollover), never the secret.
// Errors: NotFound coded CodeUnknownClient; Conflict coded
// CodeClientDeclared; Invalid (the client uses no secret, or the time is
// past or more than client.MaxRollover ahead) or coded CodeAgent;
// Unavailable.
func (s *Service) RotateSecret(ctx context.Context, a Agent, id string, oldValidUntil time.Time, immediately bool) (string, Client, error) {
	const op = "support.RotateSecret"
	a, err := a.check(op)
	if err != nil {
		return "", Client{}, err
	}
	now := s.clock()
	switch {
	case immediately:
		oldValidUntil = time.Time{}
	case oldValidUntil.IsZero():
		oldValidUntil = now.Add(client.DefaultRollover)
	}
	secret := client.GenerateSecret()
	hash, err := s.d.Secrets.HashNew(secret)
	if err != nil {
		return "", Client{}, err
	}
	d := map[string]string{"what": "secret_rotated"}
	c, err := s.update(ctx, op, a, id, d, func(c *client.Client) error {
		r, err := c.RotateSecret(hash, oldValidUntil, now)
		if err != nil {
			return err
		}
		*c = r
		d["previous_until"] = "none"
		if !r.PreviousSecretUntil.IsZero() {
			d["previous_until"] = r.PreviousSecretUntil.Format(time.RFC3339)
		}
		return nil
	})
	if err != nil {
		return "", Client{}, err
	}
	return secret, s.view(c), nil
}

// FinishRollover ends client id's rollover before its time: the previous
// secret stops working (within the client cache's lifetime on every
// replica). It reports whether there was a rollover. Audited as
// ClientChanged ("what" rollover_finished).
// Errors: as EditClient.
func (s *Service) FinishRollover(ctx context.Context, a Agent, id string) (bool, error) {
	const op = "support.FinishRollover"
	a, err := a.check(op)
	if err != nil {
		return false, err
	}
	var had bool
	_, err = s.update(ctx, op, a, id, map[string]string{"what": "rollover_finished"}, func(c *client.Client) error {
		*c, had = c.FinishRollover()
		return nil
	})
	return had, err
}
