package e2e

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/cmd/pforte-app/appclient"
	"github.com/pforte-id/pforte/cmd/pforte-app/authenticator"
	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/cmd/pforte/server/servertest"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/member"
)

// The member account page at /account, as a browser with a cookie jar
// and the member's phone (the reference client's key) use it: the page is
// a relying party of Pforte that needs the password and the app's
// confirmation, and every action on it names an object that must be the
// member's own.

// The second member, who owns what the first must not touch.
const otherID = "e2e0000000000000000000000000a002"

var otherKVNR = coretest.KVNR("T98765432")

// accountWorld is a server whose member and a second member each have a
// bound phone, with the mail relay as the notifier.
type accountWorld struct {
	w      *world
	in     *instance
	phone  appclient.Device
	app    *appclient.Client
	relay  *mailRelay
	webRP  *relyingParty
	other  string // the second member's KVNR
	phone2 string // the second member's binding id
}

func newAccountWorld(t *testing.T, opts ...func(*world) startOption) *accountWorld {
	t.Helper()
	w := newWorld(t)
	var extra []startOption
	for _, o := range opts {
		extra = append(extra, o(w))
	}
	key, err := authenticator.New()
	if err != nil {
		t.Fatal(err)
	}
	key2, err := authenticator.New()
	if err != nil {
		t.Fatal(err)
	}
	relay := startMailRelay(t)
	in := w.start(t, sqliteStorage(t), append([]startOption{relay.notifier(t), func(o *server.Options) {
		o.Members[0].Device = &server.Device{
			ID: "e2e-phone-erika", Name: "Telefon von Erika", CredentialID: key.CredentialID(), PublicKey: key.PublicKey(), PIN: appPIN,
		}
		m := servertest.Member(otherID, member.Member{
			KVNR: otherKVNR, GivenName: "Max", FamilyName: "Mustermann", BirthDate: "1971-02-03",
			InsuredFrom: time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC),
		}, w.clock.Now())
		m.Device = &server.Device{
			ID: "e2e-phone-max", Name: "Telefon von Max", CredentialID: key2.CredentialID(), PublicKey: key2.PublicKey(), PIN: appPIN,
		}
		o.Members = append(o.Members, m)
	}}, extra...)...)
	aw := &accountWorld{w: w, in: in, relay: relay, other: otherKVNR.String(), phone2: "e2e-phone-max"}
	aw.phone = appclient.Device{BindingID: "e2e-phone-erika", Key: key, Origin: in.origin(t)}
	aw.app = in.appClient(t, "de.hkk.serviceapp:/oauth2redirect")
	aw.webRP = in.rp(t, w.web, nil)
	return aw
}

var (
	approvalNumber = regexp.MustCompile(`id="number"[^>]*>(\d+)<`)
	csrfOfForm     = func(id string) *regexp.Regexp {
		return regexp.MustCompile(`<form id="` + id + `"[^>]*>\s*<input type="hidden" name="csrf" value="([^"]*)">`)
	}
)

// hiddenFields are the hidden inputs of page.
func hiddenFields(page result) url.Values {
	f := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(string(page.body), -1) {
		f.Set(m[1], html.UnescapeString(m[2]))
	}
	return f
}

// confirm approves the login page shows in approval page page with the
// member's phone and continues in the browser; it returns where the
// browser ends.
func (aw *accountWorld) confirm(t *testing.T, b *browser, page result) result {
	t.Helper()
	m := approvalNumber.FindSubmatch(page.body)
	if page.status != http.StatusOK || m == nil {
		t.Fatalf("want the approval page, got status %d:\n%s", page.status, page.body)
	}
	number, _ := strconv.Atoi(string(m[1]))
	as, err := aw.app.Approvals(t.Context(), aw.phone)
	if err != nil || len(as) != 1 {
		t.Fatalf("the app's approvals: %+v, %v", as, err)
	}
	if as[0].ClientName != "Mein Konto" && as[0].ClientID != "pforte-account" && as[0].ClientID != aw.w.web.ID {
		t.Fatalf("the approval names %+v", as[0])
	}
	if d, err := aw.app.Approve(t.Context(), aw.phone, as[0].ID, number, appPIN); err != nil || d.Status != "approved" {
		t.Fatalf("approve: %+v, %v", d, err)
	}
	return b.post(t, aw.in.base+"/login/approval", hiddenFields(page))
}

func (b *browser) post(t *testing.T, u string, form url.Values) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(t, req)
}

// accountPage reports whether r is the account page.
func accountPage(r result) bool {
	return r.status == http.StatusOK && strings.Contains(string(r.body), `<h1>Mein Konto</h1>`)
}

// logIn opens /account in b, logs in with password (unless the browser's
// session has it) and the app, and returns the account page.
func (aw *accountWorld) logIn(t *testing.T, b *browser) result {
	t.Helper()
	page := b.get(t, aw.in.base+"/account")
	if loginPage(page) {
		page = b.submitLogin(t, aw.in.base, page, memberKVNR.String(), memberPassword)
	}
	// A browser with a password session goes straight to the app.
	r := aw.confirm(t, b, page)
	if !accountPage(r) {
		t.Fatalf("after the login: status %d, want the account page:\n%s", r.status, r.body)
	}
	return r
}

// act posts an action of the account page with the page's CSRF token.
func (aw *accountWorld) act(t *testing.T, b *browser, page result, action, id string, extra url.Values) result {
	t.Helper()
	m := csrfOfForm("end-all").FindSubmatch(page.body)
	if m == nil {
		t.Fatalf("the account page has no CSRF token:\n%s", page.body)
	}
	f := url.Values{"csrf": {html.UnescapeString(string(m[1]))}, "action": {action}, "id": {id}}
	for k, v := range extra {
		f[k] = v
	}
	return b.post(t, aw.in.base+"/account", f)
}

func TestAccountPageNeedsTwoFactors(t *testing.T) {
	aw := newAccountWorld(t)
	b := newBrowser(t)
	t.Run("not logged in: the authorization request of the account client", func(t *testing.T) {
		r := b.getNoFollow(t, aw.in.base+"/account")
		loc, _ := url.Parse(r.header.Get("Location"))
		q := loc.Query()
		if r.status != http.StatusSeeOther || loc.Path != "/authorize" || q.Get("client_id") != "pforte-account" ||
			q.Get("code_challenge_method") != "S256" || q.Get("state") == "" || q.Get("nonce") == "" ||
			q.Get("redirect_uri") != aw.in.issuer+"/account/callback" {
			t.Fatalf("GET /account: %d %s", r.status, loc)
		}
		if !loginPage(b.get(t, aw.in.base+"/account")) {
			t.Fatal("the account page did not lead to the login page")
		}
	})
	t.Run("a password-only session is asked for the app's confirmation", func(t *testing.T) {
		b := newBrowser(t)
		aw.webRP.logIn(t, b, "openid") // the web form takes the password alone (low)
		r := b.get(t, aw.in.base+"/account")
		if loginPage(r) || approvalNumber.Find(r.body) == nil {
			t.Fatalf("status %d: want the app's confirmation without the password:\n%s", r.status, r.body)
		}
		if !accountPage(aw.confirm(t, b, r)) {
			t.Fatal("no account page after the confirmation")
		}
	})
	t.Run("two factors reach the page; its headers", func(t *testing.T) {
		r := aw.logIn(t, b)
		h := r.header
		if !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") || strings.Contains(h.Get("Content-Security-Policy"), "script-src") ||
			h.Get("X-Frame-Options") != "DENY" || h.Get("Cache-Control") != "no-store" {
			t.Fatalf("headers %v", h)
		}
		for _, want := range []string{"Telefon von Erika", "Geräte", "Aktive Anmeldungen", "Überall abmelden", "Passwort ändern", "Letzte Sicherheitsereignisse", "Anmeldung im Browser in der App bestätigt"} {
			if !strings.Contains(string(r.body), want) {
				t.Errorf("the page lacks %q", want)
			}
		}
		if strings.Contains(string(r.body), "Telefon von Max") {
			t.Fatal("the page shows another member's device")
		}
		en := b.getWith(t, aw.in.base+"/account", "en")
		if !strings.Contains(string(en.body), "<h1>My account</h1>") || !strings.Contains(string(en.body), "Log out everywhere") {
			t.Fatalf("English page:\n%s", en.body)
		}
	})
	t.Run("a forged login cookie is not a login", func(t *testing.T) {
		fresh := newBrowser(t)
		u, _ := url.Parse(aw.in.base)
		for _, c := range b.c.Jar.Cookies(u) {
			if c.Name == "pforte_account" {
				fresh.c.Jar.SetCookies(u, []*http.Cookie{{Name: c.Name, Value: c.Value, Path: "/"}})
			}
		}
		if r := fresh.getNoFollow(t, aw.in.base+"/account"); r.status != http.StatusSeeOther {
			t.Fatalf("the account cookie without the SSO session: status %d", r.status)
		}
	})
}

// getWith fetches u with an Accept-Language.
func (b *browser) getWith(t *testing.T, u, lang string) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Language", lang)
	return b.do(t, req)
}

func TestAccountPageActions(t *testing.T) {
	aw := newAccountWorld(t)
	st := aw.in.srv.Store()
	ctx := t.Context()
	// The other member's session (password only) and consent.
	ob := newBrowser(t)
	oa := newAttempt("openid")
	page := aw.webRP.authorize(t, ob, oa, nil)
	aw.webRP.exchange(t, aw.webRP.checkCallback(t, callback(t, ob.submitLogin(t, aw.in.base, page, aw.other, memberPassword)), oa), oa)
	if _, err := st.GrantConsent(ctx, otherID, aw.w.portal.ID, []string{"profile"}, aw.w.clock.Now()); err != nil {
		t.Fatal(err)
	}
	otherSID := ""
	if ss, err := st.ActiveSessions(ctx, otherID, aw.w.clock.Now()); err != nil || len(ss) != 1 {
		t.Fatalf("the other member's session: %+v %v", ss, err)
	} else {
		otherSID = ss[0].ID
	}

	b := newBrowser(t)
	tok := aw.webRP.logIn(t, b, "openid", "offline_access")
	if _, err := st.GrantConsent(ctx, memberID, aw.w.web.ID, []string{"profile"}, aw.w.clock.Now()); err != nil {
		t.Fatal(err)
	}
	p := aw.logIn(t, b)
	if !strings.Contains(string(p.body), "E2E Online-Formular") || !strings.Contains(string(p.body), "Ihren Namen") {
		t.Fatalf("the consent is not listed in words:\n%s", p.body)
	}

	t.Run("CSRF missing or forged", func(t *testing.T) {
		if r := b.post(t, aw.in.base+"/account", url.Values{"action": {"rename_device"}, "id": {aw.phone.BindingID}, "name": {"X"}}); r.status != http.StatusForbidden {
			t.Fatalf("without a token: %d", r.status)
		}
		if r := aw.act(t, b, result{body: []byte(strings.Replace(string(p.body), `name="csrf" value="`, `name="csrf" value="A`, -1))}, "rename_device", aw.phone.BindingID, url.Values{"name": {"X"}}); r.status != http.StatusForbidden {
			t.Fatalf("a forged token: %d", r.status)
		}
		if got := aw.in.stored(t, aw.phone.BindingID).Name; got != "Telefon von Erika" {
			t.Fatalf("renamed by a refused form: %q", got)
		}
	})
	t.Run("another member's device, consent and session are refused", func(t *testing.T) {
		for _, c := range []struct{ action, id string }{
			{"rename_device", aw.phone2}, {"revoke_device", aw.phone2}, {"revoke_consent", aw.w.portal.ID}, {"end_session", otherSID},
		} {
			r := aw.act(t, b, p, c.action, c.id, url.Values{"name": {"Meins"}})
			if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "gibt es in Ihrem Konto nicht") {
				t.Errorf("%s %s: status %d", c.action, c.id, r.status)
			}
		}
		if d := aw.in.stored(t, aw.phone2); d.Name != "Telefon von Max" || d.Status != "active" {
			t.Fatalf("the other member's device changed: %+v", d)
		}
		if _, err := st.ConsentOf(ctx, otherID, aw.w.portal.ID); err != nil {
			t.Fatalf("the other member's consent: %v", err)
		}
		if ss, _ := st.SessionByID(ctx, otherSID); !ss.EndedAt.IsZero() {
			t.Fatal("the other member's session ended")
		}
	})
	t.Run("rename a device", func(t *testing.T) {
		r := aw.act(t, b, p, "rename_device", aw.phone.BindingID, url.Values{"name": {"Diensthandy"}})
		if !accountPage(r) || !strings.Contains(string(r.body), "Das Gerät wurde umbenannt.") || !strings.Contains(string(r.body), "Diensthandy") {
			t.Fatalf("after renaming: %d\n%s", r.status, r.body)
		}
		kinds, events := aw.in.auditKinds(t, memberID)
		for _, e := range events {
			if e.Kind == audit.DeviceRenamed && (e.ClientID != "pforte-account" || e.Actor != audit.Member || e.Detail["name"] != "Diensthandy") {
				t.Fatalf("audit %+v", e)
			}
		}
		if kinds[audit.DeviceRenamed] != 1 {
			t.Fatalf("audit %v", kinds)
		}
		if r := aw.act(t, b, p, "rename_device", aw.phone.BindingID, url.Values{"name": {strings.Repeat("x", 200)}}); r.status != http.StatusBadRequest {
			t.Fatalf("an oversized name: %d", r.status)
		}
	})
	t.Run("revoke a consent ends the client's tokens", func(t *testing.T) {
		r := aw.act(t, b, p, "revoke_consent", aw.w.web.ID, nil)
		if !accountPage(r) || !strings.Contains(string(r.body), "Die Freigabe wurde widerrufen.") {
			t.Fatalf("after revoking: %d", r.status)
		}
		if _, err := aw.webRP.refresh(tok.refresh); err == nil {
			t.Fatal("the refresh token of the client lives after the consent was revoked")
		}
		if kinds, _ := aw.in.auditKinds(t, memberID); kinds[audit.ConsentRevoked] != 1 {
			t.Fatalf("audit %v", kinds)
		}
		if r := aw.act(t, b, p, "revoke_consent", aw.w.web.ID, nil); r.status != http.StatusBadRequest {
			t.Fatalf("revoking twice: %d", r.status)
		}
	})
	t.Run("end another session of the member", func(t *testing.T) {
		b2 := newBrowser(t)
		t2 := aw.webRP.logIn(t, b2, "openid")
		r := aw.act(t, b, p, "end_session", sidOf(t, t2), nil)
		if !accountPage(r) || !strings.Contains(string(r.body), "Die Anmeldung wurde beendet.") {
			t.Fatalf("after ending: %d", r.status)
		}
		if ss, _ := st.SessionByID(ctx, sidOf(t, t2)); ss.EndedAt.IsZero() {
			t.Fatal("the session did not end")
		}
	})
	t.Run("sign out everywhere, then the old form is refused", func(t *testing.T) {
		b3 := newBrowser(t)
		aw.webRP.logIn(t, b3, "openid")
		r := aw.act(t, b, p, "end_all", "", nil)
		if r.status != http.StatusOK || !strings.Contains(string(r.body), "Sie sind abgemeldet") {
			t.Fatalf("after ending all: %d\n%s", r.status, r.body)
		}
		if ss, _ := st.ActiveSessions(ctx, memberID, aw.w.clock.Now()); len(ss) != 0 {
			t.Fatalf("sessions left: %+v", ss)
		}
		if ss, _ := st.ActiveSessions(ctx, otherID, aw.w.clock.Now()); len(ss) != 1 {
			t.Fatal("the other member's session ended too")
		}
		// The same form again, in the same browser: no login any more.
		r = aw.act(t, b, p, "rename_device", aw.phone.BindingID, url.Values{"name": {"Nach dem Abmelden"}})
		if r.status != http.StatusBadRequest || aw.in.stored(t, aw.phone.BindingID).Name != "Diensthandy" {
			t.Fatalf("a form after the logout: %d", r.status)
		}
		if !loginPage(b.get(t, aw.in.base+"/account")) {
			t.Fatal("after the logout the account page does not ask for the login")
		}
	})
}

func TestAccountPasswordChange(t *testing.T) {
	aw := newAccountWorld(t)
	b := newBrowser(t)
	p := aw.logIn(t, b)
	m := csrfOfForm("change-password").FindSubmatch(p.body)
	if m == nil {
		t.Fatalf("no password form:\n%s", p.body)
	}
	aw.w.clock.Advance(time.Minute)
	// A fresh login: the password page again (prompt=login), then the app.
	login := b.post(t, aw.in.base+"/account/password", url.Values{"csrf": {html.UnescapeString(string(m[1]))}, "action": {"begin"}})
	if !loginPage(login) {
		t.Fatalf("the password change does not ask for the current password: %d\n%s", login.status, login.body)
	}
	if r := b.submitLogin(t, aw.in.base, login, memberKVNR.String(), "wrong-password-1234"); approvalNumber.Find(r.body) != nil {
		t.Fatal("a wrong current password reached the app's confirmation")
	}
	form := aw.confirm(t, b, b.submitLogin(t, aw.in.base, login, memberKVNR.String(), memberPassword))
	if form.status != http.StatusOK || !strings.Contains(string(form.body), `name="ticket"`) {
		t.Fatalf("no new-password form: %d\n%s", form.status, form.body)
	}
	fields := hiddenFields(form)
	set := func(pw, repeat string) result {
		f := url.Values{"csrf": {fields.Get("csrf")}, "ticket": {fields.Get("ticket")}, "action": {"set"}, "password": {pw}, "repeat": {repeat}}
		return b.post(t, aw.in.base+"/account/password", f)
	}
	const newPassword = "Leuchtturm-Nebelhorn-Seemöwe"
	if r := set(newPassword, newPassword+"x"); r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "stimmen nicht überein") {
		t.Fatalf("different repetition: %d", r.status)
	}
	if r := set("Musterfrau1964", "Musterfrau1964"); r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "Passwort") {
		t.Fatalf("a personal password: %d", r.status)
	}
	// Another browser logged in with the old password.
	other := newBrowser(t)
	aw.webRP.logInWith(t, other, memberPassword)
	st := aw.in.srv.Store()
	if ss, _ := st.ActiveSessions(t.Context(), memberID, aw.w.clock.Now()); len(ss) != 2 {
		t.Fatalf("%d sessions before the change, want 2", len(ss))
	}
	before := len(aw.relay.messages())
	if r := set(newPassword, newPassword); !accountPage(r) || !strings.Contains(string(r.body), "Ihr Passwort wurde geändert.") {
		t.Fatalf("the new password: %d\n%s", r.status, r.body)
	}
	// The other browser's session ended; this one's stays.
	ss, _ := st.ActiveSessions(t.Context(), memberID, aw.w.clock.Now())
	if len(ss) != 1 {
		t.Fatalf("%d sessions after the change, want 1 (this browser's)", len(ss))
	}
	if !accountPage(b.get(t, aw.in.base+"/account")) {
		t.Fatal("the browser that changed the password was logged out")
	}
	if !loginPage(aw.webRP.authorize(t, other, newAttempt("openid"), nil)) {
		t.Fatal("the other browser was not asked to log in again")
	}
	if r := set("Zweites-Neues-Passwort-Kranich", "Zweites-Neues-Passwort-Kranich"); r.status == http.StatusSeeOther || accountPage(r) {
		t.Fatal("the ticket was used twice")
	}
	msgs := aw.relay.messages()[before:]
	if len(msgs) != 1 {
		t.Fatalf("mails %+v", msgs)
	}
	wantMail(t, msgs[0], memberEmail, "Passwort geändert", "auf der Kontoseite geändert", "Anmeldungen in anderen Browsern wurden beendet")
	if kinds, _ := aw.in.auditKinds(t, memberID); kinds[audit.PasswordSet] != 1 {
		t.Fatalf("audit %v", kinds)
	}
	// The new password logs in; the old one does not.
	nb := newBrowser(t)
	if r := nb.submitLogin(t, aw.in.base, aw.webRP.authorize(t, nb, newAttempt("openid"), nil), memberKVNR.String(), memberPassword); r.status == http.StatusFound {
		t.Fatal("the old password still works")
	}
	nb = newBrowser(t)
	aw.webRP.logInWith(t, nb, newPassword)
}

// logInWith runs a password login for rp in browser b with password pw.
func (rp *relyingParty) logInWith(t *testing.T, b *browser, pw string) tokens {
	t.Helper()
	a := newAttempt("openid")
	page := rp.authorize(t, b, a, nil)
	cb := callback(t, b.submitLogin(t, rp.in.base, page, memberKVNR.String(), pw))
	return rp.exchange(t, rp.checkCallback(t, cb, a), a)
}

func TestAccountRevokeDevice(t *testing.T) {
	aw := newAccountWorld(t)
	b := newBrowser(t)
	p := aw.logIn(t, b)
	// Revoking the phone that confirmed this browser's login ends it.
	r := aw.act(t, b, p, "revoke_device", aw.phone.BindingID, nil)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), "Sie sind abgemeldet") {
		t.Fatalf("after revoking the phone: %d\n%s", r.status, r.body)
	}
	if d := aw.in.stored(t, aw.phone.BindingID); d.Status != "revoked" {
		t.Fatalf("the phone: %+v", d)
	}
	kinds, _ := aw.in.auditKinds(t, memberID)
	if kinds[audit.DeviceRevoked] != 1 || kinds[audit.SessionEnded] != 1 {
		t.Fatalf("audit %v", kinds)
	}
	if d := aw.in.stored(t, aw.phone2); d.Status != "active" {
		t.Fatal("the other member's phone was revoked")
	}
}

// TestAccountRevokeLostPhone: the member's second device came by a
// transfer approved on the phone; the phone is lost. The member logs in to
// the account page with the password and the second device and removes
// the phone there: this login stays (the phone did not confirm it), the
// phone can do nothing afterwards.
func TestAccountRevokeLostPhone(t *testing.T) {
	aw := newAccountWorld(t)
	in := aw.in
	lost := aw.phone

	r := sendJSON(t, http.MethodPost, in.base+"/app/v1/transfers", map[string]string{"kvnr": memberKVNR.String()}, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("begin transfer: %d %s", r.status, r.body)
	}
	var begun struct {
		Code   string `json:"transfer_code"`
		Secret string `json:"transfer_secret"`
	}
	if err := json.Unmarshal(r.body, &begun); err != nil {
		t.Fatal(err)
	}
	id, options := challengeOf(t, in.deviceChallenge(t, lost.BindingID))
	assertion, err := lost.Key.Assert(options, lost.Origin)
	if err != nil {
		t.Fatal(err)
	}
	r = sendJSON(t, http.MethodPost, in.base+"/app/v1/transfers/approval", map[string]any{
		"transfer_code": begun.Code,
		"proof":         map[string]any{"challenge_id": id, "assertion": json.RawMessage(assertion), "pin": appPIN},
	}, nil)
	if r.status != http.StatusOK {
		t.Fatalf("approve transfer: %d %s", r.status, r.body)
	}
	r = sendJSON(t, http.MethodPost, in.base+"/app/v1/transfers/redemption", map[string]string{"transfer_secret": begun.Secret}, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("redeem transfer: %d %s", r.status, r.body)
	}
	var session struct {
		Token string   `json:"enrollment_token"`
		Next  []string `json:"next_steps"`
	}
	if err := json.Unmarshal(r.body, &session); err != nil || !slices.Equal(session.Next, []string{"device", "pin"}) {
		t.Fatalf("redemption: %s", r.body)
	}
	tablet := in.bindPhone(t, session.Token, "Tablet von Erika")
	wantActive(t, in.setPIN(t, session.Token, appPIN))

	aw.phone = appclient.Device{BindingID: tablet.binding, Key: tablet.auth, Origin: in.origin(t)}
	b := newBrowser(t)
	p := aw.logIn(t, b)
	r = aw.act(t, b, p, "revoke_device", lost.BindingID, nil)
	if !accountPage(r) {
		t.Fatalf("after removing the lost phone: %d, want the account page:\n%s", r.status, r.body)
	}
	if d := in.stored(t, lost.BindingID); d.Status != device.Revoked {
		t.Fatalf("the lost phone: %s", d.Status)
	}
	if d := in.stored(t, tablet.binding); d.Status != device.Active {
		t.Fatalf("the tablet: %s", d.Status)
	}
	if r := in.deviceChallenge(t, lost.BindingID); r.status != http.StatusForbidden {
		t.Fatalf("the lost phone got a challenge: %d", r.status)
	}
	if r := b.get(t, in.base+"/account"); !accountPage(r) {
		t.Fatalf("the account page after the removal: %d", r.status)
	}
}
