package webui

import (
	"errors"
	"net/http"
	"strings"

	"github.com/pforte-id/pforte/catalog"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/selfservice"
)

// The member's account page (core/selfservice): a relying party of
// Pforte that logs in through the authorization endpoint like any online
// form, with two factors, and then lets the member manage devices,
// browser sessions, consents and the password, and read the recent
// security events.
//
// Two cookies besides the login pages' ones:
//   - the login flow (state; the PKCE verifier and the nonce derive from
//     it) from Begin until the callback, SameSite=Lax so that it comes
//     along when the member arrives at the callback from a link elsewhere,
//     10 minutes;
//   - the page's login, which names the SSO session it was made in,
//     SameSite=Strict: no other site can make the browser send it, so
//     every form is same-site besides carrying its CSRF token. Both are
//     HttpOnly and, over https, __Host- cookies.
//
// Every form carries a CSRF token bound to the browser's CSRF cookie and
// to the SSO session, so that a form from before a logout is refused
// even in the same browser.
const (
	accountCookieName         = "__Host-pforte_account"
	accountCookieNameInsecure = "pforte_account"
	flowCookieName            = "__Host-pforte_account_flow"
	flowCookieNameInsecure    = "pforte_account_flow"
)

// Paths of the account page.
const (
	AccountPath         = "/account"
	AccountCallbackPath = "/account/callback"
	AccountPasswordPath = "/account/password"
	// AccountDeletePath takes the deletion of the account (POST), and
	// AccountDeletedPath says that it is done (GET).
	AccountDeletePath  = "/account/delete"
	AccountDeletedPath = "/account/deleted"
)

func (u *UI) cookieName(secure, insecure string) string {
	if u.cfg.Secure {
		return secure
	}
	return insecure
}

func (u *UI) cookieValue(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil || len(c.Value) > 512 {
		return ""
	}
	return c.Value
}

func (u *UI) setCookie(w http.ResponseWriter, name, value string, maxAge int, site http.SameSite) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true, Secure: u.cfg.Secure, SameSite: site,
	})
}

// accountPage serves the account page with svc.
type accountPage struct {
	u   *UI
	svc *selfservice.Service
}

// AccountHandler serves AccountPath: GET shows the page (or starts its
// login), POST runs one action of its forms.
func (u *UI) AccountHandler(svc *selfservice.Service) http.Handler {
	a := accountPage{u: u, svc: svc}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			a.show(w, r)
		case http.MethodPost:
			a.act(w, r)
		default:
			a.notAllowed(w, r)
		}
	})
}

// AccountCallbackHandler serves AccountCallbackPath, the account page's
// redirect URI.
func (u *UI) AccountCallbackHandler(svc *selfservice.Service) http.Handler {
	a := accountPage{u: u, svc: svc}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			a.notAllowed(w, r)
			return
		}
		a.callback(w, r)
	})
}

// AccountPasswordHandler serves AccountPasswordPath: POST with
// action=begin starts the confirmation of the current password, POST
// with action=set saves the new one.
func (u *UI) AccountPasswordHandler(svc *selfservice.Service) http.Handler {
	a := accountPage{u: u, svc: svc}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			a.notAllowed(w, r)
			return
		}
		a.password(w, r)
	})
}

// AccountDeleteHandler serves AccountDeletePath: POST with action=begin
// starts a fresh login (password and the app's confirmation), after which
// the callback shows the confirmation page; POST with action=delete
// deletes the account.
func (u *UI) AccountDeleteHandler(svc *selfservice.Service) http.Handler {
	a := accountPage{u: u, svc: svc}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			a.notAllowed(w, r)
			return
		}
		a.deletion(w, r)
	})
}

// AccountDeletedHandler serves AccountDeletedPath: the page after the
// deletion.
func (u *UI) AccountDeletedHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := catalog.Match(r.Header.Get("Accept-Language"))
		u.render(w, r, http.StatusOK, "account_deleted.html", view{Title: p.Text("page.account.deleted.title"), Message: p.Text("account.deleted")})
	})
}

func (a accountPage) deletion(w http.ResponseWriter, r *http.Request) {
	a.afterFreshLogin(w, r, selfservice.ForDeletion, "delete", a.deleteAccount)
}

// afterFreshLogin serves the form of an action that needs a fresh
// two-factor login: "begin" (from the account page) starts that login for
// purpose, action finish (from the page after it, with its ticket) does
// the action; anything else is an invalid request.
func (a accountPage) afterFreshLogin(w http.ResponseWriter, r *http.Request, purpose selfservice.Purpose, finish string, do http.HandlerFunc) {
	r.Body = http.MaxBytesReader(w, r.Body, a.u.maxBytes)
	if err := r.ParseForm(); err != nil {
		a.u.render(w, r, http.StatusBadRequest, "error.html", view{Message: catalog.Match(r.Header.Get("Accept-Language")).Text("page.invalid_request")})
		return
	}
	switch r.PostForm.Get("action") {
	case "begin":
		if _, ok := a.form(w, r, "account"); ok {
			a.login(w, r, purpose)
		}
	case finish:
		do(w, r)
	default:
		a.u.render(w, r, http.StatusBadRequest, "error.html", view{Message: catalog.Match(r.Header.Get("Accept-Language")).Text("page.invalid_request")})
	}
}

func (a accountPage) deleteAccount(w http.ResponseWriter, r *http.Request) {
	m, ok := a.form(w, r, "account-delete")
	if !ok {
		return
	}
	f := r.PostForm
	err := a.svc.DeleteAccount(r.Context(), m, f.Get("ticket"), f.Get("confirm") == "yes", a.u.clientIP(r))
	if err == nil {
		a.u.clearSSOCookie(w)
		a.u.setCookie(w, a.u.cookieName(accountCookieName, accountCookieNameInsecure), "", -1, http.SameSiteStrictMode)
		http.Redirect(w, r, AccountDeletedPath, http.StatusSeeOther)
		return
	}
	switch k := fault.KindOf(err); {
	case k == fault.Invalid:
		// Not confirmed: the page again, with the same ticket.
		logReason(w, fault.ReasonOf(err))
		v := view{CSRF: f.Get("csrf"), Message: catalog.Match(r.Header.Get("Accept-Language")).Error(err),
			Account: &accountView{Ticket: f.Get("ticket")}}
		a.render(w, r, http.StatusBadRequest, "account_delete.html", v)
	case k == fault.Unavailable || k == fault.Internal:
		a.u.pageError(w, r, err)
	default:
		a.failed(w, r, err)
	}
}

func (a accountPage) notAllowed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", "GET, POST")
	a.u.render(w, r, http.StatusMethodNotAllowed, "error.html", view{Message: catalog.Match(r.Header.Get("Accept-Language")).Text("page.method_not_allowed")})
}

// member is the member logged in to the account page in r's browser.
func (a accountPage) member(r *http.Request) (selfservice.Member, error) {
	u := a.u
	return a.svc.Authenticate(r.Context(), u.cookieValue(r, u.cookieName(accountCookieName, accountCookieNameInsecure)), u.ssoSecret(r))
}

// login starts the page's login for purpose: the flow cookie, and the
// browser to the authorization endpoint.
func (a accountPage) login(w http.ResponseWriter, r *http.Request, purpose selfservice.Purpose) {
	st, err := a.svc.Begin(purpose)
	if err != nil {
		a.u.pageError(w, r, err)
		return
	}
	u := a.u
	u.setCookie(w, u.cookieName(flowCookieName, flowCookieNameInsecure), st.Flow, int(selfservice.FlowTTL.Seconds()), http.SameSiteLaxMode)
	http.Redirect(w, r, st.URL, http.StatusSeeOther)
}

func (a accountPage) callback(w http.ResponseWriter, r *http.Request) {
	u := a.u
	q := r.URL.Query()
	flowName := u.cookieName(flowCookieName, flowCookieNameInsecure)
	in, err := a.svc.Finish(r.Context(), u.cookieValue(r, flowName), selfservice.Callback{
		Code: q.Get("code"), State: q.Get("state"), Issuer: q.Get("iss"), Error: q.Get("error"),
	}, u.ssoSecret(r))
	u.setCookie(w, flowName, "", -1, http.SameSiteLaxMode)
	if err != nil {
		a.failed(w, r, err)
		return
	}
	u.setCookie(w, u.cookieName(accountCookieName, accountCookieNameInsecure), in.Cookie, 0, http.SameSiteStrictMode)
	if in.Purpose == selfservice.ForDeletion {
		v := view{CSRF: u.csrfToken(u.csrfBinding(w, r), "account-delete/"+in.SID), Account: &accountView{Ticket: in.Ticket}}
		a.render(w, r, http.StatusOK, "account_delete.html", v)
		return
	}
	if in.Purpose != selfservice.ForPassword {
		http.Redirect(w, r, AccountPath, http.StatusSeeOther)
		return
	}
	v := view{CSRF: u.csrfToken(u.csrfBinding(w, r), "account-password/"+in.SID), Account: &accountView{Ticket: in.Ticket}}
	a.render(w, r, http.StatusOK, "account_password.html", v)
}

// failed shows why the page's login did not complete, with the way to
// start it again.
func (a accountPage) failed(w http.ResponseWriter, r *http.Request, err error) {
	if k := fault.KindOf(err); k == fault.Unavailable || k == fault.Internal {
		a.u.pageError(w, r, err)
		return
	}
	logReason(w, fault.ReasonOf(err))
	p := catalog.Match(r.Header.Get("Accept-Language"))
	a.u.render(w, r, http.StatusBadRequest, "error.html", view{Message: p.Error(err), Again: AccountPath})
}

func (a accountPage) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	p := catalog.Match(r.Header.Get("Accept-Language"))
	v.Title, v.Wide = p.Text("page.title.account"), true
	a.u.render(w, r, status, name, v)
}

// done are the messages after an action, by the value of ?done=.
var done = map[string]string{
	"renamed": "page.account.done.renamed", "device_revoked": "page.account.done.device_revoked",
	"consent_revoked": "page.account.done.consent_revoked", "session_ended": "page.account.done.session_ended",
	"password": "page.account.done.password",
}

func (a accountPage) show(w http.ResponseWriter, r *http.Request) {
	m, err := a.member(r)
	if errors.Is(err, fault.Unauthenticated) {
		a.login(w, r, selfservice.ForPage)
		return
	}
	if err != nil {
		a.u.pageError(w, r, err)
		return
	}
	msg := ""
	if key, ok := done[r.URL.Query().Get("done")]; ok {
		msg = catalog.Match(r.Header.Get("Accept-Language")).Text(key)
	}
	a.page(w, r, m, http.StatusOK, msg, "")
}

// page renders the account page of m with a success message or an error.
func (a accountPage) page(w http.ResponseWriter, r *http.Request, m selfservice.Member, status int, doneMsg, errMsg string) {
	o, err := a.svc.Overview(r.Context(), m)
	if err != nil {
		a.u.pageError(w, r, err)
		return
	}
	binding := a.u.csrfBinding(w, r)
	p := catalog.Match(r.Header.Get("Accept-Language"))
	av := overview(p, o)
	av.Done, av.LogoutCSRF = doneMsg, a.u.csrfToken(binding, "logout")
	v := view{CSRF: a.u.csrfToken(binding, "account/"+m.Session.ID), Message: errMsg, Account: av}
	a.render(w, r, status, "account.html", v)
}

// csrfOK reports whether the form's token fits the browser's CSRF cookie,
// the form's purpose and the member's SSO session.
func (a accountPage) csrfOK(r *http.Request, purpose string, m selfservice.Member) bool {
	binding, ok := a.u.cookieBinding(r)
	return ok && hmacEqual(a.u.csrfToken(binding, purpose+"/"+m.Session.ID), r.PostForm.Get("csrf"))
}

// form reads a post of the account page: the member, the form, and its
// CSRF token for purpose. It answers the request itself and reports false
// when the post is not to be acted on.
func (a accountPage) form(w http.ResponseWriter, r *http.Request, purpose string) (selfservice.Member, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, a.u.maxBytes)
	if err := r.ParseForm(); err != nil || repeated(r.PostForm) {
		a.u.render(w, r, http.StatusBadRequest, "error.html", view{Message: catalog.Match(r.Header.Get("Accept-Language")).Text("page.invalid_request")})
		return selfservice.Member{}, false
	}
	m, err := a.member(r)
	if err != nil {
		if errors.Is(err, fault.Unauthenticated) {
			// A form from a login that has ended (logged out, another
			// session): nothing of it is used.
			a.failed(w, r, err)
		} else {
			a.u.pageError(w, r, err)
		}
		return selfservice.Member{}, false
	}
	if !a.csrfOK(r, purpose, m) {
		logReason(w, "csrf")
		p := catalog.Match(r.Header.Get("Accept-Language"))
		a.u.render(w, r, http.StatusForbidden, "error.html", view{Message: p.Text("page.csrf"), Again: AccountPath})
		return selfservice.Member{}, false
	}
	return m, true
}

func (a accountPage) act(w http.ResponseWriter, r *http.Request) {
	m, ok := a.form(w, r, "account")
	if !ok {
		return
	}
	ctx, f, ip := r.Context(), r.PostForm, a.u.clientIP(r)
	var err error
	var next string
	switch f.Get("action") {
	case "rename_device":
		err, next = a.svc.RenameDevice(ctx, m, f.Get("id"), f.Get("name"), ip), "renamed"
	case "revoke_device":
		err, next = a.svc.RevokeDevice(ctx, m, f.Get("id"), ip), "device_revoked"
	case "revoke_consent":
		err, next = a.svc.RevokeConsent(ctx, m, f.Get("id"), ip), "consent_revoked"
	case "end_session":
		err, next = a.svc.EndSession(ctx, m, f.Get("id")), "session_ended"
	case "end_all":
		if _, err := a.svc.EndAll(ctx, m); err != nil {
			a.u.pageError(w, r, err)
			return
		}
		a.loggedOut(w, r)
		return
	default:
		a.u.render(w, r, http.StatusBadRequest, "error.html", view{Message: catalog.Match(r.Header.Get("Accept-Language")).Text("page.invalid_request")})
		return
	}
	if err != nil {
		k := fault.KindOf(err)
		if k == fault.Unavailable || k == fault.Internal {
			a.u.pageError(w, r, err)
			return
		}
		logReason(w, fault.ReasonOf(err))
		a.page(w, r, m, statusOf(k).page, "", catalog.Match(r.Header.Get("Accept-Language")).Error(err))
		return
	}
	// The action may have ended this browser's own session (its own
	// session, or the device that confirmed it): then the page's login is
	// over too.
	if _, err := a.member(r); errors.Is(err, fault.Unauthenticated) {
		a.loggedOut(w, r)
		return
	}
	http.Redirect(w, r, AccountPath+"?done="+next, http.StatusSeeOther)
}

// loggedOut clears the browser's session and account cookies and shows
// the logged-out page.
func (a accountPage) loggedOut(w http.ResponseWriter, r *http.Request) {
	a.u.clearSSOCookie(w)
	a.u.setCookie(w, a.u.cookieName(accountCookieName, accountCookieNameInsecure), "", -1, http.SameSiteStrictMode)
	http.Redirect(w, r, LoggedOutPath, http.StatusSeeOther)
}

func (a accountPage) password(w http.ResponseWriter, r *http.Request) {
	a.afterFreshLogin(w, r, selfservice.ForPassword, "set", a.setPassword)
}

func (a accountPage) setPassword(w http.ResponseWriter, r *http.Request) {
	m, ok := a.form(w, r, "account-password")
	if !ok {
		return
	}
	f := r.PostForm
	err := a.svc.ChangePassword(r.Context(), m, f.Get("ticket"), f.Get("password"), f.Get("repeat"), a.u.clientIP(r))
	if err == nil {
		http.Redirect(w, r, AccountPath+"?done=password", http.StatusSeeOther)
		return
	}
	switch k := fault.KindOf(err); {
	case k == fault.Invalid:
		// A refused password: the form again, with the same ticket.
		logReason(w, fault.ReasonOf(err))
		v := view{CSRF: f.Get("csrf"), Message: catalog.Match(r.Header.Get("Accept-Language")).Error(err),
			Account: &accountView{Ticket: f.Get("ticket")}}
		a.render(w, r, http.StatusBadRequest, "account_password.html", v)
	case k == fault.Unavailable || k == fault.Internal:
		a.u.pageError(w, r, err)
	default:
		a.failed(w, r, err)
	}
}

// accountView is what the account page shows, in words.
type accountView struct {
	Done       string
	LogoutCSRF string
	Devices    []deviceRow
	Sessions   []sessionRow
	Consents   []consentRow
	Events     []eventRow
	// Ticket is the password form's.
	Ticket string
}

type deviceRow struct {
	ID, Name, Platform, Since, Used, RenameLabel string
	Blocked                                      bool
}

type sessionRow struct {
	ID, Browser, Start, Last, Services string
	Current                            bool
}

type consentRow struct {
	ClientID, Name, NameLang, Granted string
	Scopes                            []string
}

type eventRow struct{ When, What, Detail string }

// overview words o in p's language.
func overview(p catalog.Printer, o selfservice.Overview) *accountView {
	at := func(key string, t any) string { return p.Text(key, p.Text("page.account.date", t)) }
	v := &accountView{}
	for _, d := range o.Devices {
		row := deviceRow{ID: d.ID, Name: d.Name, Platform: string(d.Platform), Since: at("page.account.device.since", d.CreatedAt),
			RenameLabel: p.Text("page.account.device.name", d.Name), Blocked: d.Status != device.Active}
		if !d.LastUsedAt.IsZero() {
			row.Used = at("page.account.device.used", d.LastUsedAt)
		}
		v.Devices = append(v.Devices, row)
	}
	for _, s := range o.Sessions {
		row := sessionRow{ID: s.ID, Browser: s.Browser, Current: s.Current,
			Start: at("page.account.session.start", s.CreatedAt), Last: at("page.account.session.last", s.LastSeenAt)}
		if row.Browser == "" {
			row.Browser = "Browser"
		}
		var names []string
		for _, c := range s.Clients {
			name, _ := c.DisplayName(p.Lang())
			names = append(names, name)
		}
		if len(names) > 0 {
			row.Services = p.Text("page.account.session.services", strings.Join(names, ", "))
		}
		v.Sessions = append(v.Sessions, row)
	}
	for _, c := range o.Consents {
		row := consentRow{ClientID: c.Client.ID, Granted: p.Text("page.account.date", c.GrantedAt)}
		if c.Client.Name == "" {
			c.Client.Name = c.Client.ID
		}
		name, lang := c.Client.DisplayName(p.Lang())
		row.Name = name
		if lang != p.Lang() {
			row.NameLang = lang
		}
		for _, s := range c.Scopes {
			row.Scopes = append(row.Scopes, scopeText(p, s))
		}
		v.Consents = append(v.Consents, row)
	}
	for _, e := range o.Events {
		v.Events = append(v.Events, eventRow{When: p.Text("page.account.date", e.Time), What: eventText(p, e.Kind),
			Detail: eventDetail(p, e)})
	}
	return v
}

// eventText is an audit event's kind in plain language.
func eventText(p catalog.Printer, k audit.Kind) string {
	key := eventKey(k)
	if t := p.Text(key); t != key {
		return t
	}
	return string(k)
}

// eventKey is the catalog key of an audit event kind's words.
func eventKey(k audit.Kind) string { return "audit." + string(k) }

// eventDetail is what the page adds to an event: the device's name, and
// who acted when it was not the member. Never an address or an id.
func eventDetail(p catalog.Printer, e audit.Event) string {
	var parts []string
	if n := e.Detail["name"]; n != "" {
		parts = append(parts, p.Text("page.account.event.device", n))
	}
	switch e.Actor {
	case audit.Operator:
		parts = append(parts, p.Text("page.account.by.operator"))
	case audit.System:
		parts = append(parts, p.Text("page.account.by.system"))
	}
	return strings.Join(parts, ", ")
}
