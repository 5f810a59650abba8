package proof

import (
	"time"

	"github.com/pforte-id/pforte/core/kvnr"
)

// PendingTTL is how long a member has for a proofing by redirect, from its
// begin to the service's answer: enough to find the ID card, open the ID
// app and type the card's PIN, short enough that a state found later in a
// browser history is worthless.
const PendingTTL = 15 * time.Minute

// Pending is a proofing by redirect between its begin and the service's
// answer.
type Pending struct {
	// StateHash is the hash of the state the service hands back; the state
	// itself is kept nowhere, so that a copy of the database cannot finish
	// anybody's proofing.
	StateHash string
	Method    Method
	// KVNR is the member who began: the proof becomes theirs only when the
	// attributes the service verified match their record (Matches).
	KVNR kvnr.KVNR
	// Data is the method's own (a nonce, a PKCE verifier), opaque to core.
	Data []byte
	// TokenHash is the hash of the enrollment token the session opened by
	// a successful answer is opened with. The token was handed to whoever
	// began, and only to them: the browser that brings the answer back
	// never sees it, so the answer alone opens nobody's enrollment.
	TokenHash string
	CreatedAt time.Time
	ExpiresAt time.Time
}
