package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/fault"
)

// Paths of the endpoints, relative to the issuer.
const (
	pathDiscovery     = "/.well-known/openid-configuration"
	pathASMetadata    = "/.well-known/oauth-authorization-server"
	pathJWKS          = "/jwks"
	pathAuthorize     = "/authorize"
	pathToken         = "/token"
	pathUserinfo      = "/userinfo"
	pathIntrospection = "/introspect"
	pathRevocation    = "/revoke"
	pathEndSession    = "/end_session"
	loggedOutPath     = "/logged-out"
)

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
	log       *slog.Logger
	discovery document
	asMeta    document
	lib       http.Handler
}

// New returns a Provider for svc.
func New(cfg Config, svc *authz.Service, keys KeySet, log *slog.Logger) (*Provider, error) {
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Provider{cfg: cfg, svc: svc, keys: keys, log: log}
	issuer := svc.Config().Issuer
	var err error
	if p.discovery, err = newDocument(discoveryDocument(issuer, svc.Config().Vocabulary.Values(), true)); err != nil {
		return nil, err
	}
	if p.asMeta, err = newDocument(discoveryDocument(issuer, svc.Config().Vocabulary.Values(), false)); err != nil {
		return nil, err
	}
	endpoints := op.Endpoints{
		Token:         op.NewEndpoint(pathToken),
		Introspection: op.NewEndpoint(pathIntrospection),
		Revocation:    op.NewEndpoint(pathRevocation),
		EndSession:    op.NewEndpoint(pathEndSession),
	}
	p.lib = op.RegisterServer(&opServer{svc: svc, log: log}, endpoints)
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
	r.HandleFunc(pathUserinfo, p.userinfo)
	r.Get(loggedOutPath, p.loggedOut)
	for _, path := range []string{pathToken, pathIntrospection, pathRevocation, pathEndSession} {
		r.Handle(path, p.lib)
	}
	return r
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
		writePage(w, http.StatusMethodNotAllowed, errorPage("Methode nicht erlaubt / Method not allowed", ""))
		return
	}
	if err := r.ParseForm(); err != nil {
		writePage(w, http.StatusBadRequest, errorPage("Ungültige Anfrage / Invalid request", "The request could not be read."))
		return
	}
	f := r.Form
	for key, vals := range f {
		// OAuth 2.0 §3.1: parameters must not be repeated; a repeated one
		// could be read differently by different components.
		if len(vals) > 1 {
			writePage(w, http.StatusBadRequest, errorPage("Ungültige Anfrage / Invalid request", "Parameter "+key+" is repeated."))
			return
		}
	}
	ar, err := p.svc.Authorize(r.Context(), authz.AuthorizeRequest{
		ClientID: f.Get("client_id"), RedirectURI: f.Get("redirect_uri"), ResponseType: f.Get("response_type"),
		ResponseMode: f.Get("response_mode"), Scope: f.Get("scope"), State: f.Get("state"), Nonce: f.Get("nonce"),
		CodeChallenge: f.Get("code_challenge"), CodeChallengeMethod: f.Get("code_challenge_method"),
		Prompt: f.Get("prompt"), MaxAge: f.Get("max_age"), ACRValues: f.Get("acr_values"),
		UILocales: f.Get("ui_locales"), LoginHint: f.Get("login_hint"),
		Request: f.Get("request"), RequestURI: f.Get("request_uri"),
	})
	if err != nil {
		p.AuthorizeError(w, r, err)
		return
	}
	http.Redirect(w, r, p.cfg.LoginPath+"?id="+url.QueryEscape(ar.ID), http.StatusFound)
}

// AuthorizeError answers an error of the authorization flow: a
// *authz.RedirectError goes to the client's validated redirect URI with
// iss (RFC 9207); anything else is a page for the member.
func (p *Provider) AuthorizeError(w http.ResponseWriter, r *http.Request, err error) {
	var re *authz.RedirectError
	if errors.As(err, &re) {
		code, ok := redirectErrors[fault.KindOf(re.Err)]
		if !ok {
			code = "server_error"
		}
		http.Redirect(w, r, p.svc.ErrorRedirect(re, code), http.StatusFound)
		return
	}
	k := fault.KindOf(err)
	if k == fault.Internal || k == fault.Unavailable {
		p.log.ErrorContext(r.Context(), "authorize failed", "kind", k.String(), "err", err)
	}
	writePage(w, pageStatus[k], errorPage("Anmeldung nicht möglich / Login not possible", fault.PublicOf(err)))
}

// userinfo serves the UserInfo endpoint (OIDC Core §5.3) for bearer tokens
// in the Authorization header or, for POST, the form (RFC 6750 §2.2).
func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		writeJSONError(w, http.StatusMethodNotAllowed, "invalid_request", "method not allowed")
		return
	}
	tok, ok := bearer(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="pforte"`)
		writeJSONError(w, http.StatusUnauthorized, "invalid_request", "access token missing")
		return
	}
	claims, err := p.svc.UserInfo(r.Context(), tok)
	if err != nil {
		m := resourceErrors[fault.KindOf(err)]
		if m.status >= 500 {
			p.log.ErrorContext(r.Context(), "userinfo failed", "kind", fault.KindOf(err).String(), "err", err)
			writeJSONError(w, m.status, m.code, fault.FixedText(fault.KindOf(err)))
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="pforte", error="`+m.code+`"`)
		writeJSONError(w, m.status, m.code, fault.PublicOf(err))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, claims)
}

func bearer(r *http.Request) (string, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
			return "", false
		}
		return strings.TrimSpace(tok), true
	}
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err == nil && r.PostForm.Get("access_token") != "" {
			return r.PostForm.Get("access_token"), true
		}
	}
	return "", false
}

func (p *Provider) loggedOut(w http.ResponseWriter, _ *http.Request) {
	writePage(w, http.StatusOK, page{
		Title: "Abgemeldet / Logged out",
		Text:  "Sie sind abgemeldet. Sie können dieses Fenster schließen. / You are logged out. You may close this window.",
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeJSONError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// Ready reports whether the provider can sign: the key set is loaded.
func (p *Provider) Ready(context.Context) error {
	if body, _ := p.keys.JWKS(); len(body) == 0 {
		return fault.New(fault.Unavailable, "oidc.Ready", "no signing keys loaded")
	}
	return nil
}
