package authz

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"github.com/pforte-id/pforte/core/audit"
	"slices"
	"strings"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/dpop"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/ports/metrics"
	"github.com/pforte-id/pforte/ports/token"
)

// TokenResponse is a successful token endpoint answer.
type TokenResponse struct {
	AccessToken string
	// TokenType is TokenTypeDPoP for an access token bound to a DPoP key,
	// else TokenTypeBearer.
	TokenType    string
	ExpiresIn    time.Duration
	RefreshToken string // empty when none is issued
	IDToken      string // empty without the openid scope
	Scopes       []string
}

// AccessClaims are the claims of a JWT access token (RFC 9068).
type AccessClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience []string `json:"aud"`
	Expiry   int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
	JTI      string   `json:"jti"`
	ClientID string   `json:"client_id"`
	// SID is the token family (the login session) of a member's token;
	// empty for a client's own client_credentials token, which Pforte does
	// not record at issue (see ClientCredentials).
	SID      string   `json:"sid,omitempty"`
	Scope    string   `json:"scope,omitempty"`
	AuthTime int64    `json:"auth_time,omitempty"`
	ACR      string   `json:"acr,omitempty"`
	AMR      []string `json:"amr,omitempty"`
	// Cnf binds the token to a DPoP key (RFC 9449 §6.1); nil for a
	// bearer token.
	Cnf *Confirmation `json:"cnf,omitempty"`
}

// IDClaims are the claims of an ID token.
type IDClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience []string `json:"aud"`
	Expiry   int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
	// AuthTime has no omitempty: auth_time is in every ID token (OpenID
	// Connect Core §2 makes it required when max_age is used; Pforte
	// always sends it).
	AuthTime int64    `json:"auth_time"`
	Nonce    string   `json:"nonce,omitempty"`
	ACR      string   `json:"acr,omitempty"`
	AMR      []string `json:"amr,omitempty"`
	AZP      string   `json:"azp"`
	ATHash   string   `json:"at_hash,omitempty"`
	// SID is the single sign-on session of the login (OpenID Connect
	// Back-Channel Logout 1.0 §2.1); absent outside a browser.
	SID string `json:"sid,omitempty"`
}

// ScopeOpenID and ScopeOfflineAccess are the scopes with protocol meaning.
const (
	ScopeOpenID        = "openid"
	ScopeOfflineAccess = "offline_access"
)

// ExchangeCode redeems an authorization code (RFC 6749 §4.1.3 with PKCE,
// RFC 7636). The redemption is atomic: of concurrent requests with the same
// code exactly one proceeds. A code that was redeemed before is a replay:
// everything issued for it is revoked (RFC 6749 §4.1.2), because either the
// client or an attacker holds a copy.
// The code is spent by the first attempt even if that attempt then fails
// (wrong verifier, wrong client), which stops guessing the verifier.
//
// A replay may come while the winner is still between RedeemCode and
// CreateFamily (reading the account, signing): it then finds no family to
// revoke. The store closes that gap: RevokeFamiliesOfCode marks the code
// replayed, and CreateFamily refuses a replayed code with Conflict, atomically
// with its insert. The winner then gets the replay's answer and its tokens,
// signed but never stored, are not handed out.
//
// pop is the request's DPoP proof (see DPoPRequest and the rules at the
// top of dpop.go); it is checked before the code is redeemed, so that a
// proof without a current nonce does not cost the client its code.
//
// Errors: Invalid (invalid_request) for a malformed verifier; NotFound,
// Expired, Conflict and Forbidden (all invalid_grant); Unauthenticated
// wrapping a dpop error (invalid_dpop_proof, use_dpop_nonce); Unavailable.
func (s *Service) ExchangeCode(ctx context.Context, c client.Client, code, redirectURI, verifier string, pop DPoPRequest) (TokenResponse, error) {
	const op = "authz.ExchangeCode"
	if code == "" || len(code) > 512 {
		return TokenResponse{}, fault.New(fault.Invalid, op, "code is missing or malformed")
	}
	if verifier == "" {
		return TokenResponse{}, fault.New(fault.Invalid, op, "code_verifier is required (PKCE)")
	}
	if !validVerifier(verifier) {
		return TokenResponse{}, fault.New(fault.Invalid, op, "code_verifier must be 43-128 unreserved characters")
	}
	now := s.clock()
	jkt, err := s.tokenProof(ctx, c, pop, now)
	if err != nil {
		return TokenResponse{}, err
	}
	hash := grant.Hash(code)
	g, err := s.st.Requests.RedeemCode(ctx, hash, now)
	switch {
	case errors.Is(err, fault.Conflict):
		if _, rerr := s.st.Tokens.RevokeFamiliesOfCode(ctx, hash, now); rerr != nil {
			return TokenResponse{}, rerr
		}
		return TokenResponse{}, fault.New(fault.Conflict, op, codeReplayed)
	case errors.Is(err, fault.NotFound), errors.Is(err, fault.Expired):
		return TokenResponse{}, fault.New(fault.KindOf(err), op, "the authorization code is invalid or expired")
	case err != nil:
		return TokenResponse{}, err
	}
	r := g.Request
	if r.ClientID != c.ID {
		return TokenResponse{}, fault.New(fault.Forbidden, op, "the authorization code was issued to another client")
	}
	if r.RedirectURI != redirectURI {
		return TokenResponse{}, fault.New(fault.Forbidden, op, "redirect_uri does not match the authorization request")
	}
	if !s256Matches(verifier, r.CodeChallenge) {
		return TokenResponse{}, fault.New(fault.Forbidden, op, "code_verifier does not match the code_challenge")
	}
	if r.DPoPJKT != "" {
		// RFC 9449 §10: the code is bound to the key the authorization
		// request named, so that a code stolen from the redirect is useless
		// without that key.
		if jkt == "" {
			return TokenResponse{}, dpop.InvalidProof(op, "DPoP proof required: the authorization request named a DPoP key (dpop_jkt)")
		}
		if !pop.Proof.BoundTo(r.DPoPJKT) {
			return TokenResponse{}, fault.New(fault.Forbidden, op, "the DPoP proof is signed by another key than the dpop_jkt of the authorization request")
		}
	}
	if r.Login == nil {
		return TokenResponse{}, fault.Wrap(fault.Internal, op, errors.New("code without login"))
	}
	if _, err := s.subjectActive(ctx, r.Login.Subject); err != nil {
		return TokenResponse{}, err
	}
	fam := grant.Family{
		ID: grant.NewID(), ClientID: c.ID, Subject: r.Login.Subject, Scopes: r.Scopes,
		AuthTime: r.Login.AuthTime, AMR: r.Login.AMR, ACR: r.Login.ACR, CodeHash: hash,
		BindingID: r.Login.BindingID, SessionID: r.Login.SessionID, CreatedAt: now,
		ExpiresAt: now.Add(s.cfg.RefreshAbsoluteTTL),
	}
	if c.Public() {
		// RFC 9449 §5: the refresh tokens of a public client are bound to
		// the key, since no client authentication protects them.
		// Confidential clients authenticate at every refresh instead.
		fam.DPoPJKT = jkt
	}
	at, atRec, err := s.mintAccess(ctx, c, fam, s.subjectFor(c, fam.Subject), r.Scopes, jkt, now)
	if err != nil {
		return TokenResponse{}, err
	}
	resp := TokenResponse{AccessToken: at, TokenType: tokenType(jkt), ExpiresIn: s.accessTTL(c), Scopes: r.Scopes}
	var rt *grant.RefreshToken
	if c.AllowsGrant(client.GrantRefresh) {
		secret, rec := s.newRefresh(fam, now)
		resp.RefreshToken, rt = secret, &rec
	}
	if slices.Contains(r.Scopes, ScopeOpenID) {
		if resp.IDToken, err = s.mintID(ctx, c, fam, r.Nonce, at, now); err != nil {
			return TokenResponse{}, err
		}
	}
	switch err := s.st.Tokens.CreateFamily(ctx, fam, rt, atRec); {
	case errors.Is(err, fault.Conflict):
		// A replay of the code came in since RedeemCode and marked it; the
		// store kept nothing of this family. To the client this is the
		// replay it is: the same invalid_grant answer. (A duplicate of a
		// fresh random ID or hash would also land here; it does not happen.)
		return TokenResponse{}, fault.Wrap(fault.Conflict, op, err).WithPublic(codeReplayed)
	case err != nil:
		return TokenResponse{}, err
	}
	return resp, nil
}

// codeReplayed is the answer to every exchange of a replayed code.
const codeReplayed = "the authorization code was already used; tokens issued for it are revoked"

// Refresh rotates a refresh token (OAuth 2.0 Security BCP §4.14.2): the
// old token is spent and a new one issued in one atomic step. Presenting a
// spent token is reuse, a sign of theft: the whole family is revoked, so
// that neither the thief nor the member can continue without a new login.
//
// A refresh token bound to a DPoP key (a public client's, see dpop.go)
// needs a proof by that key in pop; a mismatch is checked before reuse, so
// that a thief without the key cannot end the session by presenting a
// spent token.
//
// Errors: Invalid; NotFound, Expired, Conflict (reuse) and Forbidden (all
// invalid_grant); Unauthenticated wrapping a dpop error; Unavailable.
func (s *Service) Refresh(ctx context.Context, c client.Client, refreshToken, scope string, pop DPoPRequest) (_ TokenResponse, err error) {
	const op = "authz.Refresh"
	defer func() { s.count(ctx, metrics.Refresh, err) }()
	if refreshToken == "" || len(refreshToken) > 512 {
		return TokenResponse{}, fault.New(fault.Invalid, op, "refresh_token is missing or malformed")
	}
	now := s.clock()
	jkt, err := s.tokenProof(ctx, c, pop, now)
	if err != nil {
		return TokenResponse{}, err
	}
	hash := grant.Hash(refreshToken)
	old, fam, err := s.st.Tokens.RefreshToken(ctx, hash)
	if errors.Is(err, fault.NotFound) {
		return TokenResponse{}, fault.New(fault.NotFound, op, "the refresh token is invalid")
	}
	if err != nil {
		return TokenResponse{}, err
	}
	if fam.ClientID != c.ID {
		return TokenResponse{}, fault.New(fault.Forbidden, op, "the refresh token was issued to another client")
	}
	if !c.AllowsGrant(client.GrantRefresh) {
		// The grant was taken from the client after the token was issued.
		return TokenResponse{}, fault.New(fault.Forbidden, op, "the client may no longer use refresh tokens")
	}
	if fam.DPoPJKT != "" {
		if jkt == "" {
			return TokenResponse{}, dpop.InvalidProof(op, "DPoP proof required: the refresh token is bound to a DPoP key")
		}
		if !pop.Proof.BoundTo(fam.DPoPJKT) {
			return TokenResponse{}, fault.New(fault.Forbidden, op, "the refresh token is bound to another DPoP key")
		}
	}
	if !old.UsedAt.IsZero() {
		return TokenResponse{}, s.reuse(ctx, fam, now)
	}
	if !fam.Active(now) || !now.Before(old.ExpiresAt) {
		return TokenResponse{}, fault.New(fault.Expired, op, "the refresh token has expired or was revoked; please log in again")
	}
	scopes := fam.Scopes
	if scope != "" {
		// A narrower scope may be asked for this access token (RFC 6749 §6).
		scopes = nil
		for _, sc := range strings.Fields(scope) {
			if !slices.Contains(fam.Scopes, sc) {
				return TokenResponse{}, fault.New(fault.Forbidden, op, "scope exceeds the scope originally granted")
			}
			if !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
	}
	if _, err := s.subjectActive(ctx, fam.Subject); err != nil {
		return TokenResponse{}, err
	}
	at, atRec, err := s.mintAccess(ctx, c, fam, s.subjectFor(c, fam.Subject), scopes, jkt, now)
	if err != nil {
		return TokenResponse{}, err
	}
	// Everything is signed before the rotation: once the old token is
	// spent, a failure would leave the client only the old token, and
	// presenting it again would be reuse and end the session.
	resp := TokenResponse{AccessToken: at, TokenType: tokenType(jkt), ExpiresIn: s.accessTTL(c), Scopes: scopes}
	if slices.Contains(scopes, ScopeOpenID) {
		if resp.IDToken, err = s.mintID(ctx, c, fam, "", at, now); err != nil {
			return TokenResponse{}, err
		}
	}
	secret, next := s.newRefresh(fam, now)
	switch err := s.st.Tokens.RotateRefreshToken(ctx, hash, next, atRec, now); {
	case errors.Is(err, fault.Conflict):
		// Lost a race with another use of the same token: reuse.
		return TokenResponse{}, s.reuse(ctx, fam, now)
	case errors.Is(err, fault.Forbidden), errors.Is(err, fault.NotFound):
		return TokenResponse{}, fault.New(fault.Expired, op, "the refresh token has expired or was revoked; please log in again")
	case err != nil:
		return TokenResponse{}, err
	}
	resp.RefreshToken = secret
	return resp, nil
}

// reuse revokes fam after one of its spent refresh tokens was presented
// again, and records it (audit.RefreshReused) unless the family was
// already revoked when the token was read: a second presentation of a
// dead family's token is not news.
func (s *Service) reuse(ctx context.Context, fam grant.Family, now time.Time) error {
	if err := s.st.Tokens.RevokeFamily(ctx, fam.ID, now); err != nil && !errors.Is(err, fault.NotFound) {
		return err
	}
	if s.st.Audit != nil && fam.RevokedAt.IsZero() {
		// The family is revoked; a failed audit entry does not undo it.
		_ = s.st.Audit.AppendAudit(context.WithoutCancel(ctx), audit.Event{
			ID: grant.NewID(), Time: now, Kind: audit.RefreshReused, Actor: audit.System, AccountID: fam.Subject,
			ClientID: fam.ClientID, Detail: map[string]string{"family": fam.ID},
		})
	}
	return fault.New(fault.Conflict, "authz.Refresh", "the refresh token was already used; the session is revoked")
}

// ClientCredentials issues an access token to a confidential client for
// itself (RFC 6749 §4.4). No refresh token, no ID token. With a DPoP proof
// in pop the token is bound to its key.
// Errors: Forbidden (unauthorized_client); Unauthenticated wrapping a dpop
// error; Unavailable.
func (s *Service) ClientCredentials(ctx context.Context, c client.Client, scope string, pop DPoPRequest) (_ TokenResponse, err error) {
	const op = "authz.ClientCredentials"
	defer func() { s.count(ctx, metrics.ClientCredentials, err) }()
	if c.Public() || !c.AllowsGrant(client.GrantClientCredentials) {
		return TokenResponse{}, fault.New(fault.Forbidden, op, "the client may not use client_credentials")
	}
	if len(scope) > maxParamLen {
		return TokenResponse{}, fault.New(fault.Invalid, op, "scope is too long")
	}
	scopes := c.AllowedScopes(strings.Fields(scope))
	if scope == "" {
		scopes = slices.Clone(c.Scopes)
	}
	now := s.clock()
	jkt, err := s.tokenProof(ctx, c, pop, now)
	if err != nil {
		return TokenResponse{}, err
	}
	// The subject is the client itself, not a member: no pairwise sub.
	// The token is not recorded: it has no session to end with, and a
	// revocation records it then (Revoke), so that issuing costs no write.
	// Its signed claims are the record until then.
	fam := grant.Family{ClientID: c.ID, Subject: c.ID}
	at, _, err := s.mintAccess(ctx, c, fam, c.ID, scopes, jkt, now)
	if err != nil {
		return TokenResponse{}, err
	}
	return TokenResponse{AccessToken: at, TokenType: tokenType(jkt), ExpiresIn: s.accessTTL(c), Scopes: scopes}, nil
}

// subjectActive refuses tokens for a member whose account is no longer
// active (blocked after the login started, deleted) or whose membership
// ended more than the grace period ago (member.CodeEnded).
func (s *Service) subjectActive(ctx context.Context, subject string) (account.Account, error) {
	a, err := s.st.Accounts.AccountByID(ctx, subject)
	if errors.Is(err, fault.NotFound) {
		return account.Account{}, fault.New(fault.Forbidden, "authz.subjectActive", "the account no longer exists")
	}
	if err != nil {
		return account.Account{}, err
	}
	if a.Status != account.Active {
		return account.Account{}, fault.New(fault.Forbidden, "authz.subjectActive", "the account is not active")
	}
	if err := s.membershipAllows(ctx, "authz.subjectActive", a); err != nil {
		return account.Account{}, err
	}
	return a, nil
}

// MemberMayLogIn checks that the member of account accountID may still
// log in: the insurance has not ended more than the grace period ago
// (member.Eligibility.MayLogIn). Every login ends in CompleteLogin and
// every token in ExchangeCode or Refresh, which check it; the login steps
// before them ask it too, so that the member learns why at once.
// Errors: Forbidden with member.CodeEnded; NotFound (no such account);
// Unavailable.
func (s *Service) MemberMayLogIn(ctx context.Context, accountID string) error {
	a, err := s.st.Accounts.AccountByID(ctx, accountID)
	if err != nil {
		return err
	}
	return s.membershipAllows(ctx, "authz.MemberMayLogIn", a)
}

// membershipAllows is MemberMayLogIn for account a. An account without a
// directory record is left to its status: the record goes only after
// the account (lifecycle.PurgeExpired), so only accounts seeded without
// master data lack one.
func (s *Service) membershipAllows(ctx context.Context, op string, a account.Account) error {
	m, err := s.st.Members.MemberByKVNR(ctx, a.KVNR)
	switch {
	case errors.Is(err, fault.NotFound):
		return nil
	case err != nil:
		return err
	}
	return s.cfg.Membership.CheckLogIn(op, m, s.clock())
}

// accessTTL and idTTL are a client's own lifetimes, or the server's, never
// above MaxTokenTTL: a client stored with a longer one (its definition is
// checked where it is written, not here) still gets no token that
// outlives the publication of its signing key, which is kept for
// MaxTokenTTL after the key retires.
func (s *Service) accessTTL(c client.Client) time.Duration {
	if c.AccessTokenTTL > 0 {
		return min(c.AccessTokenTTL, MaxTokenTTL)
	}
	return s.cfg.AccessTokenTTL
}

func (s *Service) idTTL(c client.Client) time.Duration {
	if c.IDTokenTTL > 0 {
		return min(c.IDTokenTTL, MaxTokenTTL)
	}
	return s.cfg.IDTokenTTL
}

// mintAccess signs a JWT access token (RFC 9068) and returns its record.
// The audience (accessAudience) is the issuer, for Pforte's own userinfo
// endpoint, and the resource servers registered for the client. sub is what
// the client sees (subjectFor); the record keeps the account id
// (fam.Subject) for Pforte's own lookups. jkt, when set, binds the token
// to a DPoP key (cnf.jkt).
func (s *Service) mintAccess(ctx context.Context, c client.Client, fam grant.Family, sub string, scopes []string, jkt string, now time.Time) (string, grant.AccessToken, error) {
	exp := now.Add(s.accessTTL(c))
	if !fam.ExpiresAt.IsZero() && fam.ExpiresAt.Before(exp) {
		exp = fam.ExpiresAt
	}
	cl := AccessClaims{
		Issuer: s.cfg.Issuer, Subject: sub, Audience: s.accessAudience(c),
		Expiry: exp.Unix(), IssuedAt: now.Unix(), JTI: grant.NewID(), ClientID: c.ID, SID: fam.ID,
		Scope: strings.Join(scopes, " "), ACR: fam.ACR, AMR: fam.AMR,
	}
	if jkt != "" {
		cl.Cnf = &Confirmation{JKT: jkt}
	}
	if !fam.AuthTime.IsZero() {
		cl.AuthTime = fam.AuthTime.Unix()
	}
	raw, err := s.signer.Sign(ctx, token.TypeAccess, cl)
	if err != nil {
		return "", grant.AccessToken{}, err
	}
	return raw, grant.AccessToken{
		JTI: cl.JTI, FamilyID: fam.ID, ClientID: c.ID, Subject: fam.Subject, Scopes: scopes,
		DPoPJKT: jkt, IssuedAt: now, ExpiresAt: exp,
	}, nil
}

// accessAudience is the aud of c's access tokens (RFC 9068 §3): the
// issuer first, since every access token is good at Pforte's own userinfo
// endpoint (given the scope), then c.IntrospectionAudiences in their
// registered order. The audience comes from the client's registration
// only: resource indicators (RFC 8707, the resource parameter) are not
// supported, and a resource parameter changes nothing.
func (s *Service) accessAudience(c client.Client) []string {
	return append([]string{s.cfg.Issuer}, c.IntrospectionAudiences...)
}

func (s *Service) mintID(ctx context.Context, c client.Client, fam grant.Family, nonce, accessToken string, now time.Time) (string, error) {
	cl := IDClaims{
		Issuer: s.cfg.Issuer, Subject: s.subjectFor(c, fam.Subject), Audience: []string{c.ID},
		Expiry: now.Add(s.idTTL(c)).Unix(), IssuedAt: now.Unix(), AuthTime: fam.AuthTime.Unix(),
		Nonce: nonce, ACR: fam.ACR, AMR: fam.AMR, AZP: c.ID, ATHash: halfHash(accessToken), SID: fam.SessionID,
	}
	return s.signer.Sign(ctx, token.TypeID, cl)
}

func (s *Service) newRefresh(fam grant.Family, now time.Time) (string, grant.RefreshToken) {
	secret := grant.NewSecret()
	exp := now.Add(s.cfg.RefreshIdleTTL)
	if fam.ExpiresAt.Before(exp) {
		exp = fam.ExpiresAt
	}
	return secret, grant.RefreshToken{Hash: grant.Hash(secret), FamilyID: fam.ID, CreatedAt: now, ExpiresAt: exp}
}

// halfHash is at_hash: the left half of SHA-256 of the token, base64url
// (OpenID Connect Core §3.1.3.6, for ES256).
func halfHash(tok string) string {
	if tok == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(tok))
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// validVerifier checks RFC 7636 §4.1: 43 to 128 unreserved characters.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if !isUnreserved(v[i]) {
			return false
		}
	}
	return true
}

func s256Matches(verifier, challenge string) bool {
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}
