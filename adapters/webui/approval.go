package webui

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pforte-id/pforte/catalog"
	"github.com/pforte-id/pforte/core/approval"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/weblogin"
)

// The second step of the browser login: after the password, the page shows
// a two-digit number and waits for the member's decision in the app
// (core/weblogin). The page learns the outcome by polling a small JSON
// endpoint from one same-origin script (approval.js, the only script any
// page loads); without JavaScript the member presses "Weiter". Either way
// the login is completed by a POST from the browser that started the
// approval, which its session cookie proves.

// Paths of the approval step.
const (
	ApprovalPath       = "/login/approval"
	ApprovalStatusPath = "/login/approval/status"
	ApprovalScriptPath = "/login/approval.js"
)

// Approvals is the web login's second step (core/weblogin.Service).
type Approvals interface {
	Start(ctx context.Context, requestID string, pw loa.Authentication, browser, session string) (approval.Approval, error)
	Show(ctx context.Context, id, session string) (approval.Approval, error)
	Status(ctx context.Context, id, session string) (weblogin.Outcome, error)
	Confirmed(ctx context.Context, id, session string) (approval.Approval, loa.Authentication, error)
}

var _ Approvals = (*weblogin.Service)(nil)

//go:embed approval.js
var approvalScript []byte

// The browser session cookie an approval is bound to: a random value the
// approval stores only hashed (approval.SessionHash). Over https it carries
// the __Host- prefix (Secure, host-only, path /: no sibling domain can plant
// or overwrite it). On an http issuer the prefix is left off, as for the
// CSRF cookie: __Host- requires Secure, and a Secure cookie from plain http
// is dropped by every browser except on loopback — Chromium (checked in
// the browser tests' Chromium, on http://127.0.0.1 and http://localhost)
// keeps Secure and __Host- cookies from both, as loopback is a potentially
// trustworthy origin, but other browsers and any non-loopback development
// host would lose the cookie, and with it every approval.
const (
	sessionCookieName         = "__Host-pforte_login"
	sessionCookieNameInsecure = "pforte_login"
	sessionLen                = 32
)

func (u *UI) sessionCookieName() string {
	if u.cfg.Secure {
		return sessionCookieName
	}
	return sessionCookieNameInsecure
}

// session returns the browser's login session secret, if it has one of
// the right form.
func (u *UI) session(r *http.Request) (string, bool) {
	c, err := r.Cookie(u.sessionCookieName())
	if err != nil {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(b) != sessionLen {
		return "", false
	}
	return c.Value, true
}

// ensureSession returns the browser's session secret, setting a new
// cookie when it has none. One secret per browser, not per login: two
// tabs logging in at once keep their own approvals.
func (u *UI) ensureSession(w http.ResponseWriter, r *http.Request) string {
	if v, ok := u.session(r); ok {
		return v
	}
	b := make([]byte, sessionLen)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	v := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{
		Name: u.sessionCookieName(), Value: v, Path: "/", HttpOnly: true, Secure: u.cfg.Secure,
		SameSite: http.SameSiteStrictMode,
	})
	return v
}

// approvalCSRF is the CSRF token of the "Weiter" form of approval id: the
// login form's HMAC over the cookie's binding value, with a context that
// no authorization request id has.
func (u *UI) approvalCSRF(binding, id string) string {
	return u.csrfToken(binding, "approval/"+id)
}

// startApproval follows a password step that does not reach the level
// the request needs: it starts the approval and sends the browser to its
// page (303, so that a reload does not post the password again).
func (u *UI) startApproval(w http.ResponseWriter, r *http.Request, requestID string, pw loa.Authentication) {
	session := u.ensureSession(w, r)
	a, err := u.approvals.Start(r.Context(), requestID, pw, browserOf(r.UserAgent()), session)
	if err != nil {
		if fault.CodedOf(err) != nil && fault.CodedOf(err).Code == weblogin.CodeNoDevice {
			u.render(w, r, http.StatusForbidden, "nodevice.html", view{Again: Path + "?" + url.Values{"id": {requestID}}.Encode()})
			return
		}
		if e := fault.RetryOf(err); e != nil {
			w.Header().Set("Retry-After", strconv.Itoa(max(int((e.RetryAfter+time.Second-1)/time.Second), 1)))
		}
		u.pageError(w, r, err)
		return
	}
	http.Redirect(w, r, ApprovalPath+"?"+url.Values{"id": {a.ID}}.Encode(), http.StatusSeeOther)
}

// ApprovalHandler serves ApprovalPath: GET shows the number, POST
// ("Weiter", or the script once the app decided) completes the login.
func (u *UI) ApprovalHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			u.showApproval(w, r, r.URL.Query().Get("id"), "")
		case http.MethodPost:
			u.finishApproval(w, r)
		default:
			w.Header().Set("Allow", "GET, POST")
			u.render(w, r, http.StatusMethodNotAllowed, "error.html", view{Message: catalog.Match(r.Header.Get("Accept-Language")).Text("page.method_not_allowed")})
		}
	})
}

// showApproval renders the page of approval id, with message (the reason
// the member is still here) when set.
func (u *UI) showApproval(w http.ResponseWriter, r *http.Request, id, message string) {
	session, _ := u.session(r)
	a, err := u.approvals.Show(r.Context(), id, session)
	if err != nil {
		u.pageError(w, r, err)
		return
	}
	req, c, err := u.authz.PendingLogin(r.Context(), a.RequestID)
	if err != nil {
		u.pageError(w, r, err)
		return
	}
	v := view{
		RequestID: req.ID, ApprovalID: a.ID, Number: strconv.Itoa(a.Number), Message: message,
		CSRF:        u.approvalCSRF(u.csrfBinding(w, r), a.ID),
		StatusURL:   ApprovalStatusPath + "?" + url.Values{"id": {a.ID}}.Encode(),
		redirectURI: req.RedirectURI, script: true,
	}
	v.setClient(c, r)
	u.render(w, r, http.StatusOK, "approval.html", v)
}

func (u *UI) finishApproval(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, u.maxBytes)
	if err := r.ParseForm(); err != nil {
		u.render(w, r, http.StatusBadRequest, "error.html", view{Message: catalog.Match(r.Header.Get("Accept-Language")).Text("page.invalid_request")})
		return
	}
	id := r.PostForm.Get("approval")
	binding, ok := u.cookieBinding(r)
	if !ok || !hmacEqual(u.approvalCSRF(binding, id), r.PostForm.Get("csrf")) {
		u.refuse(w, r, r.PostForm.Get("id"))
		return
	}
	session, _ := u.session(r)
	to, err := u.finish(w, r, id, session)
	switch {
	case err == nil:
		http.Redirect(w, r, to, http.StatusFound)
	case fault.CodedOf(err) != nil && fault.CodedOf(err).Code == weblogin.CodePending:
		// "Weiter" before the app decided: the same page, with the reason.
		u.showApproval(w, r, id, catalog.Match(r.Header.Get("Accept-Language")).Error(err))
	default:
		if _, toClient := fault.RedirectOf(err); toClient {
			u.onError(w, r, err)
			return
		}
		u.approvalError(w, r, r.PostForm.Get("id"), err)
	}
}

// finish uses approval id of the browser with login session session and
// completes its login in the browser's SSO session (a new one, or the
// current one raised).
func (u *UI) finish(w http.ResponseWriter, r *http.Request, id, session string) (string, error) {
	a, auth, err := u.approvals.Confirmed(r.Context(), id, session)
	if err != nil {
		return "", err
	}
	return u.beginSession(w, r, a.RequestID, auth)
}

// approvalError shows why an approval ended, with the way back to the
// login page while its authorization request is still pending.
func (u *UI) approvalError(w http.ResponseWriter, r *http.Request, requestID string, err error) {
	logReason(w, fault.ReasonOf(err))
	v := view{Message: catalog.Match(r.Header.Get("Accept-Language")).Error(err)}
	if _, _, perr := u.authz.PendingLogin(r.Context(), requestID); perr == nil {
		v.Again = Path + "?" + url.Values{"id": {requestID}}.Encode()
	}
	status := statusOf(fault.KindOf(err)).page
	if status >= 500 {
		u.log.ErrorContext(r.Context(), "approval page failed", "err", err)
	}
	u.render(w, r, status, "error.html", v)
}

// StatusHandler serves ApprovalStatusPath: {"status": "pending" |
// "approved" | "denied" | "expired"} for the browser that started the
// approval, {"status": "unknown"} (404) for any other.
func (u *UI) StatusHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		session, _ := u.session(r)
		out, err := u.approvals.Status(r.Context(), r.URL.Query().Get("id"), session)
		status := http.StatusOK
		switch {
		case errors.Is(err, fault.NotFound):
			out, status = "unknown", http.StatusNotFound
		case err != nil:
			out, status = "unavailable", http.StatusServiceUnavailable
			h.Set("Retry-After", retryAfterUnavailable)
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": string(out)})
	})
}

// ScriptHandler serves approval.js.
func (u *UI) ScriptHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/javascript; charset=utf-8")
		h.Set("Cache-Control", "public, max-age=300")
		h.Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(approvalScript)
	})
}

// browserOf is a coarse description of the browser of User-Agent ua, for
// the app's list: a browser family and an operating system, never the
// version or anything else of the string (it is shown, and stored for two
// minutes). Names only, no words: "Firefox, Windows".
func browserOf(ua string) string {
	name := "Browser"
	switch {
	case strings.Contains(ua, "Edg/"):
		name = "Edge"
	case strings.Contains(ua, "Firefox/"):
		name = "Firefox"
	case strings.Contains(ua, "Chrome/") || strings.Contains(ua, "Chromium/"):
		name = "Chrome"
	case strings.Contains(ua, "Safari/"):
		name = "Safari"
	}
	switch {
	case strings.Contains(ua, "Android"):
		return name + ", Android"
	case strings.Contains(ua, "iPhone") || strings.Contains(ua, "iPad"):
		return name + ", iOS"
	case strings.Contains(ua, "Windows"):
		return name + ", Windows"
	case strings.Contains(ua, "Mac OS X"):
		return name + ", macOS"
	case strings.Contains(ua, "Linux"):
		return name + ", Linux"
	}
	return name
}
