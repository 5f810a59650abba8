package browser

import (
	"context"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/throttle"
)

// TestWebLogin walks a member through an online form's login as Chromium
// does it: relying party → authorize → login page → wrong password → right
// password → back at the relying party, which verifies the ID token. The
// form's redirect to the relying party is what Chromium checks against the
// login page's form-action directive.
func TestWebLogin(t *testing.T) {
	rp := newRelyingParty(t)
	// The password page alone: a client that accepts the password
	// (loa.Low), as it must say explicitly. The confirmation in the app
	// is TestWebLoginConfirmedInTheApp's.
	rp.client.MinACR = loa.Low
	in := startPforte(t, rp)
	p := newPage(t)

	p.run("open the relying party", chromedp.Navigate(rp.base+"/"), chromedp.WaitVisible(chromedp.CSS("#kvnr")))
	if u := p.location(); !strings.HasPrefix(u, in.issuer+"/login?") {
		t.Fatalf("the relying party sent the browser to %s, want Pforte's login page", u)
	}
	if got := p.text("main p"); strings.Count(got, rp.client.Name) != 1 {
		t.Errorf("the login page names the client %d times (%q), want once", strings.Count(got, rp.client.Name), got)
	}
	p.checkPage("login")

	p.run("submit a wrong password",
		chromedp.SendKeys(chromedp.CSS("#kvnr"), memberKVNR.String()),
		chromedp.SendKeys(chromedp.CSS("#password"), "not-the-password"),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`[role="alert"]`)),
	)
	if msg := p.text(`[role="alert"]`); msg != "Versichertennummer oder Passwort ist falsch." {
		t.Errorf("the error says %q, want the German text that names the password", msg)
	}
	if h := p.text("main h1"); h != "Anmelden" {
		t.Errorf("the heading is %q, want the German Anmelden", h)
	}
	if got := p.value("#kvnr"); got != memberKVNR.String() {
		t.Errorf("after a wrong password the KVNR field holds %q, want %q kept", got, memberKVNR)
	}
	if got := p.value("#password"); got != "" {
		t.Errorf("after a wrong password the password field holds %d characters, want it empty", len(got))
	}
	p.checkPage("login-wrong-password")

	p.run("submit the right password",
		chromedp.SendKeys(chromedp.CSS("#password"), memberPassword),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
	)
	p.waitAt(rp.base + "/callback")
	p.run("the relying party's page", chromedp.WaitVisible(chromedp.CSS("main h1")))
	res, err := rp.lastResult()
	if err != nil {
		t.Fatal(err)
	}
	if res.Err != "" || res.Subject == "" {
		t.Fatalf("the relying party's login failed: %+v", res)
	}
	if res.ACR != "http://eidas.europa.eu/LoA/low" || !slices.Equal(res.AMR, []string{"pwd"}) {
		t.Errorf("a password login: acr %q amr %v, want low and pwd", res.ACR, res.AMR)
	}
	p.noCSPViolation()
}

// TestRefusedPostStartsAgain: a login form posted without the page's
// cookie (a cross-site post, or a browser that dropped the cookie) is
// refused with a page that says what happened and leads back to a login
// that works.
func TestRefusedPostStartsAgain(t *testing.T) {
	rp := newRelyingParty(t)
	rp.client.MinACR = loa.Low // the password page alone
	in := startPforte(t, rp)
	p := newPage(t)

	p.run("open the login page", chromedp.Navigate(rp.base+"/"), chromedp.WaitVisible(chromedp.CSS("#kvnr")))
	p.run("drop the cookies and submit",
		clearCookies(),
		chromedp.SendKeys(chromedp.CSS("#kvnr"), memberKVNR.String()),
		chromedp.SendKeys(chromedp.CSS("#password"), memberPassword),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`[role="alert"]`)),
	)
	if msg := p.text(`[role="alert"]`); strings.Contains(msg, "abgelaufen") {
		t.Errorf("the refusal says %q; the session did not expire, the form was refused", msg)
	}
	if u := p.location(); !strings.HasPrefix(u, in.issuer+"/login") {
		t.Fatalf("the refusal is at %s, want Pforte's login page", u)
	}
	p.checkPage("login-refused")

	p.run("start again", chromedp.Click(chromedp.CSS("a#again")), chromedp.WaitVisible(chromedp.CSS("#kvnr")))
	p.run("log in",
		chromedp.SendKeys(chromedp.CSS("#kvnr"), memberKVNR.String()),
		chromedp.SendKeys(chromedp.CSS("#password"), memberPassword),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
	)
	p.waitAt(rp.base + "/callback")
	if res, err := rp.lastResult(); err != nil || res.Err != "" || res.Subject == "" {
		t.Fatalf("the login after starting again failed: %+v %v", res, err)
	}
	p.noCSPViolation()
}

// TestThrottledLogin: after wrong passwords beyond the free ones, the
// login page says how long to wait, in the member's language, and does not
// take even the right password before then.
func TestThrottledLogin(t *testing.T) {
	rp := newRelyingParty(t)
	startPforte(t, rp, func(o *server.Options) {
		o.Login.Throttle = throttle.DefaultPolicy
		o.Login.Throttle.Free, o.Login.Throttle.First = 0, 40*time.Second
	})
	// The wait counts down from 40 s in real time while the browser works.
	for _, tc := range []struct {
		lang string
		want *regexp.Regexp
	}{
		{"de-DE,de;q=0.9", regexp.MustCompile(`^Zu viele Fehlversuche\. Bitte warten Sie (3[0-9]|40) Sekunden und versuchen Sie es dann erneut\.$`)},
		{"en-GB,en;q=0.9", regexp.MustCompile(`^Too many failed attempts\. Please wait (3[0-9]|40) seconds and then try again\.$`)},
	} {
		p := newPageIn(t, tc.lang)
		p.run("open the login page", chromedp.Navigate(rp.base+"/"), chromedp.WaitVisible(chromedp.CSS("#kvnr")))
		if tc.lang[:2] == "de" {
			p.run("submit a wrong password",
				chromedp.SendKeys(chromedp.CSS("#kvnr"), memberKVNR.String()),
				chromedp.SendKeys(chromedp.CSS("#password"), "not-the-password"),
				chromedp.Click(chromedp.CSS("button[type=submit]")),
				chromedp.WaitVisible(chromedp.CSS(`[role="alert"]`)),
			)
		} else {
			p.run("fill in the member number", chromedp.SendKeys(chromedp.CSS("#kvnr"), memberKVNR.String()))
		}
		p.run("submit the right password during the delay",
			chromedp.SendKeys(chromedp.CSS("#password"), memberPassword),
			chromedp.Click(chromedp.CSS("button[type=submit]")),
		)
		msg := p.waitText(`[role="alert"]`, tc.want)
		if !tc.want.MatchString(msg) {
			t.Errorf("%s: the page says %q, want %s", tc.lang, msg, tc.want)
		}
		if u := p.location(); strings.HasPrefix(u, rp.base) {
			t.Fatalf("%s: the right password was accepted during the delay", tc.lang)
		}
		p.checkPage("login-throttled-" + tc.lang[:2])
		p.noCSPViolation()
	}
}

// TestForgotPassword: the login page's "Passwort vergessen?" link leads
// to a page that says what to do, and from there back to the same login.
func TestForgotPassword(t *testing.T) {
	rp := newRelyingParty(t)
	rp.client.MinACR = loa.Low // the password page alone
	in := startPforte(t, rp)
	p := newPage(t)

	p.run("open the login page", chromedp.Navigate(rp.base+"/"), chromedp.WaitVisible(chromedp.CSS("#kvnr")))
	login := p.location()
	if l := p.text("a#forgot"); l != "Passwort vergessen?" {
		t.Errorf("the link reads %q, want Passwort vergessen?", l)
	}
	p.run("follow the link", chromedp.Click(chromedp.CSS("a#forgot")), chromedp.WaitVisible(chromedp.CSS("a#back")))
	if u := p.location(); !strings.HasPrefix(u, in.issuer+"/login/forgot?") {
		t.Fatalf("the link leads to %s", u)
	}
	if h, text := p.text("main h1"), p.text("main p"); h != "Passwort vergessen" || !strings.Contains(text, "Passwortbrief") {
		t.Errorf("the page says %q / %q, want what to do", h, text)
	}
	p.checkPage("forgot-password")

	p.run("back to the login", chromedp.Click(chromedp.CSS("a#back")), chromedp.WaitVisible(chromedp.CSS("#kvnr")))
	if u := p.location(); u != login {
		t.Errorf("back leads to %s, want the login page %s", u, login)
	}
	p.run("log in",
		chromedp.SendKeys(chromedp.CSS("#kvnr"), memberKVNR.String()),
		chromedp.SendKeys(chromedp.CSS("#password"), memberPassword),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
	)
	p.waitAt(rp.base + "/callback")
	if res, err := rp.lastResult(); err != nil || res.Err != "" || res.Subject == "" {
		t.Fatalf("the login after the forgot page failed: %+v %v", res, err)
	}
	p.noCSPViolation()
}

// TestOtherPages checks every other page a member can reach: the
// activation link's browser fallback, an unknown login, an authorization
// error shown by Pforte, and the logged-out page.
func TestOtherPages(t *testing.T) {
	rp := newRelyingParty(t)
	in := startPforte(t, rp)
	p := newPage(t)

	pages := []struct{ name, url, sel string }{
		{"activate", in.issuer + "/app/activate", "main h1"},
		{"login-unknown", in.issuer + "/login?id=unknown", `[role="alert"]`},
		{"authorize-error", in.issuer + "/authorize?" + url.Values{
			"client_id": {"no-such-client"}, "response_type": {"code"}, "scope": {"openid"},
			"redirect_uri": {"https://attacker.example/cb"},
		}.Encode(), "main h1"},
		{"logged-out", in.issuer + "/end_session", "main h1"},
	}
	for _, pg := range pages {
		p.run("open "+pg.name, chromedp.Navigate(pg.url), chromedp.WaitVisible(pg.sel))
		p.checkPage(pg.name)
	}
}

// TestPagesInEnglish: a browser that asks for English gets the login page,
// its error and Pforte's error pages in English, and says so in <html lang>.
func TestPagesInEnglish(t *testing.T) {
	rp := newRelyingParty(t)
	in := startPforte(t, rp)
	p := newPageIn(t, "en-GB,en;q=0.9")

	p.run("open the relying party", chromedp.Navigate(rp.base+"/"), chromedp.WaitVisible(chromedp.CSS("#kvnr")))
	if h, l := p.text("main h1"), p.text(`label[for="kvnr"]`); h != "Log in" || l != "Member number" {
		t.Errorf("login page heading %q, label %q, want English", h, l)
	}
	if got := p.text("main p"); got != "for "+rp.client.NameEN {
		t.Errorf("the English login page names the client as %q, want its English name once", got)
	}
	p.run("submit a wrong password",
		chromedp.SendKeys(chromedp.CSS("#kvnr"), memberKVNR.String()),
		chromedp.SendKeys(chromedp.CSS("#password"), "not-the-password"),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`[role="alert"]`)),
	)
	if msg := p.text(`[role="alert"]`); msg != "Member number or password is wrong." {
		t.Errorf("the error says %q, want it in English", msg)
	}
	if lang := p.attribute("html", "lang"); lang != "en" {
		t.Errorf("<html lang=%q>, want en", lang)
	}
	p.checkPage("login-wrong-password-en")

	p.run("open an unknown login", chromedp.Navigate(in.issuer+"/login?id=unknown"), chromedp.WaitVisible(`[role="alert"]`))
	if h, msg := p.text("main h1"), p.text(`[role="alert"]`); h != "Login not possible" || msg != "The login request is unknown or has expired." {
		t.Errorf("unknown login page: %q / %q, want English", h, msg)
	}
	p.checkPage("login-unknown-en")

	p.run("open an authorization request of an unknown client", chromedp.Navigate(in.issuer+"/authorize?"+url.Values{
		"client_id": {"no-such-client"}, "response_type": {"code"}, "scope": {"openid"},
		"redirect_uri": {"https://attacker.example/cb"},
	}.Encode()), chromedp.WaitVisible("main h1"))
	if h, msg := p.text("main h1"), p.text("main p"); h != "Login not possible" || !strings.HasPrefix(msg, "The application you came from") {
		t.Errorf("authorization error page: %q / %q, want English", h, msg)
	}
	if d := p.text("main p small"); d != "Technical detail: unknown client" {
		t.Errorf("authorization error page: detail %q", d)
	}
	p.checkPage("authorize-error-en")

	p.run("open the logout confirmation", chromedp.Navigate(in.issuer+"/end_session"), chromedp.WaitVisible("main h1"))
	if h := p.text("main h1"); h != "Do you want to log out?" {
		t.Errorf("logout confirmation: %q, want English", h)
	}
	p.checkPage("logout-confirm-en")
	// The confirmation's own heading is visible until the next page
	// replaces it: wait for the heading to change, not for any heading.
	p.run("confirm the logout", chromedp.Click(chromedp.CSS("#confirm")))
	if h := p.waitText("main h1", regexp.MustCompile(`^Logged out$`)); h != "Logged out" {
		t.Errorf("logged-out page: %q, want English", h)
	}
}

// waitText waits until the text of sel matches want (a page that replaced
// the one before) and returns it; after 15 s it returns what is there.
func (p *page) waitText(sel string, want *regexp.Regexp) string {
	p.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(p.ctx, time.Second)
		got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		cancel()
		if (err == nil && want.MatchString(got)) || time.Now().After(deadline) {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitAt waits until the tab shows a URL starting with prefix; it fails
// with the browser's CSP reports when the navigation never happens.
func (p *page) waitAt(prefix string) {
	p.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if strings.HasPrefix(p.location(), prefix) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatalf("the browser stayed at %s instead of reaching %s; CSP reports: %v", p.location(), prefix, p.cspViolations())
}
