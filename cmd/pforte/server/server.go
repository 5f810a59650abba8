package server

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pforte-id/pforte/adapters/adminapi"
	logouthttp "github.com/pforte-id/pforte/adapters/backchannel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/pforte-id/pforte/adapters/httpapi"
	"github.com/pforte-id/pforte/adapters/keys"
	"github.com/pforte-id/pforte/adapters/letterpdf"
	"github.com/pforte-id/pforte/adapters/metrics"
	"github.com/pforte-id/pforte/adapters/oidc"
	"github.com/pforte-id/pforte/adapters/ops"
	"github.com/pforte-id/pforte/adapters/outbox"
	"github.com/pforte-id/pforte/adapters/proofing/eid"
	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/adapters/strength"
	"github.com/pforte-id/pforte/adapters/tracing"
	"github.com/pforte-id/pforte/adapters/webauthn"
	"github.com/pforte-id/pforte/adapters/webui"
	"github.com/pforte-id/pforte/catalog"
	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/applogin"
	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/backchannel"
	"github.com/pforte-id/pforte/core/binding"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/enrollment"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/housekeeping"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/letterproof"
	"github.com/pforte-id/pforte/core/lifecycle"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/login"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/password"
	"github.com/pforte-id/pforte/core/pin"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/core/registration"
	"github.com/pforte-id/pforte/core/selfservice"
	"github.com/pforte-id/pforte/core/session"
	"github.com/pforte-id/pforte/core/sso"
	"github.com/pforte-id/pforte/core/weblogin"
	"github.com/pforte-id/pforte/ports/notify"
	"github.com/pforte-id/pforte/ports/proofing"
)

// Member is a demo or test member: the account and the master data.
type Member struct {
	Account account.Account
	Member  member.Member
	// Device, when set, is a device binding the member starts with, so
	// that a demo or test member can confirm browser logins in the
	// reference client without first going through a letter.
	Device *Device
}

// Device is a demo or test member's bound device: the public half of a
// reference client's software key (cmd/pforte-app/authenticator) and the
// release PIN.
type Device struct {
	// ID is the binding's id; a binding with this id that exists already
	// is left as it is (its PIN counter, its sign counter).
	ID           string
	Name         string
	CredentialID []byte
	// PublicKey is the credential public key as a COSE_Key.
	PublicKey []byte
	PIN       string
}

// Options are everything the server needs, resolved: secrets read,
// files parsed, defaults applied.
type Options struct {
	// Issuer is the issuer URL without trailing slash.
	Issuer  string
	Storage sqlstore.Config
	// AutoMigrate applies pending migrations at start; without it a
	// database that is not up to date is refused.
	AutoMigrate bool
	// MasterKey (32 bytes) seals the signing keys and keys the client
	// secret hash.
	MasterKey []byte
	// Keys is the signing key ring's configuration. Its
	// Policy.MaxTokenLifetime is raised to authz.MaxTokenTTL, the
	// longest lifetime of any token the server signs.
	Keys keys.Config
	// Authz carries the token lifetimes; its Issuer is set from Issuer.
	Authz          authz.Config
	PasswordParams password.Params
	// HashConcurrency bounds parallel password hashes (0: GOMAXPROCS).
	HashConcurrency int
	// HashMaxWait bounds the wait for a hashing slot (0: the request's
	// lifetime); see password.NewHasher.
	HashMaxWait time.Duration
	// Clients are applied (inserted or replaced) at start.
	Clients []client.Client
	// Members are inserted at start when their KVNR has no account yet
	// (development and tests only).
	Members []Member
	// Housekeeping is the schedule and the retention periods of the
	// periodic clean-up, which one replica at a time runs.
	Housekeeping housekeeping.Config
	// Replica names this server in the housekeeping lease (default: the
	// host name).
	Replica string
	// OutboxDir is the folder letters are handed to the print service in.
	OutboxDir string
	// Registration configures letter requests and activation; Issuer is
	// set from Issuer, Letter is also the letter proofing's policy.
	Registration registration.Config
	// TrustedProxies are reverse proxies whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// Devices configures the WebAuthn relying party (RPID, Origins,
	// PackedRoots); empty RPID: the issuer's host, empty Origins: the
	// issuer origin.
	Devices webauthn.Config
	// Binding carries the attestation and PIN policies.
	Binding binding.Config
	// Login carries the throttling rule of password checks (its zero
	// Throttle: throttle.DefaultPolicy); IPKey is derived from the master
	// key.
	Login login.Config
	// Session is how long single sign-on sessions live (zero:
	// session.DefaultPolicy).
	Session session.Policy
	// PINPeppers are the versioned PIN peppers; empty: version 1 derived
	// from the master key. PINPepperVersion is the current version.
	PINPeppers       []pin.Pepper
	PINPepperVersion int
	// Notifier tells members about device changes (nil: nobody is told).
	Notifier notify.Notifier
	// WorkerInterval is how often queued letter requests are decided and
	// letters rendered (default 2s); a negative value runs no workers
	// (tests drive them through Registration()).
	WorkerInterval time.Duration
	// Logout configures the delivery of back-channel logout tokens;
	// Issuer is set from Issuer.
	Logout backchannel.Config
	// LogoutInterval is how often every replica looks for due logout
	// tokens (default 1s; a replica that queued some looks at once); a
	// negative value runs no worker (tests drive it through Logout()).
	LogoutInterval time.Duration
	// Lifecycle configures the end of memberships and the deletion of
	// accounts (the sync limit, the retention period); IPKey is derived
	// from the master key.
	Lifecycle lifecycle.Config
	// EID, when set, offers registration with the electronic ID card
	// through the eID service it names (nil: the method is not offered).
	EID *EIDOptions
	// Tracing configures OpenTelemetry tracing; the zero value is off.
	// When on, every request on the public listener (and on the handlers
	// Instrument wraps) and every store call is a span, and every log
	// line written for a request carries its trace_id and span_id.
	Tracing tracing.Config
	// TraceExporter, when set, receives the spans instead of the OTLP
	// exporter to Tracing.Endpoint (tests: the SDK's in-memory exporter).
	TraceExporter sdktrace.SpanExporter
	// Version is Pforte's release, named in the spans (service.version).
	Version string
	// Now is the clock (default time.Now); tests move it.
	Now func() time.Time
	Log *slog.Logger
}

// EIDOptions configure the eID registration.
type EIDOptions struct {
	// Broker is the eID service and its profile.
	Broker eid.Config
	// RedirectURI is where the eID service sends the member back to, as
	// registered there (default: Issuer + EIDCallbackPath). It must lie
	// under the issuer's /eid/ path: the server serves its callback at
	// the URI's path, and nothing else is served there.
	RedirectURI string
	// AppReturnURIs and AppLoopback are the app's return addresses after
	// the eID service (registration.Config.AppReturnURIs, LoopbackReturn).
	AppReturnURIs []string
	AppLoopback   bool
}

// EIDCallbackPath is the default path, under the issuer, of the eID
// service's redirect back to Pforte.
const EIDCallbackPath = "/eid/callback"

// redirectURI returns the callback URL of e for issuer (no trailing
// slash): the configured one or the default. Errors: Invalid (Op
// server.EIDOptions.RedirectURI) for one outside the issuer's /eid/ path.
func (e *EIDOptions) redirectURI(issuer string) (string, error) {
	if e.RedirectURI == "" {
		return issuer + EIDCallbackPath, nil
	}
	u, err := url.Parse(e.RedirectURI)
	if err != nil || u.RawQuery != "" || u.Fragment != "" || u.User != nil ||
		!strings.HasPrefix(e.RedirectURI, issuer+"/eid/") || len(e.RedirectURI) == len(issuer+"/eid/") ||
		strings.Contains(u.Path, "..") || strings.ContainsAny(u.Path, "{} ") {
		return "", fault.New(fault.Invalid, "server.EIDOptions.RedirectURI",
			"must be a URL under the issuer's /eid/ path, without query or fragment")
	}
	return e.RedirectURI, nil
}

// Server is a built Pforte server.
type Server struct {
	opts   Options
	store  *sqlstore.Store
	ring   *keys.Ring
	authz  *authz.Service
	reg    *registration.Service
	logout *backchannel.Service
	bind   *binding.Service
	pins   *pin.Hasher
	hasher *password.Hasher
	login  *login.Service
	sso    *sso.Service
	// ender ends sessions where no SSO service is built (OpenBackend).
	ender   *sso.Ender
	hk      *housekeeping.Runner
	members *lifecycle.Service
	handler http.Handler
	log     *slog.Logger
	// metrics counts what the audit events tell (login, binding and web
	// login append through metrics.Audit) and the HTTP requests.
	metrics *metrics.Metrics
	// tracing records the spans of requests and store calls; nil: off.
	tracing *tracing.Tracing
}

// SecretHasher returns the keyed hash client secrets are stored under,
// derived from the master key.
func SecretHasher(master []byte) (client.SecretHasher, error) {
	if err := keys.CheckMaster(master); err != nil {
		return client.SecretHasher{}, err
	}
	return client.NewSecretHasher(keys.DeriveKey(master, purposeClientSecrets))
}

const (
	purposeClientSecrets = "pforte/v1/client-secret-hash"
	purposeLetterSecrets = "pforte/v1/letter-secret-hash"
	purposePINPepper     = "pforte/v1/pin-pepper"
	purposeAuditIP       = "pforte/v1/audit-ip-hash"
	purposeDPoPNonce     = "pforte/v1/dpop-nonce"
	purposePairwiseSub   = "pforte/v1/pairwise-sub"
	purposeLoginCSRF     = "pforte/v1/login-csrf"
	purposeAccountPage   = "pforte/v1/account-page"
	purposeAccountSecret = "pforte/v1/account-client-secret"
)

// DefaultWorkerInterval and DefaultLogoutInterval are the intervals of
// the background work when Options leave them zero.
const (
	DefaultWorkerInterval = 2 * time.Second
	DefaultLogoutInterval = time.Second
)

// Bounds of LogoutInterval.
const (
	MinLogoutInterval = 50 * time.Millisecond
	MaxLogoutInterval = time.Minute
)

// withDefaults returns o with the zero values that have defaults set.
func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Replica == "" {
		o.Replica, _ = os.Hostname()
	}
	if o.WorkerInterval == 0 {
		o.WorkerInterval = DefaultWorkerInterval
	}
	if o.LogoutInterval == 0 {
		o.LogoutInterval = DefaultLogoutInterval
	}
	o.Issuer = strings.TrimSuffix(o.Issuer, "/")
	return o
}

// parts are the configurations of the packages the server wires, derived
// from Options in this one place: Validate checks them and New and
// OpenBackend build from them, so what Validate accepts is what is built.
type parts struct {
	authz        authz.Config
	keys         keys.Config
	registration registration.Config
	outbox       outbox.Config
	webauthn     webauthn.Config
	binding      binding.Config
	login        login.Config
	sso          sso.Config
	logout       backchannel.Config
	account      selfservice.Config
	lifecycle    lifecycle.Config
	pinPeppers   []pin.Pepper
	pinVersion   int
	// eid and eidRedirect are set when the eID method is offered.
	eid         *eid.Config
	eidRedirect string
}

// parts derives the package configurations of o (defaults applied).
func (o Options) parts() (parts, error) {
	var p parts
	if err := keys.CheckMaster(o.MasterKey); err != nil {
		return p, err
	}
	p.authz = o.Authz
	p.authz.Issuer = o.Issuer
	// Every replica derives the same keys, so a DPoP nonce one issued is
	// accepted by all, and a member's pairwise sub is the same everywhere.
	p.authz.DPoPNonces.Key = keys.DeriveKey(o.MasterKey, purposeDPoPNonce)
	p.authz.PairwiseKey = keys.DeriveKey(o.MasterKey, purposePairwiseSub)
	p.keys = o.Keys.WithDefaults()
	// A retired key stays published until every token it signed has
	// expired, so that relying parties can still verify them: that is
	// the longest lifetime authz gives any client (a client's own
	// lifetimes may reach MaxTokenTTL), not the server's defaults. A
	// longer keep time configured is kept.
	p.keys.Policy.MaxTokenLifetime = max(p.keys.Policy.MaxTokenLifetime, authz.MaxTokenTTL)

	p.registration = o.Registration
	p.registration.Issuer = o.Issuer
	// The grace period after the end of an insurance bounds logins as it
	// bounds registrations: one rule, configured once.
	if p.authz.Membership == nil {
		p.authz.Membership = p.registration.Eligibility
	}
	p.outbox = outbox.Config{Dir: o.OutboxDir}

	wc, err := o.Devices.ForIssuer(o.Issuer)
	if err != nil {
		return p, err
	}
	p.webauthn = wc
	p.binding = o.Binding
	p.binding.IPKey = keys.DeriveKey(o.MasterKey, purposeAuditIP)
	// Accounts proven with the eID confirm their devices again with it,
	// where it is offered; elsewhere with the password.
	p.binding.ReconfirmEID = o.EID != nil
	p.login = o.Login
	p.login.IPKey = p.binding.IPKey
	p.sso = sso.Config{Policy: o.Session}
	p.logout = o.Logout
	p.logout.Issuer = o.Issuer
	p.account = selfservice.Config{
		Issuer: o.Issuer, AuthorizeEndpoint: o.Issuer + "/authorize", RedirectURI: o.Issuer + webui.AccountCallbackPath,
		Key: keys.DeriveKey(o.MasterKey, purposeAccountPage), IPKey: p.binding.IPKey,
		Vocabulary: p.authz.WithDefaults().Vocabulary,
	}
	p.lifecycle = o.Lifecycle
	p.lifecycle.IPKey = p.binding.IPKey
	p.pinPeppers, p.pinVersion = o.PINPeppers, o.PINPepperVersion
	if len(p.pinPeppers) == 0 {
		p.pinPeppers, p.pinVersion = []pin.Pepper{{Version: 1, Key: keys.DeriveKey(o.MasterKey, purposePINPepper)}}, 1
	}
	if o.EID != nil {
		if p.eidRedirect, err = o.EID.redirectURI(o.Issuer); err != nil {
			return p, err
		}
		b := o.EID.Broker
		p.eid = &b
		p.registration.AppReturnURIs = o.EID.AppReturnURIs
		p.registration.LoopbackReturn = o.EID.AppLoopback
	}
	return p, nil
}

// Validate checks o as New would build it, without opening anything:
// each package's configuration by its own Validate. Errors: the first
// package's fault.Invalid, whose Op names the field
// ("authz.Config.CodeTTL", "webauthn.Config.RPID").
func (o Options) Validate() error {
	o = o.withDefaults()
	p, err := o.parts()
	if err != nil {
		return err
	}
	if err := o.Storage.Validate(); err != nil {
		return err
	}
	if err := p.keys.Validate(); err != nil {
		return err
	}
	if err := p.authz.Validate(); err != nil {
		return err
	}
	if err := o.PasswordParams.Validate(); err != nil {
		return err
	}
	if err := o.Tracing.Validate(); err != nil {
		return err
	}
	if err := p.registration.Validate(); err != nil {
		return err
	}
	if err := p.outbox.Validate(); err != nil {
		return err
	}
	if err := p.webauthn.Validate(); err != nil {
		return err
	}
	if err := p.binding.Validate(); err != nil {
		return err
	}
	if err := p.login.Validate(); err != nil {
		return err
	}
	if err := p.sso.Validate(); err != nil {
		return err
	}
	if err := p.logout.Validate(); err != nil {
		return err
	}
	if o.LogoutInterval > 0 && (o.LogoutInterval < MinLogoutInterval || o.LogoutInterval > MaxLogoutInterval) {
		return fault.New(fault.Invalid, "server.Options.LogoutInterval",
			"must be between "+MinLogoutInterval.String()+" and "+MaxLogoutInterval.String())
	}
	if err := p.account.Validate(); err != nil {
		return err
	}
	if err := o.Housekeeping.Validate(); err != nil {
		return err
	}
	if err := p.lifecycle.Validate(); err != nil {
		return err
	}
	if _, err := pin.NewHasher(p.pinVersion, p.pinPeppers...); err != nil {
		return err
	}
	if p.eid != nil {
		return p.eid.Validate()
	}
	return nil
}

// New builds the server: starts tracing when o.Tracing enables it, opens
// and migrates the store, loads or creates the signing keys, applies
// clients and members, and assembles the HTTP handler. Close releases
// what New opened.
func New(ctx context.Context, o Options) (*Server, error) {
	o = o.withDefaults()
	tr, err := tracing.New(o.Tracing, tracing.Options{
		Exporter: o.TraceExporter, TrustedProxies: o.TrustedProxies, Log: o.Log, Version: o.Version,
	})
	if err != nil {
		return nil, err
	}
	if tr != nil {
		// Everything built from here on logs with the trace context of
		// the request it serves, and the store records its calls.
		o.Log = slog.New(tracing.LogHandler(o.Log.Handler()))
		o.Storage.Tracer = tr.TracerProvider()
	}
	s, p, err := open(ctx, o, false)
	if err != nil {
		_ = tr.Shutdown(ctx)
		return nil, err
	}
	s.tracing = tr
	if err := s.build(ctx, p); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// prepare is what every construction that derives package
// configurations starts with: defaults, validation, the parts.
func prepare(o Options) (Options, parts, error) {
	o = o.withDefaults()
	if err := o.Validate(); err != nil {
		return o, parts{}, err
	}
	p, err := o.parts()
	return o, p, err
}

// openStore opens the store of o (defaults applied) as every construction
// does: storage by o.Storage, migrated when o.AutoMigrate, else refused
// when its schema is not up to date.
func openStore(ctx context.Context, o Options) (*sqlstore.Store, error) {
	if err := o.Storage.Validate(); err != nil {
		return nil, err
	}
	st, err := sqlstore.Open(ctx, o.Storage)
	if err != nil {
		return nil, fmt.Errorf("open %s store: %w", o.Storage.Driver, err)
	}
	if err := migrate(ctx, st, o.AutoMigrate, o.Log); err != nil {
		_ = st.Close()
		return nil, err
	}
	return st, nil
}

// open is the start New and OpenBackend share: prepare, the store
// (openStore), and the registration and device binding use cases, which
// both serve. Close the store when a later step fails. quiet silences
// what device binding logs while it is built (see OpenBackend).
func open(ctx context.Context, o Options, quiet bool) (*Server, parts, error) {
	o, p, err := prepare(o)
	if err != nil {
		return nil, p, err
	}
	st, err := openStore(ctx, o)
	if err != nil {
		return nil, p, err
	}
	s := &Server{opts: o, store: st, log: o.Log, metrics: metrics.New()}
	err = func() error {
		if s.ender, err = sso.NewEnder(sso.Deps{Sessions: st, Audit: s.metrics.Audit(st), Now: o.Now, Logger: o.Log}); err != nil {
			return err
		}
		if s.hasher, err = password.NewHasher(o.PasswordParams, o.HashConcurrency, o.HashMaxWait); err != nil {
			return err
		}
		if s.reg, err = s.newRegistration(p); err != nil {
			return err
		}
		if s.login, err = login.New(p.login, login.Deps{
			Accounts: st, Members: st, Throttles: st, RateLimits: st, Audit: s.metrics.Audit(st), Passwords: s.hasher,
			Notifier: o.Notifier, Mail: mailText, Now: o.Now, Logger: o.Log,
		}); err != nil {
			return err
		}
		if !quiet {
			s.bind, err = s.newBinding(p)
			return err
		}
		// Device binding logs a warning about a development policy when
		// it is built: the server's to give; an operator command would
		// repeat it on every run. What it logs afterwards goes to o.Log.
		q := &quietStart{Handler: o.Log.Handler(), started: new(atomic.Bool)}
		s.opts.Log = slog.New(q)
		s.bind, err = s.newBinding(p)
		s.opts.Log = o.Log
		q.started.Store(true)
		return err
	}()
	if err != nil {
		_ = st.Close()
		return nil, p, err
	}
	return s, p, nil
}

// newRing loads the signing key ring of o from st, as every construction
// does: sealed under the master key, rotated by the policy of p.
func newRing(ctx context.Context, st *sqlstore.Store, o Options, p parts) (*keys.Ring, error) {
	ring, err := keys.New(ctx, st, o.MasterKey, p.keys, o.Now, o.Log)
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	return ring, nil
}

// build adds what only a serving instance has: the signing keys, the
// authorization server, the clients and members applied, and the HTTP
// handler.
func (s *Server) build(ctx context.Context, p parts) error {
	o := s.opts
	ring, err := newRing(ctx, s.store, o, p)
	if err != nil {
		return err
	}
	s.ring = ring
	secrets, err := SecretHasher(o.MasterKey)
	if err != nil {
		return err
	}
	s.authz, err = authz.New(p.authz, authz.Stores{
		Consents: s.store, Audit: s.store, Clients: s.store, Requests: s.store, Tokens: s.store, Accounts: s.store, Members: s.store,
		Replay: s.store, Proofs: s.store, Metrics: s.metrics,
	}, ring, keys.NewAssertionVerifier(keys.DefaultAssertionCacheSize), secrets, o.Now)
	if err != nil {
		return err
	}
	if err := s.applyClients(ctx); err != nil {
		return err
	}
	s.logout, err = backchannel.New(p.logout, backchannel.Deps{
		Jobs: s.store, Clients: s.store, Signer: ring,
		Deliverer: logouthttp.New(logouthttp.Config{Timeout: p.logout.Timeout}),
		Audit:     s.metrics.Audit(s.store), Subjects: s.authz, Metrics: s.metrics, Now: o.Now, Logger: o.Log,
	})
	if err != nil {
		return err
	}
	if err := s.applyAccountClient(ctx, p.account, secrets); err != nil {
		return err
	}
	if err := s.applyMembers(ctx); err != nil {
		return err
	}
	logins, err := applogin.New(s.authz, s.bind, applogin.Options{StepUpEID: p.eid != nil}, o.Log)
	if err != nil {
		return err
	}
	web, err := weblogin.New(weblogin.Config{IPKey: p.binding.IPKey, AppClientID: p.binding.AppClientID}, weblogin.Deps{
		Approvals: s.store, Bindings: s.store, Accounts: s.store, Clients: s.store, Members: s.store, Audit: s.metrics.Audit(s.store),
		Authz: s.authz, Devices: s.bind, Notifier: o.Notifier, Mail: mailText, Now: o.Now, Logger: o.Log,
	})
	if err != nil {
		return err
	}
	s.sso, err = sso.New(p.sso, sso.Deps{
		Sessions: s.store, Accounts: s.store, Audit: s.store, Authz: s.authz, BackChannel: s.logout, Now: o.Now, Logger: o.Log,
	})
	if err != nil {
		return err
	}
	if s.members, err = s.newLifecycle(p.lifecycle, s.sso); err != nil {
		return err
	}
	api := httpapi.New(httpapi.Config{TrustedProxies: o.TrustedProxies, EIDCallbackURL: p.eidRedirect}, s.reg, s.bind, logins, web, s.members, o.Log)
	provider, err := oidc.New(oidc.Config{LoginPath: webui.Path}, s.authz, ring, keys.NewDPoPVerifier(), o.Log)
	if err != nil {
		return err
	}
	secure := strings.HasPrefix(o.Issuer, "https://")
	s.hk, err = housekeeping.New(o.Housekeeping, housekeeping.Deps{
		Leases: s.store, Metrics: s.metrics, Replica: o.Replica, Now: o.Now, Logger: o.Log,
	}, append(o.Housekeeping.Tasks(housekeeping.Sources{
		Expired: s.store, Logouts: s.sso, Letters: s.store, Enrollments: s.store,
	}), housekeeping.Task{Name: "member-retention", Run: func(ctx context.Context, now time.Time) (int64, error) {
		// Members whose membership ended longer ago than members.retention.
		n, err := s.members.PurgeExpired(ctx, now)
		return int64(n), err
	}}))
	if err != nil {
		return err
	}
	account, err := selfservice.New(p.account, selfservice.Deps{
		Authz: s.authz, Tokens: ring, Sessions: s.sso, SessionStore: s.store, Devices: s.bind, Clients: s.store,
		Consents: s.store, Accounts: s.store, Members: s.store, Audit: s.metrics.Audit(s.store), Replay: s.store,
		Rules: s.reg, Passwords: s.hasher, Deleter: s.members, Notifier: o.Notifier, Mail: mailText, Now: o.Now, Logger: o.Log,
	})
	if err != nil {
		return err
	}
	ui, err := webui.New(webui.Config{
		Secure: secure, CSRFKey: keys.DeriveKey(o.MasterKey, purposeLoginCSRF), TrustedProxies: o.TrustedProxies,
		EIDStepUp: p.eid != nil,
	},
		s.authz, s.login, web, s.sso, provider.AuthorizeError, o.Log)
	if err != nil {
		return err
	}

	help, err := s.newSupport(s.sso, s.members, secrets)
	if err != nil {
		return err
	}
	admin := adminapi.New(adminapi.Config{}, s.authz, help, o.Log)

	mux := http.NewServeMux()
	mux.Handle("/", provider.Handler())
	mux.Handle(adminapi.Prefix, admin.Handler())
	mux.Handle(webui.Path, ui.Handler())
	mux.Handle(httpapi.Prefix, api.Handler())
	mux.Handle("GET "+webui.ActivatePath, ui.ActivateHandler())
	if p.eidRedirect != "" {
		// Validate made sure the path lies under /eid/, where nothing
		// else is served.
		u, err := url.Parse(p.eidRedirect)
		if err != nil {
			return err
		}
		mux.Handle("GET "+u.Path, ui.EIDCallbackHandler(s.reg))
	}
	mux.Handle("GET "+webui.ForgotPath, ui.ForgotHandler())
	mux.Handle(webui.ApprovalPath, ui.ApprovalHandler())
	mux.Handle("GET "+webui.ApprovalStatusPath, ui.StatusHandler())
	mux.Handle("GET "+webui.ApprovalScriptPath, ui.ScriptHandler())
	mux.Handle(webui.ConsentPath, ui.ConsentHandler())
	mux.Handle(webui.EndSessionPath, ui.EndSessionHandler())
	mux.Handle("GET "+webui.LoggedOutPath, ui.LoggedOutHandler())
	mux.Handle(webui.AccountPath, ui.AccountHandler(account))
	mux.Handle(webui.AccountCallbackPath, ui.AccountCallbackHandler(account))
	mux.Handle(webui.AccountPasswordPath, ui.AccountPasswordHandler(account))
	mux.Handle(webui.AccountDeletePath, ui.AccountDeleteHandler(account))
	mux.Handle("GET "+webui.AccountDeletedPath, ui.AccountDeletedHandler())
	mux.HandleFunc("GET /healthz", ops.Health)
	mux.HandleFunc("GET /readyz", ops.Ready(s.Ready))
	s.handler = recoverPanics(o.Log, logRequests(o.Log, mux))
	s.handler = countRequests(s.metrics, s.handler)
	s.handler = s.Instrument(s.handler)
	s.watch()
	if secure {
		s.handler = strictTransport(s.handler)
	}
	return nil
}

// newRegistration builds the registration: the letter proofing method
// (and the eID method when configured), the PDF renderer, the outbox and
// the strength estimator.
func (s *Server) newRegistration(p parts) (*registration.Service, error) {
	o := s.opts
	rc := p.registration
	if rc.Letter == (letter.Policy{}) {
		rc.Letter = letter.DefaultPolicy
	}
	lh, err := letter.NewHasher(keys.DeriveKey(o.MasterKey, purposeLetterSecrets))
	if err != nil {
		return nil, err
	}
	method, err := letterproof.New(letterproof.Deps{
		Letters: s.store, Members: s.store, RateLimits: s.store, Hasher: lh, Policy: rc.Letter, Issuer: o.Issuer,
		Audit: s.metrics.Audit(s.store), Now: o.Now, Logger: o.Log,
	})
	if err != nil {
		return nil, err
	}
	renderer, err := letterpdf.New()
	if err != nil {
		return nil, err
	}
	box, err := outbox.New(p.outbox)
	if err != nil {
		return nil, fmt.Errorf("letter outbox: %w", err)
	}
	est, err := strength.New(strength.Config{})
	if err != nil {
		return nil, err
	}
	methods := []proofing.Method{method}
	if p.eid != nil {
		m, err := eid.New(*p.eid, eid.Options{Now: o.Now})
		if err != nil {
			return nil, err
		}
		methods = append(methods, m)
	}
	return registration.New(rc, registration.Deps{
		Members: s.store, Registrations: s.store, Letters: s.store, Enrollments: s.store, Proofings: s.store,
		Accounts: s.store, Devices: lateDevices{s}, RateLimits: s.store, Renderer: renderer, Outbox: box, Methods: methods, LetterHasher: lh,
		Passwords: s.hasher, Estimator: est, Metrics: s.metrics, Notifier: o.Notifier, Mail: letterMailText,
		Audit: s.metrics.Audit(s.store), Now: o.Now, Logger: o.Log,
	})
}

// lateSessions ends a binding's browser sessions with the server's SSO
// service, which is built after the binding service (it needs the
// authorization server).
type lateSessions struct{ s *Server }

func (l lateSessions) EndOfBinding(ctx context.Context, bindingID string) (int, error) {
	if l.s.sso == nil {
		// An operator command (OpenBackend) has no SSO service: it ends
		// the sessions and leaves their logouts to the servers' Sweep.
		return l.s.ender.EndOfBinding(ctx, bindingID)
	}
	return l.s.sso.EndOfBinding(ctx, bindingID)
}

func (l lateSessions) EndAll(ctx context.Context, accountID string, reason session.EndReason) (int, error) {
	if l.s.sso == nil {
		return 0, nil
	}
	return l.s.sso.EndAll(ctx, accountID, reason)
}

// lateDevices confirms a binding again after an eID step-up with the
// server's device binding, which is built after the registration.
type lateDevices struct{ s *Server }

func (l lateDevices) ReconfirmWithEID(ctx context.Context, bindingID, accountID, ip string) (device.Binding, error) {
	if l.s.bind == nil {
		return device.Binding{}, fault.New(fault.Unavailable, "server.lateDevices", "device binding is not built")
	}
	return l.s.bind.ReconfirmWithEID(ctx, bindingID, accountID, ip)
}

// newBinding builds device binding: the WebAuthn ceremonies for the
// issuer's host and the apps' origins, the PIN hasher and the policies.
func (s *Server) newBinding(p parts) (*binding.Service, error) {
	o := s.opts
	ceremony, err := webauthn.New(p.webauthn, o.Now)
	if err != nil {
		return nil, fmt.Errorf("device binding: %w", err)
	}
	pins, err := pin.NewHasher(p.pinVersion, p.pinPeppers...)
	if err != nil {
		return nil, err
	}
	s.pins = pins
	return binding.New(p.binding, binding.Deps{
		Enrollments: s.store, Devices: s.store, Families: s.store, Sessions: lateSessions{s}, Challenges: s.store, Audit: s.metrics.Audit(s.store), Completion: s.store,
		Accounts: s.store, Members: s.store, Transfers: s.store, RateLimits: s.store, Ceremony: ceremony,
		Notifier: o.Notifier, Mail: mailText, PINs: pins, Passwords: s.login, Rules: s.reg, Hasher: s.hasher,
		Proofs: s.reg, Now: o.Now, Logger: o.Log,
	})
}

// newLifecycle builds the member lifecycle (core/lifecycle) of cfg with
// sessions ending through sessions: the SSO service when serving, the
// Ender in an operator command (the servers' sweep tells the relying
// parties). The audit log's pseudonyms of member numbers are the letter
// entries' (letter.Hasher under the letter key).
func (s *Server) newLifecycle(cfg lifecycle.Config, sessions lifecycle.Sessions) (*lifecycle.Service, error) {
	pseudonyms, err := letter.NewHasher(keys.DeriveKey(s.opts.MasterKey, purposeLetterSecrets))
	if err != nil {
		return nil, err
	}
	return lifecycle.New(cfg, lifecycle.Deps{
		Store: s.store, Sessions: sessions, Pseudonyms: pseudonyms, Notifier: s.opts.Notifier, Mail: mailText,
		Now: s.opts.Now, Logger: s.opts.Log,
	})
}

// Binding is the device binding use case (operator commands and tests).
func (s *Server) Binding() *binding.Service { return s.bind }

// migrate applies the pending migrations of st when auto, else refuses a
// schema that is not up to date.
func migrate(ctx context.Context, store *sqlstore.Store, auto bool, log *slog.Logger) error {
	if auto {
		applied, err := store.Migrate(ctx)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if len(applied) > 0 {
			log.Info("database migrated", "applied", applied)
		}
		return nil
	}
	st, err := store.MigrationStatus(ctx)
	if err != nil {
		return fmt.Errorf("migration status: %w", err)
	}
	if !st.UpToDate() {
		return fmt.Errorf("the database schema is at version %d, this Pforte needs %d: run `pforte migrate up` first (auto-migration is off)", st.Current, st.Latest)
	}
	return nil
}

func (s *Server) applyClients(ctx context.Context) error {
	for _, c := range s.opts.Clients {
		if err := c.Validate(); err != nil {
			return err
		}
		if c.ID == selfservice.DefaultClientID {
			return fmt.Errorf("client %s: the id is the built-in account page's", c.ID)
		}
		if err := s.store.PutClient(ctx, c); err != nil {
			return fmt.Errorf("apply client %s: %w", c.ID, err)
		}
	}
	return nil
}

// applyAccountClient registers the account page's built-in client
// (core/selfservice) as it is built, on every start. Its secret is derived
// from the master key, so every replica registers the same; nobody uses
// it, since the page redeems its codes in process.
func (s *Server) applyAccountClient(ctx context.Context, cfg selfservice.Config, secrets client.SecretHasher) error {
	secret := base64.RawURLEncoding.EncodeToString(keys.DeriveKey(s.opts.MasterKey, purposeAccountSecret))
	c := cfg.Client(secrets.Hash(secret), s.opts.Now().UTC())
	if err := c.Validate(); err != nil {
		return err
	}
	if err := s.store.PutClient(ctx, c); err != nil {
		return fmt.Errorf("apply the account page's client: %w", err)
	}
	return nil
}

func (s *Server) applyMembers(ctx context.Context) error {
	for _, m := range s.opts.Members {
		if err := s.store.UpsertMember(ctx, m.Member); err != nil {
			return fmt.Errorf("apply member %s: %w", m.Member.KVNR, err)
		}
		if _, err := s.store.AccountByKVNR(ctx, m.Account.KVNR); err == nil {
			continue // keep the member's own password
		} else if !errors.Is(err, fault.NotFound) {
			return err
		}
		if err := s.store.CreateAccount(ctx, m.Account); err != nil && !errors.Is(err, fault.Conflict) {
			return fmt.Errorf("apply account %s: %w", m.Account.KVNR, err)
		}
	}
	for _, m := range s.opts.Members {
		if m.Device == nil {
			continue
		}
		if err := s.applyDevice(ctx, m); err != nil {
			return fmt.Errorf("apply device %s of %s: %w", m.Device.ID, m.Account.KVNR, err)
		}
	}
	return nil
}

// applyDevice binds m.Device to m's account unless a binding with its id
// exists: through an enrollment session of the account's own proofing
// level (the store binds keys only in one), with the PIN hashed under the
// server's pepper. The PIN must pass the PIN rules like any other.
func (s *Server) applyDevice(ctx context.Context, m Member) error {
	d := m.Device
	if _, err := s.store.BindingByID(ctx, d.ID); err == nil {
		return nil
	} else if !errors.Is(err, fault.NotFound) {
		return err
	}
	if err := pin.Check(d.PIN, m.Member.BirthDate); err != nil {
		return err
	}
	acct, err := s.store.AccountByKVNR(ctx, m.Account.KVNR)
	if err != nil {
		return err
	}
	now := s.opts.Now().UTC()
	sess := enrollment.Session{
		ID: grant.NewID(), TokenHash: grant.Hash(grant.NewSecret()), KVNR: acct.KVNR, Method: proof.Letter,
		CreatedAt: now, ExpiresAt: now.Add(enrollment.TTL),
	}
	if _, err := s.store.StartEnrollment(ctx, sess, acct, proof.Proof{
		Method: proof.Letter, Level: acct.Proofing, KVNR: acct.KVNR, Time: now,
		Evidence: proof.Evidence{Type: "configured_device", Issuer: s.opts.Issuer},
	}); err != nil {
		return err
	}
	b := device.Binding{
		ID: d.ID, AccountID: acct.ID, EnrollmentID: sess.ID, Name: d.Name, Platform: device.Software,
		CredentialID: d.CredentialID, PublicKey: d.PublicKey, AttestationFormat: "none", Status: device.Active,
		CreatedAt: now,
	}
	if err := s.store.BindDevice(ctx, b, now); err != nil {
		return err
	}
	_, err = s.store.UpdateBinding(ctx, d.ID, func(b *device.Binding) error {
		b.PINHash, b.PINSetAt = s.pins.Hash(d.ID, d.PIN), now
		return nil
	})
	return err
}

// Handler is the whole HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Keys is the signing key ring (operator commands and tests rotate it).
func (s *Server) Keys() *keys.Ring { return s.ring }

// Store is the storage adapter.
func (s *Server) Store() *sqlstore.Store { return s.store }

// Issuer is the issuer URL.
func (s *Server) Issuer() string { return s.opts.Issuer }

// Ready reports whether the server can answer: the database answers and
// signing keys are loaded.
func (s *Server) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		return err
	}
	if body, _ := s.ring.JWKS(); len(body) == 0 {
		return fault.New(fault.Unavailable, "server.Ready", "no signing keys")
	}
	return nil
}

// Serve serves on ln until ctx ends, then shuts down gracefully within
// shutdownTimeout: the listener closes, requests in flight finish. It also
// runs the key rotation loop and the housekeeping.
func (s *Server) Serve(ctx context.Context, ln net.Listener, shutdownTimeout time.Duration) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	go func() { _ = s.ring.Run(bg) }()
	// Every replica reloads the signing keys (each holds them in memory);
	// a rotation that two apply at once is safe already (see
	// core/housekeeping). Housekeeping runs on one replica at a time.
	go s.hk.Run(bg)
	if s.opts.WorkerInterval > 0 {
		go s.letterWorker(bg)
	}
	if s.opts.LogoutInterval > 0 {
		go s.logout.Run(bg, s.opts.LogoutInterval)
	}

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "timeout", shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Housekeeping is the periodic clean-up (operator commands and tests run
// it now: RunNow).
func (s *Server) Housekeeping() *housekeeping.Runner { return s.hk }

// letterWorker decides queued letter requests and renders letters into
// the outbox. Several replicas may run it: requests and letters are leased.
func (s *Server) letterWorker(ctx context.Context) {
	t := time.NewTicker(s.opts.WorkerInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for {
			n1, err1 := s.reg.ProcessRegistrations(ctx, 50)
			n2, err2 := s.reg.ProcessLetters(ctx, 20)
			if err := errors.Join(err1, err2); err != nil {
				if ctx.Err() == nil {
					s.log.Warn("letter worker failed", "err", err)
				}
				break
			}
			if n1 == 0 && n2 == 0 {
				break
			}
		}
	}
}

// Logout is the back-channel logout delivery: the end of a session
// queues logout tokens with it (Enqueue, EnqueueSession), and tests drive
// its worker (DeliverDue).
func (s *Server) Logout() *backchannel.Service { return s.logout }

// Members is the member lifecycle use case: account deletion (the admin
// API, tests), the full member sync and the purge after the retention
// period.
func (s *Server) Members() *lifecycle.Service { return s.members }

// Registration is the registration use case (operator commands and tests
// drive its workers).
func (s *Server) Registration() *registration.Service { return s.reg }

// traceFlushTimeout bounds how long Close waits for the collector to take
// the spans still waiting.
const traceFlushTimeout = 5 * time.Second

// Close releases the store and, when tracing is on, sends the spans still
// waiting to the collector (within traceFlushTimeout) and stops tracing.
// Calling it again does nothing more.
func (s *Server) Close() error {
	err := s.store.Close()
	if s.tracing != nil {
		ctx, cancel := context.WithTimeout(context.Background(), traceFlushTimeout)
		defer cancel()
		if terr := s.tracing.Shutdown(ctx); terr != nil {
			s.log.Warn("spans could not be sent at shutdown", "err", terr)
		}
	}
	return err
}

// DiscoveryURL is the OpenID Connect discovery document's URL.
func (s *Server) DiscoveryURL() string {
	return s.opts.Issuer + "/.well-known/openid-configuration"
}

// Vocabulary is the acr vocabulary in use.
func (s *Server) Vocabulary() loa.Vocabulary { return s.authz.Config().Vocabulary }

// redactURL drops the query and fragment of a URL for logs: queries carry
// codes, states and tokens, and the admin API's searches names and dates
// of birth. The admin API's paths name members by their KVNR, which no
// log holds in clear: such a segment is logged as {kvnr}.
func redactURL(u *url.URL) string {
	if !strings.HasPrefix(u.Path, adminapi.Prefix) {
		return u.Path
	}
	parts := strings.Split(u.Path, "/")
	for i, p := range parts {
		// A malformed number after members/ is masked all the same.
		if _, err := kvnr.Parse(p); err == nil || (i > 0 && parts[i-1] == "members") {
			parts[i] = "{kvnr}"
		}
	}
	return strings.Join(parts, "/")
}

// mailText words a notification with the message catalog, in the language
// of the request ctx belongs to (German for the operator CLI).
func mailText(ctx context.Context, code fault.Code, params ...any) (subject, body string) {
	return catalog.From(ctx).Mail(code, params...)
}

// letterMailText words a notification about password letters, with the
// footer of letter mails, in German and English: a worker sends it, with
// no request whose language it could use.
func letterMailText(_ context.Context, code fault.Code, params ...any) (subject, body string) {
	return catalog.BilingualLetterMail(code, params...)
}
