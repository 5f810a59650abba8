package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/pforte-id/pforte/catalog"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/ports/token"
)

// Paths of the endpoints, relative to the issuer.
const (
	pathDiscovery     = "/.well-known/openid-configuration"
	pathASMetadata    = "/.well-known/oauth-authorization-server"
	pathJWKS          = "/jwks"
	pathAuthorize     = "/authorize"
	pathPAR           = "/par"
	pathToken         = "/token"
	pathUserinfo      = "/userinfo"
	pathIntrospection = "/introspect"
	pathRevocation    = "/revoke"
	pathEndSession    = "/end_session"
)

// dpopAlgs is the one DPoP proof algorithm Pforte's verifier accepts:
// dpop_signing_alg_values_supported and the algs of DPoP challenges.
const dpopAlgs = "ES256"

// KeySet publishes the public signing keys. adapters/keys implements it;
// the composition root passes it in.
type KeySet interface {
	// JWKS returns the JSON Web Key Set and its entity tag; both change
	// only when the key set changes.
	JWKS() (body []byte, etag string)
}

// Config configures the adapter.
type Config struct {
	// LoginPath is where the user agent goes to log in; the authorization
	// request id is appended as ?id=.
	LoginPath string
	// MaxBodyBytes bounds request bodies (default 64 KiB).
	MaxBodyBytes int64
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if !strings.HasPrefix(c.LoginPath, "/") {
		return fault.New(fault.Invalid, "oidc.Config", "login path must start with /")
	}
	if c.MaxBodyBytes < 0 {
		return fault.New(fault.Invalid, "oidc.Config", "max body bytes must not be negative")
	}
	return nil
}

// Provider serves the OpenID Connect endpoints.
type Provider struct {
	cfg       Config
	svc       *authz.Service
	keys      KeySet
	dpop      token.DPoPVerifier
	log       *slog.Logger
	discovery document
	asMeta    document
	lib       http.Handler
}

// New returns a Provider for svc. proofs verifies the JOSE layer of DPoP
// proofs (adapters/keys implements it).
func New(cfg Config, svc *authz.Service, keys KeySet, proofs token.DPoPVerifier, log *slog.Logger) (*Provider, error) {
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if proofs == nil {
		return nil, fault.New(fault.Invalid, "oidc.New", "a DPoP proof verifier is required")
	}
	p := &Provider{cfg: cfg, svc: svc, keys: keys, dpop: proofs, log: log}
	issuer := svc.Config().Issuer
	var err error
	disc := discoveryDocument(issuer, svc.Config().Vocabulary.Values(), svc.SupportedClaims(), true)
	disc.withIdentityAssurance(svc.Config().TrustFramework)
	if p.discovery, err = newDocument(disc); err != nil {
		return nil, err
	}
	if p.asMeta, err = newDocument(discoveryDocument(issuer, svc.Config().Vocabulary.Values(), nil, false)); err != nil {
		return nil, err
	}
	endpoints := op.Endpoints{
		Token:         op.NewEndpoint(pathToken),
		Introspection: op.NewEndpoint(pathIntrospection),
		Revocation:    op.NewEndpoint(pathRevocation),
	}
	p.lib = op.RegisterServer(&opServer{svc: svc, dpop: proofs, log: log}, endpoints)
	return p, nil
}

// Handler returns the HTTP handler of all OpenID Connect endpoints.
func (p *Provider) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(p.limitBody)
	r.Get(pathDiscovery, p.discovery.serve)
	r.Get(pathASMetadata, p.asMeta.serve)
	r.Get(pathJWKS, p.serveJWKS)
	r.HandleFunc(pathAuthorize, p.authorize)
	// The pushed request hands out a nonce too, so that an app's first
	// DPoP token request already carries one and never pays for a
	// use_dpop_nonce round trip (RFC 9449 §8.2).
	r.Handle(pathPAR, bodyOnly(p.withNonce(http.HandlerFunc(p.par))))
	r.HandleFunc(pathUserinfo, p.userinfo)
	r.Handle(pathToken, bodyOnly(p.withNonce(clientEndpoint(p.lib))))
	r.Handle(pathIntrospection, bodyOnly(clientEndpoint(p.lib)))
	r.Handle(pathRevocation, bodyOnly(clientEndpoint(p.lib)))
	return r
}

// bodyOnly refuses parameters in the URL of the endpoints that take a
// form body (RFC 6749 §3.2, RFC 7662 §2.1, RFC 7009 §2.1, RFC 9126 §2.1):
// URLs end up in logs and proxies, so a code, token or secret must never
// travel in one, and a request that mixes both could be read two ways.
func bodyOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery != "" {
			writeJSONError(w, http.StatusBadRequest, "invalid_request",
				"parameters must be sent in the request body, not in the URL")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// clientEndpoint prepares a request to an endpoint where a client
// authenticates (token, introspection, revocation) before the library reads
// it, for what the library lets through or answers otherwise:
//
//   - a repeated parameter is refused (RFC 6749 §3.2), as at the
//     authorization endpoint: the library would take one grant_type and
//     merge repeated scopes, so two components could read one request two
//     ways;
//   - a request with no client authentication at all (no Authorization
//     header, client_id or client_assertion), or with an Authorization
//     header that is no readable Basic credential, is invalid_client with
//     401 (RFC 6749 §5.2, RFC 7662 §2.3), where the library says
//     invalid_request with 400;
//   - every 401 carries a Basic challenge (RFC 6749 §5.2 for a client that
//     tried HTTP Basic; HTTP requires a challenge with every 401).
func clientEndpoint(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			writeJSONError(w, http.StatusBadRequest, "invalid_request", "the request body could not be read")
			return
		}
		for key, vals := range r.PostForm {
			if len(vals) > 1 {
				writeJSONError(w, http.StatusBadRequest, "invalid_request", "parameter "+key+" is repeated")
				return
			}
		}
		auth := r.Header.Get("Authorization")
		_, _, basicOK := parseBasic(r.Header)
		switch {
		case auth == "" && r.PostForm.Get("client_id") == "" && r.PostForm.Get("client_assertion") == "":
			w.Header().Set("WWW-Authenticate", basicChallenge)
			writeJSONError(w, http.StatusUnauthorized, "invalid_client", "client authentication is required")
			return
		case auth != "" && !basicOK:
			// An Authorization header that is no readable Basic
			// credential is a failed HTTP authentication, not a missing
			// client_id.
			w.Header().Set("WWW-Authenticate", basicChallenge)
			writeJSONError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
			return
		}
		next.ServeHTTP(&challengeWriter{ResponseWriter: w}, r)
	})
}

// basicChallenge is the challenge of the client authentication the
// endpoints accept by HTTP (client_secret_basic).
const basicChallenge = `Basic realm="pforte"`

// challengeWriter adds basicChallenge to a 401 that has none, before the
// header is written.
type challengeWriter struct{ http.ResponseWriter }

func (c *challengeWriter) WriteHeader(status int) {
	if status == http.StatusUnauthorized && c.Header().Get("WWW-Authenticate") == "" {
		c.Header().Set("WWW-Authenticate", basicChallenge)
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *challengeWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// withNonce gives every answer of next a fresh DPoP-Nonce (RFC 9449 §8.2),
// errors included: the header is set before the library writes, so that a
// client learns the nonce from whatever answer it gets and needs the round
// trip of a use_dpop_nonce error at most once per nonce lifetime.
func (p *Provider) withNonce(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("DPoP-Nonce", p.svc.DPoPNonce())
		next.ServeHTTP(w, r)
	})
}

// limitBody refuses oversized request bodies before anything parses them.
func (p *Provider) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > p.cfg.MaxBodyBytes {
			writeJSONError(w, http.StatusRequestEntityTooLarge, "invalid_request", "request body too large")
			return
		}
		if len(r.URL.RawQuery) > 8192 {
			writeJSONError(w, http.StatusRequestURITooLong, "invalid_request", "request URI too long")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, p.cfg.MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

func (p *Provider) serveJWKS(w http.ResponseWriter, r *http.Request) {
	body, etag := p.keys.JWKS()
	serveCached(w, r, body, etag, "public, max-age=300")
}

// authorize handles the authorization endpoint (GET and POST, OIDC Core
// §3.1.2.1). Errors before the redirect URI is validated are rendered as a
// page, never redirected.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		writePage(w, r, http.StatusMethodNotAllowed, "page.method_not_allowed", "")
		return
	}
	if err := r.ParseForm(); err != nil {
		writePage(w, r, http.StatusBadRequest, "page.invalid_request", catalog.Match(r.Header.Get("Accept-Language")).Text("page.unreadable"))
		return
	}
	f := r.Form
	for key, vals := range f {
		// OAuth 2.0 §3.1: parameters must not be repeated; a repeated one
		// could be read differently by different components.
		if len(vals) > 1 {
			writePage(w, r, http.StatusBadRequest, "page.invalid_request", catalog.Match(r.Header.Get("Accept-Language")).Text("page.repeated", key))
			return
		}
	}
	ar, err := p.svc.Authorize(r.Context(), authorizeRequest(f))
	if err != nil {
		p.AuthorizeError(w, r, err)
		return
	}
	http.Redirect(w, r, p.cfg.LoginPath+"?id="+url.QueryEscape(ar.ID), http.StatusFound)
}

// authorizeRequest reads the parameters of an authorization request, at
// the authorization endpoint or pushed.
func authorizeRequest(f url.Values) authz.AuthorizeRequest {
	return authz.AuthorizeRequest{
		ClientID: f.Get("client_id"), RedirectURI: f.Get("redirect_uri"), ResponseType: f.Get("response_type"),
		ResponseMode: f.Get("response_mode"), Scope: f.Get("scope"), State: f.Get("state"), Nonce: f.Get("nonce"),
		CodeChallenge: f.Get("code_challenge"), CodeChallengeMethod: f.Get("code_challenge_method"),
		Prompt: f.Get("prompt"), MaxAge: f.Get("max_age"), ACRValues: f.Get("acr_values"),
		UILocales: f.Get("ui_locales"), LoginHint: f.Get("login_hint"), DPoPJKT: f.Get("dpop_jkt"),
		Request: f.Get("request"), RequestURI: f.Get("request_uri"), IDTokenHint: f.Get("id_token_hint"),
	}
}

// par is the pushed authorization request endpoint (RFC 9126): the client
// authenticates as at the token endpoint (a public client names itself
// with client_id), posts the parameters of an authorization request and
// gets a request_uri for the authorization endpoint. Every answer is JSON
// for the client; nothing here is ever redirected.
func (p *Provider) par(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeJSONError(w, http.StatusMethodNotAllowed, "invalid_request", "method not allowed")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSONError(w, http.StatusBadRequest, "invalid_request", "the request body could not be read")
		return
	}
	// Only the body counts (RFC 9126 §2.1): a parameter in the query would
	// bypass what the client authenticated.
	f := r.PostForm
	for key, vals := range f {
		if len(vals) > 1 {
			writeJSONError(w, http.StatusBadRequest, "invalid_request", "parameter "+key+" is repeated")
			return
		}
	}
	cr, err := pushCredentials(r.Header, f)
	if err != nil {
		p.pushError(w, r, err, true)
		return
	}
	c, err := p.svc.AuthenticateClient(r.Context(), cr)
	if err != nil {
		p.pushError(w, r, err, true)
		return
	}
	// A proof here binds the code to its key (RFC 9449 §10.1).
	pop, err := readProof(r.Context(), p.dpop, r.Header, r.Method, pathPAR)
	if err != nil {
		p.pushError(w, r, err, false)
		return
	}
	uri, ttl, err := p.svc.PushAuthorization(r.Context(), c, authorizeRequest(f), pop)
	if err != nil {
		p.pushError(w, r, err, false)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"request_uri": uri, "expires_in": int64(ttl / time.Second)})
}

// pushCredentials reads the client authentication of a pushed request the
// way the token endpoint does: HTTP Basic (client_secret_basic, id and
// secret form-encoded, RFC 6749 §2.3.1), client_secret and client_id in
// the body (client_secret_post), a client assertion (private_key_jwt), or
// client_id alone (a public client). Two methods at once are refused.
// Errors: Invalid.
func pushCredentials(h http.Header, f url.Values) (authz.Credentials, error) {
	const op = "oidc.pushCredentials"
	cr := authz.Credentials{
		ClientID: f.Get("client_id"), Secret: f.Get("client_secret"), Method: client.AuthSecretPost,
		Assertion: f.Get("client_assertion"), AssertionType: f.Get("client_assertion_type"),
	}
	if cr.Secret != "" && cr.Assertion != "" {
		return cr, fault.New(fault.Invalid, op, "client authentication must use one method")
	}
	if h.Get("Authorization") == "" {
		if cr.ClientID == "" && cr.Assertion == "" {
			return cr, fault.New(fault.Unauthenticated, op, "client authentication is required")
		}
		return cr, nil
	}
	id, secret, ok := parseBasic(h)
	if !ok {
		return cr, fault.New(fault.Unauthenticated, op, "client authentication failed")
	}
	if cr.Secret != "" || cr.Assertion != "" {
		return cr, fault.New(fault.Invalid, op, "client authentication must use one method")
	}
	if cr.ClientID != "" && cr.ClientID != id {
		return cr, fault.New(fault.Invalid, op, "client_id does not match the authenticated client")
	}
	cr.ClientID, cr.Secret, cr.Method = id, secret, client.AuthSecretBasic
	return cr, nil
}

// parseBasic reads client_secret_basic: both parts are form-encoded.
func parseBasic(h http.Header) (id, secret string, ok bool) {
	r := http.Request{Header: h}
	rawID, rawSecret, ok := r.BasicAuth()
	if !ok {
		return "", "", false
	}
	id, err1 := url.QueryUnescape(rawID)
	secret, err2 := url.QueryUnescape(rawSecret)
	if err1 != nil || err2 != nil || id == "" {
		return "", "", false
	}
	return id, secret, true
}

// pushError answers a refused pushed request: client authentication
// errors (auth) as at the token endpoint (invalid_client, 401), the
// request's errors with the authorization endpoint's codes (RFC 9126
// §2.3).
func (p *Provider) pushError(w http.ResponseWriter, r *http.Request, err error, auth bool) {
	k := fault.KindOf(err)
	if k == fault.Internal || k == fault.Unavailable {
		p.log.ErrorContext(r.Context(), "pushed authorization request failed", "kind", k.String(), "err", err)
		writeJSONError(w, wireOf(k).pushStatus, "server_error", catalog.Describe(err))
		return
	}
	if c, ok := codes[codeOf(err)]; ok {
		// A DPoP proof error, as at the token endpoint.
		writeJSONError(w, c.tokenStatus, c.oauth, catalog.Describe(err))
		return
	}
	if auth {
		wi := wireOf(k)
		if wi.tokenStatus == http.StatusUnauthorized {
			// RFC 6749 §5.2: a client that tried HTTP authentication
			// gets the challenge of the scheme it used; HTTP requires
			// one with every 401.
			w.Header().Set("WWW-Authenticate", basicChallenge)
		}
		writeJSONError(w, wi.tokenStatus, string(wi.token().ErrorType), catalog.Describe(err))
		return
	}
	writeJSONError(w, wireOf(k).pushStatus, wireOf(k).authorize, catalog.Describe(err))
}

// AuthorizeError answers an error of the authorization flow: a
// error with a fault.Redirect goes to the client's validated redirect URI
// with iss (RFC 9207); anything else is a page for the member, in the
// language of the request.
func (p *Provider) AuthorizeError(w http.ResponseWriter, r *http.Request, err error) {
	logReason(w, fault.ReasonOf(err))
	if back, ok := fault.RedirectOf(err); ok {
		http.Redirect(w, r, p.svc.ErrorRedirect(back, authorizeCode(err), catalog.Describe(err)), http.StatusFound)
		return
	}
	k := fault.KindOf(err)
	if k == fault.Internal || k == fault.Unavailable {
		p.log.ErrorContext(r.Context(), "authorize failed", "kind", k.String(), "err", err)
	}
	text, detail := pageText(r, err)
	writePageDetail(w, r, wireOf(k).pageStatus, "page.error.heading", text, detail)
}

// userinfo serves the UserInfo endpoint (OIDC Core §5.3) for bearer tokens
// in the Authorization header or, for POST, the form (RFC 6750 §2.2), and
// for DPoP-bound tokens with "Authorization: DPoP" and a DPoP proof (RFC
// 9449 §7). Every answer carries a fresh DPoP-Nonce.
func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("DPoP-Nonce", p.svc.DPoPNonce())
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		writeJSONError(w, http.StatusMethodNotAllowed, "invalid_request", "method not allowed")
		return
	}
	tok, scheme, ok := accessToken(r)
	if !ok {
		// RFC 6750 §3.1 and RFC 9449 §7.1: no error code without a token,
		// a challenge for each scheme Pforte accepts.
		w.Header().Add("WWW-Authenticate", `Bearer realm="pforte"`)
		w.Header().Add("WWW-Authenticate", `DPoP algs="`+dpopAlgs+`"`)
		writeJSONError(w, http.StatusUnauthorized, "invalid_request", "access token missing")
		return
	}
	in := authz.PresentedToken{Token: tok, Scheme: scheme}
	var err error
	if in.DPoP, err = readProof(r.Context(), p.dpop, r.Header, r.Method, pathUserinfo); err != nil && scheme == authz.TokenTypeDPoP {
		p.resourceError(w, r, err, scheme)
		return
	}
	claims, err := p.svc.UserInfo(r.Context(), in)
	if err != nil {
		p.resourceError(w, r, err, scheme)
		return
	}
	writeJSON(w, http.StatusOK, claims)
}

// resourceError answers a refused userinfo request with the challenge of
// the scheme that applies: DPoP for the DPoP scheme, for a proof error and
// for a DPoP-bound token sent as Bearer (the client must switch); Bearer
// otherwise.
func (p *Provider) resourceError(w http.ResponseWriter, r *http.Request, err error, scheme string) {
	if c, ok := codes[codeOf(err)]; ok {
		w.Header().Set("WWW-Authenticate", `DPoP error="`+c.oauth+`", algs="`+dpopAlgs+`"`)
		writeJSONError(w, c.resourceStatus, c.oauth, catalog.Describe(err))
		return
	}
	k := fault.KindOf(err)
	m := wireOf(k)
	if m.resourceStatus >= 500 {
		p.log.ErrorContext(r.Context(), "userinfo failed", "kind", k.String(), "err", err)
		writeJSONError(w, m.resourceStatus, m.resource, catalog.Describe(err))
		return
	}
	if scheme == authz.TokenTypeDPoP || errors.Is(err, authz.ErrDPoPBound) {
		w.Header().Set("WWW-Authenticate", `DPoP error="`+m.resource+`", algs="`+dpopAlgs+`"`)
	} else {
		w.Header().Set("WWW-Authenticate", `Bearer realm="pforte", error="`+m.resource+`"`)
	}
	writeJSONError(w, m.resourceStatus, m.resource, catalog.Describe(err))
}

// accessToken reads the access token of a resource request and the scheme
// it came with: "Authorization: Bearer" or "Authorization: DPoP" (scheme
// names are case-insensitive, RFC 9110 §11.1), or for POST without an
// Authorization header the access_token form parameter (bearer only).
func accessToken(r *http.Request) (tok, scheme string, ok bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		s, t, found := strings.Cut(h, " ")
		t = strings.TrimSpace(t)
		if !found || t == "" {
			return "", "", false
		}
		switch {
		case strings.EqualFold(s, authz.TokenTypeBearer):
			return t, authz.TokenTypeBearer, true
		case strings.EqualFold(s, authz.TokenTypeDPoP):
			return t, authz.TokenTypeDPoP, true
		}
		return "", "", false
	}
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err == nil && r.PostForm.Get("access_token") != "" {
			return r.PostForm.Get("access_token"), authz.TokenTypeBearer, true
		}
	}
	return "", "", false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeJSONError(w http.ResponseWriter, status int, code, desc string) {
	logReason(w, code)
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// Ready reports whether the provider can sign: the key set is loaded.
func (p *Provider) Ready(context.Context) error {
	if body, _ := p.keys.JWKS(); len(body) == 0 {
		return fault.New(fault.Unavailable, "oidc.Ready", "no signing keys loaded")
	}
	return nil
}
