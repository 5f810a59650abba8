package sso

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/backchannel"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/session"
	"github.com/pforte-id/pforte/ports/store"
)

// Codes of an authorization request with prompt=none that a session cannot
// answer (OpenID Connect Core §3.1.2.6); each goes to the client as the
// OAuth error of its name. None has parameters.
const (
	CodeLoginRequired       fault.Code = "sso.login_required"
	CodeInteractionRequired fault.Code = "sso.interaction_required"
	CodeConsentRequired     fault.Code = "sso.consent_required"
)

// Authorizer is the part of the authorization server (core/authz) single
// sign-on drives.
type Authorizer interface {
	PendingLogin(ctx context.Context, id string) (grant.AuthRequest, client.Client, error)
	CompleteLogin(ctx context.Context, id string, a loa.Authentication) (string, error)
	RequiredLevel(r grant.AuthRequest, c client.Client) loa.Level
	NeedsConsent(ctx context.Context, r grant.AuthRequest, c client.Client, accountID string) (bool, error)
	HintNames(ctx context.Context, hintSubject, hintClient, accountID string) (bool, error)
	ErrorRedirect(r fault.Redirect, oauthCode, description string) string
}

var _ Authorizer = (*authz.Service)(nil)

// BackChannel queues back-channel logout tokens (OpenID Connect
// Back-Channel Logout 1.0) for the relying parties clientIDs of ended
// session sid of account accountID, each with the sub that client knows
// the member by; clients without a backchannel_logout_uri are skipped.
// Queueing a session and client that are waiting already queues nothing
// more. core/backchannel.Service implements it.
type BackChannel interface {
	EnqueueSession(ctx context.Context, sid, accountID string, clientIDs []string) error
}

var _ BackChannel = (*backchannel.Service)(nil)

// Config holds the session rules.
type Config struct {
	// Policy is how long sessions live; the zero value takes
	// session.DefaultPolicy.
	Policy session.Policy
}

func (c Config) withDefaults() Config {
	if c.Policy == (session.Policy{}) {
		c.Policy = session.DefaultPolicy
	}
	return c
}

// Validate checks the configuration after defaults are applied.
func (c Config) Validate() error {
	return c.withDefaults().Policy.Validate()
}

// Deps are what the service needs. BackChannel, Now and Logger are
// optional (nil: no back-channel logout is sent).
type Deps struct {
	Sessions    store.Sessions
	Accounts    store.Accounts
	Audit       store.Audit
	Authz       Authorizer
	BackChannel BackChannel
	Now         func() time.Time
	Logger      *slog.Logger
}

// Service is single sign-on. It keeps no state of its own.
type Service struct {
	cfg Config
	d   Deps
	log *slog.Logger
	// deferNotify: an Ender's; leave the back-channel logouts to Sweep.
	deferNotify bool
}

// New returns a Service. Errors: Invalid.
func New(cfg Config, d Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Sessions == nil || d.Accounts == nil || d.Audit == nil || d.Authz == nil {
		return nil, fault.New(fault.Invalid, "sso.New", "a dependency is missing")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg.withDefaults(), d: d, log: d.Logger}, nil
}

// Policy is the effective session policy (for the cookie's lifetime).
func (s *Service) Policy() session.Policy { return s.cfg.Policy }

func (s *Service) clock() time.Time { return s.d.Now().UTC() }

// secretLen is the length of a session secret: 256 bits.
const secretLen = 32

// Current returns the active session of the browser whose cookie holds
// secret, and records the use (the idle time starts again). Errors:
// NotFound (no secret, an unknown one, or a session that ended or
// expired); Unavailable.
func (s *Service) Current(ctx context.Context, secret string) (session.Session, error) {
	const op = "sso.Current"
	if b, err := base64.RawURLEncoding.DecodeString(secret); err != nil || len(b) != secretLen {
		return session.Session{}, fault.New(fault.NotFound, op, "no session")
	}
	cur, err := s.d.Sessions.SessionBySecret(ctx, grant.Hash(secret))
	if err != nil {
		return session.Session{}, err
	}
	now := s.clock()
	if !cur.Active(now) {
		return session.Session{}, fault.New(fault.NotFound, op, "the session is over")
	}
	if now.Sub(cur.LastSeenAt) < time.Minute {
		// Touching at most once a minute spares a write per request; the
		// idle time is in minutes anyway.
		return cur, nil
	}
	touched, err := s.d.Sessions.UpdateSession(ctx, cur.ID, func(c *session.Session) error {
		*c = c.Touch(s.cfg.Policy, now)
		return nil
	})
	if errors.Is(err, fault.Conflict) {
		return session.Session{}, fault.New(fault.NotFound, op, "the session is over")
	}
	return touched, err
}

// Begin starts the session of a login in the browser described by browser
// (coarse, for the account page) and returns it with its secret, for the
// cookie. The browser's previous session (previousSecret; "" for none)
// ends: one browser, one session. Errors: Unavailable.
func (s *Service) Begin(ctx context.Context, a loa.Authentication, browser, previousSecret string) (string, session.Session, error) {
	if prev, err := s.Current(ctx, previousSecret); err == nil {
		if err := s.End(ctx, prev.ID, session.EndReplaced); err != nil {
			return "", session.Session{}, err
		}
	}
	reached := loa.Reach(a.Proofing, a.AMR)
	b := make([]byte, secretLen)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	secret := base64.RawURLEncoding.EncodeToString(b)
	now := s.clock()
	ss := s.cfg.Policy.New(a, reached.Level, reached.AMR, browser, secret, now)
	if err := s.d.Sessions.CreateSession(ctx, ss); err != nil {
		return "", session.Session{}, err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "sso session started", slog.String("sid", ss.ID),
		slog.String("account", ss.AccountID), slog.String("level", ss.Level.String()))
	return secret, ss, nil
}

// StepUp raises session sid with login a of the same member (the app's
// confirmation): its level, amr, auth_time and binding become a's.
// Errors: NotFound; Conflict (ended); Forbidden (another member);
// Unavailable.
func (s *Service) StepUp(ctx context.Context, sid string, a loa.Authentication) (session.Session, error) {
	reached := loa.Reach(a.Proofing, a.AMR)
	return s.d.Sessions.UpdateSession(ctx, sid, func(c *session.Session) error {
		up, err := c.StepUp(a, reached.Level, reached.AMR)
		*c = up.Touch(s.cfg.Policy, s.clock())
		return err
	})
}

// Step is what the login page does next for a request.
type Step int

const (
	// Done: the session answered; redirect to To.
	Done Step = iota
	// ShowLogin: show the login page.
	ShowLogin
	// ConfirmInApp: ask for the app's confirmation of the session's
	// member, without the password (Session is set).
	ConfirmInApp
)

// Outcome is Resume's answer.
type Outcome struct {
	Step    Step
	To      string
	Session session.Session
}

// Resume decides what the browser with session secret secret ("" for
// none) gets for authorization request id: an answer from its session, a
// step-up in the app, or the login page (session.Decide). With
// prompt=none every answer but Done is an error for the client.
// Errors: those of authz.PendingLogin and authz.CompleteLogin (with a
// fault.Redirect for the client); an error with a fault.Redirect and
// CodeLoginRequired, CodeInteractionRequired or CodeConsentRequired for
// prompt=none; Unavailable.
func (s *Service) Resume(ctx context.Context, id, secret string) (Outcome, error) {
	const op = "sso.Resume"
	r, c, err := s.d.Authz.PendingLogin(ctx, id)
	if err != nil {
		return Outcome{}, err
	}
	silent := slices.Contains(r.Prompt, "none")
	refuse := func(code fault.Code) (Outcome, error) {
		return Outcome{}, fault.Coded(fault.Unauthenticated, op, code).WithRedirect(fault.Redirect{URI: r.RedirectURI, State: r.State})
	}
	cur, err := s.Current(ctx, secret)
	if err != nil && !errors.Is(err, fault.NotFound) {
		return Outcome{}, err
	}
	var ss *session.Session
	var acct account.Account
	if err == nil {
		acct, err = s.d.Accounts.AccountByID(ctx, cur.AccountID)
		if err != nil {
			return Outcome{}, err
		}
		if acct.CanLogIn() {
			ss = &cur
		}
	}
	q := session.Request{Prompt: r.Prompt, MaxAge: r.MaxAge, Level: s.d.Authz.RequiredLevel(r, c)}
	if ss != nil {
		q.Proofing = acct.Proofing
		if q.OtherMember, err = s.otherMember(ctx, r, acct); err != nil {
			return Outcome{}, err
		}
	}
	switch session.Decide(ss, q, s.clock()) {
	case session.Login:
		if silent {
			return refuse(CodeLoginRequired)
		}
		return Outcome{Step: ShowLogin}, nil
	case session.StepUp:
		if silent {
			return refuse(CodeInteractionRequired)
		}
		return Outcome{Step: ConfirmInApp, Session: *ss}, nil
	}
	if silent {
		ask, err := s.d.Authz.NeedsConsent(ctx, r, c, ss.AccountID)
		if err != nil {
			return Outcome{}, err
		}
		if ask {
			return refuse(CodeConsentRequired)
		}
	}
	to, err := s.Complete(ctx, id, *ss, ss.Authentication(acct.Proofing))
	if err != nil {
		return Outcome{}, err
	}
	return Outcome{Step: Done, To: to, Session: *ss}, nil
}

// otherMember reports whether the request's hints name a member other
// than acct's: a login_hint that is a KVNR, or an id_token_hint.
func (s *Service) otherMember(ctx context.Context, r grant.AuthRequest, acct account.Account) (bool, error) {
	if k, err := kvnr.Parse(r.LoginHint); err == nil && k != acct.KVNR {
		return true, nil
	}
	same, err := s.d.Authz.HintNames(ctx, r.HintSubject, r.HintClientID, acct.ID)
	return !same, err
}

// Complete records login a, made in (or answered from) session ss, on
// request id and notes the client among the session's relying parties,
// so that it is told when the session ends. It returns where the browser
// goes (authz.CompleteLogin). Errors: those of authz.CompleteLogin;
// NotFound when the session ended meanwhile; Unavailable.
func (s *Service) Complete(ctx context.Context, id string, ss session.Session, a loa.Authentication) (string, error) {
	to, _, err := s.complete(ctx, id, ss, a)
	return to, err
}

// Login is Complete for a login just made in the browser (the password,
// alone or confirmed in the app), not answered from an earlier session:
// once the request is completed it records the login (audit.WebLogin,
// with the client, the session, the amr and the binding that confirmed
// it). A failed audit entry is logged; the login stands. Errors: those of
// Complete.
func (s *Service) Login(ctx context.Context, id string, ss session.Session, a loa.Authentication) (string, error) {
	to, clientID, err := s.complete(ctx, id, ss, a)
	if err != nil {
		return "", err
	}
	detail := map[string]string{"sid": ss.ID, "amr": strings.Join(a.AMR, " ")}
	if a.BindingID != "" {
		detail["binding"] = a.BindingID
	}
	if err := s.d.Audit.AppendAudit(context.WithoutCancel(ctx), audit.Event{
		ID: grant.NewID(), Time: s.clock(), Kind: audit.WebLogin, Actor: audit.Member,
		AccountID: a.Subject, ClientID: clientID, Detail: detail,
	}); err != nil {
		s.log.ErrorContext(ctx, "audit of a web login failed", "sid", ss.ID, "err", err)
	}
	return to, nil
}

// complete is Complete, also returning the request's client.
func (s *Service) complete(ctx context.Context, id string, ss session.Session, a loa.Authentication) (string, string, error) {
	r, _, err := s.d.Authz.PendingLogin(ctx, id)
	if err != nil {
		return "", "", err
	}
	if !slices.Contains(ss.Clients, r.ClientID) {
		// Once per client: a session that served it before is not written
		// again (an ended session is refused at the code exchange).
		if _, err := s.d.Sessions.UpdateSession(ctx, ss.ID, func(c *session.Session) error {
			*c = c.Served(r.ClientID)
			return nil
		}); err != nil {
			if errors.Is(err, fault.Conflict) {
				return "", "", fault.New(fault.NotFound, "sso.Complete", "the session ended")
			}
			return "", "", err
		}
	}
	a.SessionID = ss.ID
	to, err := s.d.Authz.CompleteLogin(ctx, id, a)
	return to, r.ClientID, err
}
