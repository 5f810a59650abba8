package browser

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/loa"
)

// secondParty is another relying party of the same Pforte, registered by
// opts before Pforte starts.
func secondParty(t *testing.T, id, name, nameEN string, consent bool) (*relyingParty, func(*server.Options)) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rp := newRelyingPartyOn(t, ln, id, name, nameEN)
	rp.client.Consent = consent
	return rp, func(o *server.Options) {
		secrets, err := server.SecretHasher(o.MasterKey)
		if err != nil {
			t.Fatal(err)
		}
		c := rp.client
		c.SecretHash = secrets.Hash(rp.secret)
		o.Clients = append(o.Clients, c)
	}
}

// confirmInApp approves the approval the browser shows with the member's
// phone and waits for the relying party's callback.
func confirmInApp(t *testing.T, p *page, in *instance, rp *relyingParty, number int) loginResult {
	t.Helper()
	app := in.app(t)
	as, err := app.Approvals(t.Context(), in.phone)
	if err != nil || len(as) != 1 {
		t.Fatalf("the app's approvals: %+v, %v", as, err)
	}
	if d, err := app.Approve(t.Context(), in.phone, as[0].ID, number, memberPIN); err != nil || d.Status != "approved" {
		t.Fatalf("Approve: %+v, %v", d, err)
	}
	return atCallback(t, p, rp)
}

// atCallback waits until the browser is back at rp and returns what rp saw.
func atCallback(t *testing.T, p *page, rp *relyingParty) loginResult {
	t.Helper()
	p.waitAt(rp.base + "/callback")
	p.run("the relying party's page", chromedp.WaitVisible(chromedp.CSS("main h1")))
	res, err := rp.lastResult()
	if err != nil {
		t.Fatal(err)
	}
	if res.Err != "" {
		t.Fatalf("the relying party's login failed: %+v", res)
	}
	return res
}

// refreshWorks reports whether rp can still use its refresh token rt.
func refreshWorks(t *testing.T, rp *relyingParty, rt string) bool {
	t.Helper()
	rp.mu.Lock()
	conf := rp.conf
	rp.mu.Unlock()
	_, err := conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: rt, Expiry: time.Unix(1, 0)}).Token()
	return err == nil
}

// TestSingleSignOnInTheBrowser: RP A → two-factor login → RP B logs in
// without a login page → RP B with max_age=0 asks for the password (and
// the app) again → a third-party portal shows the consent page → logout
// at RP A ends the session: the refresh tokens of every relying party are
// dead, and a new login at RP B shows the login page.
func TestSingleSignOnInTheBrowser(t *testing.T) {
	rpA := newRelyingParty(t)
	rpA.client.Scopes = append(rpA.client.Scopes, "offline_access")
	rpA.client.GrantTypes = []string{client.GrantCode, client.GrantRefresh}
	rpB, withB := secondParty(t, "browser-portal", "Bonusprogramm", "Bonus programme", false)
	rpC, withC := secondParty(t, "browser-partner", "Partnerportal Reha", "Rehab partner portal", true)
	rpB.client.Scopes = append(rpB.client.Scopes, "offline_access")
	rpC.client.Scopes = append(rpC.client.Scopes, "offline_access")
	in := startPforte(t, rpA, withB, withC)
	rpB.connect(t, in.issuer)
	rpC.connect(t, in.issuer)
	p := newPage(t)

	first := confirmInApp(t, p, in, rpA, toApproval(t, p, rpA, in))
	if first.SID == "" {
		t.Fatal("RP A's ID token has no sid")
	}

	p.run("open RP B", chromedp.Navigate(rpB.base+"/"))
	second := atCallback(t, p, rpB)
	if second.SID != first.SID || second.AuthTime != first.AuthTime || second.ACR != first.ACR {
		t.Fatalf("RP B: sid %q auth_time %d acr %q, want the session's %q %d %q", second.SID, second.AuthTime, second.ACR,
			first.SID, first.AuthTime, first.ACR)
	}

	in.advance(2 * time.Second)
	p.run("RP B asks for a fresh login", chromedp.Navigate(rpB.base+"/?max_age=0"), chromedp.WaitVisible(chromedp.CSS("#password")))
	p.run("the password again",
		chromedp.SendKeys(chromedp.CSS("#kvnr"), memberKVNR.String()),
		chromedp.SendKeys(chromedp.CSS("#password"), memberPassword),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#number")),
	)
	number := 0
	if _, err := fmtSscan(p.text("#number"), &number); err != nil {
		t.Fatal(err)
	}
	fresh := confirmInApp(t, p, in, rpB, number)
	if fresh.AuthTime <= first.AuthTime || fresh.SID != first.SID {
		t.Fatalf("after max_age=0: auth_time %d (before %d), sid %q; want a newer login in the same session", fresh.AuthTime, first.AuthTime, fresh.SID)
	}

	p.run("open the third-party portal", chromedp.Navigate(rpC.base+"/"), chromedp.WaitVisible(chromedp.CSS("#allow")))
	if h := p.text("main h1"); !strings.Contains(h, "Partnerportal Reha") {
		t.Errorf("the consent page's heading: %q", h)
	}
	if items := p.text("#scopes"); !strings.Contains(items, "Ihren Namen") {
		t.Errorf("the consent page names %q, want the name", items)
	}
	p.checkPage("consent")
	p.run("allow", chromedp.Click(chromedp.CSS("#allow")))
	third := atCallback(t, p, rpC)
	if third.SID != first.SID {
		t.Fatalf("the portal's sid %q, want the session's", third.SID)
	}

	// The account page answers from the session (no login page) and takes
	// the consent back; the portal's tokens end with it.
	p.run("open the account page", chromedp.Navigate(in.issuer+"/account"), chromedp.WaitVisible(chromedp.CSS(".consent")))
	if c := p.text(".consent"); !strings.Contains(c, "Partnerportal Reha") || !strings.Contains(c, "Ihren Namen") {
		t.Errorf("the account page lists the consent as %q", c)
	}
	p.checkPage("account-consents")
	p.run("revoke the consent",
		chromedp.Click(chromedp.CSS(`.consent button[value="revoke_consent"]`)),
		chromedp.WaitVisible(chromedp.CSS("#done")),
	)
	if p.text("#done") != "Die Freigabe wurde widerrufen. Das Portal erhält keine Daten mehr." {
		t.Errorf("after revoking: %q", p.text("#done"))
	}
	if third.RefreshToken == "" || refreshWorks(t, rpC, third.RefreshToken) {
		t.Error("the portal's refresh token works after the consent was revoked")
	}
	p.run("the portal asks again", chromedp.Navigate(rpC.base+"/"), chromedp.WaitVisible(chromedp.CSS("#allow")))

	p.run("log out at RP A", chromedp.Navigate(in.issuer+"/end_session?"+url.Values{
		"id_token_hint": {first.IDToken}, "post_logout_redirect_uri": {rpA.base + "/"}, "state": {"bye"},
	}.Encode()))
	for name, c := range map[string]struct {
		rp *relyingParty
		rt string
	}{"RP A": {rpA, first.RefreshToken}, "RP B": {rpB, fresh.RefreshToken}} {
		if c.rt == "" {
			t.Fatalf("%s got no refresh token to check", name)
		}
		if refreshWorks(t, c.rp, c.rt) {
			t.Errorf("%s's refresh token works after the logout", name)
		}
	}
	// Both relying parties of the session are told at their back-channel
	// endpoints, each with the session's sid and the sub it knows.
	for name, c := range map[string]struct {
		rp  *relyingParty
		sub string
	}{"RP A": {rpA, first.Subject}, "RP B": {rpB, fresh.Subject}} {
		deadline := time.Now().Add(15 * time.Second)
		for {
			got, refused := c.rp.receivedLogouts()
			if len(refused) > 0 {
				t.Fatalf("%s refused a logout token: %v", name, refused)
			}
			if len(got) > 0 {
				if len(got) != 1 || got[0].SID != first.SID || got[0].Subject != c.sub {
					t.Errorf("%s received %+v, want one token for sid %s and sub %s", name, got, first.SID, c.sub)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s received no logout token within 15 s", name)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	p.run("RP B again", chromedp.Navigate(rpB.base+"/"), chromedp.WaitVisible(chromedp.CSS("#password")))
	p.noCSPViolation()
}

// fmtSscan reads an integer from s.
func fmtSscan(s string, n *int) (int, error) { return fmt.Sscan(strings.TrimSpace(s), n) }

// TestStepUpWithoutThePassword: a session made with the password alone
// (a client that accepts low) meets a client that needs substantial: the
// browser goes straight to the number, the member confirms in the app,
// and the second client gets substantial in the same session — the
// password is not typed again.
func TestStepUpWithoutThePassword(t *testing.T) {
	rpLow := newRelyingParty(t)
	rpLow.client.MinACR = loa.Low
	rpHigh, withHigh := secondParty(t, "browser-portal", "Bonusprogramm", "Bonus programme", false)
	in := startPforte(t, rpLow, withHigh)
	rpHigh.connect(t, in.issuer)
	p := newPage(t)
	p.run("log in with the password alone", chromedp.Navigate(rpLow.base+"/"), chromedp.WaitVisible(chromedp.CSS("#kvnr")),
		chromedp.SendKeys(chromedp.CSS("#kvnr"), memberKVNR.String()),
		chromedp.SendKeys(chromedp.CSS("#password"), memberPassword),
		chromedp.Click(chromedp.CSS("button[type=submit]")))
	low := atCallback(t, p, rpLow)
	if low.ACR != "http://eidas.europa.eu/LoA/low" {
		t.Fatalf("the password alone gave acr %q", low.ACR)
	}
	p.run("open the client that needs substantial", chromedp.Navigate(rpHigh.base+"/"), chromedp.WaitVisible(chromedp.CSS("#number")))
	var number int
	if _, err := fmtSscan(p.text("#number"), &number); err != nil {
		t.Fatal(err)
	}
	p.checkPage("step-up")
	high := confirmInApp(t, p, in, rpHigh, number)
	if high.ACR != "http://eidas.europa.eu/LoA/substantial" || high.SID != low.SID {
		t.Fatalf("after the step-up: acr %q sid %q, want substantial in the session %q", high.ACR, high.SID, low.SID)
	}
}
