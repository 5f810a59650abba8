package authz

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/dpop"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/ports/token"
)

// Introspection is the answer of RFC 7662 for one token.
type Introspection struct {
	Active bool
	// Kind is "access_token" or "refresh_token".
	Kind string
	// TokenType is the RFC 7662 token_type of an access token:
	// TokenTypeDPoP when it is bound to a key, else TokenTypeBearer
	// (RFC 9449 §6.2); empty for a refresh token.
	TokenType string
	// JKT is the thumbprint of the DPoP key the token is bound to (cnf.jkt);
	// empty when unbound.
	JKT      string
	ClientID string
	// Subject is the sub the token's client sees (pairwise for a client
	// with a sector identifier).
	Subject   string
	Scopes    []string
	Audience  []string
	IssuedAt  time.Time
	ExpiresAt time.Time
	AuthTime  time.Time
	ACR       string
	AMR       []string
	JTI       string
}

// maxTokenLen bounds tokens presented to Pforte.
const maxTokenLen = 8192

// Introspect reports whether tok is active. Only confidential clients may
// introspect (they are resource servers). An unknown, expired, revoked or
// foreign token is simply inactive: RFC 7662 §2.2 gives no reasons. An
// access token is foreign unless client.MayIntrospect says the caller may
// see it (its own client, or a resource server registered as its
// audience); a refresh token unless the caller holds it. The foreign
// answer is decided before the token's record is read, so that it is the
// answer and the work of a revoked token: a caller learns neither the
// claims nor whether the member's login there is still alive.
// Errors: Forbidden for public clients; Unavailable.
func (s *Service) Introspect(ctx context.Context, caller client.Client, tok string) (Introspection, error) {
	if caller.Public() {
		return Introspection{}, fault.New(fault.Forbidden, "authz.Introspect", "public clients may not introspect tokens")
	}
	if tok == "" || len(tok) > maxTokenLen {
		return Introspection{}, nil
	}
	if strings.Count(tok, ".") == 2 {
		cl, owner, err := s.verifyAccess(ctx, tok)
		if err == nil && !owner.MayIntrospect(caller.ID, cl.Audience) {
			return Introspection{}, nil
		}
		var rec grant.AccessToken
		if err == nil {
			rec, err = s.accessRecord(ctx, cl)
		}
		if errors.Is(err, fault.Unavailable) || errors.Is(err, fault.Internal) {
			return Introspection{}, err
		}
		if err != nil {
			return Introspection{}, nil
		}
		return Introspection{
			Active: true, Kind: "access_token", TokenType: tokenType(rec.DPoPJKT), JKT: rec.DPoPJKT,
			ClientID: cl.ClientID, Subject: cl.Subject,
			Scopes: rec.Scopes, Audience: cl.Audience, IssuedAt: time.Unix(cl.IssuedAt, 0).UTC(),
			ExpiresAt: time.Unix(cl.Expiry, 0).UTC(), AuthTime: unixOrZero(cl.AuthTime), ACR: cl.ACR, AMR: cl.AMR, JTI: cl.JTI,
		}, nil
	}
	rt, fam, err := s.st.Tokens.RefreshToken(ctx, grant.Hash(tok))
	if errors.Is(err, fault.NotFound) {
		return Introspection{}, nil
	}
	if err != nil {
		return Introspection{}, err
	}
	now := s.clock()
	// A refresh token is only ever shown to the client that holds it:
	// resource servers have no business with it.
	if fam.ClientID != caller.ID || !rt.UsedAt.IsZero() || !fam.Active(now) || !now.Before(rt.ExpiresAt) {
		return Introspection{}, nil
	}
	return Introspection{
		Active: true, Kind: "refresh_token", JKT: fam.DPoPJKT, ClientID: fam.ClientID, Subject: s.subjectFor(caller, fam.Subject),
		Scopes: fam.Scopes, IssuedAt: rt.CreatedAt, ExpiresAt: rt.ExpiresAt, AuthTime: fam.AuthTime,
		ACR: fam.ACR, AMR: fam.AMR,
	}, nil
}

func unixOrZero(sec int64) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

// activeAccess verifies a JWT access token and checks that it is neither
// expired nor revoked.
// Errors: Unauthenticated (invalid_token); Unavailable.
func (s *Service) activeAccess(ctx context.Context, raw string) (AccessClaims, grant.AccessToken, error) {
	cl, _, err := s.verifyAccess(ctx, raw)
	if err != nil {
		return cl, grant.AccessToken{}, err
	}
	rec, err := s.accessRecord(ctx, cl)
	return cl, rec, err
}

// verifyAccess checks what the token itself says, and returns its claims
// and its client: Pforte's signature, the issuer, a jti, the expiry, and
// that the client still exists. Whether it was revoked is accessRecord's.
// Errors: Unauthenticated (invalid_token); Unavailable.
func (s *Service) verifyAccess(ctx context.Context, raw string) (AccessClaims, client.Client, error) {
	const op = "authz.verifyAccess"
	var cl AccessClaims
	if len(raw) > maxTokenLen {
		return cl, client.Client{}, fault.New(fault.Unauthenticated, op, "the access token is invalid")
	}
	if err := s.signer.Verify(ctx, raw, token.TypeAccess, &cl); err != nil {
		if errors.Is(err, fault.Unavailable) {
			return cl, client.Client{}, err
		}
		return cl, client.Client{}, fault.New(fault.Unauthenticated, op, "the access token is invalid")
	}
	now := s.clock()
	if cl.Issuer != s.cfg.Issuer || cl.JTI == "" || !now.Before(time.Unix(cl.Expiry, 0)) {
		return cl, client.Client{}, fault.New(fault.Unauthenticated, op, "the access token is invalid or expired")
	}
	// A token outlives no client: once the operator removed its client
	// (seen within the client cache's TTL), it is refused.
	owner, err := s.clients.ClientByID(ctx, cl.ClientID)
	if errors.Is(err, fault.NotFound) {
		return cl, client.Client{}, fault.New(fault.Unauthenticated, op, "the access token's client no longer exists")
	}
	if err != nil {
		return cl, client.Client{}, err
	}
	return cl, owner, nil
}

// accessRecord returns the record of a verified access token and checks
// that it was not revoked and that it agrees with the claims.
// Errors: Unauthenticated (invalid_token); Unavailable.
func (s *Service) accessRecord(ctx context.Context, cl AccessClaims) (grant.AccessToken, error) {
	const op = "authz.accessRecord"
	rec, err := s.st.Tokens.AccessToken(ctx, cl.JTI)
	if errors.Is(err, fault.NotFound) && cl.SID == "" {
		// A client's own token, recorded only once revoked: not revoked.
		rec, err = unrecordedAccess(cl), nil
	}
	if errors.Is(err, fault.NotFound) {
		return grant.AccessToken{}, fault.New(fault.Unauthenticated, op, "the access token is invalid")
	}
	if err != nil {
		return grant.AccessToken{}, err
	}
	if !rec.RevokedAt.IsZero() {
		return grant.AccessToken{}, fault.New(fault.Unauthenticated, op, "the access token was revoked")
	}
	// The signed cnf and the record must agree; they always do for tokens
	// Pforte minted, so a difference is a forgery or a bug: invalid.
	var cnf string
	if cl.Cnf != nil {
		cnf = cl.Cnf.JKT
	}
	if cnf != rec.DPoPJKT {
		return grant.AccessToken{}, fault.New(fault.Unauthenticated, op, "the access token is invalid")
	}
	return rec, nil
}

// Revoke revokes tok for client c (RFC 7009): a refresh token revokes its
// whole family; an access token just itself. Unknown or already invalid
// tokens are not an error (RFC 7009 §2.2), and neither is a token of
// another client, which is left untouched so that one client cannot end
// another's sessions.
// Errors: Unavailable.
func (s *Service) Revoke(ctx context.Context, c client.Client, tok, hint string) error {
	if tok == "" || len(tok) > maxTokenLen {
		return nil
	}
	now := s.clock()
	// The hint only saves a lookup: a token that is not a JWT can only be
	// a refresh token, whatever the hint says. RFC 7009 §2.1 requires
	// searching the other types when the hint is wrong; otherwise a client
	// sending the wrong hint is told its refresh token is revoked while it
	// still works.
	if hint != "access_token" || strings.Count(tok, ".") != 2 {
		_, fam, err := s.st.Tokens.RefreshToken(ctx, grant.Hash(tok))
		switch {
		case err == nil:
			if fam.ClientID != c.ID {
				return nil
			}
			return ignoreNotFound(s.st.Tokens.RevokeFamily(ctx, fam.ID, now))
		case !errors.Is(err, fault.NotFound):
			return err
		}
	}
	if strings.Count(tok, ".") != 2 {
		return nil
	}
	var cl AccessClaims
	if err := s.signer.Verify(ctx, tok, token.TypeAccess, &cl); err != nil {
		if errors.Is(err, fault.Unavailable) {
			return err
		}
		return nil
	}
	if cl.ClientID != c.ID || cl.Issuer != s.cfg.Issuer {
		return nil
	}
	err := s.st.Tokens.RevokeAccessToken(ctx, cl.JTI, now)
	if !errors.Is(err, fault.NotFound) || cl.SID != "" {
		return ignoreNotFound(err)
	}
	// A client's own token is recorded by its revocation. The janitor
	// removes the record once the token has expired anyway.
	rec := unrecordedAccess(cl)
	rec.RevokedAt = now
	err = s.st.Tokens.CreateAccessToken(ctx, rec)
	if errors.Is(err, fault.Conflict) { // revoked by a concurrent request
		return ignoreNotFound(s.st.Tokens.RevokeAccessToken(ctx, cl.JTI, now))
	}
	return err
}

// unrecordedAccess is the record of a client_credentials token taken from
// its verified claims.
func unrecordedAccess(cl AccessClaims) grant.AccessToken {
	at := grant.AccessToken{
		JTI: cl.JTI, ClientID: cl.ClientID, Subject: cl.Subject, Scopes: strings.Fields(cl.Scope),
		IssuedAt: time.Unix(cl.IssuedAt, 0).UTC(), ExpiresAt: time.Unix(cl.Expiry, 0).UTC(),
	}
	if cl.Cnf != nil {
		at.DPoPJKT = cl.Cnf.JKT
	}
	return at
}

func ignoreNotFound(err error) error {
	if errors.Is(err, fault.NotFound) {
		return nil
	}
	return err
}

// PresentedToken is an access token as a client presented it at a
// protected resource (userinfo).
type PresentedToken struct {
	Token string
	// Scheme is the authorization scheme it came with: TokenTypeDPoP
	// ("Authorization: DPoP", RFC 9449 §7.1) or TokenTypeBearer (RFC 6750,
	// header or form).
	Scheme string
	// DPoP is the request's DPoP proof; required with the DPoP scheme,
	// ignored with Bearer.
	DPoP DPoPRequest
}

// UserInfo returns the claims the access token's scopes release (OpenID
// Connect Core §5.3). The token must carry the openid scope. A DPoP-bound
// token must come with the DPoP scheme and a proof by its key whose ath is
// the token's hash; a bound token presented as Bearer is refused (RFC 9449
// §7.2: no downgrade), and so is an unbound token presented as DPoP.
// Errors: Unauthenticated (invalid_token; wrapping ErrDPoPBound for a bound
// token sent as Bearer; wrapping a dpop error for the proof); Forbidden
// (insufficient_scope); Invalid for an unknown scheme; Unavailable.
func (s *Service) UserInfo(ctx context.Context, in PresentedToken) (Claims, error) {
	const op = "authz.UserInfo"
	var jkt string
	switch in.Scheme {
	case TokenTypeBearer:
	case TokenTypeDPoP:
		if in.DPoP.Proof == nil {
			return nil, dpop.InvalidProof(op, "DPoP proof required with the DPoP authorization scheme")
		}
		if in.Token == "" || len(in.Token) > maxTokenLen {
			return nil, fault.New(fault.Unauthenticated, op, "the access token is invalid")
		}
		var err error
		if jkt, err = s.checkProof(ctx, in.DPoP, in.Token, s.clock()); err != nil {
			return nil, err
		}
	default:
		return nil, fault.New(fault.Invalid, op, "unknown authorization scheme")
	}
	cl, rec, err := s.activeAccess(ctx, in.Token)
	if err != nil {
		return nil, err
	}
	switch {
	case rec.DPoPJKT != "" && jkt == "":
		return nil, fault.Wrap(fault.Unauthenticated, op, ErrDPoPBound).
			WithPublic("the access token is DPoP-bound: present it with the DPoP scheme and a DPoP proof")
	case rec.DPoPJKT == "" && jkt != "":
		return nil, fault.New(fault.Unauthenticated, op, "the access token is not DPoP-bound: present it as a Bearer token")
	case rec.DPoPJKT != "" && !in.DPoP.Proof.BoundTo(rec.DPoPJKT):
		return nil, fault.New(fault.Unauthenticated, op, "the DPoP proof is signed by another key than the access token is bound to")
	}
	if !slices.Contains(rec.Scopes, ScopeOpenID) || rec.FamilyID == "" {
		return nil, fault.New(fault.Forbidden, op, "the access token does not carry the openid scope")
	}
	// A member blocked since the token was issued gets nothing more. The
	// record holds the account id; the token's sub may be pairwise.
	// One account read serves the check and the claims.
	a, err := s.subjectActive(ctx, rec.Subject)
	if errors.Is(err, fault.Forbidden) {
		return nil, fault.New(fault.Unauthenticated, op, "the access token is no longer valid")
	}
	if err != nil {
		return nil, err // a database fault stays a 5xx
	}
	return s.memberClaims(ctx, a, cl.Subject, rec.Scopes)
}

// EndSessionRequest is an RP-initiated logout request.
type EndSessionRequest struct {
	IDTokenHint           string
	ClientID              string
	PostLogoutRedirectURI string
	State                 string
}

// Logout is a validated RP-initiated logout.
type Logout struct {
	// To is where the user agent goes afterwards: the registered
	// post_logout_redirect_uri with state, or "" for Pforte's own page.
	To string
	// Hint is the verified id_token_hint; its SID names the session to
	// end. Zero without a hint: the member confirms the logout in the
	// browser, which ends that browser's session.
	Hint Hint
	// ClientID is the client that asked (client_id, or the hint's one
	// audience); empty when unknown.
	ClientID string
}

// EndSession validates an RP-initiated logout (OpenID Connect RP-Initiated
// Logout 1.0 §2–§3). The ID token hint may have expired (it usually has),
// but it must be Pforte's, not older than MaxHintAge, and name the client.
// A post_logout_redirect_uri is only followed when the client is known and
// the URI registered exactly; state is returned with it.
// Errors: Invalid for an unverifiable hint, an unregistered URI or a URI
// without a client; Unavailable.
func (s *Service) EndSession(ctx context.Context, in EndSessionRequest) (Logout, error) {
	const op = "authz.EndSession"
	if len(in.ClientID) > 256 || len(in.PostLogoutRedirectURI) > maxParamLen {
		return Logout{}, fault.New(fault.Invalid, op, "client_id or post_logout_redirect_uri is too long")
	}
	hint, herr := s.readHint(ctx, in.IDTokenHint, in.ClientID)
	if herr != nil {
		return Logout{}, herr
	}
	out := Logout{Hint: hint, ClientID: in.ClientID}
	if out.ClientID == "" {
		out.ClientID = hint.client()
	}
	if in.PostLogoutRedirectURI == "" {
		return out, nil
	}
	if out.ClientID == "" {
		return Logout{}, fault.New(fault.Invalid, op, "post_logout_redirect_uri needs client_id or id_token_hint")
	}
	c, err := s.clients.ClientByID(ctx, out.ClientID)
	if errors.Is(err, fault.NotFound) {
		return Logout{}, fault.New(fault.Invalid, op, "unknown client")
	}
	if err != nil {
		return Logout{}, err
	}
	if !slices.Contains(c.PostLogoutRedirectURIs, in.PostLogoutRedirectURI) {
		return Logout{}, fault.New(fault.Invalid, op, "post_logout_redirect_uri is not registered for this client")
	}
	if len(in.State) > maxStateLen {
		return Logout{}, fault.New(fault.Invalid, op, "state is too long")
	}
	out.To = in.PostLogoutRedirectURI
	if in.State != "" {
		out.To = appendQuery(in.PostLogoutRedirectURI, map[string][]string{"state": {in.State}})
	}
	return out, nil
}
