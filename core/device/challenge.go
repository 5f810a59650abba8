package device

import "time"

// ChallengeTTL is how long a WebAuthn challenge can be answered.
const ChallengeTTL = 3 * time.Minute

// Purpose says what a challenge is for; a challenge answers only its own.
type Purpose string

const (
	// Registration: binding a new key in an enrollment session.
	Registration Purpose = "registration"
	// Assertion: proving possession of a bound key (PIN reset, device
	// management, later the app login).
	Assertion Purpose = "assertion"
)

// Challenge is an issued, not yet answered challenge. It is single use.
type Challenge struct {
	ID      string
	Purpose Purpose
	// Subject binds the challenge: the enrollment session id for
	// Registration, the account or authorization request for Assertion.
	Subject string
	// Context is what else the challenge is bound to, e.g. the
	// authorization request an app login answers; empty otherwise. The
	// verifier refuses an answer given in another context.
	Context string
	// State is the key verifier's opaque ceremony state (it contains the
	// challenge bytes).
	State     []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}
