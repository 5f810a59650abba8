package authz

import (
	"time"

	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/ports/store"
	"github.com/pforte-id/pforte/ports/token"
)

// Config holds the protocol parameters. Zero durations take the defaults.
type Config struct {
	// Issuer is the issuer identifier, without trailing slash.
	Issuer string
	// TokenEndpoint is the absolute token endpoint URL; client assertions
	// may name it or the issuer as audience.
	TokenEndpoint string
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
)

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
	if c.Vocabulary == (loa.Vocabulary{}) {
		c.Vocabulary = loa.EIDAS
	}
	return c
}

// Validate checks the configuration after defaults are applied.
func (c Config) Validate() error {
	c = c.withDefaults()
	bad := func(msg string) error { return fault.New(fault.Invalid, "authz.Config", msg) }
	switch {
	case c.Issuer == "" || c.Issuer[len(c.Issuer)-1] == '/':
		return bad("issuer must be set and have no trailing slash")
	case c.TokenEndpoint == "":
		return bad("token endpoint must be set")
	case c.CodeTTL < 0 || c.CodeTTL > MaxCodeTTL:
		return bad("code lifetime must be at most 60s")
	case c.RefreshIdleTTL > c.RefreshAbsoluteTTL:
		return bad("refresh idle lifetime must not exceed the absolute lifetime")
	case c.AccessTokenTTL < 0 || c.IDTokenTTL < 0 || c.AuthRequestTTL < 0:
		return bad("lifetimes must be positive")
	}
	return nil
}

// Stores are the storage ports the service needs.
type Stores struct {
	Clients  store.Clients
	Requests store.AuthRequests
	Tokens   store.Tokens
	Accounts store.Accounts
	Members  store.Members
	Replay   store.Replay
}

// Service is the authorization server. It is safe for concurrent use; all
// state lives in the stores.
type Service struct {
	cfg        Config
	st         Stores
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
	return &Service{cfg: cfg.withDefaults(), st: st, signer: signer, assertions: assertions, secrets: secrets, now: now}, nil
}

// Config returns the effective configuration (defaults applied).
func (s *Service) Config() Config { return s.cfg }

func (s *Service) clock() time.Time { return s.now().UTC() }
