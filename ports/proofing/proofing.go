package proofing

import (
	"context"
	"time"

	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/core/secret"
)

// Method is one identity proofing method. A method implements at least
// one of the capability interfaces SecretChecker and Redirector; core
// refuses one that implements neither.
type Method interface {
	// Name is the method's name, unique among the methods of a server.
	Name() proof.Method
}

// Secrets are what a member types for a SecretChecker, by the names the
// method documents (the letter: letterproof.SecretInitialPassword and
// letterproof.SecretActivationCode). They print as [redacted].
type Secrets map[string]secret.String

// SecretChecker is a method whose member presents secrets that reached
// them outside Pforte's pages: the password letter.
type SecretChecker interface {
	Method
	// CheckSecrets checks the secrets member k presents and reports what
	// was proven, with KVNR k. Every failure that could reveal whether
	// the member or their evidence exists has the same kind and text.
	// Errors: Invalid (malformed secrets: says nothing about any member);
	// Unauthenticated (wrong or unknown); Locked (the evidence is void,
	// e.g. after too many attempts); Expired; Conflict (already used);
	// Unavailable.
	CheckSecrets(ctx context.Context, k kvnr.KVNR, s Secrets) (proof.Proof, error)
}

// Redirector is a method that sends the member to a proofing service and
// takes the service's answer at a callback: the electronic ID card
// through an eID service. Core keeps what lies between the two steps
// (store.Proofings): the member who began, the method's own data, and
// the single use and lifetime of the state.
type Redirector interface {
	Method
	// Begin prepares one proofing and says where to send the member.
	// Errors: Unavailable.
	Begin(ctx context.Context, b Begin) (Redirect, error)
	// Finish checks the service's answer to the proofing that Begin
	// prepared (data is its Redirect.Data) and reports what was proven,
	// with KVNR empty: the service does not know member numbers, and core
	// sets the number of the member who began after matching the verified
	// attributes to the member's record. Level and Evidence are what the
	// service asserted (Evidence.Issuer: the service's identifier).
	// Errors: Unauthenticated (an answer that is not valid for this
	// proofing: forged, replayed, for another proofing); Forbidden (the
	// member cancelled, or the service refused); Unavailable.
	Finish(ctx context.Context, data []byte, c Callback) (proof.Proof, error)
}

// Begin is what a Redirector needs to prepare a proofing.
type Begin struct {
	// State is the single-use value core made for this proofing (256
	// bits); the service must hand it back with its answer. It prints as
	// [redacted]: whoever holds it may finish the proofing.
	State secret.String
	// CallbackURL is where the service sends the member back.
	CallbackURL string
	// ExpiresAt is when core forgets the proofing; an answer after it is
	// refused whatever the service says.
	ExpiresAt time.Time
}

// Redirect is where to send the member.
type Redirect struct {
	// URL is the proofing service's address for this proofing.
	URL string
	// Data is what the method needs again in Finish (a nonce, a PKCE
	// verifier). Core keeps it on the server under the state's hash,
	// hands it back once, and never shows it to the member.
	Data []byte
}

// Callback is the service's answer as it reached Pforte.
type Callback struct {
	// State is the state the answer carries (OAuth and OpenID Connect:
	// the state parameter), taken from the request by the driving
	// adapter.
	State secret.String
	// Params are the other parameters of the callback request (query or
	// form, the first value of each). They may carry one-time codes:
	// never logged.
	Params map[string]string
}
