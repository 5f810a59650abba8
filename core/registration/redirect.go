package registration

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/core/secret"
	"github.com/pforte-id/pforte/ports/proofing"
)

// Codes of proofing by redirect; none has parameters. The mismatch code is
// the one answer for an unknown member and for attributes that are not the
// member's: only a proofing service's verified answer gets this far, and it
// must not tell its holder whether some other member number exists.
const (
	textUnknownMethod              = CodeUnknownMethod
	textNoProofing      fault.Code = "proofing.unknown"    // unknown or finished already; start again
	textProofingExpired fault.Code = "proofing.expired"    // took too long; start again
	textMismatch        fault.Code = "proofing.mismatch"   // the document's data do not match the member number
	textIneligible      fault.Code = "proofing.ineligible" // no registration possible with this member number now
)

// ProofingStart is what the app sends to begin a proofing by redirect.
type ProofingStart struct {
	// ClientIP is the app's address, for the rate limit.
	ClientIP string
	Method   proof.Method
	KVNR     kvnr.KVNR
	// CallbackURL is where the proofing service answers: an absolute
	// http or https URL of the driving adapter.
	CallbackURL string
	// ReturnURI is the app's address the browser is sent to after an
	// accepted answer, with a one-time code (Config.AppReturnURIs, or a
	// loopback address with Config.LoopbackReturn).
	ReturnURI string
	// CodeChallenge is the S256 challenge of a verifier only the app
	// knows (RFC 7636); RedeemProofing wants the verifier.
	CodeChallenge string
	// BindingID, for a step-up only, is the device binding whose key and
	// PIN began it, to be confirmed again (device.Reconfirm) once the
	// proof is recorded.
	BindingID string
}

// BeginProofing begins a proofing of member in.KVNR with a method that
// sends the member to a proofing service (a proofing.Redirector: the eID)
// and returns the service's URL to send the member to, and the enrollment
// token of the session a successful proofing opens. The service answers at
// in.CallbackURL, and FinishProofing takes the answer. Core makes the state
// (256 bits, single use, proof.PendingTTL) and keeps its hash, the member,
// the app's return address and code challenge, and the method's data
// (store.Proofings); the state itself is kept nowhere.
//
// The token (256 bits) is made here and only its hash kept, so that it
// belongs to whoever began (the app) and never travels with the state. The
// answer opens nothing by itself: it sends the browser to the app's return
// address with a one-time code, and only the app that holds the code, the
// token and the verifier of its challenge redeems it (RedeemProofing). A
// confirmation relayed to somebody else's app therefore stays with the
// member's own device.
//
// Whether the number is a member is not looked at here: the answer is the
// same for every well-formed number (member enumeration), and
// FinishProofing matches the verified attributes to the record. Begins are
// counted per client address with the activation attempts' limit, so that
// one place cannot fill the store with proofings.
//
// Errors: Invalid for an unknown method, one that does not redirect, a
// malformed member number, a return address that is not the app's
// (CodeReturnURI) or a missing or malformed challenge (CodeChallenge);
// RateLimited (CodeRateLimited, with the wait); Unavailable; Internal when
// ClientIP is empty, CallbackURL is not an absolute URL, or the method
// returns no URL.
func (s *Service) BeginProofing(ctx context.Context, in ProofingStart) (redirectURL, enrollmentToken string, err error) {
	return s.begin(ctx, "registration.BeginProofing", in, "")
}

// begin begins a proofing by redirect (BeginProofing, BeginStepUp); a
// step-up names the account it raises.
func (s *Service) begin(ctx context.Context, op string, in ProofingStart, accountID string) (redirectURL, token string, err error) {
	m, ok := s.methods[in.Method].(proofing.Redirector)
	if !ok {
		return "", "", fault.Coded(fault.Invalid, op, textUnknownMethod)
	}
	k, err := kvnr.Parse(string(in.KVNR))
	if err != nil {
		return "", "", err
	}
	if !s.returnAllowed(in.ReturnURI) {
		return "", "", fault.Coded(fault.Invalid, op, CodeReturnURI)
	}
	if !validChallenge(in.CodeChallenge) {
		return "", "", fault.Coded(fault.Invalid, op, CodeChallenge)
	}
	ip, ok := ipKey(in.ClientIP)
	if !ok {
		return "", "", fault.New(fault.Internal, op, "")
	}
	if u, err := url.Parse(in.CallbackURL); err != nil || !u.IsAbs() || (u.Scheme != "https" && u.Scheme != "http") {
		return "", "", fault.New(fault.Internal, op, "")
	}
	now := s.clock()
	if err := s.hit(ctx, op, "proofing:ip:"+ip, s.cfg.ActivationsPerIP, now); err != nil {
		return "", "", err
	}
	state := grant.NewSecret()
	token = grant.NewSecret()
	p := proof.Pending{
		StateHash: grant.Hash(state), Method: in.Method, KVNR: k, CreatedAt: now, ExpiresAt: now.Add(proof.PendingTTL),
		TokenHash: grant.Hash(token), ReturnURI: in.ReturnURI, Challenge: in.CodeChallenge, AccountID: accountID,
	}
	if accountID != "" {
		p.BindingID = in.BindingID
	}
	r, err := m.Begin(ctx, proofing.Begin{State: secret.String(state), CallbackURL: in.CallbackURL, ExpiresAt: p.ExpiresAt})
	if err != nil {
		return "", "", err
	}
	if r.URL == "" {
		return "", "", fault.New(fault.Internal, op, "")
	}
	p.Data = r.Data
	if err := s.proofings.BeginProofing(ctx, p); err != nil {
		return "", "", err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "proofing begun",
		slog.String("method", string(in.Method)), slog.String("member", s.lh.Pseudonym(k)), slog.Bool("step_up", accountID != ""))
	return r.URL, token, nil
}

// FinishProofing takes the proofing service's answer c to a proofing that
// BeginProofing began with method, and, when the method accepts it and the
// attributes it verified match the record of the member who began
// (proof.Compare), keeps the proof as a confirmation (proof.ConfirmTTL)
// and returns where to send the browser: the app's return address with a
// one-time code. Nothing is opened yet: the app that began redeems the
// code with its token and verifier (RedeemProofing). A proofing stored
// without a token, return address or challenge is refused as unknown. The
// state is spent by the first answer that names it, whatever the outcome:
// an answer cannot be replayed, and a failed proofing begins anew.
//
// Errors: Invalid for an unknown method or one that does not redirect;
// Unauthenticated for an unknown, spent or foreign state, and (one text)
// for attributes that do not match, or need a person's review
// (proof.Review: refused for now, its reason code logged), or a member
// not in the directory; Expired when the proofing took longer than
// proof.PendingTTL; Forbidden for a member who is not eligible now; those
// of the method, unchanged (Unauthenticated, Forbidden — see
// ports/proofing.Redirector); Unavailable; Internal when the method
// returns a proof that does not fit.
func (s *Service) FinishProofing(ctx context.Context, method proof.Method, c proofing.Callback) (returnURL string, err error) {
	const op = "registration.FinishProofing"
	m, ok := s.methods[method].(proofing.Redirector)
	if !ok {
		return "", fault.Coded(fault.Invalid, op, textUnknownMethod)
	}
	unknown := fault.Coded(fault.Unauthenticated, op, textNoProofing)
	state := c.State.Reveal()
	if state == "" || len(state) > 256 {
		return "", unknown
	}
	now := s.clock()
	p, err := s.proofings.TakeProofing(ctx, grant.Hash(state), now)
	switch {
	case errors.Is(err, fault.NotFound):
		return "", unknown
	case errors.Is(err, fault.Expired):
		return "", fault.Coded(fault.Expired, op, textProofingExpired)
	case err != nil:
		return "", err
	case p.Method != method:
		// A state begun for another method: spent all the same, so that
		// it cannot be tried against each method in turn.
		return "", unknown
	case p.TokenHash == "" || p.Challenge == "" || p.ReturnURI == "":
		// Begun before proofings were bound to the app that began them:
		// nobody could redeem it safely.
		return "", unknown
	}
	pr, err := m.Finish(ctx, p.Data, c)
	if err != nil {
		return "", err
	}
	if pr.KVNR != "" {
		return "", fault.New(fault.Internal, op, "")
	}
	pr.KVNR = p.KVNR
	if !s.fits(m, pr) {
		return "", fault.New(fault.Internal, op, "")
	}
	if err := s.matchMember(ctx, pr, now); err != nil {
		return "", err
	}
	code := grant.NewSecret()
	if err := s.proofings.ConfirmProofing(ctx, proof.Confirmed{
		CodeHash: grant.Hash(code), TokenHash: p.TokenHash, Challenge: p.Challenge, AccountID: p.AccountID,
		BindingID: p.BindingID, Proof: pr,
		CreatedAt: now, ExpiresAt: now.Add(proof.ConfirmTTL),
	}); err != nil {
		return "", err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "proofing confirmed, waiting for the app",
		slog.String("method", string(pr.Method)), slog.String("member", s.lh.Pseudonym(pr.KVNR)),
		slog.String("evidence", pr.Evidence.Reference))
	return withCode(p.ReturnURI, code), nil
}

// reasonHolderLinked is the log's reason code for a card whose pseudonym
// is linked to another member.
const reasonHolderLinked = "holder_linked"

// matchMember checks that the attributes of pr are those on record for
// pr.KVNR and that the member is eligible at now (see FinishProofing).
func (s *Service) matchMember(ctx context.Context, pr proof.Proof, now time.Time) error {
	const op = "registration.FinishProofing"
	mismatch := fault.Coded(fault.Unauthenticated, op, textMismatch)
	mem, err := s.members.MemberByKVNR(ctx, pr.KVNR)
	switch {
	case errors.Is(err, fault.NotFound):
		s.log.LogAttrs(ctx, slog.LevelInfo, "proofing refused: no such member",
			slog.String("method", string(pr.Method)), slog.String("member", s.lh.Pseudonym(pr.KVNR)))
		return mismatch
	case err != nil:
		return err
	}
	// Only a full match opens an account. A result that needs a person's
	// review (a probable name change, a partial date of birth, a name
	// equal only without accents) is refused too until support staff can
	// review it; its reason code, never the attributes, is logged so that
	// they can tell the member why. Matching comes before eligibility, so
	// that a card of another person learns nothing about the member.
	if r := proof.Compare(mem, pr.Attributes); r.Outcome != proof.Match {
		// INFO: a typing error or a card of another person, answered as a
		// mismatch; the reason code is for support staff.
		s.log.LogAttrs(ctx, slog.LevelInfo, "proofing refused: attributes do not match the record",
			slog.String("method", string(pr.Method)), slog.String("member", s.lh.Pseudonym(pr.KVNR)),
			slog.String("evidence", pr.Evidence.Reference),
			slog.String("outcome", r.Outcome.String()), slog.String("reason", string(r.Reason)))
		return mismatch
	} else if r.Reason != "" {
		// A match with a note (a partial date of birth the address
		// corroborated): kept for the audit trail.
		s.log.LogAttrs(ctx, slog.LevelInfo, "proofing matched the record",
			slog.String("method", string(pr.Method)), slog.String("member", s.lh.Pseudonym(pr.KVNR)),
			slog.String("evidence", pr.Evidence.Reference), slog.String("reason", string(r.Reason)))
	}
	if !s.cfg.Eligibility.Eligible(mem, now) {
		return fault.Coded(fault.Forbidden, op, textIneligible)
	}
	return nil
}
