package e2e

import (
	"errors"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/fault"
)

// TestAccountPageDeletion: on the account page the member deletes the
// account after a fresh login (password and the app), with CSRF and an
// explicit confirmation. The account, its phone and its sessions go; the
// other member's stay; the audit trail stays without the member number;
// the page's ticket deletes once.
func TestAccountPageDeletion(t *testing.T) {
	aw := newAccountWorld(t)
	b := newBrowser(t)
	p := aw.logIn(t, b)
	m := csrfOfForm("delete-account").FindSubmatch(p.body)
	if m == nil {
		t.Fatalf("no deletion form on the account page:\n%s", p.body)
	}
	csrf := html.UnescapeString(string(m[1]))
	// Without the page's CSRF token nothing starts.
	if r := b.post(t, aw.in.base+"/account/delete", url.Values{"csrf": {"forged"}, "action": {"begin"}}); r.status != http.StatusForbidden {
		t.Fatalf("a forged deletion: %d", r.status)
	}
	aw.w.clock.Advance(time.Minute)
	login := b.post(t, aw.in.base+"/account/delete", url.Values{"csrf": {csrf}, "action": {"begin"}})
	if !loginPage(login) {
		t.Fatalf("the deletion does not ask for the password: %d\n%s", login.status, login.body)
	}
	form := aw.confirm(t, b, b.submitLogin(t, aw.in.base, login, memberKVNR.String(), memberPassword))
	if form.status != http.StatusOK || !strings.Contains(string(form.body), `id="delete-confirm"`) {
		t.Fatalf("no confirmation page: %d\n%s", form.status, form.body)
	}
	fields := hiddenFields(form)
	del := func(confirm bool, ticket string) result {
		f := url.Values{"csrf": {fields.Get("csrf")}, "ticket": {ticket}, "action": {"delete"}}
		if confirm {
			f.Set("confirm", "yes")
		}
		return b.post(t, aw.in.base+"/account/delete", f)
	}
	// Not ticked: the page again, nothing deleted.
	if r := del(false, fields.Get("ticket")); r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "bestätigen") {
		t.Fatalf("unconfirmed: %d\n%s", r.status, r.body)
	}
	// A password ticket's look-alike does not delete.
	if r := del(true, fields.Get("ticket")+"x"); r.status == http.StatusOK && strings.Contains(string(r.body), "Konto gelöscht") {
		t.Fatal("a forged ticket deleted the account")
	}
	if _, err := aw.in.srv.Store().AccountByID(t.Context(), memberID); err != nil {
		t.Fatalf("the account before the confirmed deletion: %v", err)
	}
	r := del(true, fields.Get("ticket"))
	if r.status != http.StatusOK || !strings.Contains(string(r.body), "Konto gelöscht") {
		t.Fatalf("the deletion: %d\n%s", r.status, r.body)
	}
	st := aw.in.srv.Store()
	if _, err := st.AccountByID(t.Context(), memberID); !errors.Is(err, fault.NotFound) {
		t.Fatalf("the account after the deletion: %v", err)
	}
	if _, err := st.BindingByID(t.Context(), aw.phone.BindingID); !errors.Is(err, fault.NotFound) {
		t.Fatalf("the phone after the deletion: %v", err)
	}
	if d := aw.in.stored(t, aw.phone2); d.Status != "active" {
		t.Fatal("the other member's phone went too")
	}
	// Again, with the spent ticket: refused, nothing recorded again.
	kinds, _ := aw.in.auditKinds(t, memberID)
	if kinds[audit.AccountDeleted] != 1 || kinds[audit.DeviceBound] == 0 && kinds[audit.WebLogin] == 0 {
		t.Fatalf("audit after the deletion: %v", kinds)
	}
	if r := del(true, fields.Get("ticket")); r.status == http.StatusOK {
		t.Fatalf("a second deletion: %d\n%s", r.status, r.body)
	}
	if again, _ := aw.in.auditKinds(t, memberID); again[audit.AccountDeleted] != 1 {
		t.Fatalf("audit after a second deletion: %v", again)
	}
	// The member is told at the address on file, once.
	var notices []relayed
	for _, m := range aw.relay.messages() {
		if m.subject == "Ihr Zugang wurde gelöscht" {
			notices = append(notices, m)
		}
	}
	if len(notices) != 1 {
		t.Fatalf("%d deletion notices, want 1", len(notices))
	}
	wantMail(t, notices[0], memberEmail, "Ihr Zugang wurde gelöscht", "wurde Ihr Zugang zur Service-App", "rufen Sie uns bitte an")
	// The browser is logged out; the password no longer logs in.
	if r := b.get(t, aw.in.base+"/account"); accountPage(r) {
		t.Fatal("the account page still shows after the deletion")
	}
	nb := newBrowser(t)
	if r := nb.submitLogin(t, aw.in.base, aw.webRP.authorize(t, nb, newAttempt("openid"), nil), memberKVNR.String(), memberPassword); r.status == http.StatusFound {
		t.Fatal("the password still logs in")
	}
}
