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
	// UpsertMember inserts m or replaces the record with m's KVNR.
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
	// in one step, so a request yields at most one code.
	// Errors: NotFound when the request does not exist (any more);
	// Forbidden when it has no login yet.
	IssueCode(ctx context.Context, c grant.Code) error
	// RedeemCode marks the code with hash as used and returns it. Exactly one
	// of any number of concurrent callers succeeds. Errors: NotFound for an
	// unknown hash; Expired when ExpiresAt <= now; Conflict when it was used
	// before — then the code is returned too, so that the caller can revoke
	// what it issued.
	RedeemCode(ctx context.Context, hash string, now time.Time) (grant.Code, error)
	// DeleteExpired removes requests and codes that expired before now and
	// returns how many rows went.
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)
}

// Tokens stores refresh token families, refresh tokens and access tokens.
type Tokens interface {
	// CreateFamily inserts family f with its first refresh token rt (may be
	// nil when the client gets no refresh token) and first access token at,
	// in one transaction. Errors: Conflict on a duplicate ID or hash.
	CreateFamily(ctx context.Context, f grant.Family, rt *grant.RefreshToken, at grant.AccessToken) error
	// RefreshToken returns the refresh token with hash and its family.
	// Errors: NotFound.
	RefreshToken(ctx context.Context, hash string) (grant.RefreshToken, grant.Family, error)
	// RotateRefreshToken marks the token with oldHash used and inserts next
	// and at, in one transaction, only if the old token is unused and its
	// family is not revoked. Exactly one of concurrent callers succeeds.
	// Errors: NotFound; Conflict when the old token was used already (reuse);
	// Forbidden when the family is revoked.
	RotateRefreshToken(ctx context.Context, oldHash string, next grant.RefreshToken, at grant.AccessToken, now time.Time) error
	// RevokeFamily revokes family id: its refresh tokens and access tokens
	// stop working. Idempotent. Errors: NotFound.
	RevokeFamily(ctx context.Context, id string, now time.Time) error
	// RevokeFamiliesOfCode revokes every family issued for the code with
	// codeHash and returns how many were revoked (0 is not an error).
	RevokeFamiliesOfCode(ctx context.Context, codeHash string, now time.Time) (int, error)
	// CreateAccessToken records a token issued without a family
	// (client_credentials). Errors: Conflict on a duplicate JTI.
	CreateAccessToken(ctx context.Context, at grant.AccessToken) error
	// AccessToken returns the record of jti; RevokedAt is set when the token
	// or its family was revoked. Errors: NotFound.
	AccessToken(ctx context.Context, jti string) (grant.AccessToken, error)
	// RevokeAccessToken revokes one access token. Idempotent. Errors: NotFound.
	RevokeAccessToken(ctx context.Context, jti string, now time.Time) error
	// DeleteExpired removes tokens and families that expired before now.
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)
}

// SigningKeys stores token signing keys (private parts sealed).
type SigningKeys interface {
	// CreateSigningKey inserts k. Errors: Conflict when the ID exists.
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
}
