package webui

import (
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"log/slog"
	"net/http"

	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/login"
	"github.com/pforte-id/pforte/core/password"
)

//go:embed templates/*.html
var templateFS embed.FS

var templates = template.Must(template.ParseFS(templateFS, "templates/*.html"))

// Path is where the login page is served.
const Path = "/login"

// csrfCookie holds the double-submit token of the login form. The cookie is
// SameSite=Strict and host-only, so a cross-site form post carries neither
// it nor the matching field (login CSRF).
const csrfCookie = "pforte_csrf"

// ErrorResponder answers authorization flow errors the way the OIDC
// adapter does (redirect to the client or a page); the composition root
// passes the OIDC adapter's method in.
type ErrorResponder func(w http.ResponseWriter, r *http.Request, err error)

// UI serves the login pages.
type UI struct {
	authz    *authz.Service
	login    *login.Service
	onError  ErrorResponder
	secure   bool
	log      *slog.Logger
	maxBytes int64
}

// New returns the UI. secure marks cookies Secure (an https issuer).
func New(az *authz.Service, ln *login.Service, onError ErrorResponder, secure bool, log *slog.Logger) *UI {
	return &UI{authz: az, login: ln, onError: onError, secure: secure, log: log, maxBytes: 16 << 10}
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
			u.render(w, http.StatusMethodNotAllowed, "error.html", view{Message: "Methode nicht erlaubt / Method not allowed"})
		}
	})
}

// view is what the login template shows.
type view struct {
	RequestID  string
	ClientName string
	CSRF       string
	KVNR       string
	Step       string
	Message    string
}

func (u *UI) show(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	req, c, err := u.authz.PendingLogin(r.Context(), id)
	if err != nil {
		u.pageError(w, r, err)
		return
	}
	csrf := u.ensureCSRF(w, r)
	name := c.Name
	if name == "" {
		name = c.ID
	}
	u.render(w, http.StatusOK, "login.html", view{
		RequestID: req.ID, ClientName: name, CSRF: csrf, KVNR: req.LoginHint, Step: string(u.login.Steps()[0]),
	})
}

func (u *UI) submit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, u.maxBytes)
	if err := r.ParseForm(); err != nil {
		u.render(w, http.StatusBadRequest, "error.html", view{Message: "Ungültige Anfrage / Invalid request"})
		return
	}
	id := r.PostForm.Get("id")
	cookie, err := r.Cookie(csrfCookie)
	if err != nil || cookie.Value == "" || subtle.ConstantTimeCompare([]byte(cookie.Value), []byte(r.PostForm.Get("csrf"))) != 1 {
		u.render(w, http.StatusForbidden, "error.html", view{Message: "Die Sitzung ist abgelaufen. Bitte starten Sie die Anmeldung neu. / The session has expired. Please start the login again."})
		return
	}
	req, c, err := u.authz.PendingLogin(r.Context(), id)
	if err != nil {
		u.pageError(w, r, err)
		return
	}
	rawKVNR := r.PostForm.Get("kvnr")
	result, err := u.login.Password(r.Context(), rawKVNR, r.PostForm.Get("password"))
	if err != nil {
		k := fault.KindOf(err)
		if k == fault.Unavailable || k == fault.Internal {
			u.pageError(w, r, err)
			return
		}
		status := http.StatusUnauthorized
		if k == fault.Invalid {
			status = http.StatusBadRequest
		}
		name := c.Name
		if name == "" {
			name = c.ID
		}
		u.render(w, status, "login.html", view{
			RequestID: req.ID, ClientName: name, CSRF: cookie.Value, KVNR: rawKVNR,
			Step: string(login.StepPassword), Message: fault.PublicOf(err),
		})
		return
	}
	to, err := u.authz.CompleteLogin(r.Context(), id, result)
	if err != nil {
		u.onError(w, r, err)
		return
	}
	http.Redirect(w, r, to, http.StatusFound)
}

func (u *UI) pageError(w http.ResponseWriter, r *http.Request, err error) {
	var re *authz.RedirectError
	if errors.As(err, &re) {
		u.onError(w, r, err)
		return
	}
	k := fault.KindOf(err)
	status := http.StatusBadRequest
	switch k {
	case fault.Unavailable:
		status = http.StatusServiceUnavailable
	case fault.Internal:
		status = http.StatusInternalServerError
	case fault.Conflict:
		status = http.StatusConflict
	}
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
	u.render(w, status, "error.html", view{Message: fault.PublicOf(err)})
}

// retryAfterUnavailable is the Retry-After of a 503: overload and outages
// are expected to pass within seconds.
const retryAfterUnavailable = "5"

func (u *UI) ensureCSRF(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	v := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{
		Name: csrfCookie, Value: v, Path: Path, HttpOnly: true, Secure: u.secure, SameSite: http.SameSiteStrictMode,
	})
	return v
}

func (u *UI) render(w http.ResponseWriter, status int, name string, v view) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	if err := templates.ExecuteTemplate(w, name, v); err != nil {
		u.log.Error("render page", "template", name, "err", err)
	}
}
