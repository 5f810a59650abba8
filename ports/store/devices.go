package store

import (
	"context"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/device"
)

// Devices stores device bindings.
type Devices interface {
	// BindDevice inserts b (b.AccountID and b.EnrollmentID set) only while
	// the enrollment session b.EnrollmentID is open at now and has no
	// binding yet: one key per enrollment. An empty b.AccountID is taken
	// as the session's account. Errors: NotFound (session); Expired
	// (session over or completed); Conflict (already bound, or the
	// credential id is bound elsewhere); Invalid (b names another account
	// than the session, or lacks its ID, credential id or public key).
	BindDevice(ctx context.Context, b device.Binding, now time.Time) error
	// BindingByID returns binding id. Errors: NotFound.
	BindingByID(ctx context.Context, id string) (device.Binding, error)
	// BindingByCredentialID returns the binding of a key. Errors: NotFound.
	BindingByCredentialID(ctx context.Context, credentialID []byte) (device.Binding, error)
	// ListBindings returns an account's bindings, oldest first, revoked
	// ones included.
	ListBindings(ctx context.Context, accountID string) ([]device.Binding, error)
	// UpdateBinding reads binding id, calls f with it and, when f returns
	// nil, stores what f changed — all in one transaction that holds the
	// row, so concurrent updates are serialised and f always sees the
	// latest state (the PIN counter's check-and-bump). When f returns an
	// error nothing is stored and UpdateBinding returns that very error
	// (comparable with errors.Is) and the zero binding: that is how a
	// caller refuses an update and says why. f may run more than once when
	// the transaction is retried; it must depend only on its argument. f
	// may not change what identifies the binding (ID, AccountID,
	// EnrollmentID, Platform, CredentialID, PublicKey, AAGUID,
	// AttestationFormat, CreatedAt). Returns the binding as stored
	// afterwards.
	//
	// UpdateBinding stores the binding and nothing else: a caller that
	// revokes a binding or marks it Suspect ends its app logins with
	// Tokens.RevokeFamiliesOfBinding after the update. No family can
	// appear in between, as CreateFamily refuses a binding that is Revoked
	// or Suspect, atomically with its insert.
	// Errors: NotFound; Invalid (f changed an identifying field; nothing is
	// stored); f's error; those of the database.
	UpdateBinding(ctx context.Context, id string, f func(b *device.Binding) error) (device.Binding, error)
	// RevokeBindings revokes the account's bindings that are not revoked
	// yet, except keep (empty: all), and returns how many. In the same
	// transaction it revokes the token families of the account's revoked
	// and suspect bindings other than keep (Tokens.RevokeFamiliesOfBinding),
	// so that nothing issued through a revoked key survives. Idempotent.
	RevokeBindings(ctx context.Context, accountID, keep string, now time.Time) (int, error)
}

// Challenges stores issued WebAuthn challenges. A store that also
// implements AuthRequests removes expired ones in DeleteExpired.
type Challenges interface {
	// CreateChallenge stores c. Errors: Conflict on a duplicate ID.
	CreateChallenge(ctx context.Context, c device.Challenge) error
	// ConsumeChallenge removes challenge id and returns it if it has not
	// expired at now; exactly one of concurrent callers gets it.
	// Errors: NotFound (unknown or used before); Expired.
	ConsumeChallenge(ctx context.Context, id string, now time.Time) (device.Challenge, error)
}

// Audit is the append-only audit log.
type Audit interface {
	// AppendAudit stores e. Errors: Conflict on a duplicate ID.
	AppendAudit(ctx context.Context, e audit.Event) error
	// AuditEvents returns an account's events, newest first, at most limit.
	AuditEvents(ctx context.Context, accountID string, limit int) ([]audit.Event, error)
}

// EnrollmentCompletion finishes an enrollment.
type EnrollmentCompletion interface {
	// CompleteEnrollment, in one transaction, checks that session
	// sessionID is open at now, has its password set and an active
	// binding of this session with a PIN, then sets the account Active,
	// marks the session completed and appends e (an empty e.AccountID is
	// taken as the session's account). A session a device transfer opened
	// (TransferID set) leaves the account's status as it is and completes
	// only while the account is Active. When it fails nothing changed.
	// Returns the account. Errors: NotFound; Expired; Forbidden (a step is
	// missing, or a transfer's account is not active); Conflict (e's ID
	// exists); Invalid (e names another account).
	CompleteEnrollment(ctx context.Context, sessionID string, e audit.Event, now time.Time) (account.Account, error)
}
