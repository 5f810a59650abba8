package devbroker

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/pforte-id/pforte/core/fault"
)

// Broker is the development eID broker. It is an http.Handler.
type Broker struct {
	cfg      Config
	provider *op.Provider
	store    *storage
	mux      *http.ServeMux
	log      *slog.Logger
}

// New builds the broker from cfg: a fresh signing key (P-256) and an empty
// in-memory store. It does not listen. Errors: Invalid (Config.Validate),
// among them a production environment.
func New(cfg Config, log *slog.Logger) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fault.Wrap(fault.Internal, "devbroker.New", err)
	}
	kid := make([]byte, 8)
	_, _ = rand.Read(kid)
	st := &storage{
		cfg: cfg, key: key, kid: hex.EncodeToString(kid),
		requests: map[string]*authRequest{}, codes: map[string]string{}, tokens: map[string]accessToken{},
		bySubject: map[string]Identity{},
	}
	for _, id := range cfg.Identities {
		st.bySubject[st.subject(id)] = id
	}
	var cryptoKey [32]byte
	_, _ = rand.Read(cryptoKey[:])
	provider, err := op.NewProvider(&op.Config{
		CryptoKey:      cryptoKey,
		CodeMethodS256: true,
		// Every client authenticates with client_secret_basic.
		SupportedClaims: supportedClaims(cfg.Claims),
	}, st, op.StaticIssuer(cfg.Issuer),
		// Loopback http: this broker never runs anywhere else.
		op.WithAllowInsecure(),
		op.WithLogger(log),
	)
	if err != nil {
		return nil, fault.Wrap(fault.Internal, "devbroker.New", err)
	}
	b := &Broker{cfg: cfg, provider: provider, store: st, mux: http.NewServeMux(), log: log}
	b.mux.HandleFunc("GET "+pagePath, b.showPage)
	b.mux.HandleFunc("POST "+pagePath, b.confirm)
	b.mux.HandleFunc("GET "+stylePath, serveStyle)
	b.mux.Handle("/", provider)
	return b, nil
}

// ServeHTTP serves the provider's endpoints and the identity page.
func (b *Broker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Pforte-Development-Tool", "eid-broker")
	b.mux.ServeHTTP(w, r)
}

// Serve serves the broker on l until ctx ends. It refuses a listener
// that is not on a loopback address. Errors: Invalid (not loopback);
// those of http.Server.Serve.
func (b *Broker) Serve(ctx context.Context, l net.Listener) error {
	host, _, err := net.SplitHostPort(l.Addr().String())
	if err != nil || !IsLoopback(host) {
		return fault.New(fault.Invalid, "devbroker.Serve", "the development eID broker listens on loopback addresses only")
	}
	srv := &http.Server{Handler: b, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	b.log.Warn("DEVELOPMENT eID broker: it confirms any identity a developer picks; never use it in production",
		slog.String("issuer", b.cfg.Issuer))
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func supportedClaims(c Claims) []string {
	out := []string{"sub", "aud", "exp", "iat", "iss", "nonce", "acr", "auth_time", "at_hash", "c_hash"}
	for _, n := range []string{c.GivenName, c.FamilyName, c.BirthName, c.BirthDate, c.PlaceOfBirth, c.Address, c.RestrictedID} {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// storage is op.Storage in memory: authorization requests, codes and
// access tokens of one run, and the identities.
type storage struct {
	cfg Config
	key *ecdsa.PrivateKey
	kid string

	mu        sync.Mutex
	requests  map[string]*authRequest
	codes     map[string]string // code → request id
	tokens    map[string]accessToken
	bySubject map[string]Identity
}

var _ op.Storage = (*storage)(nil)

type accessToken struct {
	subject, clientID string
	expires           time.Time
}

// subject is the token subject of an identity: the restricted id where
// the profile puts it in sub, otherwise a stable value derived from it.
func (s *storage) subject(id Identity) string {
	if s.cfg.Claims.RestrictedID == "sub" {
		return id.RestrictedID
	}
	sum := sha256.Sum256([]byte(id.RestrictedID))
	return "dev-" + hex.EncodeToString(sum[:12])
}

func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// authRequest is one authorization request; its id is 256 random bits,
// so knowing it is what lets the page confirm it.
type authRequest struct {
	id      string
	req     oidc.AuthRequest
	created time.Time
	// acr is the level the broker signs (Config.ACR).
	acr string
	// Set when the developer confirmed an identity.
	done     bool
	subject  string
	authTime time.Time
}

func (a *authRequest) GetID() string         { return a.id }
func (a *authRequest) GetACR() string        { return a.acr }
func (a *authRequest) GetAMR() []string      { return []string{"hwk", "pin"} }
func (a *authRequest) GetAudience() []string { return []string{a.req.ClientID} }
func (a *authRequest) GetAuthTime() time.Time {
	return a.authTime
}
func (a *authRequest) GetClientID() string { return a.req.ClientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.req.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.req.CodeChallenge, Method: a.req.CodeChallengeMethod}
}
func (a *authRequest) GetNonce() string                   { return a.req.Nonce }
func (a *authRequest) GetRedirectURI() string             { return a.req.RedirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType { return a.req.ResponseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return a.req.ResponseMode }
func (a *authRequest) GetScopes() []string                { return a.req.Scopes }
func (a *authRequest) GetState() string                   { return a.req.State }
func (a *authRequest) GetSubject() string                 { return a.subject }
func (a *authRequest) Done() bool                         { return a.done }

// requestTTL bounds how long an authorization request waits for the page.
const requestTTL = 15 * time.Minute

func (s *storage) CreateAuthRequest(_ context.Context, r *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	if slices.Contains(r.Prompt, oidc.PromptNone) {
		return nil, oidc.ErrLoginRequired()
	}
	if r.CodeChallenge == "" || r.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		// The adapter always sends PKCE; a request without is not one
		// of Pforte's.
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE with S256 is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(time.Now())
	a := &authRequest{id: newID(), req: *r, created: time.Now()}
	a.acr = s.cfg.ACR
	s.requests[a.id] = a
	return a, nil
}

// sweep forgets expired requests, their codes and expired tokens, so that
// a broker left running does not grow. The caller holds s.mu.
func (s *storage) sweep(now time.Time) {
	for id, a := range s.requests {
		if now.Sub(a.created) > requestTTL {
			delete(s.requests, id)
		}
	}
	for c, id := range s.codes {
		if _, ok := s.requests[id]; !ok {
			delete(s.codes, c)
		}
	}
	for id, t := range s.tokens {
		if now.After(t.expires) {
			delete(s.tokens, id)
		}
	}
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.requests[id]
	if !ok || time.Since(a.created) > requestTTL {
		return nil, errors.New("unknown or expired authorization request")
	}
	return a, nil
}

// pending returns a request that waits for the page.
func (s *storage) pending(id string) (*authRequest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.requests[id]
	return a, ok && !a.done && time.Since(a.created) <= requestTTL
}

// confirm marks request id as confirmed for identity k.
func (s *storage) confirm(id string, k int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.requests[id]
	if !ok || a.done || k < 0 || k >= len(s.cfg.Identities) {
		return false
	}
	a.done, a.subject, a.authTime = true, s.subject(s.cfg.Identities[k]), time.Now()
	return true
}

func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	id, ok := s.codes[code]
	s.mu.Unlock()
	if !ok {
		return nil, errors.New("unknown code")
	}
	return s.AuthRequestByID(ctx, id)
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = id
	return nil
}

// DeleteAuthRequest is called when a code is exchanged: the request and
// its codes are gone, so a code works once.
func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.requests, id)
	for c, r := range s.codes {
		if r == id {
			delete(s.codes, c)
		}
	}
	return nil
}

func (s *storage) CreateAccessToken(_ context.Context, r op.TokenRequest) (string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, exp := newID(), time.Now().Add(s.cfg.TokenLifetime)
	clientID := ""
	if a, ok := r.(*authRequest); ok {
		clientID = a.req.ClientID
	}
	s.tokens[id] = accessToken{subject: r.GetSubject(), clientID: clientID, expires: exp}
	return id, exp, nil
}

func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, r op.TokenRequest, _ string) (string, string, time.Time, error) {
	// No refresh tokens: the eID proof is a one-time answer.
	id, exp, err := s.CreateAccessToken(ctx, r)
	return id, "", exp, err
}

func (s *storage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, op.ErrInvalidRefreshToken
}

func (s *storage) TerminateSession(context.Context, string, string) error { return nil }

func (s *storage) RevokeToken(_ context.Context, token, _, _ string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, token)
	return nil
}

func (s *storage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

type signingKey struct {
	key *ecdsa.PrivateKey
	kid string
}

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.ES256 }
func (k signingKey) Key() any                                    { return k.key }
func (k signingKey) ID() string                                  { return k.kid }

type publicKey struct{ signingKey }

func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.ES256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return &k.key.PublicKey }

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) {
	return signingKey{s.key, s.kid}, nil
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.ES256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{signingKey{s.key, s.kid}}}, nil
}

func (s *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	for _, c := range s.cfg.Clients {
		if c.ID == id {
			return client{c}, nil
		}
	}
	return nil, errors.New("unknown client")
}

func (s *storage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	for _, c := range s.cfg.Clients {
		if c.ID == id && c.Secret == secret {
			return nil
		}
	}
	return errors.New("wrong client credentials")
}

// SetUserinfoFromScopes adds nothing to ID tokens beyond sub, acr and
// nonce: the attributes are in the userinfo response, as at most brokers.
func (s *storage) SetUserinfoFromScopes(_ context.Context, info *oidc.UserInfo, userID, _ string, _ []string) error {
	info.Subject = userID
	return nil
}

// SetUserinfoFromToken writes the identity's attributes under the
// configured claim names.
func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	s.mu.Lock()
	t, ok := s.tokens[tokenID]
	id, known := s.bySubject[subject]
	s.mu.Unlock()
	if !ok || !known || t.subject != subject || time.Now().After(t.expires) {
		return errors.New("invalid or expired token")
	}
	info.Subject = subject
	c := s.cfg.Claims
	set := func(name string, v any) {
		if name != "" && name != "sub" && v != "" {
			info.AppendClaims(name, v)
		}
	}
	set(c.GivenName, id.GivenName)
	set(c.FamilyName, id.FamilyName)
	set(c.BirthName, id.BirthName)
	set(c.BirthDate, id.BirthDate)
	set(c.PlaceOfBirth, id.PlaceOfBirth)
	set(c.RestrictedID, id.RestrictedID)
	if id.Address != (Address{}) {
		set(c.Address, map[string]string{
			"street_address": id.Address.Street, "postal_code": id.Address.PostalCode,
			"locality": id.Address.Locality, "country": id.Address.Country,
		})
	}
	return nil
}

func (s *storage) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return errors.New("introspection is not supported")
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("JWT profile is not supported")
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("JWT profile is not supported")
}

func (s *storage) Health(context.Context) error { return nil }

// client is a registered relying party.
type client struct{ c Client }

func (c client) GetID() string                       { return c.c.ID }
func (c client) RedirectURIs() []string              { return c.c.RedirectURIs }
func (c client) PostLogoutRedirectURIs() []string    { return nil }
func (c client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c client) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodBasic }
func (c client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c client) GrantTypes() []oidc.GrantType { return []oidc.GrantType{oidc.GrantTypeCode} }
func (c client) LoginURL(id string) string {
	return pagePath + "?" + url.Values{"id": {id}}.Encode()
}
func (c client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c client) IDTokenLifetime() time.Duration      { return DefaultTokenLifetime }

// DevMode lets Pforte's development server use an http callback.
func (c client) DevMode() bool { return true }
func (c client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c client) IsScopeAllowed(string) bool           { return false }
func (c client) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c client) ClockSkew() time.Duration             { return 0 }
