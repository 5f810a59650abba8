package authz_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/dpop"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/ports/token"
)

const (
	issuer        = "https://id.kasse.example"
	tokenEndpoint = issuer + "/oauth/token"

	webSecret  = "web-secret-0123456789abcdefghijklmnopqrstuvwxyz"
	formSecret = "form-secret-0123456789abcdefghijklmnopqrstuvwxy"
	svcSecret  = "svc-secret-0123456789abcdefghijklmnopqrstuvwxyz"

	webRedirect    = "https://forms.kasse.example/cb"
	strictRedirect = "https://antrag.kasse.example/cb"
	formRedirect   = "https://antrag.kasse.example/cb?form=umzug"
	appRedirect    = "http://127.0.0.1/callback"
	portalRedirect = "https://portal.partner.example/oidc/cb"
	sectorRedirect = "https://shop.partner.example/cb"
	otherRedirect  = "https://reha.other.example/cb"
	webLogout      = "https://forms.kasse.example/bye"
	formLogout     = "https://antrag.kasse.example/bye"

	annaID = "acc-anna"
)

// Keys of the fake JWS: Pforte's own and the partner portal's "key set".
var (
	pforteKey = []byte("pforte-test-signing-key-32-bytes!")
	// nonceKey and pairwiseKey stand in for the keys derived from the
	// master key.
	nonceKey    = []byte("dpop-nonce-key-of-thirty-two-b!!")
	pairwiseKey = []byte("pairwise-sub-key-of-32-bytes-ok!")
	portalKey   = []byte("portal-test-jwks")
	hashKey     = []byte("client-secret-hash-key-of-32-bytes")
	annaKVNR    = coretest.KVNR("A12345678")
)

// env is one authorization server over a fresh store, at a fixed time.
type env struct {
	t       *testing.T
	ctx     context.Context
	st      *testStore
	jws     *fakeJWS
	clock   *coretest.Clock
	secrets client.SecretHasher
	svc     *authz.Service
	grants  *grantCounter
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, nil)
}

// newEnvWith is newEnv with the configuration changed by mod.
func newEnvWith(t *testing.T, mod func(*authz.Config)) *env {
	t.Helper()
	secrets, err := client.NewSecretHasher(hashKey)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{
		t:       t,
		ctx:     context.Background(),
		st:      newTestStore(t),
		jws:     &fakeJWS{key: pforteKey},
		clock:   coretest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 123456789, time.UTC)),
		secrets: secrets,
	}
	clients := []client.Client{
		{
			ID: "app", Name: "Service-App", Kind: client.Native, AuthMethod: client.AuthNone,
			RedirectURIs: []string{appRedirect, "http://localhost:8000/callback", "http://[::1]/callback"},
			GrantTypes:   []string{client.GrantCode, client.GrantRefresh},
			Scopes:       []string{"openid", "profile", "kvnr", "offline_access"},
		},
		{
			ID: "web", Name: "Online-Formulare", Kind: client.Web, AuthMethod: client.AuthSecretBasic,
			SecretHash:             secrets.Hash(webSecret),
			RedirectURIs:           []string{webRedirect, "http://127.0.0.1:9000/callback"},
			PostLogoutRedirectURIs: []string{webLogout},
			GrantTypes:             []string{client.GrantCode, client.GrantRefresh},
			Scopes:                 []string{"openid", "profile", "email", "address", "birthdate", "kvnr", "verified_claims"},
		},
		{
			// Confidential, code only: no refresh tokens.
			ID: "form", Name: "Antrag", Kind: client.Web, AuthMethod: client.AuthSecretPost,
			SecretHash:             secrets.Hash(formSecret),
			RedirectURIs:           []string{formRedirect},
			PostLogoutRedirectURIs: []string{formLogout},
			GrantTypes:             []string{client.GrantCode},
			Scopes:                 []string{"openid", "profile"},
		},
		{
			// Pushed authorization requests only, pairwise sub.
			ID: "portal", Name: "Partnerportal", Kind: client.Portal, AuthMethod: client.AuthPrivateKeyJWT,
			JWKS:         portalKey,
			RedirectURIs: []string{portalRedirect},
			GrantTypes:   []string{client.GrantCode, client.GrantRefresh},
			Scopes:       []string{"openid", "profile"},
			RequirePAR:   true, SectorIdentifier: "portal.partner.example",
		},
		{
			// Another client of the portal's sector: it sees the same sub.
			ID: "shop", Name: "Partnershop", Kind: client.Web, AuthMethod: client.AuthSecretBasic,
			SecretHash:       secrets.Hash(webSecret),
			RedirectURIs:     []string{sectorRedirect},
			GrantTypes:       []string{client.GrantCode, client.GrantRefresh},
			Scopes:           []string{"openid", "profile", "kvnr"},
			SectorIdentifier: "portal.partner.example",
		},
		{
			// A client of another sector.
			ID: "reha", Name: "Rehaportal", Kind: client.Web, AuthMethod: client.AuthSecretBasic,
			SecretHash:       secrets.Hash(webSecret),
			RedirectURIs:     []string{otherRedirect},
			GrantTypes:       []string{client.GrantCode, client.GrantRefresh},
			Scopes:           []string{"openid", "profile", "kvnr"},
			SectorIdentifier: "reha.other.example",
		},
		{
			// The Service-App as configured: its tokens are DPoP-bound.
			ID: "dpop-app", Name: "Service-App (DPoP)", Kind: client.Native, AuthMethod: client.AuthNone,
			RedirectURIs: []string{appRedirect},
			GrantTypes:   []string{client.GrantCode, client.GrantRefresh},
			Scopes:       []string{"openid", "profile", "kvnr", "offline_access"},
			RequireDPoP:  true,
		},
		{
			ID: "svc", Name: "Backend", Kind: client.Service, AuthMethod: client.AuthSecretBasic,
			SecretHash: secrets.Hash(svcSecret),
			GrantTypes: []string{client.GrantClientCredentials},
			Scopes:     []string{"openid", "members.read", "audit.read"},
		},
		{
			// A web client with a redirect URI that may not use the code flow.
			ID: "batch", Name: "Batch", Kind: client.Web, AuthMethod: client.AuthSecretBasic,
			SecretHash:   secrets.Hash(svcSecret),
			RedirectURIs: []string{"https://batch.kasse.example/cb"},
			GrantTypes:   []string{client.GrantClientCredentials},
			Scopes:       []string{"audit.read"},
		},
	}
	// These tests exercise the protocol with a member's password login
	// (loa.Low): their clients accept it, as a client must state
	// explicitly. The levels themselves are tested with "strict", which
	// states no minimum and so gets client.DefaultMinACR.
	// The back end "svc" is the resource server of every client that
	// logs members in (its introspection audience), as the insurer's own
	// back ends are; "form" and "batch" are confidential clients that are
	// not, which makes them foreign to every other client's tokens.
	for i := range clients {
		clients[i].MinACR = loa.Low
		if clients[i].AllowsGrant(client.GrantCode) && clients[i].ID != "form" {
			clients[i].IntrospectionAudiences = []string{"svc"}
		}
	}
	clients = append(clients, client.Client{
		ID: "strict", Name: "Online-Antrag", Kind: client.Web, AuthMethod: client.AuthSecretBasic,
		SecretHash:   secrets.Hash(webSecret),
		RedirectURIs: []string{strictRedirect},
		GrantTypes:   []string{client.GrantCode},
		Scopes:       []string{"openid", "profile", "kvnr", "address", "birthdate"},
	})
	for _, c := range clients {
		if err := c.Validate(); err != nil {
			t.Fatalf("test client %s: %v", c.ID, err)
		}
		if err := e.st.CreateClient(e.ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.st.CreateAccount(e.ctx, account.Account{
		ID: annaID, KVNR: annaKVNR, PasswordHash: "$argon2id$unused", Status: account.Active,
		Proofing: loa.Substantial, CreatedAt: e.clock.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.UpsertMember(e.ctx, member.Member{
		KVNR: annaKVNR, GivenName: "Anna", FamilyName: "Schmidt", BirthDate: "1980-04-01",
		Address: member.Address{Street: "Hauptstraße 1", PostalCode: "20095", Locality: "Hamburg"},
		Email:   "anna@example.org",
	}); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	if mod != nil {
		mod(&cfg)
	}
	e.grants = &grantCounter{}
	svc, err := authz.New(cfg,
		authz.Stores{Consents: e.st, Audit: e.st, Clients: e.st, Requests: e.st, Tokens: e.st, Accounts: e.st, Members: e.st, Replay: e.st, Proofs: e.st, Metrics: e.grants},
		e.jws, e.jws, secrets, e.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	return e
}

// testConfig is the configuration of every test service.
func testConfig() authz.Config {
	return authz.Config{
		Issuer:     issuer,
		DPoPNonces: dpop.NonceSource{Key: nonceKey}, PairwiseKey: pairwiseKey,
	}
}

// noPoP is a request without a DPoP proof.
var noPoP = authz.DPoPRequest{}

// bearer presents tok as a bearer token.
func bearer(tok string) authz.PresentedToken {
	return authz.PresentedToken{Token: tok, Scheme: authz.TokenTypeBearer}
}

func newEnvSecrets(t *testing.T) client.SecretHasher {
	t.Helper()
	h, err := client.NewSecretHasher(hashKey)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (e *env) client(id string) client.Client {
	e.t.Helper()
	c, err := e.st.ClientByID(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// newPKCE returns a fresh verifier and its S256 challenge.
func newPKCE() (verifier, challenge string) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	verifier = base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// request returns a valid authorization request for clientID.
func request(clientID, redirectURI, scope string) (authz.AuthorizeRequest, string) {
	v, ch := newPKCE()
	return authz.AuthorizeRequest{
		ClientID: clientID, RedirectURI: redirectURI, ResponseType: "code", Scope: scope,
		State: "st-123", Nonce: "n-456", CodeChallenge: ch, CodeChallengeMethod: "S256",
	}, v
}

// passwordLogin is what core/login returns for Anna: password only.
func (e *env) passwordLogin() loa.Authentication {
	return loa.Authentication{Subject: annaID, Proofing: loa.Substantial, AMR: []string{loa.AMRPassword}, Time: e.clock.Now()}
}

// confirmedLogin is a login of Anna with the password confirmed in the
// app (device key and PIN): substantial, her proofing level.
func (e *env) confirmedLogin() loa.Authentication {
	a := e.passwordLogin()
	a.AMR = []string{loa.AMRPassword, loa.AMRHardware, loa.AMRPIN}
	return a
}

// flow is one authorization code ready for the token endpoint.
type flow struct {
	client, code, verifier, redirectURI string
	nonce                               string
	authTime                            time.Time
}

// codeFor runs Authorize and CompleteLogin with a password login and
// returns the code from the redirect.
func (e *env) codeFor(clientID, redirectURI, scope string) flow {
	e.t.Helper()
	return e.codeWith(clientID, redirectURI, scope, e.passwordLogin())
}

// codeWith is codeFor with login a.
func (e *env) codeWith(clientID, redirectURI, scope string, a loa.Authentication) flow {
	e.t.Helper()
	req, v := request(clientID, redirectURI, scope)
	r, err := e.svc.Authorize(e.ctx, req)
	if err != nil {
		e.t.Fatalf("Authorize: %v", err)
	}
	to, err := e.svc.CompleteLogin(e.ctx, r.ID, a)
	if err != nil {
		e.t.Fatalf("CompleteLogin: %v", err)
	}
	u, err := url.Parse(to)
	if err != nil {
		e.t.Fatal(err)
	}
	return flow{client: clientID, code: u.Query().Get("code"), verifier: v, redirectURI: redirectURI, nonce: req.Nonce, authTime: a.Time}
}

func (e *env) exchange(f flow) (authz.TokenResponse, error) {
	return e.svc.ExchangeCode(e.ctx, e.client(f.client), f.code, f.redirectURI, f.verifier, noPoP)
}

// tokens runs the whole code flow for clientID and returns its tokens.
func (e *env) tokens(clientID, redirectURI, scope string) authz.TokenResponse {
	e.t.Helper()
	resp, err := e.exchange(e.codeFor(clientID, redirectURI, scope))
	if err != nil {
		e.t.Fatalf("ExchangeCode: %v", err)
	}
	return resp
}

// confirmedTokens is tokens after a login confirmed in the app
// (substantial), the level personal data need.
func (e *env) confirmedTokens(clientID, redirectURI, scope string) authz.TokenResponse {
	e.t.Helper()
	resp, err := e.exchange(e.codeWith(clientID, redirectURI, scope, e.confirmedLogin()))
	if err != nil {
		e.t.Fatalf("ExchangeCode: %v", err)
	}
	return resp
}

// webTokens is the usual case: the web client with openid and profile.
func (e *env) webTokens() authz.TokenResponse {
	e.t.Helper()
	return e.tokens("web", webRedirect, "openid profile")
}

func (e *env) accessClaims(raw string) authz.AccessClaims {
	e.t.Helper()
	var cl authz.AccessClaims
	if err := e.jws.Verify(e.ctx, raw, token.TypeAccess, &cl); err != nil {
		e.t.Fatalf("access token does not verify as %s: %v", token.TypeAccess, err)
	}
	return cl
}

func (e *env) idClaims(raw string) authz.IDClaims {
	e.t.Helper()
	var cl authz.IDClaims
	if err := e.jws.Verify(e.ctx, raw, token.TypeID, &cl); err != nil {
		e.t.Fatalf("ID token does not verify as %s: %v", token.TypeID, err)
	}
	return cl
}

// active reports whether introspection calls tok active, asked by one
// who may see it: the client that holds it when that client is
// confidential, else the resource server "svc".
func (e *env) active(tok string) bool {
	e.t.Helper()
	caller := e.client("svc")
	var holder string
	var cl authz.AccessClaims
	if e.jws.Verify(e.ctx, tok, token.TypeAccess, &cl) == nil {
		holder = cl.ClientID
	} else if _, fam, err := e.st.RefreshToken(e.ctx, grant.Hash(tok)); err == nil {
		holder = fam.ClientID
	}
	if c, err := e.st.ClientByID(e.ctx, holder); err == nil && !c.Public() {
		caller = c
	}
	in, err := e.svc.Introspect(e.ctx, caller, tok)
	if err != nil {
		e.t.Fatalf("Introspect: %v", err)
	}
	return in.Active
}

// wantKind fails unless err's outermost kind is want.
func wantKind(t *testing.T, err error, want fault.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want kind %v", want)
	}
	if got := fault.KindOf(err); got != want {
		t.Fatalf("kind = %v, want %v (err: %v)", got, want, err)
	}
}

// redirectErr returns err's redirect, or nil.
func redirectErr(err error) *redirectError { return asRedirect(err) }

// redirectError is an error that goes to the client, as the tests read it.
type redirectError struct {
	RedirectURI, State string
	Err                error
}

// asRedirect returns err's redirect, or nil when err is for the user agent.
func asRedirect(err error) *redirectError {
	r, ok := fault.RedirectOf(err)
	if err == nil || !ok {
		return nil
	}
	return &redirectError{RedirectURI: r.URI, State: r.State, Err: err}
}

// hash is how the store keys bearer secrets; tests use it to look inside.
func hash(secret string) string { return grant.Hash(secret) }
