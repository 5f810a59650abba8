package authz

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/dpop"
	"github.com/pforte-id/pforte/core/fault"
)

// DPoP (RFC 9449) in Pforte, in one place:
//
//   - A proof is checked by dpop.Policy.Check against the endpoint's public
//     URL, the configured issuer followed by the endpoint's path (never a
//     Host header, which the client chooses), with a server nonce always
//     required; its jti is then spent in store.Replay, shared by all
//     replicas, until the proof would be too old anyway. A proof with a
//     missing or stale nonce is refused before anything else happens
//     (use_dpop_nonce), so that the retry the client makes with the fresh
//     nonce finds its code or refresh token unspent.
//   - Token endpoint: a client with RequireDPoP must send a proof. With a
//     proof, the access token is bound to its key (cnf.jkt, token_type
//     DPoP), and so are the refresh tokens of a public client (the family's
//     DPoPJKT). A code whose authorization request named a key (dpop_jkt,
//     RFC 9449 §10) is only redeemed with a proof by that key.
//   - Pushed authorization requests: a proof there names the key of the
//     code as dpop_jkt does (RFC 9449 §10.1); with both, they must agree.
//   - A refresh token bound to a key needs a proof by that key. A missing or
//     invalid proof is invalid_dpop_proof; a valid proof by another key is
//     invalid_grant, and so is a code redeemed with another key than its
//     dpop_jkt. RFC 9449 §5 and §10 say the binding must hold but name no
//     error code for a mismatch; Pforte uses invalid_grant because then the
//     proof is fine and the grant is what this presenter may not use (RFC
//     6749 §5.2: a grant "issued to another client"). Such a mismatch does
//     not spend the refresh token or revoke its family: the token is
//     useless without the key, and an attacker holding only the token must
//     not be able to end the member's session with it.
//   - Userinfo: a bound token must come as "Authorization: DPoP" with a
//     proof by its key whose ath is the token's hash; a bound token sent as
//     Bearer is refused (RFC 9449 §7.2, no downgrade), and so is an unbound
//     token sent as DPoP.
//   - Introspection reports cnf.jkt and token_type DPoP for bound tokens.

// DPoPRequest is the DPoP proof that came with a request and what the
// request was, for the proof to fit.
type DPoPRequest struct {
	// Proof is the proof of the request's one DPoP header, verified by a
	// token.DPoPVerifier (signature, typ, alg, key); nil without a header.
	Proof *dpop.Proof
	// Method is the request's HTTP method.
	Method string
	// Path is the endpoint's path under the issuer, such as "/token".
	// The htu of the proof must name the issuer followed by Path.
	Path string
}

// Confirmation is the cnf claim of a DPoP-bound access token (RFC 9449 §6.1).
type Confirmation struct {
	// JKT is the JWK SHA-256 thumbprint of the key the token is bound to.
	JKT string `json:"jkt"`
}

// Token types of token responses and introspection (RFC 6749 §7.1, RFC
// 9449 §5).
const (
	TokenTypeBearer = "Bearer"
	TokenTypeDPoP   = "DPoP"
)

// ErrDPoPBound is wrapped by the error of a DPoP-bound access token
// presented as a bearer token, so that the resource answers with a DPoP
// challenge: the token is fine, the way it came is not.
var ErrDPoPBound = errors.New("DPoP-bound access token presented as a bearer token")

// DPoPNonce is the server nonce for the DPoP-Nonce header: every token and
// userinfo response carries it (RFC 9449 §8.2), so that a client needs the
// round trip of a use_dpop_nonce error at most once.
func (s *Service) DPoPNonce() string { return s.cfg.DPoPNonces.Current(s.clock()) }

// checkProof checks r's proof against the request (accessToken: the token
// it accompanies, "" at the token endpoint) and spends its jti. It returns
// the thumbprint of the proof's key, or "" when there is no proof.
// Errors: Unauthenticated with dpop.CodeInvalidProof or
// dpop.CodeUseNonce; Unavailable; Internal for a request without a path.
func (s *Service) checkProof(ctx context.Context, r DPoPRequest, accessToken string, now time.Time) (string, error) {
	const op = "authz.checkProof"
	if r.Proof == nil {
		return "", nil
	}
	if !strings.HasPrefix(r.Path, "/") {
		return "", fault.New(fault.Internal, op, "DPoP request without an endpoint path")
	}
	p := *r.Proof
	if p.JKT == "" {
		return "", dpop.InvalidProof(op, "DPoP proof has no key")
	}
	if err := s.dpop.Check(p, r.Method, s.cfg.Issuer+r.Path, now, accessToken); err != nil {
		return "", err
	}
	// A captured proof must not be replayed within its window (RFC 9449
	// §11.1), on this replica or another.
	if err := s.st.Replay.UseOnce(ctx, "dpop", p.ReplayKey(), s.dpop.ReplayUntil(p), now); err != nil {
		if errors.Is(err, fault.Conflict) {
			return "", dpop.InvalidProof(op, "DPoP proof was already used (jti)")
		}
		return "", err
	}
	return p.JKT, nil
}

// tokenProof applies the DPoP rules every grant shares at the token
// endpoint: a client with RequireDPoP must send a proof, and a proof must
// fit and be new. It returns the key thumbprint the tokens are bound to,
// "" for bearer tokens.
func (s *Service) tokenProof(ctx context.Context, c client.Client, r DPoPRequest, now time.Time) (string, error) {
	if r.Proof == nil && c.RequireDPoP {
		return "", dpop.InvalidProof("authz.tokenProof", "DPoP proof required: this client's tokens are DPoP-bound")
	}
	return s.checkProof(ctx, r, "", now)
}

// tokenType is the token_type of an access token bound to jkt ("" for
// none).
func tokenType(jkt string) string {
	if jkt != "" {
		return TokenTypeDPoP
	}
	return TokenTypeBearer
}
