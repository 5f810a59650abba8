package weblogin

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/pforte-id/pforte/core/approval"
	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/binding"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/ports/notify"
	"github.com/pforte-id/pforte/ports/store"
)

// Authorizer is the part of the authorization server (core/authz) the web
// login's second step drives.
type Authorizer interface {
	// PendingLogin returns authorization request id waiting for a login,
	// with its client. Errors: NotFound; Expired; Conflict (completed).
	PendingLogin(ctx context.Context, id string) (grant.AuthRequest, client.Client, error)
	// CompleteLogin records the login on request id and returns the
	// client's redirect URI with code, state and iss. Errors: as
	// PendingLogin; an error with a fault.Redirect when the login does
	// not satisfy the request; Unavailable.
	CompleteLogin(ctx context.Context, id string, a loa.Authentication) (string, error)
	// MemberMayLogIn refuses a member whose insurance ended more than the
	// grace period ago. Errors: Forbidden (member.CodeEnded); NotFound;
	// Unavailable.
	MemberMayLogIn(ctx context.Context, accountID string) error
}

// Devices is the part of device binding (core/binding) the approvals use:
// possession of the bound key, and the release PIN.
type Devices interface {
	BeginApproval(ctx context.Context, bindingID, approvalID string) (challengeID string, options []byte, err error)
	AuthenticateApproval(ctx context.Context, challengeID string, response []byte, pin, ip, approvalID string) (device.Binding, error)
	AuthenticateKey(ctx context.Context, challengeID string, response []byte, ip string) (device.Binding, error)
}

var (
	_ Authorizer = (*authz.Service)(nil)
	_ Devices    = (*binding.Service)(nil)
)

// Codes of the web login's approvals; none has parameters.
const (
	// CodeNoDevice: the member has no device that can confirm a login;
	// the page explains how to bind one.
	CodeNoDevice fault.Code = "approval.no_device"
	// CodeUnknown: no such approval for this browser or device (also one
	// of another browser or another member: which, is nobody's business).
	CodeUnknown fault.Code = "approval.unknown"
	// CodeExpired: the approval was not decided or used in time.
	CodeExpired fault.Code = "approval.expired"
	// CodePending: the browser went on before the member decided.
	CodePending fault.Code = "approval.pending"
	// CodeDenied: the member denied the login in the app.
	CodeDenied fault.Code = "approval.denied"
	// CodeWrongNumber: the member chose a number the browser did not show.
	CodeWrongNumber fault.Code = "approval.wrong_number"
	// CodeDecided: the approval was decided or used before.
	CodeDecided fault.Code = "approval.decided"
	// CodeTooMany: approval.Policy.MaxPending logins of the member wait
	// for the app already.
	CodeTooMany fault.Code = "approval.too_many"
)

// mailDenied tells the member that a browser login was refused in the
// app. Params: the service's name (string), the time (time.Time), the
// browser's description (string).
const mailDenied fault.Code = "mail.web_login_denied"

// maxID bounds the ids callers send; longer ones are none Pforte issued.
const maxID = 128

// minSession is the shortest browser session secret accepted: 128 bits
// in base64url.
const minSession = 22

// Config holds the web login's parameters.
type Config struct {
	// Policy is the approvals' rule; the zero value takes
	// approval.DefaultPolicy.
	Policy approval.Policy
	// AppClientID is the client id the app's audit events carry.
	AppClientID string
	// IPKey keys the hash of client addresses in audit events (at least
	// 32 bytes; see audit.IPHash).
	IPKey []byte
}

func (c Config) withDefaults() Config {
	if c.Policy == (approval.Policy{}) {
		c.Policy = approval.DefaultPolicy
	}
	if c.Policy.MaxPending == 0 {
		c.Policy.MaxPending = approval.DefaultPolicy.MaxPending
	}
	if c.AppClientID == "" {
		c.AppClientID = binding.DefaultAppClientID
	}
	return c
}

// Validate checks the configuration after defaults are applied.
// Errors: fault.Invalid whose Op names the field.
func (c Config) Validate() error {
	c = c.withDefaults()
	if len(c.IPKey) < 32 {
		return fault.New(fault.Invalid, "weblogin.Config.IPKey", "the audit IP key needs at least 32 bytes")
	}
	return c.Policy.Validate()
}

// Deps are the ports and use cases the service needs. All are required
// except Notifier, Mail (required with a Notifier), Now and Logger.
type Deps struct {
	Approvals store.Approvals
	// Bindings tells whether a member has a device that can confirm, and
	// whose a device is.
	Bindings store.Devices
	// Accounts gives the account's status and proofing level.
	Accounts store.Accounts
	// Clients gives the names of the services the app shows.
	Clients store.Clients
	// Members gives the e-mail address a denial is told to.
	Members store.Members
	Audit   store.Audit
	Authz   Authorizer
	Devices Devices
	// Notifier tells members about a denied login; nil: nobody is told.
	Notifier notify.Notifier
	// Mail words a notification in the language of ctx's request.
	Mail   func(ctx context.Context, code fault.Code, params ...any) (subject, body string)
	Now    func() time.Time
	Logger *slog.Logger
}

// Service is the web login's second step. It keeps no state of its own:
// approvals live in the store, so any number of replicas may run it.
type Service struct {
	cfg Config
	d   Deps
	log *slog.Logger
}

// New returns a Service. Errors: Invalid for a bad configuration or a
// missing dependency.
func New(cfg Config, d Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if d.Approvals == nil || d.Bindings == nil || d.Accounts == nil || d.Clients == nil || d.Members == nil ||
		d.Audit == nil || d.Authz == nil || d.Devices == nil || (d.Notifier != nil && d.Mail == nil) {
		return nil, fault.New(fault.Invalid, "weblogin.New", "a dependency is missing")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, d: d, log: log}, nil
}

func (s *Service) clock() time.Time { return s.d.Now().UTC() }

// Start begins the confirmation of a browser login: the member with
// password authentication pw (login.Password) logs in on authorization
// request requestID from the browser described by browser (coarse, shown
// in the app) whose session secret is session (a cookie the browser got
// with the login page, at least 128 bits). It returns the pending
// approval; the page shows its Number.
//
// A member without a usable device (active, PIN set) gets
// CodeNoDevice: the page explains how to bind one. While
// approval.Policy.MaxPending approvals of the member wait, no further one
// is started (CodeTooMany, with the wait until the oldest expires): a
// stolen password cannot flood the member's app. The member ends the
// flood by denying them in the app, and is told of each denial.
//
// Errors: NotFound, Expired, Conflict (the request, as PendingLogin);
// Forbidden (CodeNoDevice; member.CodeEnded: the insurance ended more
// than the grace period ago); RateLimited (CodeTooMany); Invalid (no
// session secret); Unavailable.
func (s *Service) Start(ctx context.Context, requestID string, pw loa.Authentication, browser, session string) (approval.Approval, error) {
	const op = "weblogin.Start"
	if len(session) < minSession || len(session) > 256 {
		return approval.Approval{}, fault.New(fault.Invalid, op, "no browser session")
	}
	r, c, err := s.d.Authz.PendingLogin(ctx, requestID)
	if err != nil {
		return approval.Approval{}, err
	}
	// The member whose insurance ended learns it now, after the
	// password, not after confirming in the app.
	if err := s.d.Authz.MemberMayLogIn(ctx, pw.Subject); err != nil {
		return approval.Approval{}, err
	}
	bs, err := s.d.Bindings.ListBindings(ctx, pw.Subject)
	if err != nil {
		return approval.Approval{}, err
	}
	if !slices.ContainsFunc(bs, device.Binding.Usable) {
		s.log.LogAttrs(ctx, slog.LevelInfo, "web login: no device to confirm with", slog.String("account", pw.Subject))
		return approval.Approval{}, fault.Coded(fault.Forbidden, op, CodeNoDevice)
	}
	now := s.clock()
	pending, err := s.d.Approvals.PendingApprovals(ctx, pw.Subject, now)
	if err != nil {
		return approval.Approval{}, err
	}
	if len(pending) >= s.cfg.Policy.MaxPending {
		s.log.LogAttrs(ctx, slog.LevelWarn, "web login refused: too many logins wait for the app", slog.String("account", pw.Subject))
		oldest := pending[0].ExpiresAt
		return approval.Approval{}, fault.Coded(fault.RateLimited, op, CodeTooMany).WithRetry(oldest, oldest.Sub(now))
	}
	a := s.cfg.Policy.New(pw.Subject, r.ID, c.ID, browser, session, now)
	if err := s.d.Approvals.CreateApproval(ctx, a); err != nil {
		return approval.Approval{}, err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "web login waits for the app", slog.String("approval", a.ID),
		slog.String("request", r.ID), slog.String("client", c.ID), slog.String("account", a.AccountID))
	return a, nil
}

// forBrowser returns approval id if the browser with session secret
// session started it; any other approval is unknown to it.
func (s *Service) forBrowser(ctx context.Context, op, id, session string) (approval.Approval, error) {
	if id == "" || len(id) > maxID {
		return approval.Approval{}, fault.Coded(fault.NotFound, op, CodeUnknown)
	}
	a, err := s.d.Approvals.ApprovalByID(ctx, id)
	switch {
	case errors.Is(err, fault.NotFound):
		return approval.Approval{}, fault.Coded(fault.NotFound, op, CodeUnknown)
	case err != nil:
		return approval.Approval{}, err
	case !a.BelongsTo(session):
		s.log.LogAttrs(ctx, slog.LevelWarn, "approval asked for by another browser", slog.String("approval", id))
		return approval.Approval{}, fault.Coded(fault.NotFound, op, CodeUnknown)
	}
	return a, nil
}

// Outcome is what the browser may learn of its approval.
type Outcome string

const (
	// Waiting: the member has not decided yet.
	Waiting Outcome = "pending"
	// Ready: approved; the browser may finish the login.
	Ready Outcome = "approved"
	// Refused: denied, or a wrong number was chosen.
	Refused Outcome = "denied"
	// Over: expired, or used.
	Over Outcome = "expired"
)

// Status tells the browser that started approval id (session) how it
// stands; the page polls it. Errors: NotFound (CodeUnknown, also for
// another browser); Unavailable.
func (s *Service) Status(ctx context.Context, id, session string) (Outcome, error) {
	a, err := s.forBrowser(ctx, "weblogin.Status", id, session)
	if err != nil {
		return "", err
	}
	switch {
	case a.Status == approval.Denied:
		return Refused, nil
	case a.Status == approval.Used || a.Expired(s.clock()):
		return Over, nil
	case a.Status == approval.Approved:
		return Ready, nil
	}
	return Waiting, nil
}

// Finish completes the login of approval id in the browser that started
// it (session): the approval is used, once, in one atomic store update,
// and the authorization server records a login with amr pwd hwk pin at
// the member's proofing level (loa.Reach adds mfa), tied to the binding
// that approved it. It returns the client's redirect URI.
//
// Errors: NotFound (CodeUnknown, also another browser's approval);
// Expired (CodeExpired); Conflict (CodePending: not decided yet;
// CodeDecided: used before); Forbidden (CodeDenied, CodeWrongNumber;
// the account can no longer log in); those of authz.CompleteLogin,
// among them an error with a fault.Redirect when the login does not
// reach the request's level; Unavailable.
func (s *Service) Finish(ctx context.Context, id, session string) (string, error) {
	a, auth, err := s.Confirmed(ctx, id, session)
	if err != nil {
		return "", err
	}
	to, err := s.d.Authz.CompleteLogin(ctx, a.RequestID, auth)
	if err != nil {
		return "", err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "web login completed with the app", slog.String("approval", a.ID),
		slog.String("request", a.RequestID), slog.String("client", a.ClientID), slog.String("binding", a.BindingID))
	return to, nil
}

// Confirmed uses approval id in the browser that started it (session),
// once, as Finish does, and returns it with the authentication it
// confirmed (amr pwd hwk pin at the member's proofing level, tied to the
// binding that approved it), for a caller that completes the login
// itself (single sign-on: core/sso). Errors: as Finish, without those of
// authz.CompleteLogin.
func (s *Service) Confirmed(ctx context.Context, id, session string) (approval.Approval, loa.Authentication, error) {
	const op = "weblogin.Finish"
	if _, err := s.forBrowser(ctx, op, id, session); err != nil {
		return approval.Approval{}, loa.Authentication{}, err
	}
	now := s.clock()
	a, err := s.d.Approvals.UpdateApproval(ctx, id, func(cur *approval.Approval) error {
		u, err := cur.Use(session, now)
		*cur = u
		return err
	})
	if err != nil {
		return approval.Approval{}, loa.Authentication{}, s.refusal(ctx, op, id, err)
	}
	acct, err := s.d.Accounts.AccountByID(ctx, a.AccountID)
	if err != nil {
		return approval.Approval{}, loa.Authentication{}, err
	}
	if !acct.CanLogIn() {
		return approval.Approval{}, loa.Authentication{}, fault.Coded(fault.Forbidden, op, CodeDenied)
	}
	return a, loa.Authentication{
		Subject: acct.ID, Proofing: acct.Proofing, AMR: []string{loa.AMRPassword, loa.AMRHardware, loa.AMRPIN},
		Time: a.DecidedAt, BindingID: a.BindingID,
	}, nil
}

// refusal turns approval.Use's refusal of approval id into the browser's
// answer; for Conflict it reads why.
func (s *Service) refusal(ctx context.Context, op, id string, err error) error {
	switch fault.KindOf(err) {
	case fault.Forbidden, fault.NotFound:
		return fault.Coded(fault.NotFound, op, CodeUnknown)
	case fault.Expired:
		return fault.Coded(fault.Expired, op, CodeExpired)
	case fault.Conflict:
	default:
		return err
	}
	a, rerr := s.d.Approvals.ApprovalByID(ctx, id)
	if rerr != nil {
		return rerr
	}
	switch {
	case a.Status == approval.Pending:
		return fault.Coded(fault.Conflict, op, CodePending)
	case a.Status == approval.Denied && a.Reason == approval.ReasonWrongNumber:
		return fault.Coded(fault.Forbidden, op, CodeWrongNumber)
	case a.Status == approval.Denied:
		return fault.Coded(fault.Forbidden, op, CodeDenied)
	}
	return fault.Coded(fault.Conflict, op, CodeDecided)
}

// Show returns approval id to the browser that started it (session), for
// its page: the number to show, and the request it belongs to.
// Errors: NotFound (CodeUnknown, also for another browser); Unavailable.
func (s *Service) Show(ctx context.Context, id, session string) (approval.Approval, error) {
	return s.forBrowser(ctx, "weblogin.Show", id, session)
}
