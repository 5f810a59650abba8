package selfservice

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/binding"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/lifecycle"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/session"
	"github.com/pforte-id/pforte/core/sso"
	"github.com/pforte-id/pforte/ports/notify"
	"github.com/pforte-id/pforte/ports/store"
	"github.com/pforte-id/pforte/ports/token"
)

// DefaultClientID is the client id of the account page.
const DefaultClientID = "pforte-account"

// Codes of the account page; none has parameters.
const (
	// CodeLoginFailed: the login of the account page did not complete
	// (refused, cancelled, stale, or made in another browser); the member
	// starts it again.
	CodeLoginFailed fault.Code = "account.login_failed"
	// CodeNotLoggedIn: the browser has no account login, or it has ended
	// with its SSO session.
	CodeNotLoggedIn fault.Code = "account.not_logged_in"
	// CodeUnknown: no device, consent or session of this id belongs to
	// the member (another member's is the same answer).
	CodeUnknown fault.Code = "account.unknown"
	// CodeTicket: the confirmation for a new password expired, was used,
	// or belongs to another login; the member confirms again.
	CodeTicket fault.Code = "account.ticket"
	// CodePasswordMismatch: the new password and its repetition differ.
	CodePasswordMismatch fault.Code = "account.password_mismatch"
)

// Lifetimes.
const (
	// FlowTTL bounds a login of the account page from Begin to Finish:
	// the authorization request's own lifetime and a little more.
	FlowTTL = 15 * time.Minute
	// TicketTTL bounds the time between confirming the current password
	// and setting the new one.
	TicketTTL = 10 * time.Minute
)

// Purpose is why the account page logs in.
type Purpose string

const (
	// ForPage: to show the page (the SSO session may answer).
	ForPage Purpose = "page"
	// ForPassword: to change the password: prompt=login and max_age=0,
	// the current password and the app's confirmation again.
	ForPassword Purpose = "password"
	// ForDeletion: to delete the account: a fresh login as for
	// ForPassword.
	ForDeletion Purpose = "delete"
)

// fresh reports whether purpose needs a fresh two-factor login and
// gives a ticket for one action.
func (p Purpose) fresh() bool { return p == ForPassword || p == ForDeletion }

// Config is the account page's client.
type Config struct {
	// Issuer is Pforte's issuer; ID tokens must name it.
	Issuer string
	// ClientID is the account page's client id; empty: DefaultClientID.
	ClientID string
	// AuthorizeEndpoint is where Begin sends the browser.
	AuthorizeEndpoint string
	// RedirectURI is the page's callback (registered for the client).
	RedirectURI string
	// Key MACs the values the page gives the browser (the login flow, the
	// login, the password ticket): at least 32 bytes, the same on every
	// replica (derived from the master key).
	Key []byte
	// IPKey keys the hash of client addresses in audit events.
	IPKey []byte
	// Vocabulary names the levels in acr; zero: loa.EIDAS.
	Vocabulary loa.Vocabulary
	// Events is how many security events the page shows; 0: 20.
	Events int
}

func (c Config) withDefaults() Config {
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.Vocabulary == (loa.Vocabulary{}) {
		c.Vocabulary = loa.EIDAS
	}
	if c.Events == 0 {
		c.Events = 20
	}
	return c
}

// Validate checks c after defaults. Errors: fault.Invalid whose Op names
// the field.
func (c Config) Validate() error {
	c = c.withDefaults()
	bad := func(field, msg string) error { return fault.New(fault.Invalid, "selfservice.Config."+field, msg) }
	switch {
	case c.Issuer == "":
		return bad("Issuer", "is required")
	case !strings.HasPrefix(c.RedirectURI, c.Issuer+"/"):
		return bad("RedirectURI", "must lie under the issuer")
	case !strings.HasPrefix(c.AuthorizeEndpoint, c.Issuer+"/"):
		return bad("AuthorizeEndpoint", "must lie under the issuer")
	case !client.IDOK(c.ClientID):
		return bad("ClientID", "is not a valid client id")
	case len(c.Key) < 32:
		return bad("Key", "must be at least 32 bytes")
	case len(c.IPKey) < 32:
		return bad("IPKey", "must be at least 32 bytes")
	case c.Events < 1 || c.Events > 200:
		return bad("Events", "must be between 1 and 200")
	}
	return nil
}

// Client is the registration of the account page's client, which the
// server applies at start like its configured clients: confidential
// (secretHash is the hash of a secret nobody needs, since the code is
// redeemed in process), authorization code only, no refresh tokens, the
// openid scope, and loa.Substantial: the password alone never reaches the
// page.
func (c Config) Client(secretHash string, now time.Time) client.Client {
	c = c.withDefaults()
	return client.Client{
		ID: c.ClientID, Name: "Mein Konto", NameEN: "My account", Kind: client.Web,
		AuthMethod: client.AuthSecretBasic, SecretHash: secretHash, RedirectURIs: []string{c.RedirectURI},
		GrantTypes: []string{client.GrantCode}, Scopes: []string{authz.ScopeOpenID}, MinACR: loa.Substantial,
		CreatedAt: now,
	}
}

// Authorizer redeems the page's codes (core/authz).
type Authorizer interface {
	ExchangeCode(ctx context.Context, c client.Client, code, redirectURI, verifier string, pop authz.DPoPRequest) (authz.TokenResponse, error)
}

// Verifier checks the signature of Pforte's JWTs (ports/token.Signer).
type Verifier interface {
	Verify(ctx context.Context, raw, typ string, claims any) error
}

// Sessions is single sign-on (core/sso).
type Sessions interface {
	Current(ctx context.Context, secret string) (session.Session, error)
	End(ctx context.Context, sid string, reason session.EndReason) error
	EndAll(ctx context.Context, accountID string, reason session.EndReason) (int, error)
	EndOthers(ctx context.Context, accountID, keep string, reason session.EndReason) (int, error)
}

// Devices manages a member's devices (core/binding).
type Devices interface {
	MemberDevices(ctx context.Context, accountID string) ([]binding.Device, error)
	RenameMemberDevice(ctx context.Context, accountID, id, name, ip, clientID string) error
	RevokeMemberDevice(ctx context.Context, accountID, id, ip, clientID string) error
}

// PasswordRules checks a member's new password (core/registration).
type PasswordRules interface {
	CheckPassword(ctx context.Context, k kvnr.KVNR, accountID, pw string) error
}

// Hasher hashes passwords (core/password).
type Hasher interface {
	Hash(ctx context.Context, pw string) (string, error)
}

var (
	_ Authorizer = (*authz.Service)(nil)
	_ Sessions   = (*sso.Service)(nil)
	_ Devices    = (*binding.Service)(nil)
	_ Verifier   = (token.Signer)(nil)
)

// Deps are what the service needs; Notifier, Mail, Now and Logger are
// optional.
type Deps struct {
	Authz    Authorizer
	Tokens   Verifier
	Sessions Sessions
	// SessionStore lists the account's sessions.
	SessionStore store.Sessions
	Devices      Devices
	Clients      store.Clients
	Consents     store.Consents
	Accounts     store.Accounts
	Members      store.Members
	Audit        store.Audit
	// Replay spends password tickets once.
	Replay    store.Replay
	Rules     PasswordRules
	Passwords Hasher
	// Deleter deletes the account (core/lifecycle.Service); nil: the
	// page offers no deletion (DeleteAccount refuses).
	Deleter Deleter
	// Notifier tells the member of a password change; Mail words it.
	Notifier notify.Notifier
	Mail     func(ctx context.Context, code fault.Code, params ...any) (subject, body string)
	Now      func() time.Time
	Logger   *slog.Logger
}

// Deleter deletes accounts (core/lifecycle.Service).
type Deleter interface {
	DeleteAccount(ctx context.Context, d lifecycle.Deletion) (account.Account, error)
}

// Service is the account page. It keeps no state of its own.
type Service struct {
	cfg Config
	d   Deps
	log *slog.Logger
}

// New returns the service. Errors: Invalid.
func New(cfg Config, d Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Authz == nil || d.Tokens == nil || d.Sessions == nil || d.SessionStore == nil || d.Devices == nil ||
		d.Clients == nil || d.Consents == nil || d.Accounts == nil || d.Members == nil || d.Audit == nil ||
		d.Replay == nil || d.Rules == nil || d.Passwords == nil {
		return nil, fault.New(fault.Invalid, "selfservice.New", "a dependency is missing")
	}
	if d.Notifier != nil && d.Mail == nil {
		return nil, fault.New(fault.Invalid, "selfservice.New", "a notifier needs Mail")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg.withDefaults(), d: d, log: d.Logger}, nil
}

// ClientID is the account page's client id.
func (s *Service) ClientID() string { return s.cfg.ClientID }

func (s *Service) clock() time.Time { return s.d.Now().UTC() }

// mac is the MAC of parts under label: each value the page hands the
// browser carries one, so that a browser cannot make one up.
func (s *Service) mac(label string, parts ...string) string {
	m := hmac.New(sha256.New, s.cfg.Key)
	m.Write([]byte("pforte/v1/account/" + label))
	for _, p := range parts {
		m.Write([]byte{0})
		m.Write([]byte(p))
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// sealed is value with its MAC under label appended ("value.mac").
func (s *Service) sealed(label, value string) string { return value + "." + s.mac(label, value) }

// open returns the value of sealed v under label and its n dot-separated
// fields; false when the MAC does not fit or the form is wrong.
func (s *Service) open(label, v string, n int) ([]string, bool) {
	i := strings.LastIndexByte(v, '.')
	if len(v) > 512 || i < 0 {
		return nil, false
	}
	value, sum := v[:i], v[i+1:]
	if subtle.ConstantTimeCompare([]byte(s.mac(label, value)), []byte(sum)) != 1 {
		return nil, false
	}
	f := strings.Split(value, ".")
	if len(f) != n {
		return nil, false
	}
	return f, true
}

func random() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Start is a login of the account page that Begin started.
type Start struct {
	// URL is the authorization request the browser goes to.
	URL string
	// Flow is what the browser keeps until the callback (a cookie): the
	// purpose, the time and the state, MACed; the PKCE verifier and the
	// nonce are derived from it, so that the server keeps nothing.
	Flow string
}

// Begin starts a login of the account page for purpose: an authorization
// request with state, nonce and PKCE S256; for ForPassword with
// prompt=login and max_age=0. Errors: Invalid for an unknown purpose.
func (s *Service) Begin(purpose Purpose) (Start, error) {
	if purpose != ForPage && !purpose.fresh() {
		return Start{}, fault.New(fault.Invalid, "selfservice.Begin", "unknown purpose")
	}
	state := random()
	flow := s.sealed("flow", string(purpose)+"."+strconv.FormatInt(s.clock().Unix(), 10)+"."+state)
	verifier := s.mac("verifier", state)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"client_id": {s.cfg.ClientID}, "redirect_uri": {s.cfg.RedirectURI}, "response_type": {"code"},
		"scope": {authz.ScopeOpenID}, "state": {state}, "nonce": {s.mac("nonce", state)},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	if purpose.fresh() {
		q.Set("prompt", "login")
		q.Set("max_age", "0")
	}
	return Start{URL: s.cfg.AuthorizeEndpoint + "?" + q.Encode(), Flow: flow}, nil
}

// Callback is what the authorization server sent to the page's redirect
// URI.
type Callback struct {
	Code, State, Issuer, Error string
}

// Login is a finished login of the account page.
type Login struct {
	AccountID string
	// SID is the browser's SSO session the login was made in.
	SID     string
	Purpose Purpose
	// Cookie is the page's login for the browser to keep: the sid, MACed.
	Cookie string
	// Ticket, for ForPassword, allows one new password (ChangePassword);
	// for ForDeletion, the deletion (DeleteAccount).
	Ticket string
}

// Finish completes the login flow of the browser holding flow with the
// callback cb, in the browser whose SSO cookie holds ssoSecret: the state
// and iss must fit, the code is redeemed in process and the ID token
// verified (signature, iss, aud, azp, exp, nonce, acr at least
// substantial, and a sid that is the browser's current session; for
// ForPassword an auth_time after Begin). Errors: Unauthenticated
// (CodeLoginFailed) for anything that does not fit; Unavailable.
func (s *Service) Finish(ctx context.Context, flow string, cb Callback, ssoSecret string) (Login, error) {
	const op = "selfservice.Finish"
	failed := func(why string) (Login, error) {
		return Login{}, fault.Coded(fault.Unauthenticated, op, CodeLoginFailed).WithPublic(why)
	}
	f, ok := s.open("flow", flow, 3)
	if !ok {
		return failed("no login of the account page was started in this browser")
	}
	purpose, state := Purpose(f[0]), f[2]
	began, err := strconv.ParseInt(f[1], 10, 64)
	now := s.clock()
	if err != nil || now.Sub(time.Unix(began, 0)) > FlowTTL {
		return failed("the login of the account page is stale")
	}
	if subtle.ConstantTimeCompare([]byte(state), []byte(cb.State)) != 1 {
		return failed("state does not match")
	}
	if cb.Issuer != s.cfg.Issuer {
		return failed("iss is missing or not this issuer (RFC 9207)")
	}
	if cb.Error != "" {
		return failed("the authorization server answered " + cb.Error)
	}
	c, err := s.d.Clients.ClientByID(ctx, s.cfg.ClientID)
	if err != nil {
		return Login{}, err
	}
	resp, err := s.d.Authz.ExchangeCode(ctx, c, cb.Code, s.cfg.RedirectURI, s.mac("verifier", state), authz.DPoPRequest{})
	if err != nil {
		if k := fault.KindOf(err); k == fault.Unavailable || k == fault.Internal {
			return Login{}, err
		}
		s.log.LogAttrs(ctx, slog.LevelInfo, "account page code refused", slog.String("reason", fault.ReasonOf(err)), slog.Any("error", err))
		return failed("the code was refused")
	}
	var cl authz.IDClaims
	if err := s.d.Tokens.Verify(ctx, resp.IDToken, token.TypeID, &cl); err != nil {
		return failed("the ID token does not verify")
	}
	level, known := s.cfg.Vocabulary.Level(cl.ACR)
	switch {
	case cl.Issuer != s.cfg.Issuer || !slices.Equal(cl.Audience, []string{c.ID}) || cl.AZP != c.ID:
		return failed("the ID token is not for the account page")
	case !now.Before(time.Unix(cl.Expiry, 0)):
		return failed("the ID token has expired")
	case subtle.ConstantTimeCompare([]byte(cl.Nonce), []byte(s.mac("nonce", state))) != 1:
		return failed("nonce does not match")
	case !known || level < loa.Substantial:
		return failed("the login is below substantial")
	case cl.SID == "":
		return failed("the login has no session")
	case purpose.fresh() && cl.AuthTime < began:
		return failed("the login for a password change or deletion is not fresh")
	}
	cur, err := s.d.Sessions.Current(ctx, ssoSecret)
	switch {
	case errors.Is(err, fault.NotFound):
		return failed("the browser has no session")
	case err != nil:
		return Login{}, err
	case cur.ID != cl.SID || cur.AccountID != cl.Subject:
		return failed("the login was made in another session")
	}
	out := Login{AccountID: cl.Subject, SID: cl.SID, Purpose: purpose, Cookie: s.sealed("login", cl.SID)}
	switch purpose {
	case ForPassword:
		out.Ticket = s.sealed("ticket", cl.SID+"."+strconv.FormatInt(now.Unix(), 10)+"."+random())
	case ForDeletion:
		// Its own label: a password ticket does not delete, and a
		// deletion ticket sets no password.
		out.Ticket = s.sealed("delete-ticket", cl.SID+"."+strconv.FormatInt(now.Unix(), 10)+"."+random())
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "account page login", slog.String("sid", cl.SID),
		slog.String("account", cl.Subject), slog.String("purpose", string(purpose)))
	return out, nil
}

// Member is the member logged in to the account page.
type Member struct {
	AccountID string
	KVNR      kvnr.KVNR
	// Session is the browser's SSO session the page's login belongs to.
	Session session.Session
}

// Authenticate returns the member of the browser whose account page login
// is cookie and whose SSO cookie holds ssoSecret: the login's session must
// be the browser's current one, active and at least substantial, and the
// account able to log in. Errors: Unauthenticated (CodeNotLoggedIn);
// Unavailable.
func (s *Service) Authenticate(ctx context.Context, cookie, ssoSecret string) (Member, error) {
	const op = "selfservice.Authenticate"
	out := fault.Coded(fault.Unauthenticated, op, CodeNotLoggedIn)
	f, ok := s.open("login", cookie, 1)
	if !ok {
		return Member{}, out
	}
	cur, err := s.d.Sessions.Current(ctx, ssoSecret)
	switch {
	case errors.Is(err, fault.NotFound):
		return Member{}, out
	case err != nil:
		return Member{}, err
	case subtle.ConstantTimeCompare([]byte(cur.ID), []byte(f[0])) != 1 || cur.Level < loa.Substantial:
		return Member{}, out
	}
	a, err := s.d.Accounts.AccountByID(ctx, cur.AccountID)
	switch {
	case errors.Is(err, fault.NotFound):
		return Member{}, out
	case err != nil:
		return Member{}, err
	case !a.CanLogIn():
		return Member{}, out
	}
	return Member{AccountID: a.ID, KVNR: a.KVNR, Session: cur}, nil
}
