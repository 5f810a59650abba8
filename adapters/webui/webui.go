package webui

import (
	"crypto/hmac"
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pforte-id/pforte/catalog"
	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/login"
	"github.com/pforte-id/pforte/core/password"
	"github.com/pforte-id/pforte/core/sso"
)

//go:embed templates/*.html
var templateFS embed.FS

var templates = template.Must(template.ParseFS(templateFS, "templates/*.html"))

// Path is where the login page is served.
const Path = "/login"

// ForgotPath is the page the login page's "Passwort vergessen?" link leads
// to: what a member who forgot the password can do.
const ForgotPath = "/login/forgot"

// Config is what the pages need besides the use cases.
type Config struct {
	// Secure: the issuer is https, so cookies are Secure and the CSRF
	// cookie carries the __Host- prefix.
	Secure bool
	// CSRFKey keys the login form's CSRF tokens (csrf.go): at least 32
	// bytes, derived from the master key, the same on every replica.
	CSRFKey []byte
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client address the password checks are throttled by.
	TrustedProxies []netip.Prefix
	// EIDStepUp: members can raise their account to high with the eID in
	// the Service-App (pforte-app step-up, POST /app/v1/step-up); the
	// level page then tells a letter-proofed member how.
	EIDStepUp bool
}

// Validate checks c. Errors: fault.Invalid whose Op names the field.
func (c Config) Validate() error {
	if len(c.CSRFKey) < 32 {
		return fault.New(fault.Invalid, "webui.Config.CSRFKey", "must be at least 32 bytes")
	}
	return nil
}

// ErrorResponder answers authorization flow errors the way the OIDC
// adapter does (redirect to the client or a page); the composition root
// passes the OIDC adapter's method in.
type ErrorResponder func(w http.ResponseWriter, r *http.Request, err error)

// UI serves the login pages.
type UI struct {
	cfg       Config
	authz     *authz.Service
	login     *login.Service
	approvals Approvals
	sso       *sso.Service
	onError   ErrorResponder
	log       *slog.Logger
	maxBytes  int64
}

// New returns the UI. Errors: those of cfg.Validate.
func New(cfg Config, az *authz.Service, ln *login.Service, ap Approvals, ss *sso.Service, onError ErrorResponder, log *slog.Logger) (*UI, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &UI{cfg: cfg, authz: az, login: ln, approvals: ap, sso: ss, onError: onError, log: log, maxBytes: 16 << 10}, nil
}

// Handler returns the handler for Path.
func (u *UI) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			u.show(w, r)
		case http.MethodPost:
			u.submit(w, r)
		default:
			w.Header().Set("Allow", "GET, POST")
			u.render(w, r, http.StatusMethodNotAllowed, "error.html", view{Message: catalog.Match(r.Header.Get("Accept-Language")).Text("page.method_not_allowed")})
		}
	})
}

// view is what the login template shows.
type view struct {
	RequestID  string
	ClientName string
	// ClientNameLang is the language of ClientName when it differs from
	// the page's (a German name on an English page): the template marks
	// it with lang.
	ClientNameLang string
	CSRF           string
	KVNR           string
	Step           string
	Message        string
	// Again, when set, is where the member can start the login again.
	Again string
	// Back, when set, returns to the client with an error (a level the
	// member cannot reach).
	Back string
	// Scopes are the consent page's: what the client will get, in words.
	Scopes []string
	// Logout is the logout confirmation's form.
	Logout logoutView
	// Account is the account page's.
	Account *accountView
	// Title replaces the pages' common title; Wide widens the page.
	Title string
	Wide  bool
	// StepUp: the level page offers the eID step-up in the app.
	StepUp bool
	// AppReturn is the app's return address with the one-time code of a
	// confirmed eID proofing: one of the configured app addresses or a
	// loopback address, checked by core/registration, so it is marked
	// safe for the template (an app's private-use scheme is not http).
	AppReturn template.URL
	// ApprovalID, Number and StatusURL are the approval page's.
	ApprovalID string
	Number     string
	StatusURL  string
	// T returns the catalog's text of a key in the request's language;
	// render sets it.
	T func(key string, params ...any) string
	// Lang is the language of the page; render sets it.
	Lang string
	// redirectURI is the client's redirect URI of the authorization request
	// a page with a form belongs to; see contentSecurityPolicy.
	redirectURI string
	// script: the page loads approval.js (the only page that runs a
	// script); see contentSecurityPolicy.
	script bool
}

func (u *UI) show(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	req, c, err := u.authz.PendingLogin(r.Context(), id)
	if err != nil {
		u.pageError(w, r, err)
		return
	}
	if u.resume(w, r, id) {
		return
	}
	v := view{
		RequestID: req.ID, CSRF: u.csrfToken(u.csrfBinding(w, r), req.ID), KVNR: req.LoginHint,
		Step: string(u.login.Steps()[0]), redirectURI: req.RedirectURI,
	}
	v.setClient(c, r)
	u.render(w, r, http.StatusOK, "login.html", v)
}

// setClient sets the client's name in the language of r's Accept-Language.
func (v *view) setClient(c client.Client, r *http.Request) {
	if c.Name == "" {
		c.Name = c.ID
	}
	lang := catalog.Match(r.Header.Get("Accept-Language")).Lang()
	name, nameLang := c.DisplayName(lang)
	v.ClientName = name
	if nameLang != lang {
		v.ClientNameLang = nameLang
	}
}

func (u *UI) submit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, u.maxBytes)
	if err := r.ParseForm(); err != nil {
		u.render(w, r, http.StatusBadRequest, "error.html", view{Message: catalog.Match(r.Header.Get("Accept-Language")).Text("page.invalid_request")})
		return
	}
	id := r.PostForm.Get("id")
	if !u.csrfOK(r, id) {
		u.refuse(w, r, id)
		return
	}
	req, c, err := u.authz.PendingLogin(r.Context(), id)
	if err != nil {
		u.pageError(w, r, err)
		return
	}
	rawKVNR := r.PostForm.Get("kvnr")
	result, err := u.login.Password(r.Context(), rawKVNR, r.PostForm.Get("password"),
		login.Origin{IP: u.clientIP(r), ClientID: c.ID, Via: login.ViaWebLogin})
	if err != nil {
		st := statusOf(fault.KindOf(err))
		logReason(w, fault.ReasonOf(err))
		if st.form == 0 {
			u.pageError(w, r, err)
			return
		}
		if e := fault.RetryOf(err); e != nil {
			// The wait by the service's clock, which computed it.
			w.Header().Set("Retry-After", strconv.Itoa(max(int((e.RetryAfter+time.Second-1)/time.Second), 1)))
		}
		v := view{
			RequestID: req.ID, CSRF: r.PostForm.Get("csrf"), KVNR: rawKVNR,
			Step: string(login.StepPassword), Message: catalog.Match(r.Header.Get("Accept-Language")).Error(err),
			redirectURI: req.RedirectURI,
		}
		v.setClient(c, r)
		u.render(w, r, st.form, "login.html", v)
		return
	}
	// The password alone reaches loa.Low. A request that needs more (the
	// client's MinACR, raised by acr_values) goes on to the app's
	// confirmation, which reaches the member's proofing level; one the
	// proofing cannot reach either ends here, on a page that says why.
	need := u.authz.RequiredLevel(req, c)
	switch {
	case loa.Reach(result.Proofing, result.AMR).Level >= need:
	case result.Proofing < need:
		u.unreachable(w, r, req.RedirectURI, req.State, need, result.Proofing)
		return
	default:
		u.startApproval(w, r, id, result)
		return
	}
	to, err := u.beginSession(w, r, id, result)
	if err != nil {
		u.onError(w, r, err)
		return
	}
	http.Redirect(w, r, to, http.StatusFound)
}

// unreachable explains that the service asks for level need, which the
// member's identity proofing (proofing) does not reach, and offers the way
// back to the service (access_denied on its redirect URI).
func (u *UI) unreachable(w http.ResponseWriter, r *http.Request, redirectURI, state string, need, proofing loa.Level) {
	p := catalog.Match(r.Header.Get("Accept-Language"))
	v := view{
		Message: p.Text("page.level.need", p.Text(levelKey(need)), p.Text(levelKey(proofing))),
		Back: u.authz.ErrorRedirect(fault.Redirect{URI: redirectURI, State: state}, "access_denied",
			"the login does not reach the level of assurance the client requires ("+need.String()+")"),
		StepUp: u.cfg.EIDStepUp && need >= loa.High && proofing == loa.Substantial,
	}
	u.render(w, r, http.StatusForbidden, "level.html", v)
}

// levelKey is the catalog key of a level's name.
func levelKey(l loa.Level) string {
	switch l {
	case loa.Low:
		return "level.low"
	case loa.Substantial:
		return "level.substantial"
	case loa.High:
		return "level.high"
	}
	return "level.none"
}

// hmacEqual compares two tokens in constant time.
func hmacEqual(a, b string) bool { return hmac.Equal([]byte(a), []byte(b)) }

// refuse answers a login form that came without the login page's cookie
// or with another token: a cross-site post (login CSRF), or a browser that
// dropped the cookie. Nothing of the form is used. When the authorization
// request is still pending, the page leads back to its login page, which
// sets a fresh cookie.
func (u *UI) refuse(w http.ResponseWriter, r *http.Request, id string) {
	logReason(w, "csrf")
	v := view{Message: catalog.Match(r.Header.Get("Accept-Language")).Text("page.csrf")}
	if _, _, err := u.authz.PendingLogin(r.Context(), id); err == nil {
		v.Again = Path + "?" + url.Values{"id": {id}}.Encode()
	}
	u.render(w, r, http.StatusForbidden, "error.html", v)
}

func (u *UI) pageError(w http.ResponseWriter, r *http.Request, err error) {
	logReason(w, fault.ReasonOf(err))
	if _, ok := fault.RedirectOf(err); ok {
		u.onError(w, r, err)
		return
	}
	k := fault.KindOf(err)
	status := statusOf(k).page
	switch {
	case errors.Is(err, password.ErrBusy):
		// Overload, not a fault: the member is asked to try again.
		u.log.WarnContext(r.Context(), "login refused: every password hashing slot is busy")
	case status >= 500:
		u.log.ErrorContext(r.Context(), "login page failed", "kind", k.String(), "err", err)
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", retryAfterUnavailable)
	}
	u.render(w, r, status, "error.html", view{Message: catalog.Match(r.Header.Get("Accept-Language")).Error(err)})
}

// wire is how the pages answer an error of one kind: the status of the
// error page, and the status of the login page shown again with the error
// for a refused password step (0: the error page instead).
type wire struct{ page, form int }

// statuses is the one table from error kinds to the pages' answers. The
// member reads the catalog's text of the error's code or kind.
var statuses = map[fault.Kind]wire{
	fault.Invalid:         {http.StatusBadRequest, http.StatusBadRequest},
	fault.Unauthenticated: {http.StatusBadRequest, http.StatusUnauthorized},
	fault.Forbidden:       {http.StatusBadRequest, http.StatusUnauthorized},
	fault.NotFound:        {http.StatusBadRequest, http.StatusUnauthorized},
	fault.Expired:         {http.StatusBadRequest, http.StatusUnauthorized},
	fault.Locked:          {http.StatusBadRequest, http.StatusUnauthorized},
	fault.RateLimited:     {http.StatusTooManyRequests, http.StatusTooManyRequests},
	fault.Conflict:        {http.StatusConflict, http.StatusUnauthorized},
	fault.Unavailable:     {http.StatusServiceUnavailable, 0},
	fault.Internal:        {http.StatusInternalServerError, 0},
}

// statusOf returns the answer to kind k (Internal's for an unknown kind).
func statusOf(k fault.Kind) wire {
	if w, ok := statuses[k]; ok {
		return w
	}
	return statuses[fault.Internal]
}

// retryAfterUnavailable is the Retry-After of a 503: overload and outages
// are expected to pass within seconds.
const retryAfterUnavailable = "5"

// render writes template name with v in the language of r's
// Accept-Language (German by default).
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	p := catalog.Match(r.Header.Get("Accept-Language"))
	v.T, v.Lang = p.Text, p.Lang()
	h := w.Header()
	h.Set("Content-Language", v.Lang)
	h.Add("Vary", "Accept-Language")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	csp := contentSecurityPolicy(v.redirectURI)
	if v.script {
		// The approval page's one same-origin script, and its polling.
		csp += "; script-src 'self'; connect-src 'self'"
	}
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	// same-origin, not no-referrer: with no-referrer, browsers send the
	// login form's post with "Origin: null", which makes an Origin check
	// impossible. Requests to other origins (the redirect to the client)
	// still carry no referrer.
	h.Set("Referrer-Policy", "same-origin")
	w.WriteHeader(status)
	if err := templates.ExecuteTemplate(w, name, v); err != nil {
		u.log.Error("render page", "template", name, "err", err)
	}
}

// contentSecurityPolicy is the policy of a page whose form belongs to an
// authorization request with redirectURI (empty: a page without one).
//
// Browsers apply form-action not only to the form's own target but to every
// redirect that follows the submission (Chromium enforces it, as CSP Level 3
// describes; the console says "Sending form data to … violates … form-action
// 'self'"). The login form's answer is a 302 to the client's redirect URI,
// with the code or an error, so 'self' alone strands the member on the login
// page. The policy therefore allows exactly one more destination: the origin
// of the redirect URI this authorization request was validated against,
// computed per request. Scripts, frames and every other source stay off.
func contentSecurityPolicy(redirectURI string) string {
	formAction := "'self'"
	if src := redirectSource(redirectURI); src != "" {
		formAction += " " + src
	}
	return "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action " + formAction
}

// cspScheme and cspHost are what a CSP source expression may hold: a
// redirect URI with anything else contributes no source, so the browser
// refuses the redirect instead of the policy being widened or broken.
var (
	cspScheme = regexp.MustCompile(`^[a-z][a-z0-9+.-]*$`)
	cspHost   = regexp.MustCompile(`^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:[0-9]{1,5})?$`)
)

// redirectSource is the CSP source expression that matches redirectURI:
// scheme://host[:port] for http and https, the scheme alone ("app.example:")
// for a native app's private-use scheme (RFC 8252 §7.1), which has no host.
func redirectSource(redirectURI string) string {
	u, err := url.Parse(redirectURI)
	if err != nil || !cspScheme.MatchString(u.Scheme) {
		return ""
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return u.Scheme + ":"
	}
	host := strings.ToLower(u.Host)
	if !cspHost.MatchString(host) {
		return ""
	}
	return u.Scheme + "://" + host
}
