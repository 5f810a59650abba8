package eid

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/text/unicode/norm"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/ports/proofing"
)

// EvidenceType is the evidence type of an eID proof.
const EvidenceType = "electronic_id"

// Diagnostics of the method's errors (fault.Error's Public: English,
// printable ASCII, for a client's developer or an operator). They say
// nothing about which check failed: that is in the error's cause, for the
// log. The words a member reads are the driving adapter's, by kind.
const (
	textRefused     = "the eID service did not confirm the identity at the required level"
	textInvalid     = "the eID service's answer is not valid for this proofing"
	textUnavailable = "the eID service cannot be reached"
)

// Method is the eID proofing method for one broker. It is safe for
// concurrent use.
type Method struct {
	cfg    Config
	client *http.Client
	now    func() time.Time

	mu sync.Mutex
	// broker is set by the first successful discovery: a broker that is
	// down while Pforte starts only makes the eID unavailable until it is
	// back.
	broker *broker
}

var _ proofing.Redirector = (*Method)(nil)

// broker is what discovery found.
type broker struct {
	rp rp.RelyingParty
	// par is the pushed authorization request endpoint, if offered.
	par string
	// issParam: the broker names itself in every authorization response
	// (RFC 9207), so an answer without or with another iss is refused.
	issParam bool
	// claimsParam: the broker takes the claims request parameter; one
	// that does not may refuse a request that carries it.
	claimsParam bool
}

// Options are the method's collaborators; zero values mean the defaults.
type Options struct {
	// HTTPClient talks to the broker (default: a client with
	// Config.Timeout). It must not follow redirects to other hosts with
	// credentials; net/http's default does not forward Authorization.
	HTTPClient *http.Client
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// New returns the method for the broker cfg names; it does not contact
// the broker. Errors: Invalid (see Config.Validate).
func New(cfg Config, o Options) (*Method, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: cfg.Timeout}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Method{cfg: cfg, client: o.HTTPClient, now: o.Now}, nil
}

// Name is proof.EID.
func (m *Method) Name() proof.Method { return proof.EID }

// pending is the method's own data between Begin and Finish (Redirect.Data).
// It is kept by core on the server and never reaches the member.
type pending struct {
	// StateHash binds the data to the state it was made for.
	StateHash []byte `json:"state_hash"`
	Nonce     string `json:"nonce"`
	// Verifier is the PKCE code verifier.
	Verifier string `json:"verifier"`
	// Transaction names the proofing in logs and in the proof's evidence
	// when the broker's ID token has no jti.
	Transaction string   `json:"transaction"`
	RedirectURI string   `json:"redirect_uri"`
	ACR         []string `json:"acr"`
	ExpiresAt   int64    `json:"expires_at"`
}

// Begin prepares the authorization request and returns the broker's URL.
// Errors: Unavailable (discovery or the pushed request failed).
func (m *Method) Begin(ctx context.Context, b proofing.Begin) (proofing.Redirect, error) {
	const op = "eid.Begin"
	br, err := m.discover(ctx)
	if err != nil {
		return proofing.Redirect{}, err
	}
	state := b.State.Reveal()
	sum := sha256.Sum256([]byte(state))
	p := pending{
		StateHash: sum[:], Nonce: random(), Verifier: oauth2.GenerateVerifier(), Transaction: "eid-" + random()[:22],
		RedirectURI: b.CallbackURL,
		ACR:         m.cfg.ACRValues, ExpiresAt: b.ExpiresAt.Unix(),
	}
	params := url.Values{
		"response_type":         {"code"},
		"client_id":             {m.cfg.ClientID},
		"redirect_uri":          {p.RedirectURI},
		"scope":                 {strings.Join(m.cfg.Scopes, " ")},
		"state":                 {state},
		"nonce":                 {p.Nonce},
		"code_challenge":        {oidc.NewSHACodeChallenge(p.Verifier)},
		"code_challenge_method": {string(oidc.CodeChallengeMethodS256)},
		"acr_values":            {strings.Join(p.ACR, " ")},
	}
	if br.claimsParam {
		params.Set("claims", m.claimsRequest())
	}
	data, err := json.Marshal(p)
	if err != nil {
		return proofing.Redirect{}, fault.Wrap(fault.Internal, op, err)
	}
	authz := br.rp.OAuthConfig().Endpoint.AuthURL
	if br.par == "" {
		return proofing.Redirect{URL: withQuery(authz, params), Data: data}, nil
	}
	// A pushed request (RFC 9126) keeps the parameters off the member's
	// browser and lets the broker check them before the member arrives.
	uri, err := m.push(ctx, br.par, params)
	if err != nil {
		return proofing.Redirect{}, fault.Wrap(fault.Unavailable, op, err).WithPublic(textUnavailable)
	}
	return proofing.Redirect{
		URL: withQuery(authz, url.Values{"client_id": {m.cfg.ClientID}, "request_uri": {uri}}), Data: data,
	}, nil
}

// claimsRequest asks for the configured attributes in the userinfo
// response (OpenID Connect Core 5.5): names and date of birth as
// essential, the others as wanted where the card has them.
func (m *Method) claimsRequest() string {
	cl := m.cfg.Profile.Claims
	want := map[string]any{}
	for _, c := range []string{cl.BirthName, cl.PlaceOfBirth, cl.Address} {
		want[c] = nil
	}
	for _, c := range []string{cl.GivenName, cl.FamilyName, cl.BirthDate} {
		want[c] = map[string]bool{"essential": true}
	}
	b, _ := json.Marshal(map[string]any{"userinfo": want})
	return string(b)
}

// push sends a pushed authorization request and returns its request_uri.
func (m *Method) push(ctx context.Context, endpoint string, params url.Values) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(params.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(m.cfg.ClientID), url.QueryEscape(m.cfg.ClientSecret.Reveal()))
	resp, err := m.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("pushed authorization request: %s", resp.Status)
	}
	var r struct {
		RequestURI string `json:"request_uri"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&r); err != nil || r.RequestURI == "" {
		return "", errors.New("pushed authorization request: no request_uri")
	}
	return r.RequestURI, nil
}

// Finish checks the broker's answer and reports what it verified, with
// KVNR empty. Errors: Unauthenticated (state, nonce, issuer, signature,
// lifetime, code or PKCE wrong: an answer not valid for this proofing);
// Forbidden (the member cancelled, the broker refused, or the answer
// lacks the level or an attribute Pforte needs); Unavailable; Internal
// (data not made by Begin).
func (m *Method) Finish(ctx context.Context, data []byte, c proofing.Callback) (proof.Proof, error) {
	const op = "eid.Finish"
	invalid := func(why string) error {
		return fault.Wrap(fault.Unauthenticated, op, errors.New(why)).WithPublic(textInvalid)
	}
	refused := func(why string) error {
		return fault.Wrap(fault.Forbidden, op, errors.New(why)).WithPublic(textRefused)
	}
	var p pending
	if err := json.Unmarshal(data, &p); err != nil || p.Nonce == "" || p.Verifier == "" {
		return proof.Proof{}, fault.New(fault.Internal, op, "")
	}
	sum := sha256.Sum256([]byte(c.State.Reveal()))
	if subtle.ConstantTimeCompare(sum[:], p.StateHash) != 1 {
		return proof.Proof{}, invalid("state of another proofing")
	}
	now := m.now()
	if !now.Before(time.Unix(p.ExpiresAt, 0)) {
		return proof.Proof{}, invalid("answer after the proofing expired")
	}
	br, err := m.discover(ctx)
	if err != nil {
		return proof.Proof{}, err
	}
	// Mix-up defence (RFC 9207): an answer that names an issuer must name
	// this broker; one that must name it and does not is refused.
	if iss, ok := c.Params["iss"]; ok && iss != m.cfg.Issuer || !ok && br.issParam {
		return proof.Proof{}, invalid("iss parameter of another issuer")
	}
	if e := c.Params["error"]; e != "" {
		return proof.Proof{}, refused("broker answered " + e)
	}
	code := c.Params["code"]
	if code == "" {
		return proof.Proof{}, invalid("no code")
	}

	ctx = context.WithValue(ctx, nonceKey{}, p.Nonce)
	tokens, err := rp.CodeExchange[*oidc.IDTokenClaims](ctx, code, br.rp, rp.WithCodeVerifier(p.Verifier),
		func() []oauth2.AuthCodeOption {
			return []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("redirect_uri", p.RedirectURI)}
		})
	if err != nil {
		if unreachable(err) {
			return proof.Proof{}, fault.Wrap(fault.Unavailable, op, err).WithPublic(textUnavailable)
		}
		if errors.Is(err, oidc.ErrNonceInvalid) {
			err = oidc.ErrNonceInvalid // without the nonces it quotes
		}
		return proof.Proof{}, fault.Wrap(fault.Unauthenticated, op, err).WithPublic(textInvalid)
	}
	idt := tokens.IDTokenClaims
	acr := idt.AuthenticationContextClassReference
	if !slices.Contains(p.ACR, acr) || !slices.Contains(m.cfg.Profile.HighACR, acr) {
		// A lower level than asked for, or one not asked for: the card
		// may have been read by a method that is not eIDAS high.
		return proof.Proof{}, refused("acr not requested or not high")
	}

	var idClaims claimSet
	if _, err := oidc.ParseToken(tokens.IDToken, &idClaims); err != nil {
		return proof.Proof{}, invalid("ID token payload")
	}
	info, err := rp.Userinfo[claimSet](ctx, tokens.AccessToken, oidc.BearerToken, idt.Subject, br.rp)
	switch {
	case errors.Is(err, rp.ErrUserInfoSubNotMatching):
		return proof.Proof{}, invalid("userinfo of another subject")
	case err != nil && unreachable(err):
		return proof.Proof{}, fault.Wrap(fault.Unavailable, op, err).WithPublic(textUnavailable)
	case err != nil:
		return proof.Proof{}, fault.Wrap(fault.Unauthenticated, op, err).WithPublic(textInvalid)
	}
	get := func(name string) any {
		if v, ok := info[name]; ok && v != nil {
			return v
		}
		return idClaims[name]
	}

	cl := m.cfg.Profile.Claims
	a := proof.Attributes{
		GivenName:    text(get(cl.GivenName)),
		FamilyName:   text(get(cl.FamilyName)),
		BirthName:    text(get(cl.BirthName)),
		BirthDate:    text(get(cl.BirthDate)),
		PlaceOfBirth: place(get(cl.PlaceOfBirth)),
		Address:      address(get(cl.Address)),
	}
	if a.GivenName == "" || a.FamilyName == "" || a.BirthDate == "" {
		return proof.Proof{}, refused("attributes missing")
	}
	raw, ok := get(cl.RestrictedID).(string)
	pseudonym, err := decode(m.cfg.Profile.Pseudonym, raw)
	if !ok || err != nil || len(pseudonym) == 0 {
		return proof.Proof{}, refused("restricted identifier missing or malformed")
	}
	ref := idt.JWTID
	if ref == "" {
		ref = p.Transaction
	}
	return proof.Proof{
		Method: proof.EID, Level: loa.High, Attributes: a,
		Evidence: proof.Evidence{
			Type: EvidenceType, Reference: ref, Issuer: m.cfg.Issuer,
			Subject: PseudonymHash(m.cfg.Issuer, pseudonym), IssuedAt: idt.IssuedAt.AsTime().UTC(),
		},
		Time: now.UTC(),
	}, nil
}

// PseudonymHash is the form in which Pforte keeps a card's pseudonym:
// SHA-256 over the broker's issuer and the pseudonym's bytes, base64url.
// The same card through the same broker always gives the same hash; the
// issuer in the hash keeps two brokers' pseudonyms apart, and a copy of
// the database does not hold the value a broker would recognise.
func PseudonymHash(issuer string, pseudonym []byte) string {
	h := sha256.New()
	h.Write([]byte("pforte eid pseudonym\x00"))
	h.Write([]byte(issuer))
	h.Write([]byte{0})
	h.Write(pseudonym)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// decode reads a pseudonym in encoding e.
func decode(e Encoding, s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	switch e {
	case Hex:
		return hex.DecodeString(s)
	case Base64:
		return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	case Base64URL:
		return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	default:
		return []byte(s), nil
	}
}

// Probe checks that the eID service can be used now: its discovery
// document names the configured issuer, and its keys and endpoints are
// set up as for a proofing. A successful probe is kept, so a later
// proofing does not fetch discovery again. It sends no authorization
// request. Errors: Unavailable.
func (m *Method) Probe(ctx context.Context) error {
	_, err := m.discover(ctx)
	return err
}

// discover fetches the broker's discovery document once and sets up the
// relying party. Errors: Unavailable.
func (m *Method) discover(ctx context.Context) (*broker, error) {
	const op = "eid.discover"
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.broker != nil {
		return m.broker, nil
	}
	unavailable := func(err error) error { return fault.Wrap(fault.Unavailable, op, err).WithPublic(textUnavailable) }
	// The discovery document once more for what zitadel's struct lacks:
	// the pushed authorization request endpoint. The lock is held while
	// it runs (at most Config.Timeout): the first proofing waits for it,
	// the others for its result.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(m.cfg.Issuer, "/")+oidc.DiscoveryEndpoint, nil)
	if err != nil {
		return nil, unavailable(err)
	}
	var d struct {
		Issuer   string `json:"issuer"`
		PAR      string `json:"pushed_authorization_request_endpoint"`
		IssParam bool   `json:"authorization_response_iss_parameter_supported"`
		Claims   bool   `json:"claims_parameter_supported"`
	}
	if err := httphelper.HttpRequest(m.client, req, &d); err != nil {
		return nil, unavailable(err)
	}
	if d.Issuer != m.cfg.Issuer {
		// A discovery document of another issuer is a misconfiguration
		// or an attack; either way nothing from it is trusted.
		return nil, unavailable(errors.New("discovery names another issuer"))
	}
	party, err := rp.NewRelyingPartyOIDC(ctx, m.cfg.Issuer, m.cfg.ClientID, m.cfg.ClientSecret.Reveal(), "", m.cfg.Scopes,
		rp.WithHTTPClient(m.client),
		rp.WithAuthStyle(oauth2.AuthStyleInHeader),
		rp.WithSigningAlgsFromDiscovery(),
		rp.WithVerifierOpts(
			rp.WithNonce(func(ctx context.Context) string {
				n, _ := ctx.Value(nonceKey{}).(string)
				return n
			}),
			rp.WithIssuedAtMaxAge(proof.PendingTTL),
			// Brokers' clocks drift a little: an iat up to 10s ahead is
			// accepted (and exp is checked 10s early).
			rp.WithIssuedAtOffset(10*time.Second),
		),
	)
	if err != nil {
		return nil, unavailable(err)
	}
	if d.PAR != "" && !sameOrigin(d.PAR, m.cfg.Issuer) {
		return nil, unavailable(errors.New("pushed authorization request endpoint of another origin"))
	}
	m.broker = &broker{rp: party, par: d.PAR, issParam: d.IssParam, claimsParam: d.Claims}
	return m.broker, nil
}

type nonceKey struct{}

// claimSet is a userinfo response or an ID token's payload.
type claimSet map[string]any

func (c claimSet) GetSubject() string { s, _ := c["sub"].(string); return s }

// text is a claim as a string in Unicode NFC: names reach core in one
// normal form (core compares precomposed and decomposed Latin letters
// alike, but not other scripts).
func text(v any) string {
	s, _ := v.(string)
	return norm.NFC.String(strings.TrimSpace(s))
}

// place reads a place of birth: a string or {locality, country}.
func place(v any) string {
	if o, ok := v.(map[string]any); ok {
		l, c := text(o["locality"]), text(o["country"])
		if c != "" && l != "" {
			return l + ", " + c
		}
		return l + c
	}
	return text(v)
}

// address reads an OpenID Connect address claim.
func address(v any) member.Address {
	o, _ := v.(map[string]any)
	return member.Address{
		Street: text(o["street_address"]), PostalCode: text(o["postal_code"]),
		Locality: text(o["locality"]), Country: text(o["country"]),
	}
}

// unreachable tells a broker that could not be reached or failed on its
// side from one that refused the request.
func unreachable(err error) bool {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.Response == nil || re.Response.StatusCode >= 500
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) ||
		strings.Contains(err.Error(), "http status not ok: 5")
}

func sameOrigin(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Scheme == ub.Scheme && ua.Host == ub.Host
}

func withQuery(endpoint string, q url.Values) string {
	sep := "?"
	if strings.Contains(endpoint, "?") {
		sep = "&"
	}
	return endpoint + sep + q.Encode()
}

// random is 256 bits from crypto/rand, base64url.
func random() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
