package registration

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/pforte-id/pforte/core/enrollment"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/ports/store"
)

// Codes of binding a proofing by redirect to the app that began it; none
// has parameters.
const (
	// CodeReturnURI: the return address is not one of the app's.
	CodeReturnURI fault.Code = "proofing.return_uri"
	// CodeChallenge: the code challenge is missing or not S256.
	CodeChallenge fault.Code = "proofing.code_challenge"
	// CodeConfirmationUnknown: unknown, redeemed before, or not for this
	// app (another token or verifier): one answer for all.
	CodeConfirmationUnknown fault.Code = "proofing.confirmation_unknown"
	// CodeConfirmationExpired: the app redeemed the confirmation too late.
	CodeConfirmationExpired fault.Code = "proofing.confirmation_expired"
)

// appReturnURI reports whether u may be configured as an app's return
// address: absolute, no fragment, https or a private-use scheme in
// reverse domain notation (RFC 8252 §7.1).
func appReturnURI(u string) bool {
	p, err := url.Parse(u)
	if err != nil || !p.IsAbs() || p.Fragment != "" || strings.ContainsAny(u, "#\r\n ") {
		return false
	}
	switch {
	case p.Scheme == "https":
		return p.Host != ""
	case p.Scheme == "http":
		return false
	default:
		return strings.Contains(p.Scheme, ".")
	}
}

// returnAllowed reports whether the app may name u as its return address:
// one of cfg.AppReturnURIs exactly, or, with cfg.LoopbackReturn, an http
// URL on a loopback IP literal with a port (any port, RFC 8252 §7.3; not
// "localhost", which a resolver may send elsewhere).
func (s *Service) returnAllowed(u string) bool {
	if len(u) > 2048 {
		return false
	}
	if slices.Contains(s.cfg.AppReturnURIs, u) {
		return true
	}
	if !s.cfg.LoopbackReturn {
		return false
	}
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "http" || p.User != nil || p.Fragment != "" || p.Port() == "" || strings.Contains(u, "#") {
		return false
	}
	ip := net.ParseIP(p.Hostname())
	return ip != nil && ip.IsLoopback()
}

// validChallenge reports whether c is an S256 code challenge: 43
// base64url characters (the encoding of 32 bytes).
func validChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil && len(b) == sha256.Size
}

// s256 is the S256 code challenge of verifier (RFC 7636 §4.2).
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// withCode is returnURI with the one-time code added to its query.
func withCode(returnURI, code string) string {
	u, err := url.Parse(returnURI)
	if err != nil {
		// returnAllowed parsed it before it was stored.
		return ""
	}
	q := u.Query()
	q.Set("code", code)
	u.RawQuery = q.Encode()
	return u.String()
}

// RedeemProofing is the app that began a proofing by redirect taking its
// outcome: code is the one-time code the proofing service's accepted
// answer sent to the app's return address (FinishProofing), token the
// enrollment token BeginProofing returned to the app, verifier the secret
// whose S256 hash the app sent as its code challenge. Only when all three
// belong together is the proof recorded and the enrollment session opened
// (as Activate does), with that token.
//
// This is what stops a relayed confirmation: someone who begins with a
// member's number and gets the member to confirm at the eID service's URL
// holds the token and the verifier, but the member's browser takes the
// code to the return address on the member's own device, never to theirs.
// A code presented with another app's token or verifier is spent and
// logged as a probable relay.
//
// The code is spent by the first redemption whatever its outcome.
//
// Errors: Unauthenticated (CodeConfirmationUnknown) for an unknown, spent
// or foreign code, token or verifier; Unauthenticated (proofing.mismatch)
// for a card linked to another member number; Expired
// (CodeConfirmationExpired) after proof.ConfirmTTL; Unavailable.
func (s *Service) RedeemProofing(ctx context.Context, token, code, verifier string) (enrollment.Session, error) {
	const op = "registration.RedeemProofing"
	c, err := s.redeem(ctx, op, token, code, verifier, false)
	if err != nil {
		return enrollment.Session{}, err
	}
	session, err := s.enroll(ctx, c.Proof, c.TokenHash)
	if errors.Is(err, store.ErrHolderLinked) {
		return enrollment.Session{}, s.holderLinked(ctx, op, c.Proof)
	}
	return session, err
}

// redeem takes the confirmation of code and checks that token and
// verifier are those of the app that began it, and that it is a step-up
// exactly when stepUp (see RedeemProofing).
func (s *Service) redeem(ctx context.Context, op, token, code, verifier string, stepUp bool) (proof.Confirmed, error) {
	unknown := fault.Coded(fault.Unauthenticated, op, CodeConfirmationUnknown)
	if token == "" || len(token) > 256 || code == "" || len(code) > 256 || len(verifier) < 43 || len(verifier) > 128 {
		return proof.Confirmed{}, unknown
	}
	now := s.clock()
	c, err := s.proofings.TakeConfirmation(ctx, grant.Hash(code), now)
	switch {
	case errors.Is(err, fault.NotFound):
		return proof.Confirmed{}, unknown
	case errors.Is(err, fault.Expired):
		return proof.Confirmed{}, fault.Coded(fault.Expired, op, CodeConfirmationExpired)
	case err != nil:
		return proof.Confirmed{}, err
	}
	tokenOK := subtle.ConstantTimeCompare([]byte(c.TokenHash), []byte(grant.Hash(token))) == 1
	verifierOK := subtle.ConstantTimeCompare([]byte(c.Challenge), []byte(s256(verifier))) == 1
	if !tokenOK || !verifierOK || c.TokenHash == "" {
		// WARN: the code reached an app that did not begin this proofing.
		// That is what a relayed confirmation looks like (or a broken
		// app); the confirmation is spent, and an operator should look.
		s.log.LogAttrs(ctx, slog.LevelWarn, "proofing confirmation refused: presented by an app that did not begin the proofing",
			slog.String("method", string(c.Proof.Method)), slog.String("member", s.lh.Pseudonym(c.Proof.KVNR)),
			slog.Bool("token_matches", tokenOK), slog.Bool("verifier_matches", verifierOK))
		return proof.Confirmed{}, unknown
	}
	if (c.AccountID != "") != stepUp {
		// A registration's code at the step-up or the other way round:
		// the app's own token, used at the wrong endpoint. Spent.
		return proof.Confirmed{}, unknown
	}
	return c, nil
}

// holderLinked logs and answers a card whose pseudonym registered another
// member number before: one card, one member. The member hears what a
// mismatch hears; support staff find the reason. WARN, unlike a mismatch:
// one card for two member numbers is what fraud looks like, and an
// operator should look.
func (s *Service) holderLinked(ctx context.Context, op string, pr proof.Proof) error {
	s.log.LogAttrs(ctx, slog.LevelWarn, "proofing refused: attributes do not match the record",
		slog.String("method", string(pr.Method)), slog.String("member", s.lh.Pseudonym(pr.KVNR)),
		slog.String("evidence", pr.Evidence.Reference),
		slog.String("outcome", proof.Mismatch.String()), slog.String("reason", reasonHolderLinked))
	return fault.Coded(fault.Unauthenticated, op, textMismatch)
}
