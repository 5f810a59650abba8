package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pforte-id/pforte/adapters/keys"
	"github.com/pforte-id/pforte/adapters/notify/mail"
	"github.com/pforte-id/pforte/adapters/proofing/eid"
	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/adapters/tracing"
	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/backchannel"
	"github.com/pforte-id/pforte/core/binding"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/housekeeping"
	"github.com/pforte-id/pforte/core/issuer"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/lifecycle"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/password"
	"github.com/pforte-id/pforte/core/pin"
	"github.com/pforte-id/pforte/core/registration"
	"github.com/pforte-id/pforte/core/secret"
	"github.com/pforte-id/pforte/core/session"
	"github.com/pforte-id/pforte/core/signkey"
	"github.com/pforte-id/pforte/core/throttle"
)

// Environment says whether Pforte runs for development or production.
// Only development generates a master key on its own and loads demo members:
// a production instance that forgot its key must not start with a new one.
type Environment string

const (
	Development Environment = "development"
	Production  Environment = "production"
)

// Config is the whole server configuration. It is built by loadConfig from
// defaults, a strict YAML file, PFORTE_* environment variables and flags,
// in that order, and is valid when loadConfig returns it.
type Config struct {
	Server  ServerConfig  `yaml:"server"`
	Storage StorageConfig `yaml:"storage"`
	Keys    KeysConfig    `yaml:"keys"`
	Tokens  TokensConfig  `yaml:"tokens"`
	Login   LoginConfig   `yaml:"login"`
	// ClientsFile is a clients YAML (see clientsfile.go) applied at start.
	// Empty in development: the embedded configs/dev/clients.yaml.
	ClientsFile string `yaml:"clients_file"`
	// MembersFile is a demo members YAML, development only. Empty in
	// development: the embedded configs/dev/members.yaml.
	MembersFile  string             `yaml:"members_file"`
	Letters      LettersConfig      `yaml:"letters"`
	Registration RegistrationConfig `yaml:"registration"`
	Devices      DevicesConfig      `yaml:"devices"`
	PIN          PINConfig          `yaml:"pin"`
	Notify       NotifyConfig       `yaml:"notify"`
	EID          EIDConfig          `yaml:"eid"`
	Logout       LogoutConfig       `yaml:"logout"`
	Housekeeping HousekeepingConfig `yaml:"housekeeping"`
	Members      MembersConfig      `yaml:"members"`
	Tracing      TracingConfig      `yaml:"tracing"`
	Log          LogConfig          `yaml:"log"`
}

// ServerConfig is where and as whom Pforte serves.
type ServerConfig struct {
	// Addr is the listen address, host:port.
	Addr string `yaml:"addr"`
	// Issuer is the OpenID Connect issuer: the exact string relying parties
	// compare, so it is refused (not rewritten) when it ends in a slash.
	// Empty: http://localhost:<port of Addr> in development; required in
	// production.
	Issuer string `yaml:"issuer"`
	// DataDir holds the SQLite database and the development master key.
	DataDir     string      `yaml:"data_dir"`
	Environment Environment `yaml:"environment"`
	// ShutdownTimeout bounds the graceful shutdown on SIGTERM.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// AdminAddr is a second listener for operations endpoints (pprof,
	// health); empty: none. Profiles reveal memory contents: loopback or
	// a private network only.
	AdminAddr string `yaml:"admin_addr"`
}

// StorageConfig selects and opens the database.
type StorageConfig struct {
	// Type is sqlite or postgres.
	Type string `yaml:"type"`
	// DSN is the PostgreSQL connection string, or the SQLite file path
	// (default <data_dir>/pforte.db). It may contain a password.
	DSN Secret `yaml:"dsn"`
	// DSNFile is a file whose content is the DSN; read at load time.
	DSNFile string `yaml:"dsn_file"`
	// AutoMigrate runs pending migrations at serve. Production sets it false
	// and runs `pforte migrate up` as a deliberate step.
	AutoMigrate bool `yaml:"auto_migrate"`
	// MaxOpenConns caps the connection pool; 0: the adapter's default.
	MaxOpenConns int `yaml:"max_open_conns"`
}

// KeysConfig is the master key and the signing key rotation.
type KeysConfig struct {
	// MasterKey is 32 bytes, base64, that encrypt the signing keys at rest.
	MasterKey Secret `yaml:"master_key"`
	// MasterKeyFile is a file holding MasterKey; read at load time.
	MasterKeyFile string `yaml:"master_key_file"`
	// RotationDays is how long a key signs before it is rotated
	// automatically; 0: only by `pforte keys rotate`.
	RotationDays int `yaml:"rotation_days"`
	// PublishHours is how long a next key is in the JWKS before it signs.
	PublishHours int `yaml:"publish_hours"`
}

// TokensConfig holds the lifetimes of what Pforte issues.
type TokensConfig struct {
	AccessTokenTTL     time.Duration `yaml:"access_token_ttl"`
	IDTokenTTL         time.Duration `yaml:"id_token_ttl"`
	RefreshIdleTTL     time.Duration `yaml:"refresh_idle_ttl"`
	RefreshAbsoluteTTL time.Duration `yaml:"refresh_absolute_ttl"`
	CodeTTL            time.Duration `yaml:"code_ttl"`
	AuthRequestTTL     time.Duration `yaml:"auth_request_ttl"`
	// KVNRClaims are the claims the kvnr scope releases the member number
	// in: the plain kvnr claim and the gematik claim by default.
	KVNRClaims []string `yaml:"kvnr_claims"`
	// TrustFramework is the trust framework verified_claims name.
	TrustFramework string `yaml:"trust_framework"`
}

// LoginConfig is the password hashing cost and the acr vocabulary.
type LoginConfig struct {
	Argon2MemoryKiB   int `yaml:"argon2_memory_kib"`
	Argon2Iterations  int `yaml:"argon2_iterations"`
	Argon2Parallelism int `yaml:"argon2_parallelism"`
	// HashConcurrency bounds parallel Argon2id computations; 0: GOMAXPROCS.
	HashConcurrency int `yaml:"hash_concurrency"`
	// HashMaxWait bounds how long a password check waits for a free
	// hashing slot; longer, and the member is asked to try again (503).
	HashMaxWait time.Duration `yaml:"hash_max_wait"`
	// ACRVocabulary is eidas or gematik.
	ACRVocabulary string `yaml:"acr_vocabulary"`
	// The throttling rule of every password check (core/throttle): per
	// member number, ThrottleFree failures cost nothing, then the wait
	// starts at ThrottleFirstDelay and doubles up to ThrottleMaxDelay;
	// the count is forgotten ThrottleForget after the last failure; the
	// member is told at the ThrottleNotifyAt-th failure (0: never). Per
	// client network, ThrottleNetworkBudget failures per
	// ThrottleNetworkWindow.
	ThrottleFree          int           `yaml:"throttle_free"`
	ThrottleFirstDelay    time.Duration `yaml:"throttle_first_delay"`
	ThrottleMaxDelay      time.Duration `yaml:"throttle_max_delay"`
	ThrottleForget        time.Duration `yaml:"throttle_forget"`
	ThrottleNotifyAt      int           `yaml:"throttle_notify_at"`
	ThrottleNetworkBudget int           `yaml:"throttle_network_budget"`
	ThrottleNetworkWindow time.Duration `yaml:"throttle_network_window"`
	// SessionIdle and SessionAbsolute are the single sign-on session's
	// lifetimes (core/session): it ends after SessionIdle without use and
	// SessionAbsolute after its login.
	SessionIdle     time.Duration `yaml:"session_idle"`
	SessionAbsolute time.Duration `yaml:"session_absolute"`
}

// ThrottlePolicy is the throttling rule the login keys describe.
func (c *Config) ThrottlePolicy() throttle.Policy {
	l := c.Login
	return throttle.Policy{
		Free: l.ThrottleFree, First: l.ThrottleFirstDelay, Max: l.ThrottleMaxDelay, Forget: l.ThrottleForget,
		NotifyAt: l.ThrottleNotifyAt, NetworkBudget: l.ThrottleNetworkBudget, NetworkWindow: l.ThrottleNetworkWindow,
	}
}

// LettersConfig is the password letter: where letters go and their rules.
type LettersConfig struct {
	// OutboxDir is the folder the print service collects letters from.
	// Empty: <data_dir>/outbox.
	OutboxDir string `yaml:"outbox_dir"`
	// Sender is the return address line printed above the recipient, e.g.
	// "Beispiel-BKK · Postfach 10 20 30 · 20001 Hamburg". Required in
	// production.
	Sender string `yaml:"sender"`
	// ContactPhone and ContactAddress are printed on letters: where the
	// member reaches the insurer with questions. Optional.
	ContactPhone   string `yaml:"contact_phone"`
	ContactAddress string `yaml:"contact_address"`
	// AppStoreURL is printed on letters as a link and a QR code that lead
	// to the Service-App in the member's store. Optional: empty prints
	// neither.
	AppStoreURL string `yaml:"app_store_url"`
	// Validity is how long a letter can be activated.
	Validity time.Duration `yaml:"validity"`
	// MinInterval is the least time between two letters for one member.
	MinInterval time.Duration `yaml:"min_interval"`
	// MaxAttempts wrong activations void a letter.
	MaxAttempts int `yaml:"max_attempts"`
	// AttemptsPerKVNR wrong activations per member number, across its
	// letters, are answered per AttemptWindow; further ones are throttled.
	AttemptsPerKVNR int           `yaml:"attempts_per_kvnr"`
	AttemptWindow   time.Duration `yaml:"attempt_window"`
	// GuardWindow: after a letter was voided by wrong attempts, wrong
	// attempts for that member number void no letter for this long.
	GuardWindow time.Duration `yaml:"guard_window"`
}

// RegistrationConfig is who may register and how often.
type RegistrationConfig struct {
	// EligibleAhead: members whose insurance starts at most this far ahead
	// may register.
	EligibleAhead time.Duration `yaml:"eligible_ahead"`
	// EligibleGrace: members whose insurance ended at most this long ago
	// may register. 0 means 0 for either: both 0 admit only members
	// insured today.
	EligibleGrace time.Duration `yaml:"eligible_grace"`
	// RequestsPerIPPerHour and RequestsPerKVNRPerDay limit letter requests;
	// ActivationsPerIPPerHour limits activation attempts. They hold across
	// replicas (counted in the database).
	RequestsPerIPPerHour    int `yaml:"requests_per_ip_per_hour"`
	RequestsPerKVNRPerDay   int `yaml:"requests_per_kvnr_per_day"`
	ActivationsPerIPPerHour int `yaml:"activations_per_ip_per_hour"`
	// WorkerInterval is how often queued requests and letters are processed.
	WorkerInterval time.Duration `yaml:"worker_interval"`
	// RequestLease and LetterLease are how long a worker holds a claimed
	// request or letter; after a crash, another worker (or the restarted
	// one) takes it over when the lease ends.
	RequestLease time.Duration `yaml:"request_lease"`
	LetterLease  time.Duration `yaml:"letter_lease"`
	// TrustedProxies are CIDRs of reverse proxies whose X-Forwarded-For
	// names the client address for rate limits.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// DevicesConfig is device binding: the WebAuthn relying party and which
// attestations are accepted.
type DevicesConfig struct {
	// RPID is the WebAuthn relying party id; empty: the issuer's host.
	RPID string `yaml:"rp_id"`
	// AppOrigins are the origins the apps' client data carry
	// ("android:apk-key-hash:…" for Android, the issuer origin for iOS);
	// empty: the issuer origin.
	AppOrigins []string `yaml:"app_origins"`
	// AndroidPackage and AndroidCertDigests (hex SHA-256 of the signing
	// certificate) name the insurer's Android app for android-key.
	AndroidPackage     string   `yaml:"android_package"`
	AndroidCertDigests []string `yaml:"android_cert_digests"`
	// AndroidRevocationFile is Google's attestation status list
	// (https://android.googleapis.com/attestation/status), refreshed by
	// the operator; empty: android-key chains are not checked against it.
	AndroidRevocationFile string `yaml:"android_revocation_file"`
	// AppleAppID is the iOS app's App ID (team id "." bundle id) for Apple
	// App Attest; empty: App Attest keys are refused.
	AppleAppID string `yaml:"apple_app_id"`
	// AppleEnvironment is the App Attest environment accepted: production
	// (empty) or development (also keys of development builds; refused in
	// production).
	AppleEnvironment string `yaml:"apple_environment"`
	// PackedRootsFile is a PEM file of trust anchors for packed attestation.
	PackedRootsFile string `yaml:"packed_roots_file"`
	// Attestation is production (android-key and trusted packed only) or
	// development (also none and self attestation); empty: the environment.
	Attestation string `yaml:"attestation"`
	// ReconfirmPeriod is how long a confirmation of a device binding
	// lasts: after it, the app must confirm the device again (password,
	// or the eID for an account proven with it) before it logs in or
	// approves.
	ReconfirmPeriod time.Duration `yaml:"reconfirm_period"`
	// TransferTTL is how long a device transfer's code and secret are good
	// (binding.Config.TransferTTL).
	TransferTTL time.Duration `yaml:"transfer_ttl"`
	// TransfersPerIP transfers may begin from one client address per
	// TransferWindow.
	TransfersPerIP int           `yaml:"transfers_per_ip"`
	TransferWindow time.Duration `yaml:"transfer_window"`
}

// PINConfig is the release PIN's pepper and attempt rule.
type PINConfig struct {
	// Peppers are the versioned keys PINs are hashed under, kept outside
	// the database: "1:<base64>,2:<base64>". Empty: version 1 derived from
	// the master key.
	Peppers Secret `yaml:"peppers"`
	// PeppersFile holds Peppers; read at load time.
	PeppersFile string `yaml:"peppers_file"`
	// PepperVersion is the version new PINs use; 0: the highest.
	PepperVersion int `yaml:"pepper_version"`
	// MaxFailures consecutive wrong PINs block the device.
	MaxFailures int `yaml:"max_failures"`
	// Delays are the waits after the 3rd, 4th, … wrong PIN.
	Delays []time.Duration `yaml:"delays"`
}

// NotifyConfig is how members are told about changes to their devices.
type NotifyConfig struct {
	// Type is log (development: messages go to the log) or smtp.
	Type         string `yaml:"type"`
	SMTPHost     string `yaml:"smtp_host"`
	SMTPPort     int    `yaml:"smtp_port"`
	SMTPUsername string `yaml:"smtp_username"`
	SMTPPassword Secret `yaml:"smtp_password"`
	// SMTPPasswordFile holds SMTPPassword; read at load time.
	SMTPPasswordFile string `yaml:"smtp_password_file"`
	// From is the sender address.
	From string `yaml:"from"`
	// StartTLS is required, opportunistic or none (none: loopback only).
	StartTLS string `yaml:"starttls"`
}

// EIDConfig is registration with the electronic ID card through an eID
// service that speaks OpenID Connect (adapters/proofing/eid). Every key
// but enabled maps onto eid.Config, whose defaults and bounds apply.
type EIDConfig struct {
	// Enabled offers the eID method to the app.
	Enabled bool `yaml:"enabled"`
	// Issuer is the eID service's issuer identifier.
	Issuer       string `yaml:"issuer"`
	ClientID     string `yaml:"client_id"`
	ClientSecret Secret `yaml:"client_secret"`
	// ClientSecretFile holds ClientSecret; read at load time.
	ClientSecretFile string `yaml:"client_secret_file"`
	// RedirectURI is Pforte's callback as registered at the eID service;
	// empty: <issuer>/eid/callback. It must lie under <issuer>/eid/.
	RedirectURI string        `yaml:"redirect_uri"`
	Scopes      []string      `yaml:"scopes"`
	ACRValues   []string      `yaml:"acr_values"`
	Timeout     time.Duration `yaml:"timeout"`
	// The broker profile: the acr values that mean level high, how the
	// card's pseudonym is encoded, and the claims each attribute is in.
	HighACR           []string `yaml:"high_acr"`
	Pseudonym         string   `yaml:"pseudonym"`
	ClaimGivenName    string   `yaml:"claim_given_name"`
	ClaimFamilyName   string   `yaml:"claim_family_name"`
	ClaimBirthName    string   `yaml:"claim_birth_name"`
	ClaimBirthDate    string   `yaml:"claim_birthdate"`
	ClaimPlaceOfBirth string   `yaml:"claim_place_of_birth"`
	ClaimAddress      string   `yaml:"claim_address"`
	ClaimRestrictedID string   `yaml:"claim_restricted_id"`
	// AppReturnURIs are the Service-App's return addresses (verified app
	// links or its private-use scheme) that the browser is sent to after
	// the eID service, with a one-time code only the app that began can
	// redeem. AppLoopback also admits loopback addresses (RFC 8252 §7.3:
	// the reference client). One of the two is needed.
	AppReturnURIs []string `yaml:"app_return_uris"`
	AppLoopback   bool     `yaml:"app_loopback"`
}

// eidOptions is eid.* as the server's eID options; nil when the method is
// not enabled.
func (c *Config) eidOptions() *server.EIDOptions {
	e := c.EID
	if !e.Enabled {
		return nil
	}
	return &server.EIDOptions{
		Broker: eid.Config{
			Issuer: e.Issuer, ClientID: e.ClientID, ClientSecret: e.ClientSecret,
			Scopes: slices.Clone(e.Scopes), ACRValues: slices.Clone(e.ACRValues), Timeout: e.Timeout,
			Profile: eid.Profile{
				HighACR: slices.Clone(e.HighACR), Pseudonym: eid.Encoding(e.Pseudonym),
				Claims: eid.Claims{
					GivenName: e.ClaimGivenName, FamilyName: e.ClaimFamilyName, BirthName: e.ClaimBirthName,
					BirthDate: e.ClaimBirthDate, PlaceOfBirth: e.ClaimPlaceOfBirth, Address: e.ClaimAddress,
					RestrictedID: e.ClaimRestrictedID,
				},
			},
		},
		RedirectURI:   e.RedirectURI,
		AppReturnURIs: slices.Clone(e.AppReturnURIs),
		AppLoopback:   e.AppLoopback,
	}
}

// LogoutConfig is how relying parties are told that a session ended:
// the delivery of back-channel logout tokens (core/backchannel).
type LogoutConfig struct {
	// BackchannelTimeout bounds one delivery to a relying party.
	BackchannelTimeout time.Duration `yaml:"backchannel_timeout"`
	// BackchannelGiveUpAfter is how long after the session ended a
	// delivery is tried before it is given up (and audited).
	BackchannelGiveUpAfter time.Duration `yaml:"backchannel_give_up_after"`
	// BackchannelRetryFirst is the wait after the first failed attempt;
	// it doubles up to BackchannelRetryMax.
	BackchannelRetryFirst time.Duration `yaml:"backchannel_retry_first"`
	BackchannelRetryMax   time.Duration `yaml:"backchannel_retry_max"`
	// BackchannelInterval is how often each replica looks for due
	// deliveries.
	BackchannelInterval time.Duration `yaml:"backchannel_interval"`
}

// HousekeepingConfig is the periodic clean-up (core/housekeeping): one
// replica at a time runs it, under a lease in the database.
type HousekeepingConfig struct {
	// Interval is how often a run is due.
	Interval time.Duration `yaml:"interval"`
	// Lease is how long a run holds the lock without renewing it (before
	// each task): how long a replica that died during a run keeps the
	// others waiting.
	Lease time.Duration `yaml:"lease"`
	// LetterSecretsKept is how long after a letter's validity ended its
	// secret hashes are kept.
	LetterSecretsKept time.Duration `yaml:"letter_secrets_kept"`
	// EnrollmentsKept is how long after its end an enrollment session
	// that bound no device is kept.
	EnrollmentsKept time.Duration `yaml:"enrollments_kept"`
}

// MembersConfig is the end of memberships (core/lifecycle): how much a
// full sync of the insurer's file may remove, and how long the data of a
// member whose membership ended is kept.
type MembersConfig struct {
	// SyncMaxDrop is the largest share of present members one `pforte
	// members sync` may mark removed (0.05 is 5 %); more is refused
	// unless forced with a reason.
	SyncMaxDrop float64 `yaml:"sync_max_drop"`
	// Retention is how long after the end of a membership the member's
	// account and master data are kept before housekeeping deletes them.
	Retention time.Duration `yaml:"retention"`
}

// TracingConfig is OpenTelemetry tracing (adapters/tracing), off by
// default; its defaults and bounds are tracing.Config's.
type TracingConfig struct {
	// Enabled records spans and sends them to Endpoint.
	Enabled bool `yaml:"enabled"`
	// Endpoint is the collector's OTLP/HTTP URL.
	Endpoint string `yaml:"endpoint"`
	// SampleRatio is the share of traces that begin at Pforte recorded.
	SampleRatio float64 `yaml:"sample_ratio"`
	// ServiceName is the service.name of the spans.
	ServiceName string `yaml:"service_name"`
}

// LogConfig is the structured log output.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // json, text
}

// defaultConfig is the zero-config development instance. The defaults of
// every key a package owns are that package's own: this only says which
// key they appear under. The server, storage and log sections are
// cmd/pforte's own.
func defaultConfig() Config {
	pw, keyPolicy, lt := password.DefaultConfig(), signkey.DefaultPolicy, letter.DefaultPolicy
	pinPolicy, tp := pin.DefaultPolicy, throttle.DefaultPolicy
	tc := tracing.DefaultConfig()
	ec := eid.DefaultClaims
	return Config{
		Server: ServerConfig{
			Addr:            "127.0.0.1:8080",
			DataDir:         "./data",
			Environment:     Development,
			ShutdownTimeout: 15 * time.Second,
		},
		Storage: StorageConfig{Type: sqlstore.DriverSQLite, AutoMigrate: true},
		Keys: KeysConfig{
			RotationDays: int(keyPolicy.Lifetime / (24 * time.Hour)),
			PublishHours: int(keyPolicy.Publish / time.Hour),
		},
		Tokens: TokensConfig{
			AccessTokenTTL:     authz.DefaultAccessTokenTTL,
			IDTokenTTL:         authz.DefaultIDTokenTTL,
			RefreshIdleTTL:     authz.DefaultRefreshIdleTTL,
			RefreshAbsoluteTTL: authz.DefaultRefreshAbsoluteTTL,
			CodeTTL:            authz.DefaultCodeTTL,
			AuthRequestTTL:     authz.DefaultAuthRequestTTL,
			KVNRClaims:         slices.Clone(authz.DefaultKVNRClaims),
			TrustFramework:     authz.DefaultTrustFramework,
		},
		Login: LoginConfig{
			Argon2MemoryKiB:   int(pw.Params.MemoryKiB),
			Argon2Iterations:  int(pw.Params.Iterations),
			Argon2Parallelism: int(pw.Params.Parallelism),
			HashConcurrency:   pw.Concurrency,
			HashMaxWait:       pw.MaxWait,
			ACRVocabulary:     loa.DefaultVocabulary,

			ThrottleFree:          tp.Free,
			ThrottleFirstDelay:    tp.First,
			ThrottleMaxDelay:      tp.Max,
			ThrottleForget:        tp.Forget,
			ThrottleNotifyAt:      tp.NotifyAt,
			ThrottleNetworkBudget: tp.NetworkBudget,
			ThrottleNetworkWindow: tp.NetworkWindow,
			SessionIdle:           session.DefaultPolicy.Idle,
			SessionAbsolute:       session.DefaultPolicy.Absolute,
		},
		Letters: LettersConfig{
			Validity:        lt.Validity,
			MinInterval:     lt.MinInterval,
			MaxAttempts:     lt.MaxAttempts,
			AttemptsPerKVNR: lt.AttemptsPerKVNR,
			AttemptWindow:   lt.AttemptWindow,
			GuardWindow:     lt.GuardWindow,
		},
		Registration: RegistrationConfig{
			EligibleAhead:           member.DefaultEligibility.Ahead,
			EligibleGrace:           member.DefaultEligibility.Grace,
			RequestsPerIPPerHour:    registration.DefaultPerIP.Max,
			RequestsPerKVNRPerDay:   registration.DefaultPerKVNR.Max,
			ActivationsPerIPPerHour: registration.DefaultActivationsPerIP.Max,
			WorkerInterval:          server.DefaultWorkerInterval,
			RequestLease:            registration.DefaultRegistrationLease,
			LetterLease:             registration.DefaultLetterLease,
		},
		PIN: PINConfig{MaxFailures: pinPolicy.MaxFailures, Delays: slices.Clone(pinPolicy.Delays)},
		Devices: DevicesConfig{TransferTTL: binding.DefaultTransferTTL, TransfersPerIP: binding.DefaultTransfersPerIP,
			TransferWindow: binding.DefaultTransferWindow},
		Notify: NotifyConfig{Type: "log", SMTPPort: mail.DefaultPort, StartTLS: string(mail.StartTLSRequired)},
		EID: EIDConfig{
			Scopes: slices.Clone(eid.DefaultScopes), Timeout: eid.DefaultTimeout,
			HighACR: []string{eid.DefaultHighACR}, Pseudonym: string(eid.Opaque),
			ClaimGivenName: ec.GivenName, ClaimFamilyName: ec.FamilyName, ClaimBirthName: ec.BirthName,
			ClaimBirthDate: ec.BirthDate, ClaimPlaceOfBirth: ec.PlaceOfBirth, ClaimAddress: ec.Address,
			ClaimRestrictedID: ec.RestrictedID,
		},
		Logout: LogoutConfig{
			BackchannelTimeout: backchannel.DefaultTimeout, BackchannelGiveUpAfter: backchannel.DefaultGiveUpAfter,
			BackchannelRetryFirst: backchannel.DefaultRetryFirst, BackchannelRetryMax: backchannel.DefaultRetryMax,
			BackchannelInterval: server.DefaultLogoutInterval,
		},
		Housekeeping: HousekeepingConfig{
			Interval: housekeeping.DefaultInterval, Lease: housekeeping.DefaultLease,
			LetterSecretsKept: housekeeping.DefaultLetterSecrets, EnrollmentsKept: housekeeping.DefaultEnrollments,
		},
		Members: MembersConfig{SyncMaxDrop: lifecycle.DefaultSyncMaxDrop, Retention: lifecycle.DefaultRetention},
		Tracing: TracingConfig{Enabled: tc.Enabled, Endpoint: tc.Endpoint, SampleRatio: tc.SampleRatio, ServiceName: tc.ServiceName},
		Log:     LogConfig{Level: "info", Format: "json"},
	}
}

// Secret is a value that must never reach a log (core/secret).
type Secret = secret.String

// configError is the one message a bad configuration ends with. Key is the
// dotted YAML key; empty only when no key is at fault (an unreadable file).
type configError struct {
	Key, Msg string
}

func (e *configError) Error() string {
	if e.Key == "" {
		return "config: " + e.Msg
	}
	return "config: " + e.Key + ": " + e.Msg
}

func bad(key, format string, args ...any) error {
	return &configError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// loadOptions are the inputs of loadConfig besides the defaults.
type loadOptions struct {
	// File is the config file (--config); empty: $PFORTE_CONFIG, or none.
	File   string
	Getenv func(string) string
	Flags  flagOverrides
}

// flagOverrides are the serve flags that override file and environment;
// nil or false: not given.
type flagOverrides struct {
	Addr, Issuer, DataDir *string
	NoAutoMigrate         bool
}

// loadConfig builds the configuration: defaults, then the YAML file, then
// PFORTE_* variables, then flags; it reads *_file secrets and validates the
// whole. Errors are *configError naming the key (or the file, variable or
// flag at fault) and are meant to be printed as they are.
func loadConfig(opts loadOptions) (*Config, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	cfg := defaultConfig()
	// Whether the file or a variable names the environment: the default
	// development instance is for this machine only (see
	// checkImplicitDevelopment), one set explicitly may serve anywhere.
	cfg.Server.Environment = ""
	file := opts.File
	if file == "" {
		file = getenv("PFORTE_CONFIG")
	}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, &configError{Msg: readError(err)}
		}
		if err := decodeStrict(data, &cfg); err != nil {
			return nil, fileError(file, err)
		}
		if cfg.Keys.MasterKey != "" && cfg.Keys.MasterKeyFile != "" {
			return nil, bad("keys.master_key", "set master_key or master_key_file, not both")
		}
		if cfg.Storage.DSN != "" && cfg.Storage.DSNFile != "" {
			return nil, bad("storage.dsn", "set dsn or dsn_file, not both")
		}
		if cfg.EID.ClientSecret != "" && cfg.EID.ClientSecretFile != "" {
			return nil, bad("eid.client_secret", "set client_secret or client_secret_file, not both")
		}
	}
	if err := applyEnv(&cfg, getenv); err != nil {
		return nil, err
	}
	explicit := cfg.Server.Environment != ""
	if !explicit {
		cfg.Server.Environment = Development
	}
	applyFlags(&cfg, opts.Flags)
	if err := cfg.resolve(); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !explicit {
		if err := checkImplicitDevelopment(&cfg.Server); err != nil {
			return nil, err
		}
	}
	return &cfg, nil
}

// checkImplicitDevelopment refuses to serve the development instance that
// no one asked for beyond this machine: without server.environment Pforte
// loads demo members whose passwords are published and accepts development
// attestation, which is harmless on loopback and an open door anywhere
// else. An address or issuer that is not loopback therefore needs
// server.environment set (to development, knowingly, or to production).
func checkImplicitDevelopment(s *ServerConfig) error {
	const why = "without server.environment this is the development instance, whose demo members' passwords are published; " +
		"set server.environment (PFORTE_ENVIRONMENT) to production, or to development to expose it knowingly"
	if host, _, err := net.SplitHostPort(s.Addr); err == nil && !isLoopbackHost(host) {
		return bad("server.addr", "%q is not a loopback address: %s", s.Addr, why)
	}
	if u, err := url.Parse(s.Issuer); err == nil && s.Issuer != "" && !isLoopbackHost(u.Hostname()) {
		return bad("server.issuer", "%q is not on a loopback host: %s", s.Issuer, why)
	}
	return nil
}

// isLoopbackHost reports whether host names this machine only: localhost
// or a loopback IP. The empty host (":8080") listens on every interface.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// fileError places a decoding error of file: "config: tokens.code_ttl:
// ... (pforte.yaml, line 7)".
func fileError(file string, err error) error {
	var ke *yamlKeyError
	if !errors.As(err, &ke) {
		return &configError{Msg: fmt.Sprintf("%s: %v", file, err)}
	}
	if ke.Key == "" {
		return &configError{Msg: fmt.Sprintf("%s, line %d: %s", file, ke.Line, ke.Msg)}
	}
	return &configError{Key: ke.Key, Msg: fmt.Sprintf("%s (%s, line %d)", ke.Msg, file, ke.Line)}
}

// envVar binds one PFORTE_* variable to a key. field returns a pointer to
// the field it sets (*string, *Secret, *bool, *int, *time.Duration or
// *Environment); clears names the field of a pair (value or file) that a
// variable for the other one replaces.
type envVar struct {
	Name   string
	Key    string
	field  func(*Config) any
	clears func(*Config)
}

// envVars is every environment override. README.md lists them; a test
// keeps the two in step.
var envVars = []envVar{
	{Name: "PFORTE_ADDR", Key: "server.addr", field: func(c *Config) any { return &c.Server.Addr }},
	{Name: "PFORTE_ISSUER", Key: "server.issuer", field: func(c *Config) any { return &c.Server.Issuer }},
	{Name: "PFORTE_DATA_DIR", Key: "server.data_dir", field: func(c *Config) any { return &c.Server.DataDir }},
	{Name: "PFORTE_ENVIRONMENT", Key: "server.environment", field: func(c *Config) any { return &c.Server.Environment }},
	{Name: "PFORTE_SHUTDOWN_TIMEOUT", Key: "server.shutdown_timeout", field: func(c *Config) any { return &c.Server.ShutdownTimeout }},
	{Name: "PFORTE_ADMIN_ADDR", Key: "server.admin_addr", field: func(c *Config) any { return &c.Server.AdminAddr }},
	{Name: "PFORTE_STORAGE_TYPE", Key: "storage.type", field: func(c *Config) any { return &c.Storage.Type }},
	{Name: "PFORTE_STORAGE_DSN", Key: "storage.dsn", field: func(c *Config) any { return &c.Storage.DSN },
		clears: func(c *Config) { c.Storage.DSNFile = "" }},
	{Name: "PFORTE_STORAGE_DSN_FILE", Key: "storage.dsn_file", field: func(c *Config) any { return &c.Storage.DSNFile },
		clears: func(c *Config) { c.Storage.DSN = "" }},
	{Name: "PFORTE_AUTO_MIGRATE", Key: "storage.auto_migrate", field: func(c *Config) any { return &c.Storage.AutoMigrate }},
	{Name: "PFORTE_STORAGE_MAX_OPEN_CONNS", Key: "storage.max_open_conns", field: func(c *Config) any { return &c.Storage.MaxOpenConns }},
	{Name: "PFORTE_MASTER_KEY", Key: "keys.master_key", field: func(c *Config) any { return &c.Keys.MasterKey },
		clears: func(c *Config) { c.Keys.MasterKeyFile = "" }},
	{Name: "PFORTE_MASTER_KEY_FILE", Key: "keys.master_key_file", field: func(c *Config) any { return &c.Keys.MasterKeyFile },
		clears: func(c *Config) { c.Keys.MasterKey = "" }},
	{Name: "PFORTE_KEYS_ROTATION_DAYS", Key: "keys.rotation_days", field: func(c *Config) any { return &c.Keys.RotationDays }},
	{Name: "PFORTE_KEYS_PUBLISH_HOURS", Key: "keys.publish_hours", field: func(c *Config) any { return &c.Keys.PublishHours }},
	{Name: "PFORTE_ACCESS_TOKEN_TTL", Key: "tokens.access_token_ttl", field: func(c *Config) any { return &c.Tokens.AccessTokenTTL }},
	{Name: "PFORTE_ID_TOKEN_TTL", Key: "tokens.id_token_ttl", field: func(c *Config) any { return &c.Tokens.IDTokenTTL }},
	{Name: "PFORTE_REFRESH_IDLE_TTL", Key: "tokens.refresh_idle_ttl", field: func(c *Config) any { return &c.Tokens.RefreshIdleTTL }},
	{Name: "PFORTE_REFRESH_ABSOLUTE_TTL", Key: "tokens.refresh_absolute_ttl", field: func(c *Config) any { return &c.Tokens.RefreshAbsoluteTTL }},
	{Name: "PFORTE_CODE_TTL", Key: "tokens.code_ttl", field: func(c *Config) any { return &c.Tokens.CodeTTL }},
	{Name: "PFORTE_AUTH_REQUEST_TTL", Key: "tokens.auth_request_ttl", field: func(c *Config) any { return &c.Tokens.AuthRequestTTL }},
	{Name: "PFORTE_KVNR_CLAIMS", Key: "tokens.kvnr_claims", field: func(c *Config) any { return &c.Tokens.KVNRClaims }},
	{Name: "PFORTE_TRUST_FRAMEWORK", Key: "tokens.trust_framework", field: func(c *Config) any { return &c.Tokens.TrustFramework }},
	{Name: "PFORTE_ARGON2_MEMORY_KIB", Key: "login.argon2_memory_kib", field: func(c *Config) any { return &c.Login.Argon2MemoryKiB }},
	{Name: "PFORTE_ARGON2_ITERATIONS", Key: "login.argon2_iterations", field: func(c *Config) any { return &c.Login.Argon2Iterations }},
	{Name: "PFORTE_ARGON2_PARALLELISM", Key: "login.argon2_parallelism", field: func(c *Config) any { return &c.Login.Argon2Parallelism }},
	{Name: "PFORTE_HASH_CONCURRENCY", Key: "login.hash_concurrency", field: func(c *Config) any { return &c.Login.HashConcurrency }},
	{Name: "PFORTE_HASH_MAX_WAIT", Key: "login.hash_max_wait", field: func(c *Config) any { return &c.Login.HashMaxWait }},
	{Name: "PFORTE_ACR_VOCABULARY", Key: "login.acr_vocabulary", field: func(c *Config) any { return &c.Login.ACRVocabulary }},
	{Name: "PFORTE_LOGIN_THROTTLE_FREE", Key: "login.throttle_free", field: func(c *Config) any { return &c.Login.ThrottleFree }},
	{Name: "PFORTE_LOGIN_THROTTLE_FIRST_DELAY", Key: "login.throttle_first_delay", field: func(c *Config) any { return &c.Login.ThrottleFirstDelay }},
	{Name: "PFORTE_LOGIN_THROTTLE_MAX_DELAY", Key: "login.throttle_max_delay", field: func(c *Config) any { return &c.Login.ThrottleMaxDelay }},
	{Name: "PFORTE_LOGIN_THROTTLE_FORGET", Key: "login.throttle_forget", field: func(c *Config) any { return &c.Login.ThrottleForget }},
	{Name: "PFORTE_LOGIN_THROTTLE_NOTIFY_AT", Key: "login.throttle_notify_at", field: func(c *Config) any { return &c.Login.ThrottleNotifyAt }},
	{Name: "PFORTE_LOGIN_THROTTLE_NETWORK_BUDGET", Key: "login.throttle_network_budget", field: func(c *Config) any { return &c.Login.ThrottleNetworkBudget }},
	{Name: "PFORTE_LOGIN_THROTTLE_NETWORK_WINDOW", Key: "login.throttle_network_window", field: func(c *Config) any { return &c.Login.ThrottleNetworkWindow }},
	{Name: "PFORTE_LOGIN_SESSION_IDLE", Key: "login.session_idle", field: func(c *Config) any { return &c.Login.SessionIdle }},
	{Name: "PFORTE_LOGIN_SESSION_ABSOLUTE", Key: "login.session_absolute", field: func(c *Config) any { return &c.Login.SessionAbsolute }},
	{Name: "PFORTE_CLIENTS_FILE", Key: "clients_file", field: func(c *Config) any { return &c.ClientsFile }},
	{Name: "PFORTE_MEMBERS_FILE", Key: "members_file", field: func(c *Config) any { return &c.MembersFile }},
	{Name: "PFORTE_LETTERS_OUTBOX_DIR", Key: "letters.outbox_dir", field: func(c *Config) any { return &c.Letters.OutboxDir }},
	{Name: "PFORTE_LETTERS_SENDER", Key: "letters.sender", field: func(c *Config) any { return &c.Letters.Sender }},
	{Name: "PFORTE_LETTERS_CONTACT_PHONE", Key: "letters.contact_phone", field: func(c *Config) any { return &c.Letters.ContactPhone }},
	{Name: "PFORTE_LETTERS_CONTACT_ADDRESS", Key: "letters.contact_address", field: func(c *Config) any { return &c.Letters.ContactAddress }},
	{Name: "PFORTE_LETTERS_APP_STORE_URL", Key: "letters.app_store_url", field: func(c *Config) any { return &c.Letters.AppStoreURL }},
	{Name: "PFORTE_LETTERS_VALIDITY", Key: "letters.validity", field: func(c *Config) any { return &c.Letters.Validity }},
	{Name: "PFORTE_LETTERS_MIN_INTERVAL", Key: "letters.min_interval", field: func(c *Config) any { return &c.Letters.MinInterval }},
	{Name: "PFORTE_LETTERS_MAX_ATTEMPTS", Key: "letters.max_attempts", field: func(c *Config) any { return &c.Letters.MaxAttempts }},
	{Name: "PFORTE_LETTERS_ATTEMPTS_PER_KVNR", Key: "letters.attempts_per_kvnr", field: func(c *Config) any { return &c.Letters.AttemptsPerKVNR }},
	{Name: "PFORTE_LETTERS_ATTEMPT_WINDOW", Key: "letters.attempt_window", field: func(c *Config) any { return &c.Letters.AttemptWindow }},
	{Name: "PFORTE_LETTERS_GUARD_WINDOW", Key: "letters.guard_window", field: func(c *Config) any { return &c.Letters.GuardWindow }},
	{Name: "PFORTE_ELIGIBLE_AHEAD", Key: "registration.eligible_ahead", field: func(c *Config) any { return &c.Registration.EligibleAhead }},
	{Name: "PFORTE_ELIGIBLE_GRACE", Key: "registration.eligible_grace", field: func(c *Config) any { return &c.Registration.EligibleGrace }},
	{Name: "PFORTE_REQUESTS_PER_IP_PER_HOUR", Key: "registration.requests_per_ip_per_hour", field: func(c *Config) any { return &c.Registration.RequestsPerIPPerHour }},
	{Name: "PFORTE_REQUESTS_PER_KVNR_PER_DAY", Key: "registration.requests_per_kvnr_per_day", field: func(c *Config) any { return &c.Registration.RequestsPerKVNRPerDay }},
	{Name: "PFORTE_ACTIVATIONS_PER_IP_PER_HOUR", Key: "registration.activations_per_ip_per_hour", field: func(c *Config) any { return &c.Registration.ActivationsPerIPPerHour }},
	{Name: "PFORTE_WORKER_INTERVAL", Key: "registration.worker_interval", field: func(c *Config) any { return &c.Registration.WorkerInterval }},
	{Name: "PFORTE_REQUEST_LEASE", Key: "registration.request_lease", field: func(c *Config) any { return &c.Registration.RequestLease }},
	{Name: "PFORTE_LETTER_LEASE", Key: "registration.letter_lease", field: func(c *Config) any { return &c.Registration.LetterLease }},
	{Name: "PFORTE_TRUSTED_PROXIES", Key: "registration.trusted_proxies", field: func(c *Config) any { return &c.Registration.TrustedProxies }},
	{Name: "PFORTE_DEVICES_RP_ID", Key: "devices.rp_id", field: func(c *Config) any { return &c.Devices.RPID }},
	{Name: "PFORTE_DEVICES_APP_ORIGINS", Key: "devices.app_origins", field: func(c *Config) any { return &c.Devices.AppOrigins }},
	{Name: "PFORTE_DEVICES_ANDROID_PACKAGE", Key: "devices.android_package", field: func(c *Config) any { return &c.Devices.AndroidPackage }},
	{Name: "PFORTE_DEVICES_ANDROID_CERT_DIGESTS", Key: "devices.android_cert_digests", field: func(c *Config) any { return &c.Devices.AndroidCertDigests }},
	{Name: "PFORTE_DEVICES_ANDROID_REVOCATION_FILE", Key: "devices.android_revocation_file", field: func(c *Config) any { return &c.Devices.AndroidRevocationFile }},
	{Name: "PFORTE_DEVICES_APPLE_APP_ID", Key: "devices.apple_app_id", field: func(c *Config) any { return &c.Devices.AppleAppID }},
	{Name: "PFORTE_DEVICES_APPLE_ENVIRONMENT", Key: "devices.apple_environment", field: func(c *Config) any { return &c.Devices.AppleEnvironment }},
	{Name: "PFORTE_DEVICES_PACKED_ROOTS_FILE", Key: "devices.packed_roots_file", field: func(c *Config) any { return &c.Devices.PackedRootsFile }},
	{Name: "PFORTE_DEVICES_ATTESTATION", Key: "devices.attestation", field: func(c *Config) any { return &c.Devices.Attestation }},
	{Name: "PFORTE_DEVICES_RECONFIRM_PERIOD", Key: "devices.reconfirm_period", field: func(c *Config) any { return &c.Devices.ReconfirmPeriod }},
	{Name: "PFORTE_DEVICES_TRANSFER_TTL", Key: "devices.transfer_ttl", field: func(c *Config) any { return &c.Devices.TransferTTL }},
	{Name: "PFORTE_DEVICES_TRANSFERS_PER_IP", Key: "devices.transfers_per_ip", field: func(c *Config) any { return &c.Devices.TransfersPerIP }},
	{Name: "PFORTE_DEVICES_TRANSFER_WINDOW", Key: "devices.transfer_window", field: func(c *Config) any { return &c.Devices.TransferWindow }},
	{Name: "PFORTE_PIN_PEPPERS", Key: "pin.peppers", field: func(c *Config) any { return &c.PIN.Peppers },
		clears: func(c *Config) { c.PIN.PeppersFile = "" }},
	{Name: "PFORTE_PIN_PEPPERS_FILE", Key: "pin.peppers_file", field: func(c *Config) any { return &c.PIN.PeppersFile },
		clears: func(c *Config) { c.PIN.Peppers = "" }},
	{Name: "PFORTE_PIN_PEPPER_VERSION", Key: "pin.pepper_version", field: func(c *Config) any { return &c.PIN.PepperVersion }},
	{Name: "PFORTE_PIN_MAX_FAILURES", Key: "pin.max_failures", field: func(c *Config) any { return &c.PIN.MaxFailures }},
	{Name: "PFORTE_PIN_DELAYS", Key: "pin.delays", field: func(c *Config) any { return &c.PIN.Delays }},
	{Name: "PFORTE_NOTIFY_TYPE", Key: "notify.type", field: func(c *Config) any { return &c.Notify.Type }},
	{Name: "PFORTE_SMTP_HOST", Key: "notify.smtp_host", field: func(c *Config) any { return &c.Notify.SMTPHost }},
	{Name: "PFORTE_SMTP_PORT", Key: "notify.smtp_port", field: func(c *Config) any { return &c.Notify.SMTPPort }},
	{Name: "PFORTE_SMTP_USERNAME", Key: "notify.smtp_username", field: func(c *Config) any { return &c.Notify.SMTPUsername }},
	{Name: "PFORTE_SMTP_PASSWORD", Key: "notify.smtp_password", field: func(c *Config) any { return &c.Notify.SMTPPassword },
		clears: func(c *Config) { c.Notify.SMTPPasswordFile = "" }},
	{Name: "PFORTE_SMTP_PASSWORD_FILE", Key: "notify.smtp_password_file", field: func(c *Config) any { return &c.Notify.SMTPPasswordFile },
		clears: func(c *Config) { c.Notify.SMTPPassword = "" }},
	{Name: "PFORTE_NOTIFY_FROM", Key: "notify.from", field: func(c *Config) any { return &c.Notify.From }},
	{Name: "PFORTE_SMTP_STARTTLS", Key: "notify.starttls", field: func(c *Config) any { return &c.Notify.StartTLS }},
	{Name: "PFORTE_EID_ENABLED", Key: "eid.enabled", field: func(c *Config) any { return &c.EID.Enabled }},
	{Name: "PFORTE_EID_ISSUER", Key: "eid.issuer", field: func(c *Config) any { return &c.EID.Issuer }},
	{Name: "PFORTE_EID_CLIENT_ID", Key: "eid.client_id", field: func(c *Config) any { return &c.EID.ClientID }},
	{Name: "PFORTE_EID_CLIENT_SECRET", Key: "eid.client_secret", field: func(c *Config) any { return &c.EID.ClientSecret },
		clears: func(c *Config) { c.EID.ClientSecretFile = "" }},
	{Name: "PFORTE_EID_CLIENT_SECRET_FILE", Key: "eid.client_secret_file", field: func(c *Config) any { return &c.EID.ClientSecretFile },
		clears: func(c *Config) { c.EID.ClientSecret = "" }},
	{Name: "PFORTE_EID_REDIRECT_URI", Key: "eid.redirect_uri", field: func(c *Config) any { return &c.EID.RedirectURI }},
	{Name: "PFORTE_EID_SCOPES", Key: "eid.scopes", field: func(c *Config) any { return &c.EID.Scopes }},
	{Name: "PFORTE_EID_ACR_VALUES", Key: "eid.acr_values", field: func(c *Config) any { return &c.EID.ACRValues }},
	{Name: "PFORTE_EID_TIMEOUT", Key: "eid.timeout", field: func(c *Config) any { return &c.EID.Timeout }},
	{Name: "PFORTE_EID_HIGH_ACR", Key: "eid.high_acr", field: func(c *Config) any { return &c.EID.HighACR }},
	{Name: "PFORTE_EID_PSEUDONYM", Key: "eid.pseudonym", field: func(c *Config) any { return &c.EID.Pseudonym }},
	{Name: "PFORTE_EID_CLAIM_GIVEN_NAME", Key: "eid.claim_given_name", field: func(c *Config) any { return &c.EID.ClaimGivenName }},
	{Name: "PFORTE_EID_CLAIM_FAMILY_NAME", Key: "eid.claim_family_name", field: func(c *Config) any { return &c.EID.ClaimFamilyName }},
	{Name: "PFORTE_EID_CLAIM_BIRTH_NAME", Key: "eid.claim_birth_name", field: func(c *Config) any { return &c.EID.ClaimBirthName }},
	{Name: "PFORTE_EID_CLAIM_BIRTHDATE", Key: "eid.claim_birthdate", field: func(c *Config) any { return &c.EID.ClaimBirthDate }},
	{Name: "PFORTE_EID_CLAIM_PLACE_OF_BIRTH", Key: "eid.claim_place_of_birth", field: func(c *Config) any { return &c.EID.ClaimPlaceOfBirth }},
	{Name: "PFORTE_EID_CLAIM_ADDRESS", Key: "eid.claim_address", field: func(c *Config) any { return &c.EID.ClaimAddress }},
	{Name: "PFORTE_EID_CLAIM_RESTRICTED_ID", Key: "eid.claim_restricted_id", field: func(c *Config) any { return &c.EID.ClaimRestrictedID }},
	{Name: "PFORTE_EID_APP_RETURN_URIS", Key: "eid.app_return_uris", field: func(c *Config) any { return &c.EID.AppReturnURIs }},
	{Name: "PFORTE_EID_APP_LOOPBACK", Key: "eid.app_loopback", field: func(c *Config) any { return &c.EID.AppLoopback }},
	{Name: "PFORTE_LOGOUT_BACKCHANNEL_TIMEOUT", Key: "logout.backchannel_timeout", field: func(c *Config) any { return &c.Logout.BackchannelTimeout }},
	{Name: "PFORTE_LOGOUT_BACKCHANNEL_GIVE_UP_AFTER", Key: "logout.backchannel_give_up_after", field: func(c *Config) any { return &c.Logout.BackchannelGiveUpAfter }},
	{Name: "PFORTE_LOGOUT_BACKCHANNEL_RETRY_FIRST", Key: "logout.backchannel_retry_first", field: func(c *Config) any { return &c.Logout.BackchannelRetryFirst }},
	{Name: "PFORTE_LOGOUT_BACKCHANNEL_RETRY_MAX", Key: "logout.backchannel_retry_max", field: func(c *Config) any { return &c.Logout.BackchannelRetryMax }},
	{Name: "PFORTE_LOGOUT_BACKCHANNEL_INTERVAL", Key: "logout.backchannel_interval", field: func(c *Config) any { return &c.Logout.BackchannelInterval }},
	{Name: "PFORTE_HOUSEKEEPING_INTERVAL", Key: "housekeeping.interval", field: func(c *Config) any { return &c.Housekeeping.Interval }},
	{Name: "PFORTE_HOUSEKEEPING_LEASE", Key: "housekeeping.lease", field: func(c *Config) any { return &c.Housekeeping.Lease }},
	{Name: "PFORTE_HOUSEKEEPING_LETTER_SECRETS_KEPT", Key: "housekeeping.letter_secrets_kept", field: func(c *Config) any { return &c.Housekeeping.LetterSecretsKept }},
	{Name: "PFORTE_HOUSEKEEPING_ENROLLMENTS_KEPT", Key: "housekeeping.enrollments_kept", field: func(c *Config) any { return &c.Housekeeping.EnrollmentsKept }},
	{Name: "PFORTE_TRACING_ENABLED", Key: "tracing.enabled", field: func(c *Config) any { return &c.Tracing.Enabled }},
	{Name: "PFORTE_TRACING_ENDPOINT", Key: "tracing.endpoint", field: func(c *Config) any { return &c.Tracing.Endpoint }},
	{Name: "PFORTE_MEMBERS_SYNC_MAX_DROP", Key: "members.sync_max_drop", field: func(c *Config) any { return &c.Members.SyncMaxDrop }},
	{Name: "PFORTE_MEMBERS_RETENTION", Key: "members.retention", field: func(c *Config) any { return &c.Members.Retention }},
	{Name: "PFORTE_TRACING_SAMPLE_RATIO", Key: "tracing.sample_ratio", field: func(c *Config) any { return &c.Tracing.SampleRatio }},
	{Name: "PFORTE_TRACING_SERVICE_NAME", Key: "tracing.service_name", field: func(c *Config) any { return &c.Tracing.ServiceName }},
	{Name: "PFORTE_LOG_LEVEL", Key: "log.level", field: func(c *Config) any { return &c.Log.Level }},
	{Name: "PFORTE_LOG_FORMAT", Key: "log.format", field: func(c *Config) any { return &c.Log.Format }},
}

// applyEnv sets every key whose PFORTE_* variable is non-empty.
func applyEnv(c *Config, getenv func(string) string) error {
	for _, pair := range [][2]string{
		{"PFORTE_MASTER_KEY", "PFORTE_MASTER_KEY_FILE"},
		{"PFORTE_STORAGE_DSN", "PFORTE_STORAGE_DSN_FILE"},
		{"PFORTE_PIN_PEPPERS", "PFORTE_PIN_PEPPERS_FILE"},
		{"PFORTE_SMTP_PASSWORD", "PFORTE_SMTP_PASSWORD_FILE"},
		{"PFORTE_EID_CLIENT_SECRET", "PFORTE_EID_CLIENT_SECRET_FILE"},
	} {
		if getenv(pair[0]) != "" && getenv(pair[1]) != "" {
			return &configError{Key: pair[0], Msg: "set " + pair[0] + " or " + pair[1] + ", not both"}
		}
	}
	for _, v := range envVars {
		raw := getenv(v.Name)
		if raw == "" {
			continue
		}
		if err := setValue(v.field(c), raw); err != nil {
			return &configError{Key: v.Key, Msg: fmt.Sprintf("%s: %v", v.Name, err)}
		}
		if v.clears != nil {
			v.clears(c)
		}
	}
	return nil
}

// setValue parses raw into the field p points to.
func setValue(p any, raw string) error {
	switch f := p.(type) {
	case *string:
		*f = raw
	case *Secret:
		*f = Secret(raw)
	case *Environment:
		*f = Environment(raw)
	case *bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("%q is not true or false", raw)
		}
		*f = b
	case *int:
		n, err := strconv.Atoi(raw)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", raw)
		}
		*f = n
	case *float64:
		x, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", raw)
		}
		*f = x
	case *[]string:
		var out []string
		for _, part := range strings.Split(raw, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
		*f = out
	case *[]time.Duration:
		var out []time.Duration
		for _, part := range strings.Split(raw, ",") {
			if part = strings.TrimSpace(part); part == "" {
				continue
			}
			d, err := time.ParseDuration(part)
			if err != nil {
				return fmt.Errorf("%q is not a duration (use Go duration syntax such as 90s, 5m or 12h)", part)
			}
			out = append(out, d)
		}
		*f = out
	case *time.Duration:
		d, err := time.ParseDuration(raw)
		if err != nil {
			return fmt.Errorf("%q is not a duration (use Go duration syntax such as 90s, 5m or 12h)", raw)
		}
		*f = d
	default:
		panic(fmt.Sprintf("config: no parser for %T", p))
	}
	return nil
}

func applyFlags(c *Config, f flagOverrides) {
	if f.Addr != nil {
		c.Server.Addr = *f.Addr
	}
	if f.Issuer != nil {
		c.Server.Issuer = *f.Issuer
	}
	if f.DataDir != nil {
		c.Server.DataDir = *f.DataDir
	}
	if f.NoAutoMigrate {
		c.Storage.AutoMigrate = false
	}
}

// resolve fills the values derived from others and reads *_file secrets.
func (c *Config) resolve() error {
	if c.Server.Issuer == "" && c.Server.Environment == Development {
		if _, port, err := net.SplitHostPort(c.Server.Addr); err == nil && port != "" && port != "0" {
			c.Server.Issuer = "http://localhost:" + port
		}
	}
	if c.Storage.DSNFile != "" {
		s, err := readSecretFile(c.Storage.DSNFile)
		if err != nil {
			return bad("storage.dsn_file", "%s", err)
		}
		c.Storage.DSN = s
	}
	if c.Storage.Type == "sqlite" && c.Storage.DSN == "" && c.Server.DataDir != "" {
		c.Storage.DSN = Secret(filepath.Join(c.Server.DataDir, "pforte.db"))
	}
	if c.Letters.OutboxDir == "" && c.Server.DataDir != "" {
		c.Letters.OutboxDir = filepath.Join(c.Server.DataDir, "outbox")
	}
	if c.Letters.Sender == "" && c.Server.Environment == Development {
		c.Letters.Sender = devSender
	}
	if c.Devices.Attestation == "" {
		c.Devices.Attestation = string(c.Server.Environment)
	}
	if c.PIN.PeppersFile != "" {
		s, err := readSecretFile(c.PIN.PeppersFile)
		if err != nil {
			return bad("pin.peppers_file", "%s", err)
		}
		c.PIN.Peppers = s
	}
	if c.Notify.SMTPPasswordFile != "" {
		s, err := readSecretFile(c.Notify.SMTPPasswordFile)
		if err != nil {
			return bad("notify.smtp_password_file", "%s", err)
		}
		c.Notify.SMTPPassword = s
	}
	if c.EID.ClientSecretFile != "" {
		s, err := readSecretFile(c.EID.ClientSecretFile)
		if err != nil {
			return bad("eid.client_secret_file", "%s", err)
		}
		c.EID.ClientSecret = s
	}
	if c.Keys.MasterKeyFile != "" {
		s, err := readSecretFile(c.Keys.MasterKeyFile)
		if err != nil {
			return bad("keys.master_key_file", "%s", err)
		}
		c.Keys.MasterKey = s
	}
	return nil
}

// readSecretFile returns the content of a secret file without surrounding
// white space (editors add a final newline).
func readSecretFile(path string) (Secret, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", errors.New(readError(err))
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return Secret(s), nil
}

// readError shortens an os error to "cannot read PATH: reason".
func readError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Sprintf("cannot read %s: %v", pe.Path, pe.Err)
	}
	return err.Error()
}

// Validate checks the configuration as a whole and returns the first
// problem as a *configError naming its key. It checks here only what is
// cmd/pforte's own (the server, storage type and log sections, the files,
// and what the environment requires); every other value goes to the
// package whose rule it is (validatePackages).
func (c *Config) Validate() error {
	s := c.Server
	switch s.Environment {
	case Development, Production:
	default:
		return bad("server.environment", "must be development or production, not %q", s.Environment)
	}
	if err := validateAddr(s.Addr); err != nil {
		return bad("server.addr", "%s", err)
	}
	if s.Issuer == "" {
		if s.Environment == Production {
			return bad("server.issuer", "required in production (the public https URL relying parties use)")
		}
		return bad("server.issuer", "required when server.addr has no fixed port")
	}
	if err := issuer.Check(s.Issuer); err != nil {
		return c.keyed(err)
	}
	if s.DataDir == "" {
		return bad("server.data_dir", "must not be empty")
	}
	if s.ShutdownTimeout <= 0 || s.ShutdownTimeout > 10*time.Minute {
		return bad("server.shutdown_timeout", "must be between 1s and 10m, not %s", s.ShutdownTimeout)
	}
	if s.AdminAddr != "" {
		if err := validateAddr(s.AdminAddr); err != nil {
			return bad("server.admin_addr", "%s", err)
		}
		if s.AdminAddr == s.Addr {
			return bad("server.admin_addr", "must differ from server.addr")
		}
	}
	if c.Keys.MasterKey == "" && s.Environment == Production {
		return bad("keys.master_key", "required in production: set keys.master_key_file (or PFORTE_MASTER_KEY_FILE) to a file with 32 random bytes, base64")
	}
	if c.ClientsFile != "" {
		if err := readable(c.ClientsFile); err != nil {
			return bad("clients_file", "%s", err)
		}
	}
	if c.MembersFile != "" {
		if s.Environment != Development {
			return bad("members_file", "demo members are loaded only in development")
		}
		if err := readable(c.MembersFile); err != nil {
			return bad("members_file", "%s", err)
		}
	}
	if rg := c.Registration; rg.WorkerInterval < 100*time.Millisecond || rg.WorkerInterval > 10*time.Minute {
		return bad("registration.worker_interval", "must be between 100ms and 10m")
	}
	// 0 or less would mean the server's default or no worker at all; a
	// replica always works the queue.
	if iv := c.Logout.BackchannelInterval; iv < server.MinLogoutInterval || iv > server.MaxLogoutInterval {
		return bad("logout.backchannel_interval", "must be between %s and %s", server.MinLogoutInterval, server.MaxLogoutInterval)
	}
	switch c.Devices.Attestation {
	case "production":
	case "development":
		if s.Environment == Production {
			return bad("devices.attestation", "development attestation (keys without attestation) is refused in production")
		}
	default:
		return bad("devices.attestation", "must be production or development, not %q", c.Devices.Attestation)
	}
	switch c.Devices.AppleEnvironment {
	case "", "production":
	case "development":
		if s.Environment == Production {
			return bad("devices.apple_environment", "App Attest keys of development builds are refused in production")
		}
		if c.Devices.AppleAppID == "" {
			return bad("devices.apple_environment", "set together with devices.apple_app_id")
		}
	default:
		return bad("devices.apple_environment", "must be production or development, not %q", c.Devices.AppleEnvironment)
	}
	if s.Environment == Production && c.Devices.AndroidPackage == "" && c.Devices.AppleAppID == "" && c.Devices.PackedRootsFile == "" {
		return bad("devices.android_package", "production needs the Android app (android_package and android_cert_digests), the iOS app (apple_app_id) or packed_roots_file: otherwise no device can be bound")
	}
	if c.EID.Enabled && len(c.EID.AppReturnURIs) == 0 && !c.EID.AppLoopback {
		// The eID service's confirmation is handed to the app that began
		// through its return address: without one nobody could finish.
		return bad("eid.app_return_uris", "required with eid.enabled: the Service-App's return addresses (or eid.app_loopback: true for the reference client)")
	}
	switch c.Notify.Type {
	case "log":
		if s.Environment == Production {
			return bad("notify.type", "production tells members by e-mail: set smtp")
		}
	case "smtp":
	default:
		return bad("notify.type", "must be log or smtp, not %q", c.Notify.Type)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return bad("log.level", "must be debug, info, warn or error, not %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		return bad("log.format", "must be json or text, not %q", c.Log.Format)
	}
	return c.validatePackages()
}

// validatePackages hands every package its configuration, mapped from the
// keys exactly as serve maps it, and names the key of the first value a
// package refuses. Nothing is opened or created: the development master
// key, generated on first start, is stood in for by zeros, since the keys
// derived from it are valid whatever its value.
func (c *Config) validatePackages() error {
	master := make([]byte, keys.MasterKeySize)
	if c.Keys.MasterKey != "" {
		m, err := decodeMasterKey(c.Keys.MasterKey)
		if err != nil {
			return c.keyed(err)
		}
		master = m
	}
	if err := c.passwordConfig().Validate(); err != nil {
		return c.keyed(err)
	}
	if c.Notify.Type == "smtp" {
		if err := c.mailConfig().Validate(); err != nil {
			return c.keyed(err)
		}
	}
	o, err := serverOptions(c, master, nil)
	if err != nil {
		return c.keyed(err)
	}
	if err := o.Validate(); err != nil {
		return c.keyed(err)
	}
	return nil
}

// fieldKeys names the key of each field a package's Validate refuses, by
// the Op of its fault.Error ("authz.Config.CodeTTL"). Of a pair of a
// secret and its file, the value's key is named here; keyed names the
// file's key when the file was set.
var fieldKeys = map[string]string{
	"sqlstore.Config.Driver":                 "storage.type",
	"sqlstore.Config.DSN":                    "storage.dsn",
	"sqlstore.Config.MaxOpenConns":           "storage.max_open_conns",
	"keys.CheckMaster":                       "keys.master_key",
	"signkey.Policy.Lifetime":                "keys.rotation_days",
	"signkey.Policy.Publish":                 "keys.publish_hours",
	"issuer.Check":                           "server.issuer",
	"authz.Config.Issuer":                    "server.issuer",
	"authz.Config.AccessTokenTTL":            "tokens.access_token_ttl",
	"authz.Config.IDTokenTTL":                "tokens.id_token_ttl",
	"authz.Config.RefreshIdleTTL":            "tokens.refresh_idle_ttl",
	"authz.Config.RefreshAbsoluteTTL":        "tokens.refresh_absolute_ttl",
	"authz.Config.CodeTTL":                   "tokens.code_ttl",
	"authz.Config.AuthRequestTTL":            "tokens.auth_request_ttl",
	"authz.Config.KVNRClaims":                "tokens.kvnr_claims",
	"authz.Config.TrustFramework":            "tokens.trust_framework",
	"password.Params.MemoryKiB":              "login.argon2_memory_kib",
	"password.Params.Iterations":             "login.argon2_iterations",
	"password.Params.Parallelism":            "login.argon2_parallelism",
	"password.Config.Concurrency":            "login.hash_concurrency",
	"password.Config.MaxWait":                "login.hash_max_wait",
	"loa.VocabularyNamed":                    "login.acr_vocabulary",
	"throttle.Policy.Free":                   "login.throttle_free",
	"throttle.Policy.First":                  "login.throttle_first_delay",
	"throttle.Policy.Max":                    "login.throttle_max_delay",
	"throttle.Policy.Forget":                 "login.throttle_forget",
	"throttle.Policy.NotifyAt":               "login.throttle_notify_at",
	"throttle.Policy.NetworkBudget":          "login.throttle_network_budget",
	"throttle.Policy.NetworkWindow":          "login.throttle_network_window",
	"session.Policy.Idle":                    "login.session_idle",
	"session.Policy.Absolute":                "login.session_absolute",
	"outbox.Config.Dir":                      "letters.outbox_dir",
	"registration.Config.Issuer":             "server.issuer",
	"registration.Config.Sender":             "letters.sender",
	"registration.Config.ContactPhone":       "letters.contact_phone",
	"registration.Config.ContactAddress":     "letters.contact_address",
	"registration.Config.AppStoreURL":        "letters.app_store_url",
	"letter.Policy.Validity":                 "letters.validity",
	"letter.Policy.MinInterval":              "letters.min_interval",
	"letter.Policy.MaxAttempts":              "letters.max_attempts",
	"letter.Policy.AttemptsPerKVNR":          "letters.attempts_per_kvnr",
	"letter.Policy.AttemptWindow":            "letters.attempt_window",
	"letter.Policy.GuardWindow":              "letters.guard_window",
	"member.Eligibility.Ahead":               "registration.eligible_ahead",
	"member.Eligibility.Grace":               "registration.eligible_grace",
	"registration.Config.PerIP":              "registration.requests_per_ip_per_hour",
	"registration.Config.PerKVNR":            "registration.requests_per_kvnr_per_day",
	"registration.Config.ActivationsPerIP":   "registration.activations_per_ip_per_hour",
	"registration.Config.RegistrationLease":  "registration.request_lease",
	"registration.Config.LetterLease":        "registration.letter_lease",
	"webauthn.Config.RPID":                   "devices.rp_id",
	"webauthn.Config.Origins":                "devices.app_origins",
	"webauthn.Config.PackedRoots":            "devices.packed_roots_file",
	"device.Policy.AndroidPackage":           "devices.android_package",
	"device.Policy.AndroidCertDigests":       "devices.android_cert_digests",
	"device.Policy.AppleAppID":               "devices.apple_app_id",
	"device.Policy.AllowAppAttestDevelop":    "devices.apple_environment",
	"binding.Config.TransferTTL":             "devices.transfer_ttl",
	"binding.Config.TransfersPerIP":          "devices.transfers_per_ip",
	"binding.Config.TransferWindow":          "devices.transfer_window",
	"pin.NewHasher":                          "pin.peppers",
	"pin.Policy.MaxFailures":                 "pin.max_failures",
	"pin.Policy.Delays":                      "pin.delays",
	"mail.Config.Host":                       "notify.smtp_host",
	"mail.Config.Port":                       "notify.smtp_port",
	"mail.Config.Username":                   "notify.smtp_username",
	"mail.Config.Password":                   "notify.smtp_password",
	"mail.Config.From":                       "notify.from",
	"mail.Config.StartTLS":                   "notify.starttls",
	"eid.Config.Issuer":                      "eid.issuer",
	"eid.Config.ClientID":                    "eid.client_id",
	"eid.Config.ClientSecret":                "eid.client_secret",
	"eid.Config.Scopes":                      "eid.scopes",
	"eid.Config.ACRValues":                   "eid.acr_values",
	"eid.Config.Timeout":                     "eid.timeout",
	"eid.Config.Profile.HighACR":             "eid.high_acr",
	"eid.Config.Profile.Pseudonym":           "eid.pseudonym",
	"eid.Config.Profile.Claims.GivenName":    "eid.claim_given_name",
	"eid.Config.Profile.Claims.FamilyName":   "eid.claim_family_name",
	"eid.Config.Profile.Claims.BirthName":    "eid.claim_birth_name",
	"eid.Config.Profile.Claims.BirthDate":    "eid.claim_birthdate",
	"eid.Config.Profile.Claims.PlaceOfBirth": "eid.claim_place_of_birth",
	"eid.Config.Profile.Claims.Address":      "eid.claim_address",
	"eid.Config.Profile.Claims.RestrictedID": "eid.claim_restricted_id",
	"server.EIDOptions.RedirectURI":          "eid.redirect_uri",
	"registration.Config.AppReturnURIs":      "eid.app_return_uris",
	"backchannel.Config.Issuer":              "server.issuer",
	"backchannel.Config.Timeout":             "logout.backchannel_timeout",
	"backchannel.Config.GiveUpAfter":         "logout.backchannel_give_up_after",
	"backchannel.Config.RetryFirst":          "logout.backchannel_retry_first",
	"backchannel.Config.RetryMax":            "logout.backchannel_retry_max",
	"server.Options.LogoutInterval":          "logout.backchannel_interval",
	"device.Reconfirm.Period":                "devices.reconfirm_period",
	"housekeeping.Config.Interval":           "housekeeping.interval",
	"housekeeping.Config.Lease":              "housekeeping.lease",
	"housekeeping.Config.LetterSecrets":      "housekeeping.letter_secrets_kept",
	"housekeeping.Config.Enrollments":        "housekeeping.enrollments_kept",
	"tracing.Config.Endpoint":                "tracing.endpoint",
	"tracing.Config.SampleRatio":             "tracing.sample_ratio",
	"lifecycle.Config.SyncMaxDrop":           "members.sync_max_drop",
	"lifecycle.Config.Retention":             "members.retention",
	"tracing.Config.ServiceName":             "tracing.service_name",
}

// keyed turns a package's refusal into the one line that names the key:
// "config: <key>: <what the package says>". An error no key is known for
// (a bug in this mapping) keeps its whole text.
func (c *Config) keyed(err error) error {
	var ce *configError
	if errors.As(err, &ce) {
		return ce
	}
	var fe *fault.Error
	if !errors.As(err, &fe) || fieldKeys[fe.Op] == "" {
		return &configError{Msg: err.Error()}
	}
	key := fieldKeys[fe.Op]
	switch {
	case key == "storage.dsn" && c.Storage.DSNFile != "":
		key = "storage.dsn_file"
	case key == "keys.master_key":
		key = masterKeyKey(c.Keys)
	case key == "pin.peppers":
		key = pepperKey(c.PIN)
	case key == "notify.smtp_password" && c.Notify.SMTPPasswordFile != "":
		key = "notify.smtp_password_file"
	case key == "eid.client_secret" && c.EID.ClientSecretFile != "":
		key = "eid.client_secret_file"
	}
	return bad(key, "%s", fault.PublicOf(err))
}

// devSender is the return address of the development instance's letters.
const devSender = "Pforte Demo-Krankenkasse · Postfach 10 20 30 · 28195 Bremen"

// TrustedProxies parses registration.trusted_proxies.
func (c *Config) TrustedProxies() ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(c.Registration.TrustedProxies))
	for _, s := range c.Registration.TrustedProxies {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			if a, aerr := netip.ParseAddr(s); aerr == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			} else {
				return nil, fmt.Errorf("%q is not an IP address or CIDR", s)
			}
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// PINPeppers parses pin.peppers ("1:<base64>,2:<base64>") and returns the
// current version; an empty list means version 1 derived from the master
// key (returned as nil peppers, version 1). Errors are *configError
// naming pin.peppers (or pin.peppers_file) or pin.pepper_version; the
// size of a pepper is pin.NewHasher's to check.
func (c *Config) PINPeppers() (map[int][]byte, int, error) {
	raw := c.PIN.Peppers.Reveal()
	notConfigured := func(v int) error {
		return bad("pin.pepper_version", "pepper version %d is not configured", v)
	}
	if c.PIN.PepperVersion < 0 {
		return nil, 0, bad("pin.pepper_version", "must not be negative (0: the highest)")
	}
	if raw == "" {
		if c.PIN.PepperVersion > 1 {
			return nil, 0, notConfigured(c.PIN.PepperVersion)
		}
		return nil, 1, nil
	}
	key := pepperKey(c.PIN)
	out := map[int][]byte{}
	highest := 0
	for _, part := range strings.Split(raw, ",") {
		v, b64, ok := strings.Cut(strings.TrimSpace(part), ":")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 1 {
			return nil, 0, bad(key, "each pepper is <version>:<base64 key>, versions from 1")
		}
		pepper, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, 0, bad(key, "pepper version %d is not base64", n)
		}
		if _, dup := out[n]; dup {
			return nil, 0, bad(key, "pepper version %d appears twice", n)
		}
		out[n] = pepper
		highest = max(highest, n)
	}
	cur := c.PIN.PepperVersion
	if cur == 0 {
		cur = highest
	}
	if _, ok := out[cur]; !ok {
		return nil, 0, notConfigured(cur)
	}
	return out, cur, nil
}

func pepperKey(p PINConfig) string {
	if p.PeppersFile != "" {
		return "pin.peppers_file"
	}
	return "pin.peppers"
}

func masterKeyKey(k KeysConfig) string {
	if k.MasterKeyFile != "" {
		return "keys.master_key_file"
	}
	return "keys.master_key"
}

func validateAddr(addr string) error {
	// An empty host is allowed: it listens on all interfaces.
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q has no valid port", addr)
	}
	return nil
}

func readable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return errors.New(readError(err))
	}
	return f.Close()
}

// decodeMasterKey reads a base64 master key (standard or URL alphabet,
// padded or not) of the size keys.CheckMaster requires.
func decodeMasterKey(s Secret) ([]byte, error) {
	v := strings.TrimSpace(s.Reveal())
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil {
			if err := keys.CheckMaster(b); err != nil {
				return nil, err
			}
			return b, nil
		}
	}
	return nil, fault.New(fault.Invalid, "keys.CheckMaster", "is not base64 (generate one with: head -c 32 /dev/urandom | base64)")
}

// devMasterKeyFile is where development keeps its generated master key.
const devMasterKeyFile = "master.key"

// readMasterKey returns the configured master key, or in development the
// one in <data_dir>/master.key. It creates nothing: a development key that
// does not exist yet is a nil key with its path (resolveMasterKey then
// generates it). Errors name the key.
func readMasterKey(cfg *Config) (key []byte, devPath string, err error) {
	if cfg.Keys.MasterKey != "" {
		key, err := decodeMasterKey(cfg.Keys.MasterKey)
		if err != nil {
			return nil, "", cfg.keyed(err)
		}
		return key, "", nil
	}
	if cfg.Server.Environment != Development {
		return nil, "", bad("keys.master_key", "required in production")
	}
	path := filepath.Join(cfg.Server.DataDir, devMasterKeyFile)
	if s, err := readSecretFile(path); err == nil {
		key, err := decodeMasterKey(s)
		if err != nil {
			return nil, path, bad("keys.master_key", "%s: %s", path, fault.PublicOf(err))
		}
		return key, path, nil
	} else if _, statErr := os.Stat(path); !errors.Is(statErr, fs.ErrNotExist) {
		return nil, path, bad("keys.master_key", "%s", err)
	}
	return nil, path, nil
}

// resolveMasterKey returns the 32-byte master key. A configured key is used
// as it is. Without one, development reads <data_dir>/master.key, creating
// it (mode 0600) on first start and saying so in a warning; production never
// gets here, because Validate requires a key there.
func resolveMasterKey(cfg *Config, log *slog.Logger) ([]byte, error) {
	key, path, err := readMasterKey(cfg)
	if err != nil || key != nil {
		return key, err
	}
	if err := os.MkdirAll(cfg.Server.DataDir, 0o700); err != nil {
		return nil, bad("server.data_dir", "%v", err)
	}
	key = make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	// O_EXCL: of two instances starting at once, one writes and the other
	// fails here and reads the winner's key on its next start.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, bad("keys.master_key", "cannot create %s: %v", path, err)
	}
	_, werr := io.WriteString(f, base64.StdEncoding.EncodeToString(key)+"\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, bad("keys.master_key", "cannot write %s: %v", path, werr)
	}
	log.Warn("generated a development master key; it encrypts the signing keys at rest. "+
		"Keep the file with the database. Production refuses to start without keys.master_key_file.",
		"path", path)
	return key, nil
}

// ACRVocabulary returns the configured acr vocabulary (EIDAS when the
// name is unknown; Validate refuses that).
func (c *Config) ACRVocabulary() loa.Vocabulary {
	v, err := loa.VocabularyNamed(c.Login.ACRVocabulary)
	if err != nil {
		return loa.EIDAS
	}
	return v
}

// PasswordParams returns the configured Argon2id parameters. A value
// outside its field's type becomes one password.Params.Validate refuses
// (0, or the type's maximum), never a wrapped-around valid one.
func (c *Config) PasswordParams() password.Params {
	l := c.Login
	parallelism := l.Argon2Parallelism
	if parallelism < 0 || parallelism > math.MaxUint8 {
		parallelism = 0
	}
	return password.Params{
		MemoryKiB:   uint32(min(max(l.Argon2MemoryKiB, 0), math.MaxUint32)),
		Iterations:  uint32(min(max(l.Argon2Iterations, 0), math.MaxUint32)),
		Parallelism: uint8(parallelism),
	}
}

// passwordConfig is login.* as the password package's configuration.
func (c *Config) passwordConfig() password.Config {
	return password.Config{Params: c.PasswordParams(), Concurrency: c.Login.HashConcurrency, MaxWait: c.Login.HashMaxWait}
}

// mailConfig is notify.* as the mail adapter's configuration.
func (c *Config) mailConfig() mail.Config {
	n := c.Notify
	return mail.Config{
		Host: n.SMTPHost, Port: n.SMTPPort, Username: n.SMTPUsername, Password: mail.Secret(n.SMTPPassword.Reveal()),
		From: n.From, StartTLS: mail.StartTLS(n.StartTLS),
	}
}

// KeyPolicy returns the signing key rotation policy of keys.*. Its
// MaxTokenLifetime, how long a retired key stays published, is not a
// setting: it is the longest lifetime of any token signed, which a
// client's own lifetimes may reach (authz.MaxTokenTTL), not the server's
// defaults; package server holds every policy to it.
func (c *Config) KeyPolicy() signkey.Policy {
	return signkey.Policy{
		Publish:          time.Duration(c.Keys.PublishHours) * time.Hour,
		Lifetime:         time.Duration(c.Keys.RotationDays) * 24 * time.Hour,
		MaxTokenLifetime: authz.MaxTokenTTL,
	}
}

// newLogger returns the structured logger log configures, writing to w.
func newLogger(w io.Writer, log LogConfig) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(log.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if log.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
