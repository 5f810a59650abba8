package browser

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// approveOnPhone approves the login the page shows with the member's phone;
// the page's script notices and goes on.
func approveOnPhone(t *testing.T, p *page, in *instance) {
	t.Helper()
	n, err := strconv.Atoi(p.text("#number"))
	if err != nil {
		t.Fatalf("the approval page shows %q", p.text("#number"))
	}
	app := in.app(t)
	as, err := app.Approvals(t.Context(), in.phone)
	if err != nil || len(as) != 1 || !slices.Contains(as[0].Choices[:], n) || as[0].ClientName != "Mein Konto" {
		t.Fatalf("the app's approvals: %+v, %v", as, err)
	}
	if d, err := app.Approve(t.Context(), in.phone, as[0].ID, n, memberPIN); err != nil || d.Status != "approved" {
		t.Fatalf("Approve: %+v, %v", d, err)
	}
}

// TestAccountPage: /account → login page → password → the app's
// confirmation → the account page (checked with axe-core and for CSP
// reports) → rename the phone → change the password (the current one and
// the app again) → log out everywhere.
func TestAccountPage(t *testing.T) {
	rp := newRelyingParty(t)
	in := startPforte(t, rp)
	p := newPage(t)
	p.run("open the account page", chromedp.Navigate(in.issuer+"/account"), chromedp.WaitVisible(chromedp.CSS("#kvnr")))
	p.run("submit the password",
		chromedp.SendKeys(chromedp.CSS("#kvnr"), memberKVNR.String()),
		chromedp.SendKeys(chromedp.CSS("#password"), memberPassword),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#number")),
	)
	approveOnPhone(t, p, in)
	p.waitAt(in.issuer + "/account")
	p.run("the account page", chromedp.WaitVisible(chromedp.CSS("#end-all")))
	if h := p.text("main h1"); h != "Mein Konto" {
		t.Fatalf("heading %q", h)
	}
	for _, want := range []string{"Telefon von Erika", "Chrome, Linux", "Mein Konto", "Anmeldung im Browser in der App bestätigt"} {
		if !strings.Contains(p.text("main"), want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	p.checkPage("account")

	p.run("rename the phone",
		chromedp.SendKeys(chromedp.CSS("#name-browser-phone-0001"), "Erikas Diensthandy"),
		chromedp.Click(chromedp.CSS(`.device button[value="rename_device"]`)),
		chromedp.WaitVisible(chromedp.CSS("#done")),
	)
	if msg := p.text("#done"); msg != "Das Gerät wurde umbenannt." || !strings.Contains(p.text("main"), "Erikas Diensthandy") {
		t.Fatalf("after renaming: %q", msg)
	}

	p.run("change the password: the current one first",
		chromedp.Click(chromedp.CSS("#change-password button")),
		chromedp.WaitVisible(chromedp.CSS("#password")),
		chromedp.SendKeys(chromedp.CSS("#kvnr"), memberKVNR.String()),
		chromedp.SendKeys(chromedp.CSS("#password"), memberPassword),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#number")),
	)
	approveOnPhone(t, p, in)
	p.run("the new password", chromedp.WaitVisible(chromedp.CSS("#new-password")))
	p.checkPage("account-password")
	const newPassword = "Leuchtturm-Nebelhorn-Seemöwe"
	p.run("save it",
		chromedp.SendKeys(chromedp.CSS("#new-password"), newPassword),
		chromedp.SendKeys(chromedp.CSS("#repeat-password"), newPassword),
		chromedp.Click(chromedp.CSS("#new-password-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#done")),
	)
	if msg := p.text("#done"); msg != "Ihr Passwort wurde geändert." {
		t.Fatalf("after the password change: %q", msg)
	}
	p.checkPage("account-changed")

	p.run("log out everywhere",
		chromedp.Click(chromedp.CSS(`#end-all button`)),
		chromedp.WaitVisible(chromedp.CSS(`[role="status"]`)),
	)
	p.waitAt(in.issuer + "/logged-out")
	p.run("the account page again", chromedp.Navigate(in.issuer+"/account"), chromedp.WaitVisible(chromedp.CSS("#kvnr")))
	p.noCSPViolation()
}

// TestAccountPageInEnglish: the page in English, for the screenshot and
// the accessibility check of its English words.
func TestAccountPageInEnglish(t *testing.T) {
	rp := newRelyingParty(t)
	in := startPforte(t, rp)
	p := newPageIn(t, "en-GB,en;q=0.9")
	p.run("open the account page", chromedp.Navigate(in.issuer+"/account"), chromedp.WaitVisible(chromedp.CSS("#kvnr")))
	p.run("submit the password",
		chromedp.SendKeys(chromedp.CSS("#kvnr"), memberKVNR.String()),
		chromedp.SendKeys(chromedp.CSS("#password"), memberPassword),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#number")),
	)
	approveOnPhone(t, p, in)
	p.waitAt(in.issuer + "/account")
	p.run("the account page", chromedp.WaitVisible(chromedp.CSS("#end-all")))
	if h := p.text("main h1"); h != "My account" || !strings.Contains(p.text("main"), "Log out everywhere") {
		t.Fatalf("English page: %q", h)
	}
	p.checkPage("account-en")
}
