package authz

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/loa"
)

// AuthorizeRequest is an authorization request as the client sent it.
type AuthorizeRequest struct {
	ClientID            string
	RedirectURI         string
	ResponseType        string
	ResponseMode        string
	Scope               string
	State               string
	Nonce               string
	CodeChallenge       string
	CodeChallengeMethod string
	Prompt              string
	MaxAge              string
	ACRValues           string
	UILocales           string
	LoginHint           string
	// IDTokenHint is an ID token Pforte issued to the client before
	// (OpenID Connect Core §3.1.2.1): the member it names must be the one
	// who logs in.
	IDTokenHint string
	// DPoPJKT is the dpop_jkt parameter (RFC 9449 §10): the thumbprint of
	// the DPoP key the code will be redeemed with.
	DPoPJKT string
	// Request is a request object (RFC 9101); Pforte refuses it.
	Request string
	// RequestURI is the request_uri of a pushed authorization request
	// (RFC 9126); with it, Authorize takes the pushed request and ignores
	// every other parameter but client_id.
	RequestURI string
}

// RequestURIPrefix starts every request_uri Pforte issues (RFC 9126 §2.2).
const RequestURIPrefix = "urn:ietf:params:oauth:request_uri:"

// Parameter limits: anything longer is refused as malformed.
const (
	maxStateLen  = 1024
	maxNonceLen  = 512
	maxParamLen  = 2048
	maxScopeList = 32
)

// Authorize validates an authorization request and stores it for the
// member's login. The code flow with PKCE S256 is the only flow: every
// client, public or confidential, must send a code_challenge, so that a
// stolen code is useless without the verifier (OAuth 2.0 Security BCP §2.1.1).
//
// With a request_uri, the request is the one the client pushed before
// (PushAuthorization), taken once. A client with RequirePAR must push:
// its plain requests are refused (after its redirect URI is validated, so
// the refusal goes back to it).
//
// Errors: NotFound (unknown client) and Invalid (redirect URI) for the user
// agent; for a request_uri: Invalid (malformed), NotFound or Expired ("used
// or expired"), Forbidden (pushed by another client), all for the user
// agent; an error with a fault.Redirect for everything after the redirect
// URI is known.
func (s *Service) Authorize(ctx context.Context, in AuthorizeRequest) (grant.AuthRequest, error) {
	const op = "authz.Authorize"
	if in.RequestURI != "" {
		return s.authorizePushed(ctx, in)
	}
	c, err := s.authorizeClient(ctx, op, in)
	if err != nil {
		return grant.AuthRequest{}, err
	}
	if len(in.State) > maxStateLen {
		// The state is too long to echo back safely.
		return grant.AuthRequest{}, fault.New(fault.Invalid, op, "state is too long").WithRedirect(fault.Redirect{URI: in.RedirectURI})
	}
	if c.RequirePAR {
		// RFC 9126 §5: the request must come through the back channel,
		// where the client authenticates and nothing can be changed in
		// the browser.
		return grant.AuthRequest{}, fault.New(fault.Invalid, op, "pushed authorization request required").
			WithRedirect(fault.Redirect{URI: in.RedirectURI, State: in.State})
	}
	r, err := s.newRequest(ctx, c, in, op)
	if err != nil {
		return grant.AuthRequest{}, err
	}
	if err := s.st.Requests.CreateAuthRequest(ctx, r); err != nil {
		return grant.AuthRequest{}, err
	}
	return r, nil
}

// authorizeClient finds the client of an authorization request and
// validates its redirect URI, the checks that come before anything may be
// sent to the redirect URI.
// Errors: Invalid; NotFound (unknown client); Unavailable.
func (s *Service) authorizeClient(ctx context.Context, op string, in AuthorizeRequest) (client.Client, error) {
	if in.ClientID == "" {
		return client.Client{}, fault.New(fault.Invalid, op, "client_id is missing")
	}
	if len(in.ClientID) > 256 || len(in.RedirectURI) > maxParamLen {
		return client.Client{}, fault.New(fault.Invalid, op, "client_id or redirect_uri is too long")
	}
	c, err := s.clients.ClientByID(ctx, in.ClientID)
	if errors.Is(err, fault.NotFound) {
		return client.Client{}, fault.New(fault.NotFound, op, "unknown client")
	}
	if err != nil {
		return client.Client{}, err
	}
	if in.RedirectURI == "" {
		return client.Client{}, fault.New(fault.Invalid, op, "redirect_uri is missing")
	}
	if err := c.MatchRedirectURI(in.RedirectURI); err != nil {
		return client.Client{}, err
	}
	return c, nil
}

// newRequest validates the parameters of an authorization request of
// client c, whose redirect URI is validated, and returns the request to
// store. Every refusal carries a fault.Redirect (with the state when it is
// short enough to echo).
func (s *Service) newRequest(ctx context.Context, c client.Client, in AuthorizeRequest, op string) (grant.AuthRequest, error) {
	redirect := func(kind fault.Kind, msg string) error {
		return fault.New(kind, op, msg).WithRedirect(fault.Redirect{URI: in.RedirectURI, State: in.State})
	}
	if len(in.State) > maxStateLen {
		// The state is too long to echo back safely.
		return grant.AuthRequest{}, fault.New(fault.Invalid, op, "state is too long").WithRedirect(fault.Redirect{URI: in.RedirectURI})
	}
	if in.Request != "" {
		return grant.AuthRequest{}, fault.New(fault.Invalid, op, "request objects are not supported").
			WithCode(CodeRequestNotSupported).WithRedirect(fault.Redirect{URI: in.RedirectURI, State: in.State})
	}
	if in.ResponseType != "code" {
		return grant.AuthRequest{}, fault.New(fault.Invalid, op, "response_type must be code").
			WithCode(CodeUnsupportedResponseType).WithRedirect(fault.Redirect{URI: in.RedirectURI, State: in.State})
	}
	if in.ResponseMode != "" && in.ResponseMode != "query" {
		return grant.AuthRequest{}, redirect(fault.Invalid, "response_mode must be query")
	}
	if !c.AllowsGrant(client.GrantCode) {
		return grant.AuthRequest{}, redirect(fault.Forbidden, "the client may not use the authorization code flow")
	}
	if in.CodeChallenge == "" {
		return grant.AuthRequest{}, redirect(fault.Invalid, "code_challenge is required (PKCE)")
	}
	if in.CodeChallengeMethod != "S256" {
		return grant.AuthRequest{}, redirect(fault.Invalid, "code_challenge_method must be S256")
	}
	if !validChallenge(in.CodeChallenge) {
		return grant.AuthRequest{}, redirect(fault.Invalid, "code_challenge must be 43 base64url characters")
	}
	if in.DPoPJKT != "" && !validChallenge(in.DPoPJKT) {
		// A JWK SHA-256 thumbprint has the form of an S256 challenge.
		return grant.AuthRequest{}, redirect(fault.Invalid, "dpop_jkt must be a JWK SHA-256 thumbprint (43 base64url characters)")
	}
	if len(in.Nonce) > maxNonceLen || len(in.Scope) > maxParamLen || len(in.ACRValues) > maxParamLen ||
		len(in.LoginHint) > 256 || len(in.UILocales) > 256 || len(in.Prompt) > 256 {
		return grant.AuthRequest{}, redirect(fault.Invalid, "a parameter is too long")
	}
	requested := strings.Fields(in.Scope)
	if len(requested) > maxScopeList {
		return grant.AuthRequest{}, redirect(fault.Invalid, "too many scopes")
	}
	scopes := c.AllowedScopes(requested)
	prompt := strings.Fields(in.Prompt)
	for _, p := range prompt {
		switch p {
		case "none", "login", "consent", "select_account":
		default:
			return grant.AuthRequest{}, redirect(fault.Invalid, "unknown prompt value")
		}
	}
	if slices.Contains(prompt, "none") && len(prompt) > 1 {
		return grant.AuthRequest{}, redirect(fault.Invalid, "prompt=none cannot be combined")
	}
	hint, err := s.readHint(ctx, in.IDTokenHint, c.ID)
	if err != nil {
		return grant.AuthRequest{}, err.WithRedirect(fault.Redirect{URI: in.RedirectURI, State: in.State})
	}
	var maxAge *time.Duration
	if in.MaxAge != "" {
		n, err := strconv.ParseUint(in.MaxAge, 10, 31)
		if err != nil {
			return grant.AuthRequest{}, redirect(fault.Invalid, "max_age must be a non-negative integer")
		}
		d := time.Duration(n) * time.Second
		maxAge = &d
	}
	acrs := strings.Fields(in.ACRValues)
	now := s.clock()
	r := grant.AuthRequest{
		ID:                  grant.NewID(),
		ClientID:            c.ID,
		RedirectURI:         in.RedirectURI,
		Scopes:              scopes,
		State:               in.State,
		Nonce:               in.Nonce,
		CodeChallenge:       in.CodeChallenge,
		CodeChallengeMethod: "S256",
		Prompt:              prompt,
		MaxAge:              maxAge,
		ACRValues:           acrs,
		UILocales:           strings.Fields(in.UILocales),
		LoginHint:           in.LoginHint,
		DPoPJKT:             in.DPoPJKT,
		HintSubject:         hint.Subject,
		HintClientID:        hint.client(),
		CreatedAt:           now,
		ExpiresAt:           now.Add(s.cfg.AuthRequestTTL),
	}
	return r, nil
}

// PushAuthorization is the pushed authorization request endpoint (RFC
// 9126): client c, already authenticated as at the token endpoint, pushes
// the parameters of an authorization request through the back channel.
// They are validated exactly as Authorize validates them; the request is
// stored and named by a request_uri of 256 random bits, of which only the
// hash is kept, usable once within PushedRequestTTL (90 s) by c at the
// authorization endpoint.
//
// pop is the pushed request's DPoP proof (RFC 9449 §10.1): like dpop_jkt,
// it names the key the code will be redeemed with, and the code is bound
// to it; with both, they must name the same key. A client that sent its
// proof here must not get a code any key can redeem.
//
// Errors are for the client, never for a redirect: Invalid (client_id
// other than c, a request_uri pushed, redirect_uri missing or not
// registered, dpop_jkt other than the proof's key, or any parameter
// refused: the inner error of Authorize's error with a fault.Redirect,
// with its kind); Forbidden (c may not use the code flow);
// Unauthenticated (prompt=none: login required; or wrapping a dpop
// error: invalid_dpop_proof, use_dpop_nonce); Unavailable.
func (s *Service) PushAuthorization(ctx context.Context, c client.Client, in AuthorizeRequest, pop DPoPRequest) (requestURI string, expiresIn time.Duration, err error) {
	const op = "authz.PushAuthorization"
	switch {
	case in.ClientID != "" && in.ClientID != c.ID:
		return "", 0, fault.New(fault.Invalid, op, "client_id does not name the authenticated client")
	case in.RequestURI != "":
		return "", 0, fault.New(fault.Invalid, op, "request_uri must not be pushed")
	case len(in.RedirectURI) > maxParamLen:
		return "", 0, fault.New(fault.Invalid, op, "redirect_uri is too long")
	case in.RedirectURI == "":
		return "", 0, fault.New(fault.Invalid, op, "redirect_uri is missing")
	}
	if err := c.MatchRedirectURI(in.RedirectURI); err != nil {
		return "", 0, err
	}
	if pop.Proof != nil {
		jkt, err := s.checkProof(ctx, pop, "", s.clock())
		if err != nil {
			return "", 0, err
		}
		if in.DPoPJKT != "" && in.DPoPJKT != jkt {
			return "", 0, fault.New(fault.Invalid, op, "dpop_jkt does not name the key of the DPoP proof")
		}
		in.DPoPJKT = jkt
	}
	in.ClientID = c.ID
	r, err := s.newRequest(ctx, c, in, op)
	if err != nil {
		// Nothing of a pushed request is redirected (RFC 9126 §2.3).
		return "", 0, fault.WithoutRedirect(err)
	}
	secret := grant.NewSecret()
	ttl := min(s.cfg.PushedRequestTTL, s.cfg.AuthRequestTTL)
	if err := s.st.Requests.CreatePushedRequest(ctx, r, grant.Hash(secret), r.CreatedAt.Add(ttl)); err != nil {
		return "", 0, err
	}
	return RequestURIPrefix + secret, ttl, nil
}

// Codes of the login a pending authorization request waits for; none has
// parameters.
const (
	// CodeRequestGone answers every request_uri that cannot be used (any
	// more), so that the answer does not tell which.
	CodeRequestGone fault.Code = "login.request_gone"
	// CodeLoginUnknown: no such pending login (or it is gone).
	CodeLoginUnknown fault.Code = "login.unknown"
	// CodeLoginExpired: the login request expired; start again.
	CodeLoginExpired fault.Code = "login.expired"
	// CodeLoginDone: the login was completed already.
	CodeLoginDone fault.Code = "login.completed"
)

// Codes of an authorization request Pforte does not serve, whose OAuth
// error is not their kind's (RFC 6749 §4.1.2.1, OpenID Connect Core
// §6.1): the client learns that the request is well formed but not
// supported, rather than malformed.
const (
	// CodeUnsupportedResponseType: only the code flow; tokens never travel
	// in the front channel.
	CodeUnsupportedResponseType fault.Code = "authorize.unsupported_response_type"
	// CodeRequestNotSupported: a request object (request=) is not read.
	CodeRequestNotSupported fault.Code = "authorize.request_not_supported"
)

// authorizePushed takes the pushed request named by in.RequestURI for
// in.ClientID, once (RFC 9126 §4). Every error is for the user agent: the
// redirect URI is the pushed request's, which is not known until it is
// taken, and a request_uri of another client must not lead to that
// client's redirect URI. Parameters other than client_id and request_uri
// are ignored: only what was pushed counts (RFC 9101 §5).
func (s *Service) authorizePushed(ctx context.Context, in AuthorizeRequest) (grant.AuthRequest, error) {
	const op = "authz.Authorize"
	if in.ClientID == "" || len(in.ClientID) > 256 {
		return grant.AuthRequest{}, fault.New(fault.Invalid, op, "client_id is missing")
	}
	secret, ok := strings.CutPrefix(in.RequestURI, RequestURIPrefix)
	if !ok || secret == "" || len(secret) > 256 {
		return grant.AuthRequest{}, fault.New(fault.Invalid, op, "request_uri is not a pushed authorization request of this server")
	}
	r, err := s.st.Requests.ConsumePushedRequest(ctx, grant.Hash(secret), in.ClientID, s.clock())
	switch {
	case errors.Is(err, fault.NotFound), errors.Is(err, fault.Expired):
		return grant.AuthRequest{}, fault.Coded(fault.KindOf(err), op, CodeRequestGone)
	case errors.Is(err, fault.Forbidden):
		return grant.AuthRequest{}, fault.New(fault.Forbidden, op, "request_uri was pushed by another client")
	case err != nil:
		return grant.AuthRequest{}, err
	}
	return r, nil
}

// validChallenge accepts the S256 form: 43 characters of base64url.
func validChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	for i := 0; i < len(c); i++ {
		if !isUnreserved(c[i]) || c[i] == '.' || c[i] == '~' {
			return false
		}
	}
	return true
}

func isUnreserved(b byte) bool {
	return b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-' || b == '_' || b == '.' || b == '~'
}

// PendingLogin returns an authorization request waiting for a login, with
// its client, for the login page.
// Errors: NotFound; Expired; Conflict when the login is already done.
func (s *Service) PendingLogin(ctx context.Context, id string) (grant.AuthRequest, client.Client, error) {
	const op = "authz.PendingLogin"
	r, err := s.st.Requests.AuthRequestByID(ctx, id)
	if errors.Is(err, fault.NotFound) {
		return grant.AuthRequest{}, client.Client{}, fault.Coded(fault.NotFound, op, CodeLoginUnknown)
	}
	if err != nil {
		return grant.AuthRequest{}, client.Client{}, err
	}
	if !s.clock().Before(r.ExpiresAt) {
		return grant.AuthRequest{}, client.Client{}, fault.Coded(fault.Expired, op, CodeLoginExpired)
	}
	if r.Login != nil {
		return grant.AuthRequest{}, client.Client{}, fault.Coded(fault.Conflict, op, CodeLoginDone)
	}
	c, err := s.clients.ClientByID(ctx, r.ClientID)
	if err != nil {
		return grant.AuthRequest{}, client.Client{}, err
	}
	return r, c, nil
}

// CompleteLogin records a member's authentication on request id, issues the
// authorization code and returns the URL to redirect the user agent to.
// It enforces the required level (RequiredLevel: the client's MinACR,
// raised by acr_values), max_age and the request's id_token_hint (the
// member who logged in must be the one it names): a login that does not
// satisfy the request ends it with an error for the client, so a client
// never receives a token below its MinACR or for another member.
//
// When the member must first consent (NeedsConsent), the login is
// recorded and the returned URL is the consent page's
// (Config.ConsentPath?id=…); DecideConsent issues the code.
//
// Errors: as PendingLogin; an error with a fault.Redirect when the login does not satisfy
// the request; Unavailable.
func (s *Service) CompleteLogin(ctx context.Context, id string, a loa.Authentication) (string, error) {
	const op = "authz.CompleteLogin"
	r, c, err := s.PendingLogin(ctx, id)
	if err != nil {
		return "", err
	}
	reached := loa.Reach(a.Proofing, a.AMR)
	if reached.Level == loa.None {
		return "", fault.New(fault.Unauthenticated, op, "no authentication method was used")
	}
	// A member whose insurance ended is told so by Pforte, not sent back
	// to the client with an error it would have to explain.
	if err := s.MemberMayLogIn(ctx, a.Subject); err != nil && !errors.Is(err, fault.NotFound) {
		return "", err
	}
	fail := func(kind fault.Kind, msg string) (string, error) {
		// The request stays pending until it expires, so a stronger login
		// (step-up) can still complete it.
		return "", fault.New(kind, op, msg).WithRedirect(fault.Redirect{URI: r.RedirectURI, State: r.State})
	}
	if want := s.RequiredLevel(r, c); reached.Level < want {
		return fail(fault.Forbidden, "the requested level of assurance ("+s.cfg.Vocabulary.ACR(want)+") cannot be reached with this login; reached "+s.cfg.Vocabulary.ACR(reached.Level))
	}
	// A login made for this request (after it was created: the password
	// and the app's confirmation, however long the member took) is fresh
	// by definition; an older one, answered from a session, must be within
	// max_age.
	if r.MaxAge != nil && a.Time.Before(r.CreatedAt) && s.clock().Sub(a.Time) > *r.MaxAge+time.Second {
		return fail(fault.Unauthenticated, "the authentication is older than max_age")
	}
	if same, err := s.HintNames(ctx, r.HintSubject, r.HintClientID, a.Subject); err != nil {
		return "", err
	} else if !same {
		return fail(fault.Unauthenticated, "the member who logged in is not the one id_token_hint names")
	}
	login := grant.Login{
		Subject: a.Subject, AuthTime: a.Time.UTC(), AMR: reached.AMR, ACR: s.cfg.Vocabulary.ACR(reached.Level),
		BindingID: a.BindingID, SessionID: a.SessionID,
	}
	now := s.clock()
	if err := s.st.Requests.CompleteAuthRequest(ctx, id, login, now); err != nil {
		return "", err
	}
	r.Login = &login
	ask, err := s.NeedsConsent(ctx, r, c, a.Subject)
	if err != nil {
		return "", err
	}
	if ask {
		if a.SessionID == "" {
			// Consent is asked in a browser session, the one that logged
			// in; a login without one (the app's) cannot give it.
			return fail(fault.Forbidden, "the client needs the member's consent, which is given in the browser")
		}
		return s.cfg.ConsentPath + "?" + url.Values{"id": {id}}.Encode(), nil
	}
	return s.issueCode(ctx, r, now)
}

// issueCode issues the code of request r, whose login is recorded, and
// returns the client's redirect URI with code, state and iss. The scopes
// are those the login's level may release.
func (s *Service) issueCode(ctx context.Context, r grant.AuthRequest, now time.Time) (string, error) {
	level, _ := s.cfg.Vocabulary.Level(r.Login.ACR)
	r.Scopes = ReleasableScopes(r.Scopes, level)
	code := grant.NewSecret()
	if err := s.st.Requests.IssueCode(ctx, grant.Code{
		Hash: grant.Hash(code), Request: r, CreatedAt: now, ExpiresAt: now.Add(s.cfg.CodeTTL),
	}); err != nil {
		return "", err
	}
	q := url.Values{"code": {code}, "iss": {s.cfg.Issuer}}
	if r.State != "" {
		q.Set("state", r.State)
	}
	return appendQuery(r.RedirectURI, q), nil
}

// RequiredLevel is the level a login must reach to complete request r of
// client c: the client's MinimumLevel, raised by the request's acr_values (the
// lowest of those Pforte knows, as minimumLevel says) but never lowered.
// The login page asks for the app's confirmation when the password alone
// (loa.Low) does not reach it.
func (s *Service) RequiredLevel(r grant.AuthRequest, c client.Client) loa.Level {
	need := c.MinimumLevel()
	if want, ok := s.minimumLevel(r.ACRValues); ok && want > need {
		need = want
	}
	return need
}

// minimumLevel returns the lowest level among the requested acr values that
// Pforte knows; unknown values are ignored (they are voluntary claims).
func (s *Service) minimumLevel(acrs []string) (loa.Level, bool) {
	best, found := loa.High, false
	for _, a := range acrs {
		if l, ok := s.cfg.Vocabulary.Level(a); ok {
			found = true
			if l < best {
				best = l
			}
		}
	}
	return best, found
}

// ErrorRedirect returns the URL that reports an error to the client at r:
// error, error_description, state and iss (RFC 9207) on the redirect URI.
// oauthCode and description are what the driving adapter mapped the error
// to (RFC 6749 §4.1.2.1: the description is printable ASCII).
func (s *Service) ErrorRedirect(r fault.Redirect, oauthCode, description string) string {
	q := url.Values{"error": {oauthCode}, "iss": {s.cfg.Issuer}}
	if description != "" {
		q.Set("error_description", description)
	}
	if r.State != "" {
		q.Set("state", r.State)
	}
	return appendQuery(r.URI, q)
}

func appendQuery(base string, q url.Values) string {
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + q.Encode()
}
