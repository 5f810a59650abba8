package authz

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
)

// AssertionType is the only client_assertion_type Pforte accepts (RFC 7523).
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Credentials is what a client presented at an endpoint that authenticates
// clients. Exactly one of Secret or Assertion is set, or neither (public).
type Credentials struct {
	ClientID string
	Secret   string
	// Method is how the secret came: client_secret_basic (Authorization
	// header) or client_secret_post (form). Ignored without a secret.
	Method        client.AuthMethod
	Assertion     string
	AssertionType string
}

// assertionClaims are the claims of a private_key_jwt client assertion.
type assertionClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience audience `json:"aud"`
	Expiry   int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
	NotBef   int64    `json:"nbf"`
	JTI      string   `json:"jti"`
}

// audience reads aud as a string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

// maxAssertionLifetime bounds exp-iat of client assertions, so that a jti
// need not be remembered for long.
const maxAssertionLifetime = 10 * time.Minute

// AuthenticateClient checks the credentials a client presented and returns
// the client. The client must use the method it is registered for: a
// private_key_jwt client cannot fall back to a secret, a public client
// cannot present one.
//
// An unknown client and a wrong secret give the same kind, text and work
// (one keyed hash each), so client IDs cannot be probed.
// Errors: Unauthenticated (invalid_client); Invalid for a malformed request;
// Unavailable.
func (s *Service) AuthenticateClient(ctx context.Context, cr Credentials) (client.Client, error) {
	const op = "authz.AuthenticateClient"
	if cr.Assertion != "" {
		return s.authenticateAssertion(ctx, cr)
	}
	if cr.ClientID == "" {
		return client.Client{}, fault.New(fault.Invalid, op, "client_id is missing")
	}
	c, err := s.clients.ClientByID(ctx, cr.ClientID)
	if err != nil && !errors.Is(err, fault.NotFound) {
		return client.Client{}, err
	}
	found := err == nil
	if cr.Secret == "" {
		if found && c.AuthMethod == client.AuthNone {
			return c, nil
		}
		return client.Client{}, invalidClient(op)
	}
	// Compute the hashes even for unknown clients and clients without a
	// rollover: equal work. During a rollover (client.RotateSecret) the
	// previous secret is accepted beside the current one until its time.
	stored, previous := "hmac-sha256:unknown-client", "hmac-sha256:no-rollover"
	if found {
		stored = c.SecretHash
		if c.RolloverOpen(s.clock()) {
			previous = c.PreviousSecretHash
		}
	}
	ok := s.secrets.Verify(cr.Secret, stored)
	okPrevious := s.secrets.Verify(cr.Secret, previous)
	if !found || !(ok || okPrevious) || c.AuthMethod != cr.Method {
		return client.Client{}, invalidClient(op)
	}
	return c, nil
}

func (s *Service) authenticateAssertion(ctx context.Context, cr Credentials) (client.Client, error) {
	const op = "authz.authenticateAssertion"
	if cr.AssertionType != AssertionType {
		return client.Client{}, fault.New(fault.Invalid, op, "client_assertion_type must be "+AssertionType)
	}
	if len(cr.Assertion) > 8192 {
		return client.Client{}, invalidClient(op)
	}
	id := cr.ClientID
	if id == "" {
		// The client is named by the assertion's sub; read it unverified
		// only to find the key set, then verify with that key set.
		var peek assertionClaims
		if err := peekClaims(cr.Assertion, &peek); err != nil {
			return client.Client{}, invalidClient(op)
		}
		id = peek.Subject
	}
	c, err := s.clients.ClientByID(ctx, id)
	if errors.Is(err, fault.NotFound) {
		return client.Client{}, invalidClient(op)
	}
	if err != nil {
		return client.Client{}, err
	}
	if c.AuthMethod != client.AuthPrivateKeyJWT {
		return client.Client{}, invalidClient(op)
	}
	var cl assertionClaims
	if err := s.assertions.VerifyAssertion(ctx, cr.Assertion, c.JWKS, &cl); err != nil {
		return client.Client{}, invalidClient(op)
	}
	now := s.clock()
	skew := s.cfg.ClockSkew
	exp := time.Unix(cl.Expiry, 0)
	switch {
	case cl.Issuer != c.ID || cl.Subject != c.ID:
		return client.Client{}, invalidClient(op)
	case len(cl.Audience) != 1 || cl.Audience[0] != s.cfg.Issuer:
		// The issuer identifier and nothing else (FAPI 2.0 Security
		// Profile §5.3.2.1, draft-ietf-oauth-rfc7523bis): an assertion a
		// client made for an endpoint URL (its token or PAR endpoint) can
		// be asked for by a malicious authorization server that claims
		// Pforte's endpoint as its own, and replayed here (audience
		// injection). A single audience in an array is the same value.
		return client.Client{}, invalidClient(op)
	case cl.Expiry == 0 || !now.Before(exp.Add(skew)):
		return client.Client{}, invalidClient(op)
	case cl.IssuedAt != 0 && time.Unix(cl.IssuedAt, 0).After(now.Add(skew)):
		return client.Client{}, invalidClient(op)
	case cl.NotBef != 0 && time.Unix(cl.NotBef, 0).After(now.Add(skew)):
		return client.Client{}, invalidClient(op)
	case exp.Sub(now) > maxAssertionLifetime:
		return client.Client{}, invalidClient(op)
	case cl.JTI == "" || len(cl.JTI) > 256:
		return client.Client{}, invalidClient(op)
	}
	// A captured assertion must not authenticate twice (RFC 7523 §3, item 7).
	// The jti is the client's free text: it is remembered as a hash, a
	// fixed-length ASCII key every store can hold (PostgreSQL text refuses
	// NUL bytes, which would turn a replay check into a server error).
	if err := s.st.Replay.UseOnce(ctx, "client_assertion", grant.Hash(c.ID+"\x00"+cl.JTI), exp.Add(skew), now); err != nil {
		if errors.Is(err, fault.Conflict) {
			return client.Client{}, fault.New(fault.Unauthenticated, op, "client assertion was already used")
		}
		return client.Client{}, err
	}
	return c, nil
}

// peekClaims decodes a JWS payload without verifying it.
func peekClaims(raw string, into any) error {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return errors.New("not a compact JWS")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return err
	}
	return json.Unmarshal(b, into)
}

func invalidClient(op string) error {
	return fault.New(fault.Unauthenticated, op, "client authentication failed")
}
