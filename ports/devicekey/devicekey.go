package devicekey

import (
	"context"

	"github.com/pforte-id/pforte/core/device"
)

// User is the account a key is created for (WebAuthn user entity).
type User struct {
	// Handle is an opaque, stable id (never the KVNR or an e-mail).
	Handle      []byte
	Name        string
	DisplayName string
}

// NewKey is a verified registration.
type NewKey struct {
	CredentialID []byte
	PublicKey    []byte // COSE
	SignCount    uint32
	Attestation  device.Attestation
}

// Key is a stored key to verify an assertion against.
type Key struct {
	CredentialID []byte
	PublicKey    []byte
	SignCount    uint32
}

// Assertion is a verified assertion.
type Assertion struct {
	CredentialID []byte
	// SignCount as the authenticator reported it; core compares it.
	SignCount uint32
	// UserVerified: the authenticator verified the user (biometrics or
	// device PIN). Pforte's own release PIN is checked separately.
	UserVerified bool
}

// Ceremony runs WebAuthn ceremonies for one relying party (the issuer's
// host) and the configured app origins.
type Ceremony interface {
	// RegistrationOptions returns the creation options (JSON, as the app
	// passes them to the platform) for a new P-256 key of u, excluding the
	// credentials in exclude, and the opaque state to keep with the
	// challenge.
	RegistrationOptions(ctx context.Context, u User, exclude [][]byte) (options, state []byte, err error)
	// VerifyRegistration checks the app's registration response (JSON)
	// against state: challenge, origin, RP id, user presence, algorithm
	// ES256, the attestation statement's signature and chain. It reports
	// the attestation; it does not decide whether to accept it.
	// Errors: Invalid (malformed); Unauthenticated (verification failed).
	VerifyRegistration(ctx context.Context, state, response []byte) (NewKey, error)
	// AssertionOptions returns request options (JSON) allowing only the
	// given credentials, and the state.
	AssertionOptions(ctx context.Context, allow [][]byte) (options, state []byte, err error)
	// VerifyAssertion checks an assertion response (JSON) against state
	// and key: challenge, origin, RP id, user presence, signature.
	// Errors: Invalid; Unauthenticated.
	VerifyAssertion(ctx context.Context, state, response []byte, key Key) (Assertion, error)
}
