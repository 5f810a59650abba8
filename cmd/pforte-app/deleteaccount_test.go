package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/kvnr"
)

// logoutReceiver is an online form's back-channel logout endpoint: it
// keeps the claims of every logout token posted to it.
type logoutReceiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	tokens []map[string]any
}

func newLogoutReceiver(t *testing.T) *logoutReceiver {
	lr := &logoutReceiver{}
	lr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("logout_token") == "" {
			http.Error(w, "no logout_token", http.StatusBadRequest)
			return
		}
		claims := jwtPayload(t, r.PostForm.Get("logout_token"))
		lr.mu.Lock()
		lr.tokens = append(lr.tokens, claims)
		lr.mu.Unlock()
	}))
	t.Cleanup(lr.srv.Close)
	return lr
}

func (lr *logoutReceiver) received() []map[string]any {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	return append([]map[string]any(nil), lr.tokens...)
}

// TestDeleteAccountFromTheApp: the member, logged in in the app and, with
// the app's confirmation, at an online form in the browser, deletes the
// account in the app. The form is told by back-channel logout; the app's
// tokens, its key and the password are worthless; the audit log keeps its
// entries, naming the member by pseudonyms only; a second deletion says
// so and changes nothing.
func TestDeleteAccountFromTheApp(t *testing.T) {
	lr := newLogoutReceiver(t)
	p := startServer(t, func(o *server.Options) {
		for i := range o.Clients {
			if o.Clients[i].ID == webClient.ID {
				o.Clients[i].BackchannelLogoutURI = lr.srv.URL + "/logout"
			}
		}
		o.LogoutInterval = -1
	})
	stateFile := enrolled(t, p)
	ctx := t.Context()
	st := p.srv.Store()
	acct, err := st.AccountByKVNR(ctx, kvnr.MustParse(testKVNR))
	if err != nil {
		t.Fatal(err)
	}

	// A browser login at the online form, confirmed in the app.
	b := startWebLogin(t, p)
	wantExit(t, app(t, stateFile, "", nil, "approve", "--number", b.number(), "--pin", testPIN), 0, "approve")
	if to := b.weiter(http.StatusFound); !strings.Contains(to, "code=") {
		t.Fatalf("the browser login did not complete: %q", to)
	}
	sessions, err := st.ActiveSessions(ctx, acct.ID, p.clock.Now())
	if err != nil || len(sessions) != 1 {
		t.Fatalf("sessions after the browser login: %v, %v", sessions, err)
	}
	// And a login in the app, whose tokens a copy of the state keeps.
	wantExit(t, appAt(t, p.clock.Now, stateFile, "", nil, "login", "--pin", testPIN), 0, "login")
	backup := copyFile(t, stateFile)

	// Not confirmed: nothing happens.
	r := app(t, stateFile, "nein\n", nil, "delete-account", "--pin", testPIN)
	wantStderr(t, r, 2, "delete-account not confirmed", "nothing was deleted")
	if _, err := st.AccountByID(ctx, acct.ID); err != nil {
		t.Fatalf("the account after an unconfirmed deletion: %v", err)
	}

	r = app(t, stateFile, "LÖSCHEN\n", nil, "delete-account", "--pin", testPIN)
	wantExit(t, r, 0, "delete-account")
	if !strings.Contains(r.stdout, "Your account has been deleted") && !strings.Contains(r.stdout, "Ihr Konto ist gelöscht") {
		t.Fatalf("delete-account: %q", r.stdout)
	}
	if s := readState(t, stateFile); s.Device != nil || s.Session != nil || s.DeletedAt.IsZero() {
		t.Fatalf("state after the deletion: %+v", s)
	}

	// The online form is told, for the browser session, by the sub it knows.
	if n, err := p.srv.Logout().DeliverDue(ctx); err != nil || n != 1 {
		t.Fatalf("DeliverDue = %d, %v; want the form's logout token", n, err)
	}
	got := lr.received()
	if len(got) != 1 || got[0]["sid"] != sessions[0].ID || got[0]["aud"] != webClient.ID || got[0]["sub"] == "" {
		t.Fatalf("the form received %v, want one logout token for session %s", got, sessions[0].ID)
	}

	// Everything of the account is gone; the member record stays.
	if _, err := st.AccountByID(ctx, acct.ID); err == nil {
		t.Fatal("the account is still there")
	}
	if bs, _ := st.ListBindings(ctx, acct.ID); len(bs) != 0 {
		t.Fatalf("bindings after the deletion: %v", bs)
	}
	if _, err := st.MemberByKVNR(ctx, kvnr.MustParse(testKVNR)); err != nil {
		t.Fatalf("the member record went with the account: %v", err)
	}
	r = appAt(t, p.clock.Now, backup, "", nil, "token", "--refresh")
	wantStderr(t, r, 1, "refresh after the deletion", "invalid_grant")
	r = appAt(t, p.clock.Now, backup, "", nil, "login", "--pin", testPIN)
	wantStderr(t, r, 1, "login after the deletion", "login challenge: ")

	// The audit log keeps the account's entries, under the account id and
	// the member number's pseudonym only.
	evs, err := st.AuditEvents(ctx, acct.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[audit.Kind]int{}
	for _, e := range evs {
		kinds[e.Kind]++
		raw, _ := json.Marshal(e)
		if strings.Contains(string(raw), testKVNR) || strings.Contains(string(raw), "Beispiel") {
			t.Errorf("audit entry %s names the member: %s", e.Kind, raw)
		}
	}
	if kinds[audit.AccountDeleted] != 1 || kinds[audit.DeviceBound] != 1 || kinds[audit.AppLogin] != 1 || kinds[audit.SessionEnded] != 1 {
		t.Fatalf("audit entries after the deletion: %v", kinds)
	}
	for _, e := range evs {
		if e.Kind == audit.AccountDeleted && (e.Detail["member"] == "" || e.Detail["reason"] != "request" || e.Actor != audit.Member) {
			t.Fatalf("the deletion's entry: %+v", e)
		}
	}

	// Twice: the app says the account is gone; the old key is refused;
	// nothing is recorded again.
	r = app(t, stateFile, "", nil, "delete-account", "--yes", "--pin", testPIN)
	wantStderr(t, r, 1, "delete-account again", "was deleted on")
	r = app(t, backup, "", nil, "delete-account", "--yes", "--pin", testPIN)
	wantStderr(t, r, 1, "delete-account with a copy of the old state")
	if again, _ := st.AuditEvents(ctx, acct.ID, 100); len(again) != len(evs) {
		t.Fatalf("a second deletion recorded %d entries more", len(again)-len(evs))
	}
}
