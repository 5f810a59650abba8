package store

import (
	"context"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/signkey"
)

// Accounts stores members' login accounts.
type Accounts interface {
	// CreateAccount inserts a. Errors: Conflict when the ID or KVNR exists.
	CreateAccount(ctx context.Context, a account.Account) error
	// AccountByID returns the account with id. Errors: NotFound.
	AccountByID(ctx context.Context, id string) (account.Account, error)
	// AccountByKVNR returns the account of k. Errors: NotFound.
	AccountByKVNR(ctx context.Context, k kvnr.KVNR) (account.Account, error)
	// SetPasswordHash replaces the password hash of account id.
	// Errors: NotFound.
	SetPasswordHash(ctx context.Context, id, hash string, now time.Time) error
	// SetAccountStatus changes the status of account id. Errors: NotFound.
	SetAccountStatus(ctx context.Context, id string, s account.Status, now time.Time) error
}

// Members is the insurer's member directory (master data).
type Members interface {
	// UpsertMember inserts m or replaces the record with m's KVNR and
	// clears its removed mark (MemberLifecycle.SyncMembers).
	UpsertMember(ctx context.Context, m member.Member) error
	// MemberByKVNR returns the member k. Errors: NotFound.
	MemberByKVNR(ctx context.Context, k kvnr.KVNR) (member.Member, error)
}

// Clients stores OAuth clients.
type Clients interface {
	// CreateClient inserts c. Errors: Conflict when the ID exists.
	CreateClient(ctx context.Context, c client.Client) error
	// PutClient inserts c or replaces the client with c's ID (declarative
	// configuration is applied with it).
	PutClient(ctx context.Context, c client.Client) error
	// ClientByID returns the client id. Errors: NotFound.
	ClientByID(ctx context.Context, id string) (client.Client, error)
	// ListClients returns all clients ordered by ID.
	ListClients(ctx context.Context) ([]client.Client, error)
	// DeleteClient removes client id. Errors: NotFound.
	DeleteClient(ctx context.Context, id string) error
}

// AuthRequests stores pending authorization requests and their codes.
type AuthRequests interface {
	// CreateAuthRequest inserts r. Errors: Conflict when the ID exists.
	CreateAuthRequest(ctx context.Context, r grant.AuthRequest) error
	// AuthRequestByID returns request id, whether or not it has expired
	// (the caller decides). Errors: NotFound.
	AuthRequestByID(ctx context.Context, id string) (grant.AuthRequest, error)
	// CompleteAuthRequest records the member's login on request id, at most
	// once. Errors: NotFound; Expired when ExpiresAt <= now; Conflict when
	// it already has a login.
	CompleteAuthRequest(ctx context.Context, id string, l grant.Login, now time.Time) error
	// IssueCode deletes the completed request c.Request.ID and stores code c
	// in one step, so a request yields at most one code; when it fails,
	// nothing changed. Errors: NotFound when the request does not exist (any
	// more); Forbidden when it has no login yet; Conflict when a code with
	// c.Hash exists.
	IssueCode(ctx context.Context, c grant.Code) error
	// RedeemCode marks the code with hash as used and returns it. Exactly one
	// of any number of concurrent callers succeeds. Errors: NotFound for an
	// unknown hash (or one DeleteExpired removed); Conflict when it was used
	// before, also after it expired — then the code is returned too, so that
	// the caller can revoke what it issued (Tokens.RevokeFamiliesOfCode);
	// Expired when it is unused and ExpiresAt <= now.
	RedeemCode(ctx context.Context, hash string, now time.Time) (grant.Code, error)
	// CreatePushedRequest stores r as a pushed authorization request (RFC
	// 9126) under requestURIHash, the grant.Hash of the request_uri's
	// secret part; the request_uri can be used until expiresAt (exclusive).
	// Until ConsumePushedRequest takes it, r is not a pending request:
	// AuthRequestByID, CompleteAuthRequest and IssueCode do not see it
	// (NotFound). r.ExpiresAt is the end of the request itself, as for
	// CreateAuthRequest, and may not be before expiresAt: the request_uri
	// cannot outlive its request.
	// Errors: Conflict when r.ID or requestURIHash exists; Invalid when
	// requestURIHash is empty, r has a login, or expiresAt is after
	// r.ExpiresAt.
	CreatePushedRequest(ctx context.Context, r grant.AuthRequest, requestURIHash string, expiresAt time.Time) error
	// ConsumePushedRequest takes the pushed request stored under
	// requestURIHash for client clientID, once: exactly one of concurrent
	// callers gets it. From then on it is an ordinary pending
	// authorization request under its own ID (AuthRequestByID,
	// CompleteAuthRequest and IssueCode see it, with the ExpiresAt it was
	// pushed with), so that the login continues with it; the request_uri
	// is spent. Errors, in the order they are checked: NotFound for an
	// unknown hash or one used before (also after its request has gone
	// on to a code); Forbidden when the request was pushed by another
	// client than clientID — it stays unused, so a stolen request_uri
	// does not let another client spend it; Expired when expiresAt <= now
	// (it stays unused and DeleteExpired removes it with its request).
	ConsumePushedRequest(ctx context.Context, requestURIHash, clientID string, now time.Time) (grant.AuthRequest, error)
	// DeleteExpired removes requests that expired strictly before now
	// (ExpiresAt < now), pushed or not, and codes whose
	// ExpiresAt + CodeRetention < now, and
	// returns how many rows went. A type that implements both AuthRequests
	// and Tokens serves both with one method, which clears everything
	// expired.
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)
}

// CodeRetention is how long a store keeps an authorization code after it
// expired. A code is spent by RedeemCode and its tokens are stored by a
// later CreateFamily; a replay that comes in between, or up to this long
// after the code's expiry, must still find the code, so that RedeemCode
// says Conflict (not NotFound) and RevokeFamiliesOfCode can mark it
// replayed and revoke what it issued (RFC 6749 §4.1.2). It is far longer
// than any exchange takes: a code lives at most 60 s and the exchange runs
// within its lifetime.
const CodeRetention = 10 * time.Minute

// Tokens stores refresh token families, refresh tokens and access tokens.
type Tokens interface {
	// CreateFamily inserts family f with its first refresh token rt (may be
	// nil when the client gets no refresh token) and first access token at,
	// in one transaction; the tokens are stored under f.ID. When it fails,
	// nothing of it is stored.
	//
	// When f.BindingID is not empty, the family is stored only while that
	// device binding exists and is neither Revoked nor Suspect, checked
	// atomically with the insert against Devices.RevokeBindings and
	// Devices.UpdateBinding: whatever the interleaving with a revocation of
	// the binding, either CreateFamily fails with Forbidden or the family
	// it created is revoked (by RevokeBindings, or by the
	// RevokeFamiliesOfBinding that follows an UpdateBinding). (This closes
	// the gap between a device login and its code exchange, in which a
	// revocation finds no family yet.)
	//
	// When f.SessionID is not empty, the family is stored only while that
	// session exists and has not ended, checked under the session's row
	// lock against Sessions.EndSession: either CreateFamily fails with
	// Forbidden or EndSession revokes the family it created.
	//
	// When f.CodeHash is not empty and names a code that
	// RevokeFamiliesOfCode has marked replayed, it creates nothing and
	// returns Conflict. The check is atomic with the insert: whatever the
	// interleaving of a CreateFamily and a concurrent RevokeFamiliesOfCode
	// for the same code, either CreateFamily fails or the family it created
	// is revoked. (This closes the gap between RedeemCode and CreateFamily,
	// in which a replay finds no family to revoke yet.) The mark lives with
	// the code: f.CodeHash need not name a code the store holds, and one it
	// does not hold (unknown, or removed by DeleteExpired) has no mark.
	//
	// Errors: Conflict when the code was replayed, or on a duplicate family
	// ID, refresh token hash or access token JTI; Forbidden when
	// f.BindingID names a binding that is gone, revoked or suspect;
	// Invalid when rt or at names a family other than f.ID (an empty
	// FamilyID is taken as f.ID).
	CreateFamily(ctx context.Context, f grant.Family, rt *grant.RefreshToken, at grant.AccessToken) error
	// RefreshToken returns the refresh token with hash and its family.
	// Errors: NotFound.
	RefreshToken(ctx context.Context, hash string) (grant.RefreshToken, grant.Family, error)
	// RotateRefreshToken marks the token with oldHash used and inserts next
	// and at into its family, in one transaction, only if the old token is
	// unused and unexpired and its family neither revoked nor expired.
	// Exactly one of concurrent callers succeeds; when it fails, nothing
	// changed. Errors, in the order they are checked: NotFound for an
	// unknown hash; Conflict when the old token was used already (reuse —
	// also in a revoked family, so that every replay of a spent token is
	// seen); Forbidden when the family is revoked; Expired when the token or
	// its family has expired at now (ExpiresAt <= now); Invalid when next or
	// at names another family (an empty FamilyID is taken as the old
	// token's); Conflict on a duplicate hash or JTI.
	RotateRefreshToken(ctx context.Context, oldHash string, next grant.RefreshToken, at grant.AccessToken, now time.Time) error
	// RevokeFamily revokes family id: its refresh tokens and access tokens
	// stop working. Idempotent. Errors: NotFound.
	RevokeFamily(ctx context.Context, id string, now time.Time) error
	// RevokeFamiliesOfCode is called for a replayed code. In one atomic step
	// it marks the code with codeHash replayed, durably and for as long as
	// the store keeps the code (see CodeRetention), and revokes every family
	// issued for it; it returns how many families were newly revoked (0 is
	// not an error). The mark makes a later or concurrent CreateFamily for
	// the code fail with Conflict, so that nothing issued for a replayed
	// code stays valid, whichever of the two comes first. Idempotent; an
	// unknown code is not an error (there is nothing to mark).
	RevokeFamiliesOfCode(ctx context.Context, codeHash string, now time.Time) (int, error)
	// BindingFamilies: RevokeFamiliesOfBinding.
	BindingFamilies
	// CreateAccessToken records a token issued without a family: a
	// client_credentials token, which is recorded when it is revoked
	// (at.RevokedAt set), not when it is issued. Errors: Conflict on a
	// duplicate JTI.
	CreateAccessToken(ctx context.Context, at grant.AccessToken) error
	// AccessToken returns the record of jti; RevokedAt is set when the token
	// or its family was revoked. Errors: NotFound.
	AccessToken(ctx context.Context, jti string) (grant.AccessToken, error)
	// RevokeAccessToken revokes one access token. Idempotent. Errors: NotFound.
	RevokeAccessToken(ctx context.Context, jti string, now time.Time) error
	// DeleteExpired removes tokens and families that expired strictly
	// before now (ExpiresAt < now) and returns how many rows went; a
	// family's tokens go with it. See AuthRequests.DeleteExpired.
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)
}

// BindingFamilies ends the app logins of one device binding. Tokens has it;
// the device binding use case needs only this of Tokens.
type BindingFamilies interface {
	// RevokeFamiliesOfBinding revokes every family whose BindingID is
	// bindingID (the app logins made with that device key) and returns how
	// many were newly revoked (0 is not an error); their refresh and access
	// tokens stop working. Idempotent: the first revocation time stays.
	// Devices.RevokeBindings does this itself for the bindings it revokes;
	// this method is for the callers that revoke a binding or mark it
	// Suspect with Devices.UpdateBinding (after the update), and for those
	// that end a binding's sessions without revoking the binding (log out
	// the app).
	// Errors: Invalid for an empty bindingID (it would name every password
	// login).
	RevokeFamiliesOfBinding(ctx context.Context, bindingID string, now time.Time) (int, error)
}

// SigningKeys stores token signing keys (private parts sealed).
type SigningKeys interface {
	// CreateSigningKey inserts k. Errors: Conflict when the ID exists, or
	// when k is next (or active) and another key is next (or active)
	// already: there is at most one of each.
	CreateSigningKey(ctx context.Context, k signkey.Key) error
	// ListSigningKeys returns all keys, oldest first.
	ListSigningKeys(ctx context.Context) ([]signkey.Key, error)
	// ApplyKeyPlan carries out a rotation plan in one transaction: create
	// the new next key (may be nil), activate, retire and drop. It succeeds
	// only when the key states are still those the plan was decided on
	// (activate: still next; retire: still active; activate without retire:
	// no key is active; a new next key without activate: no key is next), so
	// two replicas rotating at once cannot both win, and a race can leave
	// neither two active keys nor extra next keys. Keys to drop that are gone
	// already are ignored. Errors: Conflict when the states moved.
	ApplyKeyPlan(ctx context.Context, plan signkey.Plan, newNext *signkey.Key, now time.Time) error
}

// Replay remembers one-time values (JWT IDs of client assertions, later DPoP
// proofs) across all replicas.
type Replay interface {
	// UseOnce records value in scope until expiresAt. Errors: Conflict when
	// it was recorded before and has not expired.
	UseOnce(ctx context.Context, scope, value string, expiresAt, now time.Time) error
}

// Health reports whether the store can serve requests.
type Health interface {
	// Ping checks the database answers. Errors: Unavailable.
	Ping(ctx context.Context) error
}

// Store is everything a full storage adapter offers. Use cases take the
// narrow interfaces they need.
type Store interface {
	Accounts
	Members
	Clients
	AuthRequests
	Tokens
	SigningKeys
	Replay
	Health
	MemberImport
	Registrations
	Letters
	Enrollments
	Proofings
	RateLimits
	PasswordThrottles
	Devices
	Challenges
	Audit
	EnrollmentCompletion
	Approvals
	Sessions
	Consents
	LogoutJobs
	MemberSearch
	AuditQuery
	ClientUpdates
	Leases
	LetterSecrets
	AbandonedEnrollments
	Transfers
	MemberLifecycle
}
