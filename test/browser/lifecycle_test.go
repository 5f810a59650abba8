package browser

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestAccountDeletion: on the account page the member deletes the
// account: the password and the app's confirmation again, then the
// confirmation page (checked with axe-core), the box ticked, and the
// page that says the account is gone (checked too). The account page
// asks for a login afterwards, and the password no longer logs in.
func TestAccountDeletion(t *testing.T) {
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
	p.run("the account page", chromedp.WaitVisible(chromedp.CSS("#delete-account")))
	if !strings.Contains(p.text("#delete-account"), "Konto löschen") {
		t.Fatalf("the deletion form says %q", p.text("#delete-account"))
	}

	p.run("delete the account: the password first",
		chromedp.Click(chromedp.CSS("#delete-account button")),
		chromedp.WaitVisible(chromedp.CSS("#password")),
		chromedp.SendKeys(chromedp.CSS("#kvnr"), memberKVNR.String()),
		chromedp.SendKeys(chromedp.CSS("#password"), memberPassword),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#number")),
	)
	approveOnPhone(t, p, in)
	p.run("the confirmation page", chromedp.WaitVisible(chromedp.CSS("#delete-confirm")))
	if h := p.text("main h1"); h != "Konto endgültig löschen" {
		t.Fatalf("heading %q", h)
	}
	p.checkPage("account-delete")
	p.run("confirm and delete",
		chromedp.Click(chromedp.CSS("#delete-confirm")),
		chromedp.Click(chromedp.CSS("#delete-account-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`[role="status"]`)),
	)
	p.waitAt(in.issuer + "/account/deleted")
	if h := p.text("main h1"); h != "Konto gelöscht" || !strings.Contains(p.text("main"), "Ihr Konto ist gelöscht") {
		t.Fatalf("after the deletion: %q %q", h, p.text("main"))
	}
	p.checkPage("account-deleted")

	p.run("the account page again", chromedp.Navigate(in.issuer+"/account"), chromedp.WaitVisible(chromedp.CSS("#kvnr")))
	p.run("the old password",
		chromedp.SendKeys(chromedp.CSS("#kvnr"), memberKVNR.String()),
		chromedp.SendKeys(chromedp.CSS("#password"), memberPassword),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`[role="alert"]`)),
	)
	p.noCSPViolation()
}
