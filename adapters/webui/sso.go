package webui

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/pforte-id/pforte/catalog"
	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/session"
	"github.com/pforte-id/pforte/core/sso"
)

// Single sign-on in the browser (core/sso): the session cookie, the
// consent page and logout.
//
// The session cookie holds the session's 256-bit secret (the store keeps
// only its hash). It is SameSite=Lax, not Strict like the login cookies: a
// relying party sends the member to /authorize by a top-level navigation
// from its own site, and a Strict cookie would not come along, so single
// sign-on could never answer. Lax sends it on top-level GET navigations
// only; every form that acts on the session (consent, logout) carries a
// CSRF token besides. Over https it is a __Host- cookie. It has no
// Max-Age: it ends with the browser, and the server ends the session after
// its idle and absolute times whatever the browser keeps.
const (
	ssoCookieName         = "__Host-pforte_session"
	ssoCookieNameInsecure = "pforte_session"
)

// Paths of single sign-on.
const (
	ConsentPath    = authz.DefaultConsentPath
	EndSessionPath = "/end_session"
	LoggedOutPath  = "/logged-out"
)

func (u *UI) ssoCookieName() string {
	if u.cfg.Secure {
		return ssoCookieName
	}
	return ssoCookieNameInsecure
}

// ssoSecret is the browser's session secret ("" for none).
func (u *UI) ssoSecret(r *http.Request) string {
	c, err := r.Cookie(u.ssoCookieName())
	if err != nil || len(c.Value) > 64 {
		return ""
	}
	return c.Value
}

func (u *UI) setSSOCookie(w http.ResponseWriter, secret string) {
	http.SetCookie(w, &http.Cookie{
		Name: u.ssoCookieName(), Value: secret, Path: "/", HttpOnly: true, Secure: u.cfg.Secure,
		SameSite: http.SameSiteLaxMode,
	})
}

func (u *UI) clearSSOCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: u.ssoCookieName(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: u.cfg.Secure,
		SameSite: http.SameSiteLaxMode,
	})
}

// resume lets the browser's session answer request id (core/sso.Resume).
// It reports whether the answer is given (a redirect, an error, or the
// app's confirmation started); false means: show the login page.
func (u *UI) resume(w http.ResponseWriter, r *http.Request, id string) bool {
	out, err := u.sso.Resume(r.Context(), id, u.ssoSecret(r))
	switch {
	case err != nil:
		if _, toClient := fault.RedirectOf(err); toClient {
			u.onError(w, r, err)
		} else {
			u.pageError(w, r, err)
		}
		return true
	case out.Step == sso.Done:
		http.Redirect(w, r, out.To, http.StatusFound)
		return true
	case out.Step == sso.ConfirmInApp:
		// The session's password counts; only the app's confirmation is
		// missing.
		a := out.Session.Authentication(loa.None)
		a.AMR = []string{loa.AMRPassword}
		u.startApproval(w, r, id, a)
		return true
	}
	return false
}

// beginSession starts the browser's session for login a (the browser's
// previous session ends), or raises the browser's current session when it
// is the same member's (a step-up), sets the cookie and completes request
// id in it. It returns where the browser goes.
func (u *UI) beginSession(w http.ResponseWriter, r *http.Request, id string, a loa.Authentication) (string, error) {
	ctx := r.Context()
	old := u.ssoSecret(r)
	if cur, err := u.sso.Current(ctx, old); err == nil && cur.AccountID == a.Subject {
		up, err := u.sso.StepUp(ctx, cur.ID, a)
		if err != nil {
			return "", err
		}
		a.SessionID = up.ID
		return u.sso.Login(ctx, id, up, a)
	}
	secret, ss, err := u.sso.Begin(ctx, a, browserOf(r.UserAgent()), old)
	if err != nil {
		return "", err
	}
	u.setSSOCookie(w, secret)
	return u.sso.Login(ctx, id, ss, a)
}

// ConsentHandler serves ConsentPath: GET shows what the client will get,
// POST records the member's answer.
func (u *UI) ConsentHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			u.showConsent(w, r)
		case http.MethodPost:
			u.decideConsent(w, r)
		default:
			w.Header().Set("Allow", "GET, POST")
			u.render(w, r, http.StatusMethodNotAllowed, "error.html", view{Message: catalog.Match(r.Header.Get("Accept-Language")).Text("page.method_not_allowed")})
		}
	})
}

// sessionID is the id of the browser's active session ("" for none).
func (u *UI) sessionID(r *http.Request) string {
	cur, err := u.sso.Current(r.Context(), u.ssoSecret(r))
	if err != nil {
		return ""
	}
	return cur.ID
}

func (u *UI) showConsent(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	req, c, err := u.authz.PendingConsent(r.Context(), id, u.sessionID(r))
	if err != nil {
		u.pageError(w, r, err)
		return
	}
	p := catalog.Match(r.Header.Get("Accept-Language"))
	v := view{RequestID: req.ID, CSRF: u.csrfToken(u.csrfBinding(w, r), "consent/"+req.ID), redirectURI: req.RedirectURI}
	v.setClient(c, r)
	for _, s := range u.authz.ConsentScopes(req) {
		v.Scopes = append(v.Scopes, scopeText(p, s))
	}
	u.render(w, r, http.StatusOK, "consent.html", v)
}

// scopeKeys are the catalog keys of the scopes Pforte knows, in words.
var scopeKeys = map[string]string{
	"openid": "scope.openid", "profile": "scope.profile", "email": "scope.email", "address": "scope.address",
	"birthdate": "scope.birthdate", "kvnr": "scope.kvnr", "offline_access": "scope.offline_access",
	"verified_claims": "scope.verified_claims",
}

// scopeText is what scope s releases, in words.
func scopeText(p catalog.Printer, s string) string {
	if k, ok := scopeKeys[s]; ok {
		return p.Text(k)
	}
	return p.Text("scope.other", s)
}

func (u *UI) decideConsent(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, u.maxBytes)
	if err := r.ParseForm(); err != nil {
		u.render(w, r, http.StatusBadRequest, "error.html", view{Message: catalog.Match(r.Header.Get("Accept-Language")).Text("page.invalid_request")})
		return
	}
	id := r.PostForm.Get("id")
	binding, ok := u.cookieBinding(r)
	if !ok || !hmacEqual(u.csrfToken(binding, "consent/"+id), r.PostForm.Get("csrf")) {
		u.refuse(w, r, "")
		return
	}
	answer := r.PostForm.Get("answer")
	if answer != "allow" && answer != "deny" {
		u.render(w, r, http.StatusBadRequest, "error.html", view{Message: catalog.Match(r.Header.Get("Accept-Language")).Text("page.invalid_request")})
		return
	}
	to, err := u.authz.DecideConsent(r.Context(), id, u.sessionID(r), answer == "allow")
	if err != nil {
		u.pageError(w, r, err)
		return
	}
	http.Redirect(w, r, to, http.StatusFound)
}

// logoutView is what the logout confirmation carries to its form.
type logoutView struct {
	ClientID, RedirectURI, State string
}

// EndSessionHandler serves EndSessionPath, the end-session endpoint of
// OpenID Connect RP-Initiated Logout 1.0 (GET and POST). With a valid
// id_token_hint the session it names ends at once; without one the member
// confirms on a page, and the browser's own session ends. Either way every
// token family of the session is revoked and its relying parties are told
// by back-channel logout; then the browser goes to the registered
// post_logout_redirect_uri with state, or to Pforte's logged-out page. A
// request that is not valid (a forged or stale hint, an unregistered URI)
// is answered with a page and redirects nowhere.
func (u *UI) EndSessionHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, POST")
			u.render(w, r, http.StatusMethodNotAllowed, "error.html", view{Message: catalog.Match(r.Header.Get("Accept-Language")).Text("page.method_not_allowed")})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, u.maxBytes)
		if err := r.ParseForm(); err != nil || repeated(r.Form) {
			u.render(w, r, http.StatusBadRequest, "error.html", view{Message: catalog.Match(r.Header.Get("Accept-Language")).Text("page.invalid_request")})
			return
		}
		f := r.Form
		in := authz.EndSessionRequest{
			IDTokenHint: f.Get("id_token_hint"), ClientID: f.Get("client_id"),
			PostLogoutRedirectURI: f.Get("post_logout_redirect_uri"), State: f.Get("state"),
		}
		out, err := u.authz.EndSession(r.Context(), in)
		if err != nil {
			u.pageError(w, r, err)
			return
		}
		confirmed := r.Method == http.MethodPost && f.Get("confirm") == "yes"
		if confirmed {
			binding, ok := u.cookieBinding(r)
			if !ok || !hmacEqual(u.csrfToken(binding, "logout"), f.Get("csrf")) {
				u.refuse(w, r, "")
				return
			}
		}
		var sid string
		switch {
		case out.Hint.SID != "":
			sid = out.Hint.SID
		case confirmed:
			sid = u.sessionID(r)
		default:
			v := view{CSRF: u.csrfToken(u.csrfBinding(w, r), "logout"), redirectURI: in.PostLogoutRedirectURI,
				Logout: logoutView{ClientID: out.ClientID, RedirectURI: in.PostLogoutRedirectURI, State: in.State}}
			u.render(w, r, http.StatusOK, "logout.html", v)
			return
		}
		if sid != "" {
			if err := u.sso.End(r.Context(), sid, session.EndLogout); err != nil && !errors.Is(err, fault.NotFound) {
				u.pageError(w, r, err)
				return
			}
		}
		if cur := u.sessionID(r); cur == "" || cur == sid {
			u.clearSSOCookie(w)
		}
		to := out.To
		if to == "" {
			to = LoggedOutPath
		}
		http.Redirect(w, r, to, http.StatusFound)
	})
}

// repeated reports whether a parameter occurs more than once (OAuth 2.0
// §3.1: a repeated one could be read differently by different components).
func repeated(f url.Values) bool {
	for _, v := range f {
		if len(v) > 1 {
			return true
		}
	}
	return false
}

// LoggedOutHandler serves LoggedOutPath.
func (u *UI) LoggedOutHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := catalog.Match(r.Header.Get("Accept-Language"))
		u.render(w, r, http.StatusOK, "loggedout.html", view{Message: p.Text("page.logged_out.text")})
	})
}
