package proofing

import (
	"context"

	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/core/secret"
)

// Method is one identity proofing method. A method implements a
// capability interface (SecretChecker); core refuses one that implements
// none.
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
