package browser

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/pforte-id/pforte/cmd/pforte-app/appclient"
)

// toApproval opens the relying party and logs in with the password: the
// page asks for the confirmation in the app and shows the number.
func toApproval(t *testing.T, p *page, rp *relyingParty, in *instance) int {
	t.Helper()
	return toApprovalFrom(t, p, rp.base+"/", in)
}

// toApprovalFrom is toApproval for a login the relying party starts at
// start (its start page with protocol parameters in the query).
func toApprovalFrom(t *testing.T, p *page, start string, in *instance) int {
	t.Helper()
	passwordAt(p, start, "#number")
	if u := p.location(); !strings.HasPrefix(u, in.issuer+"/login/approval?") {
		t.Fatalf("after the password the browser is at %s, want the approval page", u)
	}
	if h := p.text("main h1"); h != "Bestätigen Sie die Anmeldung in Ihrer Service-App" {
		t.Errorf("the approval page's heading is %q", h)
	}
	n, err := strconv.Atoi(p.text("#number"))
	if err != nil || n < 10 || n > 99 {
		t.Fatalf("the page shows %q, want a two-digit number", p.text("#number"))
	}
	return n
}

// passwordAt opens start, logs the member in with the password and waits
// for the element next (CSS) of the page that follows.
func passwordAt(p *page, start, next string) {
	p.t.Helper()
	p.run("open the relying party", chromedp.Navigate(start), chromedp.WaitVisible(chromedp.CSS("#kvnr")))
	p.run("submit the password",
		chromedp.SendKeys(chromedp.CSS("#kvnr"), memberKVNR.String()),
		chromedp.SendKeys(chromedp.CSS("#password"), memberPassword),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(next)),
	)
}

// waiting is the approval the reference client sees for the browser's
// login, checked against the number the browser shows.
func waiting(t *testing.T, app *appclient.Client, in *instance, number int) appclient.Approval {
	t.Helper()
	as, err := app.Approvals(t.Context(), in.phone)
	if err != nil {
		t.Fatalf("the app's list of approvals: %v", err)
	}
	if len(as) != 1 {
		t.Fatalf("the app lists %d approvals, want 1: %+v", len(as), as)
	}
	a := as[0]
	if !slices.Contains(a.Choices[:], number) || a.ClientName != "Online-Formulare" || a.Browser != "Chrome, Linux" {
		t.Fatalf("the app shows %+v; want the browser's number %d among the choices, the service and the browser", a, number)
	}
	return a
}

// TestWebLoginConfirmedInTheApp: relying party → login page → password →
// the number → the reference client approves with that number → back at
// the relying party with a verified ID token at substantial, amr hwk and
// pin. The page learns the decision by its script's polling.
func TestWebLoginConfirmedInTheApp(t *testing.T) {
	rp := newRelyingParty(t)
	in := startPforte(t, rp)
	p := newPage(t)
	number := toApproval(t, p, rp, in)
	p.checkPage("approval")
	p.run("Weiter before the decision",
		chromedp.Click(chromedp.CSS("#approval button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`[role="alert"]`)),
	)
	if msg := p.text(`[role="alert"]`); !strings.Contains(msg, "noch nicht bestätigt") {
		t.Errorf("Weiter before the decision: %q", msg)
	}
	if n, _ := strconv.Atoi(p.text("#number")); n != number {
		t.Errorf("the page shows %d after Weiter, want the same number %d", n, number)
	}
	p.checkPage("approval-not-yet")

	app := in.app(t)
	a := waiting(t, app, in, number)
	d, err := app.Approve(t.Context(), in.phone, a.ID, number, memberPIN)
	if err != nil || d.Status != "approved" {
		t.Fatalf("Approve: %+v, %v", d, err)
	}
	p.waitAt(rp.base + "/callback")
	p.run("the relying party's page", chromedp.WaitVisible(chromedp.CSS("main h1")))
	res, err := rp.lastResult()
	if err != nil {
		t.Fatal(err)
	}
	if res.Err != "" || res.Subject == "" {
		t.Fatalf("the relying party's login failed: %+v", res)
	}
	if res.ACR != "http://eidas.europa.eu/LoA/substantial" || !slices.Contains(res.AMR, "hwk") ||
		!slices.Contains(res.AMR, "pin") || !slices.Contains(res.AMR, "pwd") || !slices.Contains(res.AMR, "mfa") {
		t.Fatalf("the ID token: acr %q amr %v; want substantial with pwd hwk pin mfa", res.ACR, res.AMR)
	}
	p.noCSPViolation()
}

// TestApprovalDenied: "Das war ich nicht" in the app ends the browser's
// login on a page that says so.
func TestApprovalDenied(t *testing.T) {
	rp := newRelyingParty(t)
	in := startPforte(t, rp)
	p := newPage(t)
	number := toApproval(t, p, rp, in)
	app := in.app(t)
	a := waiting(t, app, in, number)
	if d, err := app.Deny(t.Context(), in.phone, a.ID, memberPIN); err != nil || d.Status != "denied" {
		t.Fatalf("Deny: %+v, %v", d, err)
	}
	p.run("the page learns the denial", chromedp.WaitVisible(chromedp.CSS(`[role="alert"]`)))
	if msg := p.text(`[role="alert"]`); msg != "Die Anmeldung wurde in der Service-App abgelehnt." {
		t.Errorf("after the denial the page says %q", msg)
	}
	p.checkPage("approval-denied")
	if _, err := rp.lastResult(); err == nil {
		t.Fatal("the relying party saw a callback after a denial")
	}
	p.noCSPViolation()
}

// TestApprovalWrongNumber: a number the browser does not show refuses the
// login; the member cannot correct it in the app.
func TestApprovalWrongNumber(t *testing.T) {
	rp := newRelyingParty(t)
	in := startPforte(t, rp)
	p := newPage(t)
	number := toApproval(t, p, rp, in)
	app := in.app(t)
	a := waiting(t, app, in, number)
	wrong := a.Choices[0]
	if wrong == number {
		wrong = a.Choices[1]
	}
	d, err := app.Approve(t.Context(), in.phone, a.ID, wrong, memberPIN)
	if err != nil || d.Status != "denied" || d.Reason != "wrong_number" {
		t.Fatalf("Approve with a wrong number: %+v, %v", d, err)
	}
	if _, err := app.Approve(t.Context(), in.phone, a.ID, number, memberPIN); err == nil {
		t.Fatal("the right number after a wrong one was accepted")
	}
	p.run("the page learns the refusal", chromedp.WaitVisible(chromedp.CSS(`[role="alert"]`)))
	if msg := p.text(`[role="alert"]`); !strings.Contains(msg, "andere Zahl") {
		t.Errorf("after a wrong number the page says %q", msg)
	}
	p.checkPage("approval-wrong-number")
	p.noCSPViolation()
}

// TestApprovalExpired: two minutes without a decision end the approval;
// the page says so, and the app can no longer approve it.
func TestApprovalExpired(t *testing.T) {
	rp := newRelyingParty(t)
	in := startPforte(t, rp)
	p := newPage(t)
	number := toApproval(t, p, rp, in)
	a := waiting(t, in.app(t), in, number)
	in.advance(2*time.Minute + time.Second)
	p.run("the page learns the expiry", chromedp.WaitVisible(chromedp.CSS(`[role="alert"]`)))
	if msg := p.text(`[role="alert"]`); !strings.Contains(msg, "abgelaufen") {
		t.Errorf("after the expiry the page says %q", msg)
	}
	p.checkPage("approval-expired")
	if _, err := in.app(t).Approve(t.Context(), in.phone, a.ID, number, memberPIN); err == nil {
		t.Fatal("an expired approval was approved")
	}
	p.noCSPViolation()
}

// TestApprovalWithoutJavaScript: without scripts the member presses
// "Weiter"; before the app's decision the page says to confirm first.
func TestApprovalWithoutJavaScript(t *testing.T) {
	rp := newRelyingParty(t)
	in := startPforte(t, rp)
	p := newPage(t)
	p.run("turn JavaScript off", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}))
	number := toApproval(t, p, rp, in)
	if _, hidden := get(p, "read #waiting", chromedp.Attributes(chromedp.CSS("#waiting")))["hidden"]; !hidden {
		t.Error("without JavaScript the page says it is waiting")
	}
	p.run("Weiter before the decision",
		chromedp.Click(chromedp.CSS("#approval button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`[role="alert"]`)),
	)
	if msg := p.text(`[role="alert"]`); !strings.Contains(msg, "noch nicht bestätigt") {
		t.Errorf("Weiter before the decision: %q", msg)
	}
	// axe-core is a script: this page is checked with scripts on in
	// TestWebLoginConfirmedInTheApp; here it is only photographed.
	p.screenshot("approval-no-javascript")
	app := in.app(t)
	a := waiting(t, app, in, number)
	if _, err := app.Approve(t.Context(), in.phone, a.ID, number, memberPIN); err != nil {
		t.Fatal(err)
	}
	p.run("Weiter", chromedp.Click(chromedp.CSS("#approval button[type=submit]")))
	p.waitAt(rp.base + "/callback")
	if res, err := rp.lastResult(); err != nil || res.Err != "" || res.ACR != "http://eidas.europa.eu/LoA/substantial" {
		t.Fatalf("the login without JavaScript: %+v %v", res, err)
	}
}

// TestNoDevice: a member without a device gets a page that says how to
// bind one.
func TestNoDevice(t *testing.T) {
	rp := newRelyingParty(t)
	in := startPforte(t, rp)
	p := newPage(t)
	p.run("open the relying party", chromedp.Navigate(rp.base+"/"), chromedp.WaitVisible(chromedp.CSS("#kvnr")))
	p.run("submit the password",
		chromedp.SendKeys(chromedp.CSS("#kvnr"), otherKVNR.String()),
		chromedp.SendKeys(chromedp.CSS("#password"), otherPassword),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("a#again")),
	)
	if h, text := p.text("main h1"), p.text("main"); h != "Kein Gerät für die Bestätigung" || !strings.Contains(text, "Passwortbrief") {
		t.Errorf("the page says %q / %q", h, text)
	}
	if u := p.location(); !strings.HasPrefix(u, in.issuer+"/login") {
		t.Errorf("the page is at %s", u)
	}
	p.checkPage("no-device")
}

// TestTooManyApprovalsWaiting: three logins of the member wait for the app
// (approval fatigue: whoever has the password could fill the app with
// them); the fourth is refused on a page that says what to do, and the app
// lists only the three.
func TestTooManyApprovalsWaiting(t *testing.T) {
	rp := newRelyingParty(t)
	in := startPforte(t, rp)
	p := newPage(t)
	for range 3 {
		toApproval(t, p, rp, in)
	}
	passwordAt(p, rp.base+"/", "p.msg")
	if h, msg := p.text("main h1"), p.text("p.msg"); h == "" || !strings.Contains(msg, "Es warten bereits mehrere Anmeldungen") {
		t.Errorf("the page says %q / %q", h, msg)
	}
	if u := p.location(); !strings.HasPrefix(u, in.issuer+"/login") {
		t.Errorf("the page is at %s", u)
	}
	p.checkPage("approval-too-many")
	as, err := in.app(t).Approvals(t.Context(), in.phone)
	if err != nil || len(as) != 3 {
		t.Fatalf("the app lists %d approvals (%v), want 3", len(as), err)
	}
}
