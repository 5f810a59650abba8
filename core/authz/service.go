package authz

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/dpop"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/issuer"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/ports/metrics"
	"github.com/pforte-id/pforte/ports/store"
	"github.com/pforte-id/pforte/ports/token"
)

// Config holds the protocol parameters. Zero durations take the defaults.
type Config struct {
	// Issuer is the issuer identifier, without trailing slash.
	Issuer string
	// CodeTTL is the lifetime of an authorization code (at most 60 s).
	CodeTTL time.Duration
	// AuthRequestTTL is how long a member has to log in.
	AuthRequestTTL time.Duration
	// AccessTokenTTL and IDTokenTTL are the default token lifetimes (5 min).
	AccessTokenTTL time.Duration
	IDTokenTTL     time.Duration
	// RefreshIdleTTL ends a refresh token that is not used for this long;
	// RefreshAbsoluteTTL ends the whole family after a login.
	RefreshIdleTTL     time.Duration
	RefreshAbsoluteTTL time.Duration
	// Vocabulary names the levels of assurance in acr.
	Vocabulary loa.Vocabulary
	// ClockSkew is tolerated on client assertion times.
	ClockSkew time.Duration
	// PushedRequestTTL is how long a request_uri of a pushed
	// authorization request can be used (default and at most 90 s; never
	// longer than AuthRequestTTL).
	PushedRequestTTL time.Duration
	// DPoPNonces issues and checks the DPoP server nonces (RFC 9449 §8).
	// Its Key is required: derive it from the master key, so that every
	// replica accepts the nonces of the others. Every token and userinfo
	// response carries a current nonce, and every DPoP proof at the token
	// and userinfo endpoints must echo one, so that no proof can be made
	// ahead of time, whatever the client's clock says.
	DPoPNonces dpop.NonceSource
	// ConsentPath is the consent page a login goes to when the member must
	// first allow a third-party client its scopes (NeedsConsent); the
	// request id is appended as ?id=. Default DefaultConsentPath.
	ConsentPath string
	// PairwiseKey keys the pairwise subject identifiers of clients with a
	// sector identifier (at least 32 bytes; derive it from the master
	// key). Changing it changes every pairwise sub.
	PairwiseKey []byte
	// ClientCacheTTL is how long a client read from the store is reused
	// (default DefaultClientCacheTTL; negative: read on every request).
	ClientCacheTTL time.Duration
	// KVNRClaims are the claims the kvnr scope releases the member number
	// in (default: DefaultKVNRClaims, the plain kvnr claim and the gematik
	// claim).
	KVNRClaims []string
	// TrustFramework names the rules the insurer verifies identities
	// under, in verified_claims (default DefaultTrustFramework).
	TrustFramework string
	// Membership decides until when after the end of their insurance
	// members may still log in (its Grace); nil takes
	// member.DefaultEligibility. A pointer, as in registration.Config,
	// so that a zero grace can be configured.
	Membership *member.Eligibility
}

// Defaults of ARCHITECTURE.md.
const (
	DefaultCodeTTL            = 60 * time.Second
	DefaultAuthRequestTTL     = 10 * time.Minute
	DefaultAccessTokenTTL     = 5 * time.Minute
	DefaultIDTokenTTL         = 5 * time.Minute
	DefaultRefreshIdleTTL     = 30 * time.Minute
	DefaultRefreshAbsoluteTTL = 12 * time.Hour
	DefaultClockSkew          = 30 * time.Second
	// MaxCodeTTL is the hard ceiling on code lifetime.
	MaxCodeTTL = 60 * time.Second
	// MaxTokenTTL is the ceiling of access and ID token lifetimes, for
	// the server and for each client: a leaked bearer token is soon
	// useless, and revocation need not reach a token that has expired.
	MaxTokenTTL = time.Hour
	// MaxAuthRequestTTL bounds the time a member has to log in.
	MaxAuthRequestTTL = time.Hour
	// MaxRefreshIdleTTL and MaxRefreshAbsoluteTTL bound refresh token
	// families and SSO sessions.
	MaxRefreshIdleTTL     = 30 * 24 * time.Hour
	MaxRefreshAbsoluteTTL = 90 * 24 * time.Hour
	// DefaultPushedRequestTTL is the lifetime of a request_uri (RFC 9126
	// §2.2 asks for a short one); it is also the ceiling.
	DefaultPushedRequestTTL = 90 * time.Second
	// MinPairwiseKeySize is the shortest pairwise key: 256 bits, the
	// strength HMAC-SHA-256 offers.
	MinPairwiseKeySize = 32
)

// WithDefaults returns c with its zero values replaced by the defaults,
// as New applies them.
// DefaultConsentPath is the consent page's path (adapters/webui).
const DefaultConsentPath = "/consent"

func (c Config) WithDefaults() Config { return c.withDefaults() }

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.CodeTTL, DefaultCodeTTL)
	def(&c.AuthRequestTTL, DefaultAuthRequestTTL)
	def(&c.AccessTokenTTL, DefaultAccessTokenTTL)
	def(&c.IDTokenTTL, DefaultIDTokenTTL)
	def(&c.RefreshIdleTTL, DefaultRefreshIdleTTL)
	def(&c.RefreshAbsoluteTTL, DefaultRefreshAbsoluteTTL)
	def(&c.ClockSkew, DefaultClockSkew)
	def(&c.PushedRequestTTL, DefaultPushedRequestTTL)
	def(&c.ClientCacheTTL, DefaultClientCacheTTL)
	if len(c.KVNRClaims) == 0 {
		c.KVNRClaims = DefaultKVNRClaims
	}
	if c.ConsentPath == "" {
		c.ConsentPath = DefaultConsentPath
	}
	if c.TrustFramework == "" {
		c.TrustFramework = DefaultTrustFramework
	}
	if c.Vocabulary == (loa.Vocabulary{}) {
		c.Vocabulary = loa.EIDAS
	}
	e := member.DefaultEligibility
	if c.Membership != nil {
		e = *c.Membership
	}
	c.Membership = &e
	return c
}

// Validate checks the configuration after defaults are applied: it is
// the one place the bounds of the protocol parameters are written.
// Errors: fault.Invalid whose Op names the field ("authz.Config.CodeTTL")
// and whose public text says what the field must be.
func (c Config) Validate() error {
	c = c.withDefaults()
	field := func(name, msg string) error { return fault.New(fault.Invalid, "authz.Config."+name, msg) }
	for _, d := range []struct {
		name     string
		v, limit time.Duration
	}{
		{"AccessTokenTTL", c.AccessTokenTTL, MaxTokenTTL},
		{"IDTokenTTL", c.IDTokenTTL, MaxTokenTTL},
		{"CodeTTL", c.CodeTTL, MaxCodeTTL},
		{"AuthRequestTTL", c.AuthRequestTTL, MaxAuthRequestTTL},
		{"RefreshIdleTTL", c.RefreshIdleTTL, MaxRefreshIdleTTL},
		{"RefreshAbsoluteTTL", c.RefreshAbsoluteTTL, MaxRefreshAbsoluteTTL},
	} {
		if err := CheckLifetime(d.v, d.limit); err != nil {
			return field(d.name, fault.PublicOf(err))
		}
	}
	if err := issuer.Check(c.Issuer); err != nil {
		return field("Issuer", fault.PublicOf(err))
	}
	switch {
	case c.RefreshAbsoluteTTL < c.RefreshIdleTTL:
		return field("RefreshAbsoluteTTL", "must not be shorter than the refresh idle lifetime")
	case c.PushedRequestTTL < 0 || c.PushedRequestTTL > DefaultPushedRequestTTL:
		return field("PushedRequestTTL", "must be at most 90s")
	case len(c.PairwiseKey) < MinPairwiseKeySize:
		return field("PairwiseKey", "must have at least 32 bytes")
	}
	if err := c.DPoPNonces.Validate(); err != nil {
		return err
	}
	if err := CheckKVNRClaims(c.KVNRClaims); err != nil {
		return field("KVNRClaims", fault.PublicOf(err))
	}
	if err := c.Membership.Validate(); err != nil {
		return err
	}
	if !validTrustFramework(c.TrustFramework) {
		return field("TrustFramework", "must be 1 to 64 lower-case letters, digits and underscores (e.g. de_aml)")
	}
	return nil
}

// CheckLifetime checks a configured lifetime: at least a second, at most
// limit. Errors: fault.Invalid.
func CheckLifetime(d, limit time.Duration) error {
	if d < time.Second || d > limit {
		return fault.New(fault.Invalid, "authz.CheckLifetime",
			fmt.Sprintf("must be between 1s and %s, not %s", shortDuration(limit), d))
	}
	return nil
}

// shortDuration prints 1h0m0s as 1h and 1m0s as 1m.
func shortDuration(d time.Duration) string {
	s := strings.TrimSuffix(d.String(), "0s")
	return strings.TrimSuffix(s, "0m")
}

// Stores are the storage ports the service needs.
type Stores struct {
	// Consents remembers what members allowed third-party clients.
	Consents store.Consents
	// Audit records the consents given (audit.ConsentGranted) and the
	// reuse of spent refresh tokens (audit.RefreshReused); nil: not
	// recorded.
	Audit    store.Audit
	Clients  store.Clients
	Requests store.AuthRequests
	Tokens   store.Tokens
	Accounts store.Accounts
	Members  store.Members
	Replay   store.Replay
	// Proofs reads the proofs behind accounts, for verified_claims; nil:
	// verified_claims are never released.
	Proofs store.ProofRecords
	// Metrics counts client credentials and refresh grants by outcome
	// (not a store, but a driven port like them); nil: nothing is counted.
	Metrics metrics.Recorder
}

// Service is the authorization server. It is safe for concurrent use; all
// state lives in the stores.
type Service struct {
	cfg        Config
	dpop       dpop.Policy
	st         Stores
	clients    *clientCache
	signer     token.Signer
	assertions token.AssertionVerifier
	secrets    client.SecretHasher
	now        func() time.Time
}

// New returns a Service. now is injected so that tests control time.
func New(cfg Config, st Stores, signer token.Signer, assertions token.AssertionVerifier, secrets client.SecretHasher, now func() time.Time) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	cfg = cfg.withDefaults()
	// The window of a proof's iat is dpop's default; the nonce is always
	// required, so the window only bounds clock skew and the replay cache.
	pol := dpop.Policy{RequireNonce: true, Nonces: cfg.DPoPNonces}
	if st.Metrics == nil {
		st.Metrics = metrics.Nop{}
	}
	return &Service{
		cfg: cfg, dpop: pol, st: st, clients: newClientCache(st.Clients, cfg.ClientCacheTTL, now),
		signer: signer, assertions: assertions, secrets: secrets, now: now,
	}, nil
}

// count records the outcome of a grant: a refused request (the client's
// or the member's side) is a Failure, Unavailable and Internal an Error.
func (s *Service) count(ctx context.Context, g metrics.Grant, err error) {
	o := metrics.Success
	if err != nil {
		o = metrics.Failure
		if k := fault.KindOf(err); k == fault.Unavailable || k == fault.Internal {
			o = metrics.Error
		}
	}
	s.st.Metrics.Grant(ctx, g, o)
}

// Config returns the effective configuration (defaults applied), without
// the keys: callers need the issuer and the vocabulary, never key material.
func (s *Service) Config() Config {
	c := s.cfg
	c.PairwiseKey, c.DPoPNonces.Key = nil, nil
	c.KVNRClaims = slices.Clone(c.KVNRClaims)
	return c
}

func (s *Service) clock() time.Time { return s.now().UTC() }
