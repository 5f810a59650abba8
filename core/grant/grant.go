package grant

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"time"
)

// AuthRequest is a validated authorization request waiting for, or done
// with, the member's login.
type AuthRequest struct {
	ID                  string
	ClientID            string
	RedirectURI         string
	Scopes              []string
	State               string
	Nonce               string
	CodeChallenge       string
	CodeChallengeMethod string // always S256
	Prompt              []string
	// MaxAge is the requested maximum authentication age; nil when absent.
	MaxAge *time.Duration
	// ACRValues are the requested acr values, most preferred first.
	ACRValues []string
	UILocales []string
	LoginHint string
	// DPoPJKT is the dpop_jkt parameter (RFC 9449 §10): the JWK SHA-256
	// thumbprint (RFC 7638, base64url) of the key the client will prove
	// possession of at the token endpoint; empty when absent.
	DPoPJKT string
	// HintSubject and HintClientID are the sub and the audience of the
	// request's id_token_hint, verified when the request was made; empty
	// without one. The member they name must be the one who logs in.
	HintSubject  string
	HintClientID string
	CreatedAt    time.Time
	ExpiresAt    time.Time
	// Login is set once the member has authenticated.
	Login *Login
}

// Login is the outcome of the member's authentication for a request.
type Login struct {
	Subject  string
	AuthTime time.Time
	AMR      []string
	ACR      string
	// BindingID is the device binding that authenticated; empty for a
	// password login.
	BindingID string
	// SessionID is the single sign-on session of the login (the sid of
	// the ID token); empty outside a browser.
	SessionID string
}

// Code is an issued authorization code. Only its hash is stored.
type Code struct {
	Hash      string
	Request   AuthRequest // snapshot: the request as it was when the code was issued
	CreatedAt time.Time
	ExpiresAt time.Time
	// UsedAt is set by the one successful redemption.
	UsedAt time.Time
}

// Family is a refresh token family: everything issued from one login.
// Revoking it ends the refresh tokens and access tokens in it.
type Family struct {
	ID       string
	ClientID string
	Subject  string
	Scopes   []string
	AuthTime time.Time
	AMR      []string
	ACR      string
	// CodeHash is the code the family was issued for, so that a replayed
	// code revokes what it issued.
	CodeHash string
	// BindingID is the device binding the login was made with; empty for
	// a password login. Revoking the binding revokes the family
	// (store.Tokens.RevokeFamiliesOfBinding).
	BindingID string
	// DPoPJKT is the JWK SHA-256 thumbprint (RFC 7638, base64url) of the
	// key the family's refresh tokens are bound to (RFC 9449 §5): a
	// refresh needs a DPoP proof with that key. Empty: unbound.
	DPoPJKT string
	// SessionID is the single sign-on session the login was made in;
	// ending the session revokes the family
	// (store.Sessions.EndSession). Empty outside a browser.
	SessionID string
	CreatedAt time.Time
	// ExpiresAt is the absolute limit of the family.
	ExpiresAt time.Time
	RevokedAt time.Time
}

// Active reports whether the family can still issue tokens at now.
func (f Family) Active(now time.Time) bool {
	return f.RevokedAt.IsZero() && now.Before(f.ExpiresAt)
}

// RefreshToken is one refresh token of a family. Only its hash is stored.
type RefreshToken struct {
	Hash      string
	FamilyID  string
	CreatedAt time.Time
	ExpiresAt time.Time
	// UsedAt is set when the token was rotated; using it again is reuse.
	UsedAt time.Time
}

// AccessToken records an issued JWT access token so that revocation and
// introspection can see it.
type AccessToken struct {
	JTI      string
	FamilyID string // empty for client_credentials tokens
	ClientID string
	Subject  string
	Scopes   []string
	// DPoPJKT is the JWK SHA-256 thumbprint of the key the token is bound
	// to (its cnf.jkt, RFC 9449 §6); empty for a bearer token.
	DPoPJKT   string
	IssuedAt  time.Time
	ExpiresAt time.Time
	RevokedAt time.Time
}

// NewID returns a random identifier with 128 bits of entropy (URL-safe)
// that never begins with '-': ids are typed on command lines (pforte
// devices unblock ID, pforte-app devices revoke ID), where a leading '-'
// is read as a flag. Drawing again when it would costs less than 0.03 bits.
func NewID() string {
	for {
		if id := random(16); id[0] != '-' {
			return id
		}
	}
}

// NewSecret returns a random bearer secret with 256 bits of entropy
// (authorization codes, refresh tokens).
func NewSecret() string { return random(32) }

// Hash is how bearer secrets are stored: SHA-256, URL-safe base64. The
// secrets have 256 bits of entropy, so no salt or slow hash is needed; a
// database reader cannot turn a stored hash back into a usable token.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func random(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
