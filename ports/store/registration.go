package store

import (
	"context"
	"errors"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/enrollment"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/proof"
)

// MemberImport loads the insurer's member master data in bulk (operator
// import). The directory lookup itself is Members.MemberByKVNR.
type MemberImport interface {
	// UpsertMembers inserts or replaces ms (by KVNR) in one transaction:
	// all or nothing. A record whose data (all but UpdatedAt) equals the
	// stored one is left as it is, UpdatedAt included, so that importing
	// the same data again changes nothing. A member marked removed
	// (MemberLifecycle.SyncMembers) is in the insurer's file again: the
	// mark is cleared. Errors: Invalid for a duplicate KVNR within ms.
	UpsertMembers(ctx context.Context, ms []member.Member) error
}

// Registrations queues members' requests for a letter until a worker
// decides them.
type Registrations interface {
	// EnqueueRegistration stores r. Errors: Conflict on a duplicate ID.
	EnqueueRegistration(ctx context.Context, r letter.Request) error
	// ClaimRegistrations leases up to n queued requests, oldest first, whose
	// lease is free at now, until leaseUntil; concurrent callers never get
	// the same request while its lease runs.
	ClaimRegistrations(ctx context.Context, n int, now, leaseUntil time.Time) ([]letter.Request, error)
	// DeleteRegistration removes a decided request. Idempotent.
	DeleteRegistration(ctx context.Context, id string) error
}

// Letters stores password letters. Every state change is a conditional,
// atomic operation; a letter never goes back to an earlier state.
type Letters interface {
	// CreateLetter inserts l (state Requested) and voids (reason
	// superseded) every earlier letter of l.KVNR that is not Activated or
	// Voided, in one transaction — unless a letter of l.KVNR was created at
	// or after notBefore: then nothing changes. A letter voided by wrong
	// attempts (reason attempts) does not count as created: the interval
	// guards against mass mailing, not against a member whose letter was
	// guessed at. (A letter reported lost counts: its replacement is made
	// with a notBefore after it, under a guard of its own.) Errors:
	// Conflict (too soon, or duplicate ID).
	CreateLetter(ctx context.Context, l letter.Letter, notBefore, now time.Time) error
	// LetterByID returns letter id. Errors: NotFound.
	LetterByID(ctx context.Context, id string) (letter.Letter, error)
	// LatestLetter returns the newest letter of k (of two created at the
	// same time, the one not voided). Errors: NotFound.
	LatestLetter(ctx context.Context, k kvnr.KVNR) (letter.Letter, error)
	// ListLetters returns letters in state (all states when empty), newest
	// first, at most limit.
	ListLetters(ctx context.Context, state letter.State, limit int) ([]letter.Letter, error)
	// ClaimLetters leases up to n letters in state Requested or Rendered
	// whose lease is free at now, until leaseUntil, oldest first.
	ClaimLetters(ctx context.Context, n int, now, leaseUntil time.Time) ([]letter.Letter, error)
	// MarkRendered stores the hashes of newly drawn secrets and the outbox
	// file name and sets state Rendered, only from Requested or Rendered.
	// Errors: NotFound; Conflict in any other state (voided meanwhile).
	MarkRendered(ctx context.Context, id, passwordHash, codeHash, outboxName string, now time.Time) error
	// MarkHandedOver sets Rendered → HandedOver. Errors: NotFound; Conflict.
	MarkHandedOver(ctx context.Context, id string, now time.Time) error
	// FailActivation counts one wrong activation of letter id if it is
	// HandedOver, and voids it (reason attempts) when the count reaches max,
	// atomically: N concurrent calls add exactly N. Returns the new count.
	// Errors: NotFound; Conflict when the letter is not HandedOver.
	FailActivation(ctx context.Context, id string, max int, now time.Time) (int, error)
	// ActivateLetter sets HandedOver → Activated if fewer than max attempts
	// failed and the letter has not expired at now; exactly one of
	// concurrent callers succeeds. Errors: NotFound; Conflict otherwise.
	ActivateLetter(ctx context.Context, id string, max int, now time.Time) error
	// VoidLetter voids letter id with reason (letter.ReasonLost) at now if
	// it is neither Activated nor Voided; exactly one of concurrent
	// callers succeeds. Errors: NotFound; Conflict otherwise.
	VoidLetter(ctx context.Context, id, reason string, now time.Time) error
}

// ErrHolderLinked is the cause of StartEnrollment's Conflict when the
// proof's pseudonym (an eID card) is linked to another member already.
var ErrHolderLinked = errors.New("the proof's holder is linked to another member")

// Enrollments stores enrollment sessions and the proofs behind accounts.
type Enrollments interface {
	// StartEnrollment, in one transaction, creates the account a for
	// p.KVNR if none exists (else raises its proofing level to p.Level when
	// higher, keeping its ID, status and password), records proof p for
	// it, and inserts session s with s.AccountID set to the account's ID.
	// A proof whose Evidence.Subject is set (a service's pseudonym of the
	// holder: an eID card's) links the pair (Evidence.Issuer,
	// Evidence.Subject) to p.KVNR for good; a pair linked to another
	// member already stops the enrollment, and nothing is stored.
	// Returns the account as stored. Errors: Conflict on a duplicate
	// session ID or token hash; Conflict wrapping ErrHolderLinked for a
	// pseudonym linked to another member.
	StartEnrollment(ctx context.Context, s enrollment.Session, a account.Account, p proof.Proof) (account.Account, error)
	// EnrollmentByTokenHash returns the session. Errors: NotFound.
	EnrollmentByTokenHash(ctx context.Context, tokenHash string) (enrollment.Session, error)
	// SetEnrollmentPassword sets the password hash of the session's account
	// and PasswordSetAt of the session in one transaction, only while the
	// session is open at now and was not opened by a device transfer.
	// Errors: NotFound; Expired (session over or completed); Forbidden (a
	// transfer's session).
	SetEnrollmentPassword(ctx context.Context, sessionID, passwordHash string, now time.Time) error
	// RecordProof, in one transaction, records proof p for the existing
	// account accountID (a step-up: no session), raises its level to
	// p.Level when higher and links a pseudonym as StartEnrollment does.
	// Returns the account as stored. Errors: NotFound (no such account);
	// Invalid (p names another member); Conflict wrapping ErrHolderLinked.
	RecordProof(ctx context.Context, accountID string, p proof.Proof) (account.Account, error)
	ProofRecords
}

// ProofRecords reads the proofs recorded behind accounts (what
// StartEnrollment recorded): the evidence of OpenID Connect for Identity
// Assurance's verified_claims.
type ProofRecords interface {
	// Proofs returns the proofs recorded for an account, oldest first.
	// Errors: Unavailable.
	Proofs(ctx context.Context, accountID string) ([]proof.Proof, error)
}

// Proofings keeps proofings by redirect (ports/proofing.Redirector)
// between their begin and the service's answer. A store that also
// implements AuthRequests removes expired ones in DeleteExpired.
type Proofings interface {
	// BeginProofing stores p. Errors: Conflict on a duplicate StateHash.
	BeginProofing(ctx context.Context, p proof.Pending) error
	// TakeProofing removes the proofing with stateHash and returns it:
	// exactly one of concurrent callers gets it. An expired one is removed
	// all the same. Errors: NotFound (unknown, or taken before); Expired
	// (ExpiresAt <= now).
	TakeProofing(ctx context.Context, stateHash string, now time.Time) (proof.Pending, error)
	// ConfirmProofing stores c, an accepted answer waiting for the app
	// that began to redeem it. Errors: Conflict on a duplicate CodeHash.
	ConfirmProofing(ctx context.Context, c proof.Confirmed) error
	// TakeConfirmation removes the confirmation with codeHash and returns
	// it: exactly one of concurrent callers gets it, whatever it then
	// decides. An expired one is removed all the same. Errors: NotFound
	// (unknown, or taken before); Expired (ExpiresAt <= now).
	TakeConfirmation(ctx context.Context, codeHash string, now time.Time) (proof.Confirmed, error)
}

// RateLimits counts events per key across all replicas, in sliding
// windows (core/ratelimit): a limit holds over every span of one window
// length, not only between fixed boundaries.
type RateLimits interface {
	// Hit counts one event for key and reports whether the sliding
	// estimate of key's events within window of now is still within
	// limit; when not, retryAfter is the time until one more event would
	// be. Refused events count too. Atomic: N concurrent hits count N.
	// Errors: Invalid for a window shorter than a millisecond or a
	// negative limit.
	Hit(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (allowed bool, retryAfter time.Duration, err error)
	// Count returns the sliding estimate (rounded up) of key's events
	// within window of now, and the time until one more event would be
	// within limit (0 when it is now); it counts nothing. Errors: Invalid
	// for a window shorter than a millisecond.
	Count(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (hits int, retryAfter time.Duration, err error)
	// Release takes back one event that Hit counted for key, window and
	// now (the same three): a use case that counts only some outcomes
	// (failed password checks) reserves with Hit before it runs, so that
	// concurrent calls cannot outrun the count, and releases what did
	// not count. A count never goes below zero. Errors: Invalid for a
	// window shorter than a millisecond.
	Release(ctx context.Context, key string, window time.Duration, now time.Time) error
}
