package token

import (
	"context"

	"github.com/pforte-id/pforte/core/dpop"
)

// DPoPVerifier verifies the JOSE layer of a DPoP proof (RFC 9449 §4.2,
// §4.3 steps 1–7): a compact JWS with typ dpop+jwt, an allowed asymmetric
// algorithm, a public key in the jwk header and a signature by that key.
// The rules about the request (htm, htu, iat, ath, nonce) are
// dpop.Policy.Check's, and replay is the caller's.
type DPoPVerifier interface {
	// Verify checks raw, the value of the DPoP header, and returns its
	// claims with the RFC 7638 thumbprint of the signing key. Missing
	// claims come back empty. Errors: Unauthenticated with
	// dpop.CodeInvalidProof, with a public text.
	Verify(ctx context.Context, raw string) (dpop.Proof, error)
}
