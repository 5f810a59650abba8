package token

import "context"

// JWT header types.
const (
	TypeAccess = "at+jwt" // RFC 9068
	TypeID     = "JWT"    // ID tokens carry the plain type
	// TypeLogout is the type of logout tokens (OpenID Connect
	// Back-Channel Logout 1.0 §2.4), so that a logout token cannot be
	// taken for an ID token or the other way round.
	TypeLogout = "logout+jwt"
)

// Signer signs claims with the active signing key (ES256).
type Signer interface {
	// Sign returns the compact JWS of claims (marshalled as JSON) with header
	// typ and the key's kid. Errors: Unavailable when no active key exists.
	Sign(ctx context.Context, typ string, claims any) (string, error)
	// Verify checks the signature of a Pforte-issued JWT against the
	// published keys (active, next, retired), requires alg ES256 and header
	// typ, and unmarshals the payload into claims. It checks no claims.
	// Errors: Unauthenticated for a bad, foreign or malformed token.
	Verify(ctx context.Context, raw, typ string, claims any) error
}

// AssertionVerifier verifies a JWT signed by a client (private_key_jwt)
// against the client's own JWKS.
type AssertionVerifier interface {
	// VerifyAssertion checks the signature of raw against jwks (a JSON Web
	// Key Set), allowing only asymmetric algorithms, and unmarshals the
	// payload into claims. It checks no claims.
	// Errors: Unauthenticated.
	VerifyAssertion(ctx context.Context, raw string, jwks []byte, claims any) error
}
