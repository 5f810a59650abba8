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
	// ReturnURI is where the browser goes after an accepted answer: an
	// address only the app that began receives (a verified app link, or a
	// loopback address on the device of the browser), with a one-time code.
	ReturnURI string
	// Challenge is the S256 code challenge the app sent when it began
	// (base64url of SHA-256 of a verifier only the app knows); the
	// confirmation is redeemed only with the verifier.
	Challenge string
	// AccountID is set for a step-up: the account of the logged-in member
	// who began, whose level the proof raises (no enrollment session).
	// Empty for a registration.
	AccountID string
	// BindingID is set for a step-up that confirms a device binding
	// again (device.Reconfirm): the binding whose key and PIN began it.
	BindingID string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// ConfirmTTL is how long the app that began a proofing by redirect has to
// redeem the confirmation the service's answer produced: the time it takes
// the browser to hand the return address to the app, and no more.
const ConfirmTTL = 5 * time.Minute

// Confirmed is a proofing by redirect whose answer was accepted and whose
// attributes matched the record, waiting for the app that began it to
// redeem it. The answer came through a browser that may not be the
// member's own app's (a relayed link): so it opens nothing by itself. The
// browser is sent to the app's return address with a one-time code, and
// only the app that holds the code, the enrollment token and the verifier
// of its code challenge redeems it.
type Confirmed struct {
	// CodeHash is the hash of the one-time code handed to the return
	// address; the code itself is kept nowhere.
	CodeHash string
	// TokenHash and Challenge are those of the Pending it came from.
	TokenHash string
	Challenge string
	AccountID string
	BindingID string
	// Proof is what was proven, with the member's number.
	Proof     Proof
	CreatedAt time.Time
	ExpiresAt time.Time
}
