package applogin

import (
	"context"
	"log/slog"
	"time"

	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/binding"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/loa"
)

// Authorizer is the part of the authorization server (core/authz) the app
// login drives.
type Authorizer interface {
	// PendingLogin returns authorization request id waiting for a login,
	// with its client. Errors: NotFound; Expired; Conflict (completed).
	PendingLogin(ctx context.Context, id string) (grant.AuthRequest, client.Client, error)
	// CompleteLogin records the login on request id and returns the
	// client's redirect URI with code, state and iss. Errors: as
	// PendingLogin; an error with a fault.Redirect when the login does not satisfy
	// the request (acr_values, max_age); Unavailable.
	CompleteLogin(ctx context.Context, id string, a loa.Authentication) (string, error)
	// ErrorRedirect returns the redirect URI that reports an error to the client
	// as OAuth error oauthCode.
	ErrorRedirect(r fault.Redirect, oauthCode, description string) string
}

// Devices is the part of device binding (core/binding) the app login
// drives: possession of the bound key and the release PIN.
type Devices interface {
	BeginLogin(ctx context.Context, bindingID, authRequestID string) (challengeID string, options []byte, err error)
	AuthenticateLogin(ctx context.Context, challengeID string, response []byte, pin, ip, authRequestID string) (loa.Authentication, error)
	// ReconfirmBy is when the binding needs a re-confirmation.
	ReconfirmBy(ctx context.Context, bindingID string) (time.Time, error)
}

var (
	_ Authorizer = (*authz.Service)(nil)
	_ Devices    = (*binding.Service)(nil)
)

// Codes of the app login.
const (
	unknownText = authz.CodeLoginUnknown
	// notAppText: the request is not a native client's; log in in the
	// browser. No parameters.
	notAppText fault.Code = "login.not_app"
	// CodeStepUpEID: the request asks for level high, the account is
	// proofed by letter (substantial), and the member can raise it with
	// the eID in the app (POST /app/v1/step-up). The app answers it by
	// running the step-up and logging in again. No parameters.
	CodeStepUpEID fault.Code = "login.step_up_eid"
)

// Options are the app login's settings.
type Options struct {
	// StepUpEID: members can raise their account to high with the eID
	// (registration.BeginStepUp), so a login refused for want of high
	// tells the app to run it (CodeStepUpEID).
	StepUpEID bool
}

// maxID bounds the ids the app sends; longer ones are none Pforte issued.
const maxID = 128

// Service is the app login use case. It keeps no state: the pending
// authorization request lives in the authorization server's store, the
// challenge and the PIN counter in the device store. Safe for concurrent
// use.
type Service struct {
	authz   Authorizer
	devices Devices
	opts    Options
	log     *slog.Logger
}

// New returns a Service over the authorization server az and device
// binding dev; log may be nil (discard).
// Errors: Invalid when az or dev is missing.
func New(az Authorizer, dev Devices, opts Options, log *slog.Logger) (*Service, error) {
	if az == nil || dev == nil {
		return nil, fault.New(fault.Invalid, "applogin.New", "the authorization server and device binding are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{authz: az, devices: dev, opts: opts, log: log}, nil
}

// pending returns authorization request id if the app may complete it:
// it waits for a login, has not expired, and belongs to a native client.
// Requests of online forms and partner portals are refused: they log in
// with the password page, and an app that completes one would log a
// member into a web session the member's browser never asked for (a
// request id sent to the member's phone by an attacker).
// Errors: NotFound; Expired; Conflict (completed); Forbidden (not a
// native client); Unavailable.
func (s *Service) pending(ctx context.Context, op, id string) (grant.AuthRequest, client.Client, error) {
	if id == "" || len(id) > maxID {
		return grant.AuthRequest{}, client.Client{}, fault.Coded(fault.NotFound, op, unknownText)
	}
	r, c, err := s.authz.PendingLogin(ctx, id)
	if err != nil {
		return grant.AuthRequest{}, client.Client{}, err
	}
	if c.Kind != client.Native {
		s.log.LogAttrs(ctx, slog.LevelInfo, "app login refused: not a native client's request",
			slog.String("request", r.ID), slog.String("client", c.ID), slog.String("kind", string(c.Kind)))
		return grant.AuthRequest{}, client.Client{}, fault.Coded(fault.Forbidden, op, notAppText)
	}
	return r, c, nil
}

// Begin starts the device step of authorization request authRequestID
// with binding bindingID: the request must be pending, unexpired and a
// native client's; the challenge (binding.BeginLogin) answers only this
// request, once, within device.ChallengeTTL. It returns the challenge id
// and the WebAuthn request options for the app's authenticator.
//
// Errors: NotFound, Expired, Conflict (the request); Forbidden (not a
// native client's request; binding unknown, revoked, suspect or not
// enrolled); Locked (pin.CodeBlocked: the binding is blocked);
// Unavailable.
func (s *Service) Begin(ctx context.Context, authRequestID, bindingID string) (challengeID string, options []byte, err error) {
	const op = "applogin.Begin"
	if _, _, err := s.pending(ctx, op, authRequestID); err != nil {
		return "", nil, err
	}
	return s.devices.BeginLogin(ctx, bindingID, authRequestID)
}

// Complete finishes authorization request authRequestID with the app's
// answer to challenge challengeID (assertion) and the release PIN, and
// returns the client's redirect URI with code, state and iss, which the
// app opens as it would a browser's redirect. ip is the client address
// for the audit log.
//
// The request is checked first (pending, unexpired, native), so that no
// PIN attempt is spent on a login that cannot complete; then the key and
// PIN (binding.AuthenticateLogin, the challenge must be this request's);
// then the authorization server records the login and issues the code.
// The login's time is the PIN check's, so max_age is always met.
//
// When the login does not satisfy the request — acr_values asks for a
// level the member's proofing cannot reach, e.g. high for a member
// proofed by letter — the error carries a fault.Redirect, for the
// client: the caller hands the app its ErrorRedirect, exactly as a
// browser would be redirected. Its text says which level was asked for
// and why the account does not reach it. The request stays pending until
// it expires (a later step-up through eID may complete it).
//
// Errors: NotFound, Expired, Conflict (the request); Forbidden (not a
// native client's request); those of binding.AuthenticateLogin
// (the pin codes for a wrong, early or blocked PIN); a
// an error with a fault.Redirect (Forbidden: level not reachable; Unauthenticated:
// max_age); Unavailable.
func (s *Service) Complete(ctx context.Context, authRequestID, challengeID string, assertion []byte, pin, ip string) (redirect string, err error) {
	c, err := s.CompleteLogin(ctx, authRequestID, challengeID, assertion, pin, ip)
	return c.RedirectURI, err
}

// Completed is a completed app login.
type Completed struct {
	// RedirectURI is the client's redirect URI with code, state and iss.
	RedirectURI string
	// ReconfirmBy is when the device binding that logged in needs a
	// re-confirmation (device.Reconfirm): the app tells the member ahead
	// of time. Zero when it could not be read (the login stands).
	ReconfirmBy time.Time
}

// CompleteLogin is Complete, with what the app is told besides the
// redirect. Errors: those of Complete.
func (s *Service) CompleteLogin(ctx context.Context, authRequestID, challengeID string, assertion []byte, pin, ip string) (Completed, error) {
	const op = "applogin.Complete"
	r, c, err := s.pending(ctx, op, authRequestID)
	if err != nil {
		return Completed{}, err
	}
	a, err := s.devices.AuthenticateLogin(ctx, challengeID, assertion, pin, ip, authRequestID)
	if err != nil {
		return Completed{}, err
	}
	to, err := s.authz.CompleteLogin(ctx, authRequestID, a)
	back, toClient := fault.RedirectOf(err)
	switch {
	case err != nil && toClient:
		if fault.KindOf(err) == fault.Forbidden && len(r.ACRValues) > 0 && a.Proofing < loa.High {
			e := fault.Wrap(fault.Forbidden, op, err).WithPublic(s.levelText(a.Proofing)).WithRedirect(back)
			if s.opts.StepUpEID && a.Proofing == loa.Substantial {
				e = e.WithCode(CodeStepUpEID)
			}
			err = e
		}
		s.log.LogAttrs(ctx, slog.LevelInfo, "app login does not satisfy the request",
			slog.String("request", authRequestID), slog.String("client", c.ID), slog.String("binding", a.BindingID),
			slog.String("kind", fault.KindOf(err).String()))
		return Completed{}, err
	case err != nil:
		return Completed{}, err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "app login completed",
		slog.String("request", authRequestID), slog.String("client", c.ID), slog.String("binding", a.BindingID),
		slog.String("account", a.Subject))
	out := Completed{RedirectURI: to}
	if out.ReconfirmBy, err = s.devices.ReconfirmBy(ctx, a.BindingID); err != nil {
		// The login is done and its code issued; the date is a reminder.
		s.log.LogAttrs(ctx, slog.LevelWarn, "app login: reading the re-confirmation date failed",
			slog.String("binding", a.BindingID), slog.Any("err", err))
	}
	return out, nil
}

// ErrorRedirect returns the redirect URI that reports an error to its client at r as
// OAuth error oauthCode (with error_description, state and iss); the
// driving adapter maps the error kind to the code.
func (s *Service) ErrorRedirect(r fault.Redirect, oauthCode, description string) string {
	return s.authz.ErrorRedirect(r, oauthCode, description)
}

// levelText explains why an account proofed at proofing (below high)
// cannot reach the requested level: the app login reaches the account's
// proofing level (key + PIN are two factors), so a refused acr_values
// always asks for more than the proofing gives. It goes into
// error_description, which RFC 6749 §4.1.2.1 restricts to printable
// ASCII: English only; the app shows its own German text for the error
// code.
func (s *Service) levelText(proofing loa.Level) string {
	switch {
	case proofing == loa.Substantial && s.opts.StepUpEID:
		return "This service requires the level of assurance high, which needs an identity proven with the eID " +
			"function of the ID card. The account was verified by password letter, which reaches substantial; " +
			"run the eID step-up in the app (POST /app/v1/step-up), then log in again."
	case proofing == loa.Substantial:
		return "This service requires the level of assurance high, which needs an identity proven with the eID " +
			"function of the ID card. The account was verified by password letter, which reaches substantial; " +
			"proving the identity with the eID card in the app is not available here."
	default:
		return "This service requires a level of assurance the account's identity proofing does not reach. " +
			"Please verify your identity by password letter or eID card first."
	}
}
