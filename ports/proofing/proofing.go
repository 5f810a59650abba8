package proofing

import (
	"context"

	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/proof"
)

// Presentation is what a member presents to complete a proofing.
type Presentation struct {
	KVNR kvnr.KVNR
	// Secrets are method specific: the letter takes "initial_password" and
	// "activation_code".
	Secrets map[string]string
}

// Method is one identity proofing method.
type Method interface {
	// Name is the method's name.
	Name() proof.Method
	// Complete checks p and reports what was proven. Every failure that
	// could reveal whether the member or a letter exists has the same kind
	// and text. Errors: Unauthenticated (wrong or unknown); Locked (too
	// many attempts: the evidence is void); Expired; Conflict (already
	// used); Unavailable.
	Complete(ctx context.Context, p Presentation) (proof.Proof, error)
}
