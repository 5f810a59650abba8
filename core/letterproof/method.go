package letterproof

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/ports/proofing"
	"github.com/pforte-id/pforte/ports/store"
)

// Names of the secrets CheckSecrets takes.
const (
	SecretInitialPassword = "initial_password"
	SecretActivationCode  = "activation_code"
)

// Level is what a letter proves: that whoever holds it receives the
// member's post at the address on file (eIDAS substantial).
const Level = loa.Substantial

// EvidenceType is the evidence type of a letter proof.
const EvidenceType = "postal_letter"

// Codes of a refused activation; none has parameters. The wrong-secrets code is the one answer for every attempt
// that must not reveal anything: unknown member, no letter, a letter that
// cannot be activated, wrong secrets.
const (
	textWrong     fault.Code = "letter.wrong"     // member number, initial password or activation code is wrong
	textMalformed fault.Code = "letter.malformed" // the secrets are not typed as printed in the letter
	textAttempts  fault.Code = "letter.attempts"  // voided after too many wrong attempts
	textVoided    fault.Code = "letter.voided"    // no longer valid (a newer letter)
	textExpired   fault.Code = "letter.expired"   // expired
	textUsed      fault.Code = "letter.used"      // already used
	// CodeThrottled: too many wrong attempts for this member number in
	// the window; the error carries RetryAt and RetryAfter.
	CodeThrottled fault.Code = "letter.throttled"
)

// Keys of the counters per member number in the rate limit store; the
// number appears only as its pseudonym (letter.Hasher.Pseudonym).
const (
	keyAttempts = "letter:attempts:" // wrong attempts, every number alike
	keyVoided   = "letter:voided:"   // letters voided by wrong attempts
)

// Method proves a member's identity by the password letter sent to the
// address on file. It is safe for concurrent use; every decision that
// changes a letter is one atomic store operation.
type Method struct {
	letters store.Letters
	members store.Members
	limits  store.RateLimits
	hasher  letter.Hasher
	policy  letter.Policy
	issuer  string
	audit   store.Audit
	log     *slog.Logger
	now     func() time.Time
	// dummy is compared against when a member has no letter, so that
	// "no letter" costs the same hashing as "wrong secrets".
	dummy letter.Letter
}

var _ proofing.SecretChecker = (*Method)(nil)

// Deps are what the letter method needs; all are required but Now.
type Deps struct {
	Letters store.Letters
	// Members is the member directory: a proof carries the names and
	// birth date on file.
	Members store.Members
	// RateLimits counts wrong attempts and voidings per member number,
	// across letters and replicas.
	RateLimits store.RateLimits
	// Hasher is the one letters are produced with.
	Hasher letter.Hasher
	// Policy must be the one letters are produced under (MaxAttempts).
	Policy letter.Policy
	// Issuer is Pforte's issuer identifier, named as the evidence's
	// issuer: Pforte printed and posted the letter.
	Issuer string
	// Audit records the activation of a letter and its voiding by wrong
	// attempts (audit.LetterActivated, audit.LetterVoided); nil: not
	// recorded.
	Audit store.Audit
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// Logger receives failures to record; nil: discard.
	Logger *slog.Logger
}

// New returns the letter method.
// Errors: fault.Invalid for a missing store, a zero hasher, a bad policy
// or an empty issuer.
func New(d Deps) (*Method, error) {
	if d.Letters == nil || d.Members == nil || d.RateLimits == nil || d.Hasher.IsZero() || d.Issuer == "" {
		return nil, fault.New(fault.Invalid, "letterproof.New", "letter store, member directory, rate limit store, hash key and issuer are required")
	}
	if err := d.Policy.Validate(); err != nil {
		return nil, err
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	s := letter.NewSecrets()
	dummy := letter.Letter{PasswordHash: d.Hasher.Password(s.InitialPassword), CodeHash: d.Hasher.Code(s.ActivationCode)}
	return &Method{
		letters: d.Letters, members: d.Members, limits: d.RateLimits, hasher: d.Hasher, policy: d.Policy, issuer: d.Issuer,
		audit: d.Audit, log: d.Logger, now: d.Now, dummy: dummy,
	}, nil
}

// guarded reports whether a letter of the member with this pseudonym was
// voided by wrong attempts within the last GuardWindow, or a little longer:
// the sliding estimate is rounded up, so a voiding weighs in until the
// fixed window after its own is over.
func (m *Method) guarded(ctx context.Context, pseudonym string, now time.Time) (bool, error) {
	n, _, err := m.limits.Count(ctx, keyVoided+pseudonym, 1, m.policy.GuardWindow, now)
	return n > 0, err
}

// Name is proof.Letter.
func (m *Method) Name() proof.Method { return proof.Letter }

// CheckSecrets checks the secrets of member k's latest letter and, when they
// are right and the letter can be activated, activates it (once: of
// concurrent callers exactly one wins) and reports the proof.
//
// A member without a letter, a letter that cannot be activated and wrong
// secrets all give fault.Unauthenticated with one text, after the same
// lookup and the same hashing (member enumeration). Only a holder of the
// right secrets learns the letter's state (expired, used, voided).
//
// Wrong secrets are counted twice:
//
//   - Per member number, across letters (Policy.AttemptsPerKVNR in each
//     Policy.AttemptWindow), for every well-formed number alike. Beyond the
//     limit a wrong attempt is refused as RateLimited with the wait and
//     counts on no letter. The right secrets are never refused by this
//     count: whoever guesses for a member's number cannot lock the member
//     out, and guessing both secrets (190 bits) stays hopeless.
//   - Per letter, on an activatable letter: the attempt that reaches
//     Policy.MaxAttempts voids the letter — it stops guessing the 60-bit
//     initial password online — and is answered exactly like every other
//     wrong attempt: an answer of its own would tell whoever guesses for a
//     member number that a letter is on its way to that member. A letter
//     voided so does not hold back the next one (store.Letters.CreateLetter),
//     and for Policy.GuardWindow after a voiding wrong attempts for that
//     number void no letter: a third party's guesses leave the member's
//     next letter working, and cannot make the insurer mail letter after
//     letter.
//
// Counting is a store write or two more than the other wrong cases do;
// what its timing could tell (that the member has an activatable letter)
// is bounded by the rate limits the caller applies per client.
//
// Errors: Invalid (malformed member number or secrets: says nothing about
// any member); Unauthenticated; RateLimited (CodeThrottled, with the wait);
// Locked (voided by attempts or replaced); Expired; Conflict (already
// used); Unavailable.
func (m *Method) CheckSecrets(ctx context.Context, k kvnr.KVNR, s proofing.Secrets) (proof.Proof, error) {
	const op = "letterproof.CheckSecrets"
	wrong := fault.Coded(fault.Unauthenticated, op, textWrong)
	k, err := kvnr.Parse(string(k))
	if err != nil {
		return proof.Proof{}, err
	}
	pw := letter.Normalize(s[SecretInitialPassword].Reveal())
	code := letter.Normalize(s[SecretActivationCode].Reveal())
	if !letter.WellFormed(pw, letter.PasswordLength) || !letter.WellFormed(code, letter.CodeLength) {
		return proof.Proof{}, fault.Coded(fault.Invalid, op, textMalformed)
	}

	l, err := m.letters.LatestLetter(ctx, k)
	found := err == nil
	switch {
	case errors.Is(err, fault.NotFound):
		l = m.dummy
	case err != nil:
		return proof.Proof{}, err
	}
	match := m.hasher.Matches(l, pw, code) // always, also against the dummy
	now := m.now().UTC()
	pseudonym := m.hasher.Pseudonym(k)

	if !match {
		// Every wrong attempt for any number: the same count, the same
		// refusal beyond it.
		allowed, retry, err := m.limits.Hit(ctx, keyAttempts+pseudonym, m.policy.AttemptsPerKVNR, m.policy.AttemptWindow, now)
		switch {
		case err != nil:
			return proof.Proof{}, err
		case !allowed:
			return proof.Proof{}, fault.Coded(fault.RateLimited, op, CodeThrottled).WithRetry(now.Add(retry), retry)
		}
	}

	switch letter.Classify(l, found, match, now) {
	case letter.AttemptWrong:
		guarded, err := m.guarded(ctx, pseudonym, now)
		if err != nil {
			return proof.Proof{}, err
		}
		if guarded {
			return proof.Proof{}, wrong
		}
		n, err := m.letters.FailActivation(ctx, l.ID, m.policy.MaxAttempts, now)
		switch {
		case errors.Is(err, fault.Conflict), errors.Is(err, fault.NotFound):
			// Activated, voided or expired meanwhile: as unknown.
			return proof.Proof{}, wrong
		case err != nil:
			return proof.Proof{}, err
		case n == m.policy.MaxAttempts:
			// This attempt voided the letter (exactly one does: the store
			// counts only while the letter is handed over). The guard
			// begins; the answer stays the one of every wrong guess.
			m.record(ctx, audit.LetterVoided, l.ID, k, now, letter.ReasonAttempts)
			if _, _, err := m.limits.Hit(ctx, keyVoided+pseudonym, 1, m.policy.GuardWindow, now); err != nil {
				return proof.Proof{}, err
			}
		}
		return proof.Proof{}, wrong
	case letter.AttemptExpired:
		return proof.Proof{}, fault.Coded(fault.Expired, op, textExpired)
	case letter.AttemptUsed:
		return proof.Proof{}, fault.Coded(fault.Conflict, op, textUsed)
	case letter.AttemptVoided:
		if l.VoidReason == letter.ReasonAttempts {
			return proof.Proof{}, fault.Coded(fault.Locked, op, textAttempts)
		}
		return proof.Proof{}, fault.Coded(fault.Locked, op, textVoided)
	case letter.AttemptValid:
	default: // AttemptUnknown, AttemptNotYet
		return proof.Proof{}, wrong
	}

	// The directory record is read before the letter is spent, so that an
	// outage leaves the letter usable. A member no longer in the directory
	// is not insured here any more and gets no account.
	mem, err := m.members.MemberByKVNR(ctx, k)
	switch {
	case errors.Is(err, fault.NotFound):
		return proof.Proof{}, wrong
	case err != nil:
		return proof.Proof{}, err
	}
	switch err := m.letters.ActivateLetter(ctx, l.ID, m.policy.MaxAttempts, now); {
	case errors.Is(err, fault.Conflict):
		// Another activation won, or the letter was voided or expired
		// between the read and now.
		return proof.Proof{}, fault.Coded(fault.Conflict, op, textUsed)
	case errors.Is(err, fault.NotFound):
		return proof.Proof{}, wrong
	case err != nil:
		return proof.Proof{}, err
	}
	m.record(ctx, audit.LetterActivated, l.ID, k, now, "")
	return proof.Proof{
		Method: proof.Letter,
		Level:  Level,
		KVNR:   k,
		Attributes: proof.Attributes{
			GivenName:  mem.GivenName,
			FamilyName: mem.FamilyName,
			BirthDate:  mem.BirthDate,
			// The letter proves that the member receives mail at the
			// address it went to.
			Address: l.Recipient.Address,
		},
		Evidence: proof.Evidence{
			Type:        EvidenceType,
			Reference:   l.ID,
			Issuer:      m.issuer,
			IssuedAt:    l.HandedOverAt,
			DeliveredTo: l.Recipient.Address,
		},
		Time: now,
	}, nil
}

// record appends the audit entry of kind for letter id of member k
// (letter.Hasher.AuditEvent; an activation is the member's, a voiding
// the system's), with Detail "reason" when reason is set. A failure is logged: the letter's state stands.
func (m *Method) record(ctx context.Context, kind audit.Kind, id string, k kvnr.KVNR, at time.Time, reason string) {
	if m.audit == nil {
		return
	}
	e := m.hasher.AuditEvent(kind, id, k, at)
	e.ID = grant.NewID()
	if kind == audit.LetterActivated {
		e.Actor = audit.Member
	}
	if reason != "" {
		e.Detail["reason"] = reason
	}
	if err := m.audit.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		m.log.ErrorContext(ctx, "audit of a letter failed", "letter", id, "kind", string(kind), "err", err)
	}
}
