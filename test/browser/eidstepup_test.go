package browser

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pforte-id/pforte/cmd/pforte-app/appclient"
	"github.com/pforte-id/pforte/cmd/pforte/server"
)

// TestEIDStepUpInTheBrowser: an online form asks for acr_values high; the
// letter-proofed member logs in with the password and the page says the
// level cannot be reached and explains the eID step-up in the app. The
// member's app (the reference client) begins the step-up with its key and
// PIN; the browser opens the development broker's page, the member picks
// the card and confirms, and Pforte's page leads back to the app's return
// address, where the app redeems the code: the account is high. The online
// form starts the login again; after the password the page shows the
// number, the member confirms in the app, and the form's callback gets an
// ID token with acr high.
func TestEIDStepUpInTheBrowser(t *testing.T) {
	const high = "http://eidas.europa.eu/LoA/high"
	rp := newRelyingParty(t)
	in := startPforte(t, rp, withDevBroker(t))
	start := rp.base + "/?" + url.Values{"acr_values": {high}}.Encode()
	p := newPage(t)

	passwordAt(p, start, "#stepup")
	if u := p.location(); !strings.HasPrefix(u, in.issuer+"/") {
		t.Fatalf("the level page is at %s, want Pforte's", u)
	}
	if h := p.text("main h1"); h != "Höheres Vertrauensniveau nötig" {
		t.Errorf("the level page's heading is %q", h)
	}
	if msg := p.text(`[role="alert"]`); !strings.Contains(msg, "„hoch“") || !strings.Contains(msg, "„substanziell“") {
		t.Errorf("the level page says %q, want the level asked for and the member's", msg)
	}
	if how := p.text("#stepup"); !strings.Contains(how, "Service-App") || !strings.Contains(how, "„Identität mit Ausweis bestätigen“") ||
		!strings.Contains(how, "Online-Ausweisfunktion (eID)") || !strings.Contains(how, "erneut an") {
		t.Errorf("the level page explains %q, want the eID step-up in the app", how)
	}
	p.checkPage("level-step-up")

	// The level page asks the app for nothing: no approval waits.
	app := in.app(t)
	if as, err := app.Approvals(t.Context(), in.phone); err != nil || len(as) != 0 {
		t.Fatalf("the app's approvals after the level page: %+v, %v", as, err)
	}

	// The app's "Identität mit Ausweis bestätigen": key and PIN, its
	// loopback return address and a PKCE challenge.
	ret, err := appclient.ListenEIDReturn()
	if err != nil {
		t.Fatal(err)
	}
	defer ret.Close()
	verifier, challenge := appclient.NewVerifier()
	up, err := app.BeginStepUp(t.Context(), in.phone, memberPIN, ret.URI, challenge)
	if err != nil {
		t.Fatalf("the app begins the step-up: %v", err)
	}
	p.run("open the eID service", chromedp.Navigate(up.URL), chromedp.WaitVisible(chromedp.CSS("fieldset")))
	if label := p.text(`label[for="identity-2"]`); !strings.Contains(label, memberKVNR.String()) {
		t.Fatalf("the third card is %q, want the member's", label)
	}
	p.run("pick the member's card and confirm",
		chromedp.Click(chromedp.CSS("#identity-2")),
		chromedp.Click(chromedp.CSS(`button[value="confirm"]`)),
	)
	p.waitAt(in.issuer + server.EIDCallbackPath)
	p.run("wait for Pforte's page", chromedp.WaitVisible(chromedp.CSS("#return")))
	if h := p.text("main h1"); h != "Identität bestätigt" {
		t.Errorf("Pforte's page after the eID says %q", h)
	}
	p.noCSPViolation()
	p.run("back to the app", chromedp.Click(chromedp.CSS("#return")))
	p.waitAt(ret.URI + "?code=")
	if u := p.location(); strings.Contains(u, up.Token) || strings.Contains(u, verifier) {
		t.Fatal("the browser saw the step-up token or the verifier")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	code, err := ret.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	level, err := app.ConfirmStepUp(t.Context(), up, code, verifier)
	if err != nil || level != "high" {
		t.Fatalf("the app confirms the step-up: %q, %v", level, err)
	}

	// "Danach melden Sie sich hier erneut an": the online form starts the
	// same login again; now the app's confirmation reaches high.
	number := toApprovalFrom(t, p, start, in)
	res := confirmInApp(t, p, in, rp, number)
	if res.ACR != high {
		t.Fatalf("the online form got acr %q, want %q", res.ACR, high)
	}
	if !strings.Contains(strings.Join(res.AMR, " "), "hwk") {
		t.Errorf("amr %v, want the app's key", res.AMR)
	}
	p.noCSPViolation()
}
