package binding

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/pin"
	"github.com/pforte-id/pforte/core/session"
	"github.com/pforte-id/pforte/ports/devicekey"
	"github.com/pforte-id/pforte/ports/notify"
	"github.com/pforte-id/pforte/ports/store"
)

// Config holds the device binding parameters.
type Config struct {
	// Device decides which key attestations are accepted. It has no
	// usable zero value: production names the Android app, development
	// sets AllowUnattested.
	Device device.Policy
	// PIN is the attempt rule; the zero value (MaxFailures 0) takes
	// pin.DefaultPolicy.
	PIN pin.Policy
	// AppClientID is the client id audit events of the app API carry;
	// empty: DefaultAppClientID.
	AppClientID string
	// Reconfirm is how long a confirmation of a binding lasts; its zero
	// value takes device.DefaultReconfirmPeriod.
	Reconfirm device.Reconfirm
	// ReconfirmEID: the eID is offered, so bindings of accounts proven at
	// high confirm again with it (device.WithEID), not with the password.
	ReconfirmEID bool
	// IPKey keys the hash of client addresses in audit events (at least
	// 32 bytes): the address itself is personal data, and an unkeyed hash
	// of the 2^32 IPv4 addresses is reversed in seconds.
	IPKey []byte
	// TransferTTL is how long a device transfer's code can be approved
	// and its secret redeemed (0: DefaultTransferTTL; at most
	// MaxTransferTTL). Short, because the code is shown on a screen.
	TransferTTL time.Duration
	// TransfersPerIP bounds the transfers one client address (IPv6: /64)
	// may begin per TransferWindow (0: DefaultTransfersPerIP): beginning
	// one needs no account, and each is a row until it expires.
	TransfersPerIP int
	// TransferWindow is the window of TransfersPerIP (0:
	// DefaultTransferWindow).
	TransferWindow time.Duration
}

// DefaultAppClientID is the client id of the app API in audit events.
const DefaultAppClientID = "app-api"

// Defaults and bounds of the device transfer.
const (
	DefaultTransferTTL    = 5 * time.Minute
	MinTransferTTL        = time.Minute
	MaxTransferTTL        = 15 * time.Minute
	DefaultTransfersPerIP = 10
	DefaultTransferWindow = 10 * time.Minute
)

func (c Config) withDefaults() Config {
	if c.PIN.MaxFailures == 0 && c.PIN.DelayFrom == 0 && len(c.PIN.Delays) == 0 {
		c.PIN = pin.DefaultPolicy
	}
	if c.AppClientID == "" {
		c.AppClientID = DefaultAppClientID
	}
	if c.TransferTTL == 0 {
		c.TransferTTL = DefaultTransferTTL
	}
	if c.TransfersPerIP == 0 {
		c.TransfersPerIP = DefaultTransfersPerIP
	}
	if c.TransferWindow == 0 {
		c.TransferWindow = DefaultTransferWindow
	}
	return c
}

// Validate checks the configuration after defaults are applied: the
// device policy and the PIN policy by their own Validate, the rest here.
// Errors: fault.Invalid whose Op names the field ("device.Policy.AndroidPackage").
func (c Config) Validate() error {
	c = c.withDefaults()
	if err := c.Device.Validate(); err != nil {
		return err
	}
	if err := c.Reconfirm.Validate(); err != nil {
		return err
	}
	switch {
	case len(c.IPKey) < 32:
		return fault.New(fault.Invalid, "binding.Config.IPKey", "the audit IP key needs at least 32 bytes")
	case strings.TrimSpace(c.AppClientID) != c.AppClientID || len(c.AppClientID) > 100:
		return fault.New(fault.Invalid, "binding.Config.AppClientID", "the app client id must be at most 100 characters without surrounding spaces")
	case c.TransferTTL < MinTransferTTL || c.TransferTTL > MaxTransferTTL:
		return fault.New(fault.Invalid, "binding.Config.TransferTTL", "the transfer lifetime must be between 1 and 15 minutes")
	case c.TransfersPerIP < 1 || c.TransfersPerIP > 1000:
		return fault.New(fault.Invalid, "binding.Config.TransfersPerIP", "the transfers per address must be between 1 and 1000")
	case c.TransferWindow < time.Minute || c.TransferWindow > 24*time.Hour:
		return fault.New(fault.Invalid, "binding.Config.TransferWindow", "the transfer window must be between 1 minute and 24 hours")
	}
	return c.PIN.Validate()
}

// Sessions ends browser sessions (core/sso.Service): those a device
// binding confirmed, and all of an account's.
type Sessions interface {
	EndOfBinding(ctx context.Context, bindingID string) (int, error)
	EndAll(ctx context.Context, accountID string, reason session.EndReason) (int, error)
}

// PasswordRules checks a member's new password: the rules of a member's
// own password with the member's personal inputs (core/registration).
type PasswordRules interface {
	CheckPassword(ctx context.Context, k kvnr.KVNR, accountID, pw string) error
}

// PasswordHasher hashes a new password (core/password.Hasher: Argon2id).
type PasswordHasher interface {
	Hash(ctx context.Context, pw string) (string, error)
}

// Deps are the ports and tools the service needs. All are required except
// Sessions, Proofs, Notifier, Now and Logger.
type Deps struct {
	// Enrollments finds the enrollment session of a bearer token.
	Enrollments store.Enrollments
	Devices     store.Devices
	// Families ends the app logins of a binding this service revokes or
	// marks suspect.
	Families store.BindingFamilies
	// Sessions ends the single sign-on sessions a revoked or blocked
	// device confirmed, with back-channel logout (core/sso); nil: none.
	Sessions   Sessions
	Challenges store.Challenges
	Audit      store.Audit
	// Completion activates the account when every enrollment step is done.
	Completion store.EnrollmentCompletion
	// Accounts gives the KVNR, status and password hash of an account.
	Accounts store.Accounts
	// Members is the member directory: date of birth (PIN rules) and
	// e-mail address (notifications).
	Members store.Members
	// Transfers keeps device transfers (a new phone approved by the old).
	Transfers store.Transfers
	// RateLimits counts the transfers begun per client address.
	RateLimits store.RateLimits
	// Ceremony runs the WebAuthn ceremonies with the app's key.
	Ceremony devicekey.Ceremony
	// Notifier tells members about changes; nil: nobody is told.
	Notifier notify.Notifier
	// Mail words a notification (its code and params) in the language of
	// the request ctx belongs to; cmd passes the message catalog's.
	// Required with a Notifier: core holds no words.
	Mail func(ctx context.Context, code fault.Code, params ...any) (subject, body string)
	// PINs hashes release PINs under the server-side pepper.
	PINs *pin.Hasher
	// Passwords checks the account password for a PIN reset, under the
	// throttling rule of every password check (core/login).
	Passwords PasswordChecker
	// Rules and Hasher check and hash a new password the member sets in
	// the app (ResetPassword, ChangePassword).
	Rules  PasswordRules
	Hasher PasswordHasher
	// Proofs redeems eID proofs for the recovery on a bound device
	// (RecoverWithEID); nil: no recovery with the eID.
	Proofs AccountProofs
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// Logger receives decisions and failures, never a PIN, password,
	// token or challenge; nil: discard.
	Logger *slog.Logger
}

// PasswordChecker checks an account's password under the one throttling
// rule of password checks; *login.Service implements it.
type PasswordChecker interface {
	// CheckAccountPassword checks pw for account a; via names the place
	// of the check, clientID and ip where it came from. Errors:
	// Unauthenticated (wrong, or the account cannot log in); RateLimited
	// while checks are delayed (with RetryAt); Unavailable.
	CheckAccountPassword(ctx context.Context, a account.Account, pw, via, clientID, ip string) error
	// ForgetFailures clears the failed password checks counted against
	// member number k, after a new password was set with other factors.
	// Errors: Unavailable.
	ForgetFailures(ctx context.Context, k kvnr.KVNR) error
}

// Service is the device binding use case. It is safe for concurrent use
// and keeps no state of its own: every counter lives in the store, so any
// number of replicas may run it on one store.
type Service struct {
	cfg        Config
	enrolls    store.Enrollments
	devices    store.Devices
	families   store.BindingFamilies
	sessions   Sessions
	challenges store.Challenges
	audit      store.Audit
	completion store.EnrollmentCompletion
	accounts   store.Accounts
	members    store.Members
	transfers  store.Transfers
	limits     store.RateLimits
	ceremony   devicekey.Ceremony
	notifier   notify.Notifier
	mail       func(ctx context.Context, code fault.Code, params ...any) (subject, body string)
	pins       *pin.Hasher
	passwords  PasswordChecker
	rules      PasswordRules
	hasher     PasswordHasher
	proofs     AccountProofs
	now        func() time.Time
	log        *slog.Logger
}

// New returns a Service. Errors: fault.Invalid for a bad configuration or
// a missing dependency.
func New(cfg Config, d Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	missing := func(what string) error {
		return fault.New(fault.Invalid, "binding.New", what+" is missing")
	}
	switch {
	case d.Enrollments == nil:
		return nil, missing("enrollment store")
	case d.Devices == nil:
		return nil, missing("device store")
	case d.Families == nil:
		return nil, missing("token family store")
	case d.Challenges == nil:
		return nil, missing("challenge store")
	case d.Audit == nil:
		return nil, missing("audit log")
	case d.Completion == nil:
		return nil, missing("enrollment completion")
	case d.Accounts == nil:
		return nil, missing("account store")
	case d.Members == nil:
		return nil, missing("member directory")
	case d.Transfers == nil:
		return nil, missing("transfer store")
	case d.RateLimits == nil:
		return nil, missing("rate limits")
	case d.Ceremony == nil:
		return nil, missing("key ceremony")
	case d.PINs == nil:
		return nil, missing("PIN hasher")
	case d.Passwords == nil:
		return nil, missing("password checker")
	case d.Rules == nil:
		return nil, missing("password rules")
	case d.Hasher == nil:
		return nil, missing("password hasher")
	case d.Notifier != nil && d.Mail == nil:
		return nil, missing("mail wording")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	if cfg.Device.AllowUnattested {
		d.Logger.Warn("device binding accepts keys without attestation and self-attested keys: development only")
	}
	return &Service{
		cfg: cfg, enrolls: d.Enrollments, devices: d.Devices, sessions: d.Sessions, families: d.Families, challenges: d.Challenges, audit: d.Audit,
		completion: d.Completion, accounts: d.Accounts, members: d.Members, transfers: d.Transfers, limits: d.RateLimits,
		ceremony: d.Ceremony, notifier: d.Notifier, mail: d.Mail, pins: d.PINs, passwords: d.Passwords, rules: d.Rules,
		hasher: d.Hasher, proofs: d.Proofs, now: d.Now, log: d.Logger,
	}, nil
}

// Config returns the effective configuration (defaults applied).
func (s *Service) Config() Config { return s.cfg }

func (s *Service) clock() time.Time { return s.now().UTC() }

// logInfo and logWarn write one structured line; callers pass ids, kinds
// and reasons, never a secret.
// errUnchanged is what an UpdateBinding closure returns when there is
// nothing to write and nothing wrong: the store writes nothing, and the
// caller takes it as success.
var errUnchanged = errors.New("binding: nothing to change")

func (s *Service) logInfo(ctx context.Context, msg string, attrs ...slog.Attr) {
	s.log.LogAttrs(ctx, slog.LevelInfo, msg, attrs...)
}

func (s *Service) logWarn(ctx context.Context, msg string, attrs ...slog.Attr) {
	s.log.LogAttrs(ctx, slog.LevelWarn, msg, attrs...)
}
