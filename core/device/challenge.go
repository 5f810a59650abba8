package device

import "time"

// ChallengeTTL is how long a WebAuthn challenge can be answered.
const ChallengeTTL = 3 * time.Minute

// Purpose says what a challenge is for; a challenge answers only its own.
type Purpose string

const (
	// Registration: binding a new key in an enrollment session.
	Registration Purpose = "registration"
	// Assertion: proving possession of a bound key for device management
	// and the PIN reset.
	Assertion Purpose = "assertion"
	// Login: proving possession of a bound key to complete one
	// authorization request (the app login); Context names the request.
	// A purpose of its own rather than Assertion with a context, so that
	// the purpose check every verifier makes first already keeps the two
	// apart: a device management challenge never logs anyone in, and a
	// login challenge never authorises a device change or a PIN reset,
	// whatever its context says.
	Login Purpose = "login"
	// Approval: proving possession of a bound key to decide one approval
	// of a web login (core/approval); Context names the approval. A
	// purpose of its own for the same reason as Login: an approval
	// challenge neither logs the app in nor changes a device, and neither
	// of theirs decides an approval.
	Approval Purpose = "approval"
)

// Challenge is an issued, not yet answered challenge. It is single use.
type Challenge struct {
	ID      string
	Purpose Purpose
	// Subject binds the challenge: the enrollment session id for
	// Registration, the device binding id for Assertion, Login and
	// Approval.
	Subject string
	// Context is what else the challenge is bound to: for Login the id of
	// the authorization request the login completes, for Approval the id
	// of the approval; empty otherwise. The
	// verifier refuses an answer given in another context.
	Context string
	// State is the key verifier's opaque ceremony state (it contains the
	// challenge bytes).
	State     []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}
