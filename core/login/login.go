package login

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/throttle"
	"github.com/pforte-id/pforte/ports/notify"
	"github.com/pforte-id/pforte/ports/store"
)

// Step is one thing the member must do in a browser login.
type Step string

const (
	// StepPassword: member number and password.
	StepPassword Step = "password"
)

// Config is the login's settings.
type Config struct {
	// Throttle is the rule every password check runs under; the zero
	// Policy is throttle.DefaultPolicy.
	Throttle throttle.Policy
	// IPKey keys the hash of client addresses in the audit log (at least
	// 32 bytes; the same key as device binding's, so that the log can
	// tell that a password check and a device event came from one place).
	IPKey []byte
}

func (c Config) withDefaults() Config {
	if c.Throttle == (throttle.Policy{}) {
		c.Throttle = throttle.DefaultPolicy
	}
	return c
}

// Validate checks c (defaults applied). Errors: fault.Invalid whose Op
// names the field ("throttle.Policy.Max", "login.Config.IPKey").
func (c Config) Validate() error {
	c = c.withDefaults()
	if len(c.IPKey) < 32 {
		return fault.New(fault.Invalid, "login.Config.IPKey", "the audit IP key needs at least 32 bytes")
	}
	return c.Throttle.Validate()
}

// Hasher is the password hashing the login needs (*password.Hasher).
type Hasher interface {
	// Hash returns the encoded hash of pw.
	Hash(ctx context.Context, pw string) (string, error)
	// Verify checks pw against encoded; needsRehash when encoded was made
	// with other parameters.
	Verify(ctx context.Context, pw, encoded string) (ok, needsRehash bool, err error)
	// VerifyDummy does the work of one Verify and fails.
	VerifyDummy(ctx context.Context, pw string) error
}

// Deps are the ports and tools the service needs. All are required except
// Notifier, Now and Logger.
type Deps struct {
	Accounts store.Accounts
	// Members gives the e-mail address the member is warned at.
	Members store.Members
	// Throttles keeps the per-account counters, RateLimits the failures
	// per client network: both in the database, for every replica.
	Throttles  store.PasswordThrottles
	RateLimits store.RateLimits
	Audit      store.Audit
	Passwords  Hasher
	// Notifier tells a member that someone keeps trying their password;
	// nil: nobody is told.
	Notifier notify.Notifier
	// Mail words a notification in the language of the request ctx
	// belongs to; required with a Notifier.
	Mail func(ctx context.Context, code fault.Code, params ...any) (subject, body string)
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// Logger receives one line per failed check, never the password or
	// the member number; nil: discard.
	Logger *slog.Logger
}

// Service authenticates members. It keeps no state of its own: the
// throttling counters live in the store, so any number of replicas apply
// one rule.
type Service struct {
	cfg       Config
	accounts  store.Accounts
	members   store.Members
	throttles store.PasswordThrottles
	limits    store.RateLimits
	audit     store.Audit
	hasher    Hasher
	notifier  notify.Notifier
	mail      func(ctx context.Context, code fault.Code, params ...any) (subject, body string)
	now       func() time.Time
	log       *slog.Logger
}

// New returns a Service. Errors: fault.Invalid for a bad configuration or
// a missing dependency.
func New(cfg Config, d Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	missing := func(what string) error { return fault.New(fault.Invalid, "login.New", what+" is missing") }
	switch {
	case d.Accounts == nil:
		return nil, missing("account store")
	case d.Members == nil:
		return nil, missing("member directory")
	case d.Throttles == nil:
		return nil, missing("throttle store")
	case d.RateLimits == nil:
		return nil, missing("rate limit store")
	case d.Audit == nil:
		return nil, missing("audit log")
	case d.Passwords == nil:
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
	return &Service{
		cfg: cfg.withDefaults(), accounts: d.Accounts, members: d.Members, throttles: d.Throttles,
		limits: d.RateLimits, audit: d.Audit, hasher: d.Passwords, notifier: d.Notifier, mail: d.Mail,
		now: d.Now, log: d.Logger,
	}, nil
}

// Steps returns the steps of the login form, in order: the password, which
// reaches the low level. A request that needs more goes on to the
// confirmation in the app, which core/weblogin runs after this step.
func (s *Service) Steps() []Step { return []Step{StepPassword} }

// Codes of a password check.
const (
	// CodeFailed: the member number or the password is wrong (never
	// which). No parameters.
	CodeFailed fault.Code = "login.failed"
	// CodeWait: password checks of this account, or from this network,
	// are delayed; the password was not checked. Params: the wait
	// (time.Duration). The error carries RetryAt and RetryAfter.
	CodeWait fault.Code = "login.wait"
)

// Reasons a password check failed, as the audit log and the log lines name
// them (never shown to the member, who reads CodeFailed or CodeWait).
const (
	ReasonWrongPassword = "password.wrong"
	ReasonUnknown       = "account.unknown"
	ReasonNoPassword    = "account.no_password"
	ReasonInactive      = "account.inactive"
	ReasonDelayed       = "throttle.account"
	ReasonNetwork       = "throttle.network"
)

// Where a password check is made (Origin.Via).
const (
	ViaWebLogin = "web_login"
	ViaPINReset = "pin_reset"
	// ViaReconfirm: the re-confirmation of a device binding
	// (binding.Service.Reconfirm).
	ViaReconfirm = "reconfirm"
)

// Origin is where a password check comes from.
type Origin struct {
	// IP is the client address as the driving adapter determined it
	// (behind trusted proxies, from X-Forwarded-For); empty: unknown,
	// which only the per-account rule then limits.
	IP string
	// ClientID is the OAuth client of the login, or the app API's.
	ClientID string
	// Via names the place of the check (ViaWebLogin, ViaPINReset).
	Via string
}

// errFailed is the one answer for every failed password check.
func errFailed(op string) error {
	return fault.Coded(fault.Unauthenticated, op, CodeFailed)
}

// Password authenticates a member by KVNR and password, under the
// throttling rule (see Check).
//
// Errors: Invalid (malformed KVNR); Unauthenticated (CodeFailed);
// RateLimited (CodeWait); Unavailable.
func (s *Service) Password(ctx context.Context, rawKVNR, pw string, o Origin) (loa.Authentication, error) {
	const op = "login.Password"
	k, err := kvnr.Parse(rawKVNR)
	if err != nil {
		return loa.Authentication{}, err
	}
	a, err := s.check(ctx, op, k, nil, pw, o)
	if err != nil {
		return loa.Authentication{}, err
	}
	return loa.Authentication{Subject: a.ID, Proofing: a.Proofing, AMR: []string{loa.AMRPassword}, Time: s.now().UTC()}, nil
}

// CheckAccountPassword checks the password of account a, known to the
// caller by another factor (the device key of a PIN reset), under the same
// rule and counter as the web login: no path is cheaper to guess on.
// via names the place (ViaPINReset). Errors as for Password.
func (s *Service) CheckAccountPassword(ctx context.Context, a account.Account, pw, via, clientID, ip string) error {
	_, err := s.check(ctx, "login.CheckAccountPassword", a.KVNR, &a, pw, Origin{IP: ip, ClientID: clientID, Via: via})
	return err
}

// ForgetFailures clears the failed password checks counted against member
// number k: a new password was set with other factors (device key and
// PIN, or the eID), and the guesses of the old one say nothing about it.
// The client networks' budgets stay as they are. Errors: Unavailable.
func (s *Service) ForgetFailures(ctx context.Context, k kvnr.KVNR) error {
	_, err := s.throttles.UpdatePasswordThrottle(ctx, counterKey(k), s.cfg.Throttle.Expiry, func(c *throttle.Counter) error {
		*c = throttle.Counter{}
		return nil
	})
	return err
}

// errDelayed stops the counter's update when the account is delayed.
var errDelayed = errors.New("password checks of the account are delayed")

// check is the one rule of password checks:
//
//   - per client network (throttle.Network: an IPv4 address, an IPv6 /64),
//     at most NetworkBudget failed checks in any span of NetworkWindow (a
//     sliding window), counted in the database: the check is counted
//     before it runs (RateLimits.Hit, atomic) and taken back
//     (RateLimits.Release) unless it fails, so that guesses sent at once
//     cannot all pass a count that has not grown yet;
//   - per member number, the check is counted as a failure before it runs
//     (throttle.Policy.Reserve, one atomic store update), so parallel
//     guesses cannot outrun the count; a correct password resets it. The
//     counter is keyed by member number, not account, so an unknown number
//     is delayed exactly like a member's and the delays reveal nothing.
//
// Every path does the same hashing work, one Argon2id verification: a
// wrong password, an unknown number, an account without password or not
// active, and a delayed or over-budget check (whose password is then
// verified against nothing and never accepted). Each failure is an audit
// event (audit.LoginFailed with the reason) and a log line; the failure
// that makes throttle.Policy.NotifyAt is told to the member.
//
// A correct password of an active account is a success; anything else
// gives CodeFailed, or CodeWait while delayed. Nothing here touches the
// device bindings: a wrong password never blocks the member's app factor.
func (s *Service) check(ctx context.Context, op string, k kvnr.KVNR, known *account.Account, pw string, o Origin) (account.Account, error) {
	p := s.cfg.Throttle
	now := s.now().UTC()
	if pw == "" || len(pw) > 1024 {
		// Refused unread, without counting: nothing was guessed.
		return account.Account{}, errFailed(op)
	}

	// 1. The client network's budget of failures: over it, the check
	// waits; within it, the check is reserved as a failure and the
	// reservation taken back on every way out but a failure.
	var wait *fault.Error
	reason := ""
	netKey, hasNet := networkKey(o.IP)
	netReserved, failedCheck := false, false
	defer func() {
		if netReserved && !failedCheck {
			s.releaseNetwork(ctx, netKey, now)
		}
	}()
	if hasNet {
		hits, retry, err := s.limits.Count(ctx, netKey, p.NetworkBudget, p.NetworkWindow, now)
		if err != nil {
			return account.Account{}, err
		}
		allowed := hits < p.NetworkBudget
		if allowed {
			// Checks that start together all find room in the count; Hit
			// admits as many of them as there is room for.
			allowed, retry, err = s.limits.Hit(ctx, netKey, p.NetworkBudget, p.NetworkWindow, now)
			if err != nil {
				return account.Account{}, err
			}
			netReserved = true
		}
		if !allowed {
			wait, reason = waitError(op, now.Add(retry), retry), ReasonNetwork
		}
	}

	// 2. The account's counter: reserve this check as a failure.
	var reserved throttle.Attempt
	key := counterKey(k)
	if wait == nil {
		_, err := s.throttles.UpdatePasswordThrottle(ctx, key, p.Expiry, func(c *throttle.Counter) error {
			reserved = p.Reserve(*c, now)
			if !reserved.Evaluated {
				return errDelayed
			}
			*c = reserved.Next
			return nil
		})
		switch {
		case errors.Is(err, errDelayed):
			retry := reserved.RetryAt
			wait, reason = waitError(op, retry, retry.Sub(now)), ReasonDelayed
		case err != nil:
			return account.Account{}, err
		}
	}

	// 3. The account, unless the caller knows it.
	var a account.Account
	found := known != nil
	if found {
		a = *known
	} else {
		var err error
		a, err = s.accounts.AccountByKVNR(ctx, k)
		switch {
		case errors.Is(err, fault.NotFound):
		case err != nil:
			s.release(ctx, key, wait == nil)
			return account.Account{}, err
		default:
			found = true
		}
	}

	// 4. One Argon2id verification on every path.
	ok, rehash := false, false
	if wait != nil || !found || a.PasswordHash == "" {
		if err := s.hasher.VerifyDummy(ctx, pw); err != nil {
			s.release(ctx, key, wait == nil)
			return account.Account{}, err
		}
	} else {
		var err error
		ok, rehash, err = s.hasher.Verify(ctx, pw, a.PasswordHash)
		if err != nil {
			s.release(ctx, key, true)
			return account.Account{}, err
		}
	}

	switch {
	case wait != nil:
		s.failed(ctx, a, found, reason, o, 0)
		return account.Account{}, wait
	case ok && a.Status == account.Active:
		if _, err := s.throttles.UpdatePasswordThrottle(ctx, key, p.Expiry, func(c *throttle.Counter) error {
			*c = throttle.Counter{}
			return nil
		}); err != nil {
			return account.Account{}, err
		}
		if rehash {
			if h, err := s.hasher.Hash(ctx, pw); err == nil {
				// Best effort: the login stands even if the upgrade fails.
				_ = s.accounts.SetPasswordHash(ctx, a.ID, h, now)
			}
		}
		return a, nil
	}
	switch {
	case !found:
		reason = ReasonUnknown
	case a.PasswordHash == "":
		reason = ReasonNoPassword
	case !ok:
		reason = ReasonWrongPassword
	default:
		reason = ReasonInactive
	}
	// The network's reservation stays: this is one of its failures.
	failedCheck = true
	s.failed(ctx, a, found, reason, o, reserved.Next.Failures)
	if reserved.Notify && found {
		s.tell(ctx, a, reserved.Next.Failures, now)
	}
	return account.Account{}, errFailed(op)
}

// release takes back the reservation of a check that could not run (the
// store or the hasher failed): an outage or an overloaded server must not
// count as guesses against the member. It only lowers the count; a delay
// already set stays until it ends. reserved false: nothing was reserved.
func (s *Service) release(ctx context.Context, key string, reserved bool) {
	if !reserved {
		return
	}
	p := s.cfg.Throttle
	_, err := s.throttles.UpdatePasswordThrottle(ctx, key, p.Expiry, func(c *throttle.Counter) error {
		if c.Failures > 0 {
			c.Failures--
		}
		if c.Failures == 0 {
			*c = throttle.Counter{}
		}
		return nil
	})
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "password check reservation not released", slog.Any("error", err))
	}
}

// releaseNetwork takes back the network's reservation of a check that did
// not fail (it succeeded, waited, or could not run). A reservation not
// taken back counts as a failure until it leaves the window: logged, never
// an error of the check.
func (s *Service) releaseNetwork(ctx context.Context, key string, now time.Time) {
	p := s.cfg.Throttle
	// Also when the client went away meanwhile: its check did not fail.
	if err := s.limits.Release(context.WithoutCancel(ctx), key, p.NetworkWindow, now); err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "password check reservation of the network not released", slog.Any("error", err))
	}
}

// waitError is the answer while checks are delayed until at. The member
// reads the wait in whole seconds, rounded up: a member who waits what the
// page says is never refused again.
func waitError(op string, at time.Time, wait time.Duration) *fault.Error {
	wait = max(wait, time.Second)
	shown := (wait + time.Second - 1).Truncate(time.Second)
	return fault.Coded(fault.RateLimited, op, CodeWait, shown).WithRetry(at, wait)
}

// counterKey is the store key of a member number's counter.
func counterKey(k kvnr.KVNR) string { return "password:" + k.String() }

// networkKey is the rate limit key of ip's network; false for an address
// that does not parse.
func networkKey(ip string) (string, bool) {
	ip = strings.TrimSpace(ip)
	a, err := netip.ParseAddr(ip)
	if err != nil {
		ap, perr := netip.ParseAddrPort(ip)
		if perr != nil {
			return "", false
		}
		a = ap.Addr()
	}
	return "password-failures:" + throttle.Network(a.WithZone("")).String(), true
}

// failed records one failed or refused check: an audit event and a log
// line with the reason (metric-ready: one message, fixed attributes).
// failures is the account's count after it (0 when not counted).
func (s *Service) failed(ctx context.Context, a account.Account, found bool, reason string, o Origin, failures int) {
	accountID := ""
	if found {
		accountID = a.ID
	}
	detail := map[string]string{"reason": reason, "via": o.Via}
	if failures > 0 {
		detail["failures"] = strconv.Itoa(failures)
	}
	e := audit.Event{
		ID: grant.NewID(), Time: s.now().UTC(), Kind: audit.LoginFailed, Actor: audit.Member, AccountID: accountID,
		ClientID: o.ClientID, IPHash: audit.IPHash(s.cfg.IPKey, o.IP), Detail: detail,
	}
	if err := s.audit.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "audit event lost", slog.String("kind", string(e.Kind)), slog.Any("error", err))
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "password check failed",
		slog.String("reason", reason), slog.String("via", o.Via), slog.String("client", o.ClientID),
		slog.String("account", accountID), slog.Int("failures", failures))
}

// mailPasswordFailures tells the member about a burst of failed password
// checks. Params: the number of failures (int), the time of the last
// (time.Time).
const mailPasswordFailures fault.Code = "mail.password_failures"

// tell notifies the member of a's failures; a lost notification is logged,
// never fails the check.
func (s *Service) tell(ctx context.Context, a account.Account, failures int, at time.Time) {
	// Not cancelled with the request: the change is made, and a client
	// that goes away must not take the notice along (the notifier bounds
	// its own time).
	ctx = context.WithoutCancel(ctx)

	if s.notifier == nil {
		return
	}
	m, err := s.members.MemberByKVNR(ctx, a.KVNR)
	switch {
	case errors.Is(err, fault.NotFound) || (err == nil && strings.TrimSpace(m.Email) == ""):
		return
	case err != nil:
		s.log.LogAttrs(ctx, slog.LevelWarn, "notification not sent", slog.String("kind", string(audit.LoginFailed)), slog.Any("error", err))
		return
	}
	subject, body := s.mail(ctx, mailPasswordFailures, failures, at)
	msg := notify.Message{To: strings.TrimSpace(m.Email), Subject: subject, Body: body, Kind: string(audit.LoginFailed)}
	if err := s.notifier.Notify(ctx, msg); err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "notification not sent", slog.String("kind", string(audit.LoginFailed)), slog.Any("error", err))
	}
}

// PasswordLockout returns the password failure counter of member k as it
// stands (support's view of a lockout), changing nothing: the zero
// Counter when there is none. Errors: Unavailable.
func (s *Service) PasswordLockout(ctx context.Context, k kvnr.KVNR) (throttle.Counter, error) {
	return s.throttles.PasswordThrottle(ctx, counterKey(k))
}
