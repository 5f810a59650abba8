package selfservice_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/keys"
	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/adapters/sqlstore/sqlstoretest"
	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/binding"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/dpop"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/password"
	"github.com/pforte-id/pforte/core/selfservice"
	"github.com/pforte-id/pforte/core/session"
	"github.com/pforte-id/pforte/core/sso"
	"github.com/pforte-id/pforte/ports/notify"
)

const issuer = "https://id.kasse.example"

var forms = client.Client{ID: "forms", Name: "Formulare", Kind: client.Web, AuthMethod: client.AuthSecretBasic,
	SecretHash: "x", RedirectURIs: []string{"https://forms.example/cb"}, GrantTypes: []string{client.GrantCode},
	Scopes: []string{"openid", "profile"}, MinACR: loa.Low}

// devices records the account page's device calls; device management
// itself is core/binding's (its tests run on its store).
type devices struct {
	mu    sync.Mutex
	calls []string
}

func (d *devices) MemberDevices(_ context.Context, accountID string) ([]binding.Device, error) {
	return []binding.Device{{ID: "dev-of-" + accountID, Name: "Telefon"}}, nil
}

func (d *devices) RenameMemberDevice(_ context.Context, accountID, id, name, _, clientID string) error {
	return d.call(accountID, id, clientID)
}

func (d *devices) RevokeMemberDevice(_ context.Context, accountID, id, _, clientID string) error {
	return d.call(accountID, id, clientID)
}

func (d *devices) call(accountID, id, clientID string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, accountID+"/"+id+"/"+clientID)
	if id != "dev-of-"+accountID {
		return fault.New(fault.NotFound, "test", "not this account's")
	}
	return nil
}

// rules refuses passwords containing "weak".
type rules struct{}

func (rules) CheckPassword(_ context.Context, _ kvnr.KVNR, _ string, pw string) error {
	if strings.Contains(pw, "weak") {
		return fault.Coded(fault.Invalid, "test", password.CodeGuessable)
	}
	return nil
}

type mailbox struct {
	mu   sync.Mutex
	sent []notify.Message
}

func (m *mailbox) Notify(_ context.Context, msg notify.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, msg)
	return nil
}

type world struct {
	*sqlstore.Store
	clock *coretest.Clock
	az    *authz.Service
	sso   *sso.Service
	svc   *selfservice.Service
	devs  *devices
	mail  *mailbox
	anna  account.Account
	bodo  account.Account
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := t.Context()
	w := &world{Store: sqlstoretest.Open(t), clock: coretest.NewClock(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)),
		devs: &devices{}, mail: &mailbox{}}
	ring, err := keys.New(ctx, w, []byte("master-key-of-the-account-tests!"), keys.Config{}, w.clock.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := client.NewSecretHasher([]byte("client-secret-hash-key-of-32-bytes"))
	if err != nil {
		t.Fatal(err)
	}
	w.az, err = authz.New(authz.Config{
		Issuer:      issuer,
		DPoPNonces:  dpop.NonceSource{Key: []byte("dpop-nonce-key-of-thirty-two-b!!")},
		PairwiseKey: []byte("pairwise-sub-key-of-32-bytes-ok!"),
	}, authz.Stores{Consents: w, Clients: w, Requests: w, Tokens: w, Accounts: w, Members: w, Replay: w},
		ring, keys.NewAssertionVerifier(keys.DefaultAssertionCacheSize), secrets, w.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	w.sso, err = sso.New(sso.Config{}, sso.Deps{
		Sessions: w, Accounts: w, Audit: w, Authz: w.az, Now: w.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := selfservice.Config{
		Issuer: issuer, AuthorizeEndpoint: issuer + "/authorize", RedirectURI: issuer + "/account/callback",
		Key: []byte("account-page-key-of-32-bytes-ok!"), IPKey: []byte("audit-ip-key-audit-ip-key-audit-ip-key"),
	}
	w.svc, err = selfservice.New(cfg, selfservice.Deps{
		Authz: w.az, Tokens: ring, Sessions: w.sso, SessionStore: w, Devices: w.devs, Clients: w, Consents: w,
		Accounts: w, Members: w, Audit: w, Replay: w, Rules: rules{}, Passwords: coretest.Passwords(),
		Notifier: w.mail, Mail: func(_ context.Context, code fault.Code, _ ...any) (string, string) { return string(code), "body" },
		Now: w.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []client.Client{cfg.Client(secrets.Hash("unused"), w.clock.Now()), forms} {
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		if err := w.PutClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for i, k := range []kvnr.KVNR{coretest.KVNR("S11111111"), coretest.KVNR("S22222222")} {
		a := account.Account{ID: []string{"acct-anna", "acct-bodo"}[i], KVNR: k, Status: account.Active, Proofing: loa.Substantial,
			PasswordHash: coretest.PasswordHash(), CreatedAt: w.clock.Now()}
		if err := w.CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
		if err := w.UpsertMember(ctx, member.Member{KVNR: k, GivenName: "A", FamilyName: "B", BirthDate: "1970-01-01",
			Email: a.ID + "@example.org", InsuredFrom: w.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			w.anna = a
		} else {
			w.bodo = a
		}
	}
	return w
}

// twoFactors is a login of a with password and the app.
func (w *world) twoFactors(a account.Account) loa.Authentication {
	return loa.Authentication{Subject: a.ID, Proofing: loa.Substantial, Time: w.clock.Now(),
		AMR: []string{loa.AMRPassword, loa.AMRHardware, loa.AMRPIN}}
}

// browser begins an SSO session of login l and returns its secret.
func (w *world) browser(t *testing.T, l loa.Authentication) (string, session.Session) {
	t.Helper()
	secret, ss, err := w.sso.Begin(t.Context(), l, "Firefox, Linux", "")
	if err != nil {
		t.Fatal(err)
	}
	return secret, ss
}

// authorize runs the authorization request of st at the authorization
// server and answers it from session ss with login l, as the login page
// does; it returns the callback.
func (w *world) authorize(t *testing.T, st selfservice.Start, ss session.Session, l loa.Authentication) selfservice.Callback {
	t.Helper()
	u, err := url.Parse(st.URL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	r, err := w.az.Authorize(t.Context(), authz.AuthorizeRequest{
		ClientID: q.Get("client_id"), RedirectURI: q.Get("redirect_uri"), ResponseType: q.Get("response_type"),
		Scope: q.Get("scope"), State: q.Get("state"), Nonce: q.Get("nonce"), CodeChallenge: q.Get("code_challenge"),
		CodeChallengeMethod: q.Get("code_challenge_method"), Prompt: q.Get("prompt"), MaxAge: q.Get("max_age"),
	})
	if err != nil {
		t.Fatal(err)
	}
	to, err := w.sso.Complete(t.Context(), r.ID, ss, l)
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := url.Parse(to)
	return selfservice.Callback{Code: cb.Query().Get("code"), State: cb.Query().Get("state"), Issuer: cb.Query().Get("iss"),
		Error: cb.Query().Get("error")}
}

// logIn logs a in to the account page in a new browser and returns the
// browser's SSO secret and the member.
func (w *world) logIn(t *testing.T, a account.Account) (string, selfservice.Member) {
	t.Helper()
	secret, _, m := w.logInCookie(t, a)
	return secret, m
}

// logInCookie is logIn that also returns the page's login cookie.
func (w *world) logInCookie(t *testing.T, a account.Account) (string, string, selfservice.Member) {
	t.Helper()
	l := w.twoFactors(a)
	secret, ss := w.browser(t, l)
	st, err := w.svc.Begin(selfservice.ForPage)
	if err != nil {
		t.Fatal(err)
	}
	in, err := w.svc.Finish(t.Context(), st.Flow, w.authorize(t, st, ss, l), secret)
	if err != nil {
		t.Fatal(err)
	}
	m, err := w.svc.Authenticate(t.Context(), in.Cookie, secret)
	if err != nil || m.AccountID != a.ID || m.Session.ID != ss.ID {
		t.Fatalf("Authenticate: %+v, %v", m, err)
	}
	return secret, in.Cookie, m
}

func wantCode(t *testing.T, what string, err error, kind fault.Kind, code fault.Code) {
	t.Helper()
	c := fault.CodedOf(err)
	if !errors.Is(err, kind) || c == nil || c.Code != code {
		t.Fatalf("%s: %v, want %v with %s", what, err, kind, code)
	}
}

func TestBeginAsksForACodeWithPKCE(t *testing.T) {
	w := newWorld(t)
	st, err := w.svc.Begin(selfservice.ForPassword)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(st.URL)
	q := u.Query()
	if u.Scheme+"://"+u.Host+u.Path != issuer+"/authorize" || q.Get("client_id") != selfservice.DefaultClientID ||
		q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || q.Get("prompt") != "login" ||
		q.Get("max_age") != "0" || q.Get("nonce") == "" || q.Get("state") == "" || strings.Contains(st.URL, st.Flow) {
		t.Fatalf("authorization request %s", st.URL)
	}
	if _, err := w.svc.Begin("other"); !errors.Is(err, fault.Invalid) {
		t.Fatalf("an unknown purpose: %v", err)
	}
}

func TestFinishRefusesWhatDoesNotFit(t *testing.T) {
	w := newWorld(t)
	l := w.twoFactors(w.anna)
	secret, ss := w.browser(t, l)
	otherSecret, _ := w.browser(t, w.twoFactors(w.anna))
	fresh := func() (selfservice.Start, selfservice.Callback) {
		st, err := w.svc.Begin(selfservice.ForPage)
		if err != nil {
			t.Fatal(err)
		}
		return st, w.authorize(t, st, ss, l)
	}
	tests := []struct {
		name   string
		change func(st *selfservice.Start, cb *selfservice.Callback, secret *string)
	}{
		{"another state", func(_ *selfservice.Start, cb *selfservice.Callback, _ *string) { cb.State = "x" + cb.State }},
		{"no iss", func(_ *selfservice.Start, cb *selfservice.Callback, _ *string) { cb.Issuer = "" }},
		{"a foreign iss", func(_ *selfservice.Start, cb *selfservice.Callback, _ *string) { cb.Issuer = "https://evil.example" }},
		{"an error", func(_ *selfservice.Start, cb *selfservice.Callback, _ *string) { cb.Error = "access_denied" }},
		{"a forged flow", func(st *selfservice.Start, _ *selfservice.Callback, _ *string) { st.Flow = "page.1." + st.Flow }},
		{"no flow", func(st *selfservice.Start, _ *selfservice.Callback, _ *string) { st.Flow = "" }},
		{"another browser's session", func(_ *selfservice.Start, _ *selfservice.Callback, s *string) { *s = otherSecret }},
		{"no session", func(_ *selfservice.Start, _ *selfservice.Callback, s *string) { *s = "" }},
		{"a wrong code", func(_ *selfservice.Start, cb *selfservice.Callback, _ *string) { cb.Code = "AAAA" + cb.Code }},
	}
	for _, tt := range tests {
		st, cb := fresh()
		s := secret
		tt.change(&st, &cb, &s)
		_, err := w.svc.Finish(t.Context(), st.Flow, cb, s)
		wantCode(t, tt.name, err, fault.Unauthenticated, selfservice.CodeLoginFailed)
	}
	// A code is redeemed once; the flow of one login does not fit another.
	st, cb := fresh()
	if _, err := w.svc.Finish(t.Context(), st.Flow, cb, secret); err != nil {
		t.Fatal(err)
	}
	_, err := w.svc.Finish(t.Context(), st.Flow, cb, secret)
	wantCode(t, "a replayed code", err, fault.Unauthenticated, selfservice.CodeLoginFailed)
	st1, _ := fresh()
	_, cb2 := fresh()
	_, err = w.svc.Finish(t.Context(), st1.Flow, cb2, secret)
	wantCode(t, "another login's flow", err, fault.Unauthenticated, selfservice.CodeLoginFailed)
	// A flow older than FlowTTL.
	st, cb = fresh()
	w.clock.Advance(selfservice.FlowTTL + time.Second)
	_, err = w.svc.Finish(t.Context(), st.Flow, cb, secret)
	wantCode(t, "a stale flow", err, fault.Unauthenticated, selfservice.CodeLoginFailed)
}

func TestTheLoginLivesWithItsSession(t *testing.T) {
	w := newWorld(t)
	secret, m := w.logIn(t, w.anna)
	l := w.twoFactors(w.anna)
	st, _ := w.svc.Begin(selfservice.ForPage)
	in, err := w.svc.Finish(t.Context(), st.Flow, w.authorize(t, st, m.Session, l), secret)
	if err != nil {
		t.Fatal(err)
	}
	// Another first character (an id that begins with "A" gets "B").
	first := "A"
	if m.Session.ID[0] == 'A' {
		first = "B"
	}
	forged := strings.Replace(in.Cookie, m.Session.ID, first+m.Session.ID[1:], 1)
	for name, cookie := range map[string]string{"forged": forged, "empty": "", "no MAC": m.Session.ID} {
		_, err := w.svc.Authenticate(t.Context(), cookie, secret)
		wantCode(t, name, err, fault.Unauthenticated, selfservice.CodeNotLoggedIn)
	}
	// Another session of the same member in another browser: the cookie
	// names this one.
	otherSecret, _ := w.browser(t, l)
	_, err = w.svc.Authenticate(t.Context(), in.Cookie, otherSecret)
	wantCode(t, "another session", err, fault.Unauthenticated, selfservice.CodeNotLoggedIn)
	// Ended: the page's login ends with it.
	if err := w.sso.End(t.Context(), m.Session.ID, session.EndLogout); err != nil {
		t.Fatal(err)
	}
	_, err = w.svc.Authenticate(t.Context(), in.Cookie, secret)
	wantCode(t, "ended session", err, fault.Unauthenticated, selfservice.CodeNotLoggedIn)
	// A blocked account cannot use a live session's page.
	secret, cookie, _ := w.logInCookie(t, w.anna)
	if err := w.SetAccountStatus(t.Context(), w.anna.ID, account.Blocked, w.clock.Now()); err != nil {
		t.Fatal(err)
	}
	_, err = w.svc.Authenticate(t.Context(), cookie, secret)
	wantCode(t, "blocked account", err, fault.Unauthenticated, selfservice.CodeNotLoggedIn)
}

func TestActionsOnlyOnTheMembersOwn(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	_, anna := w.logIn(t, w.anna)
	_, bodo := w.logIn(t, w.bodo)
	if _, err := w.GrantConsent(ctx, w.bodo.ID, forms.ID, []string{"profile"}, w.clock.Now()); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "another member's consent", w.svc.RevokeConsent(ctx, anna, forms.ID, "203.0.113.1"), fault.NotFound, selfservice.CodeUnknown)
	wantCode(t, "another member's session", w.svc.EndSession(ctx, anna, bodo.Session.ID), fault.NotFound, selfservice.CodeUnknown)
	wantCode(t, "another member's device", w.svc.RevokeDevice(ctx, anna, "dev-of-"+w.bodo.ID, ""), fault.NotFound, selfservice.CodeUnknown)
	wantCode(t, "an oversized id", w.svc.RenameDevice(ctx, anna, strings.Repeat("x", 300), "n", ""), fault.NotFound, selfservice.CodeUnknown)
	if _, err := w.ConsentOf(ctx, w.bodo.ID, forms.ID); err != nil {
		t.Fatalf("bodo's consent: %v", err)
	}
	if ss, _ := w.SessionByID(ctx, bodo.Session.ID); !ss.EndedAt.IsZero() {
		t.Fatal("bodo's session ended")
	}
	if err := w.svc.RenameDevice(ctx, anna, "dev-of-"+w.anna.ID, "Neu", ""); err != nil {
		t.Fatal(err)
	}
	if got := w.devs.calls[len(w.devs.calls)-1]; got != w.anna.ID+"/dev-of-"+w.anna.ID+"/"+selfservice.DefaultClientID {
		t.Fatalf("device call %s", got)
	}
	// Bodo's own consent and session.
	if err := w.svc.RevokeConsent(ctx, bodo, forms.ID, "203.0.113.1"); err != nil {
		t.Fatal(err)
	}
	es, _ := w.AuditEvents(ctx, w.bodo.ID, 10)
	if len(es) == 0 || es[0].Kind != audit.ConsentRevoked || es[0].Detail["client"] != forms.ID || es[0].ClientID != selfservice.DefaultClientID || es[0].IPHash == "" {
		t.Fatalf("audit %+v", es)
	}
	o, err := w.svc.Overview(ctx, bodo)
	if err != nil || len(o.Sessions) != 1 || !o.Sessions[0].Current || len(o.Sessions[0].Clients) != 1 ||
		o.Sessions[0].Clients[0].ID != selfservice.DefaultClientID || len(o.Consents) != 0 || len(o.Devices) != 1 {
		t.Fatalf("overview %+v, %v", o, err)
	}
	if err := w.svc.EndSession(ctx, bodo, bodo.Session.ID); err != nil {
		t.Fatal(err)
	}
	if ss, _ := w.SessionByID(ctx, bodo.Session.ID); ss.EndedAt.IsZero() || ss.EndReason != session.EndLogout {
		t.Fatalf("bodo's own session: %+v", ss)
	}
	if n, err := w.svc.EndAll(ctx, anna); err != nil || n != 1 {
		t.Fatalf("EndAll: %d, %v", n, err)
	}
}

// passwordLogin is a ForPassword login of m's browser with a login made
// at made, and its result.
func (w *world) passwordLogin(t *testing.T, m selfservice.Member, secret string, made time.Time) (selfservice.Login, error) {
	t.Helper()
	st, err := w.svc.Begin(selfservice.ForPassword)
	if err != nil {
		t.Fatal(err)
	}
	l := w.twoFactors(w.anna)
	l.Time = made
	up, err := w.sso.StepUp(t.Context(), m.Session.ID, l)
	if err != nil {
		t.Fatal(err)
	}
	return w.svc.Finish(t.Context(), st.Flow, w.authorize(t, st, up, l), secret)
}

func TestPasswordChange(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	secret, m := w.logIn(t, w.anna)
	w.clock.Advance(time.Minute)
	// (A login older than the start of the change never gets a code:
	// max_age=0 is the authorization server's to enforce, and Finish
	// checks auth_time again.)
	in, err := w.passwordLogin(t, m, secret, w.clock.Now())
	if err != nil || in.Ticket == "" || in.Purpose != selfservice.ForPassword {
		t.Fatalf("Finish: %+v, %v", in, err)
	}
	const pw = "Leuchtturm-Nebelhorn-Seemoewe"
	wantCode(t, "mismatch", w.svc.ChangePassword(ctx, m, in.Ticket, pw, pw+"x", ""), fault.Invalid, selfservice.CodePasswordMismatch)
	wantCode(t, "weak", w.svc.ChangePassword(ctx, m, in.Ticket, "weak-one", "weak-one", ""), fault.Invalid, password.CodeGuessable)
	wantCode(t, "forged ticket", w.svc.ChangePassword(ctx, m, in.Ticket+"x", pw, pw, ""), fault.Forbidden, selfservice.CodeTicket)
	_, bodo := w.logIn(t, w.bodo)
	wantCode(t, "another session's ticket", w.svc.ChangePassword(ctx, bodo, in.Ticket, pw, pw, ""), fault.Forbidden, selfservice.CodeTicket)

	if err := w.svc.ChangePassword(ctx, m, in.Ticket, pw, pw, "203.0.113.1"); err != nil {
		t.Fatal(err)
	}
	a, _ := w.AccountByID(ctx, w.anna.ID)
	if ok, _, err := coretest.Passwords().Verify(ctx, pw, a.PasswordHash); err != nil || !ok {
		t.Fatalf("the new password does not verify: %v", err)
	}
	wantCode(t, "replayed ticket", w.svc.ChangePassword(ctx, m, in.Ticket, "Zweites-Passwort-Kranich", "Zweites-Passwort-Kranich", ""), fault.Conflict, selfservice.CodeTicket)
	es, _ := w.AuditEvents(ctx, w.anna.ID, 10)
	if es[0].Kind != audit.PasswordSet || es[0].Actor != audit.Member || es[0].ClientID != selfservice.DefaultClientID {
		t.Fatalf("audit %+v", es[0])
	}
	if len(w.mail.sent) != 1 || w.mail.sent[0].To != "acct-anna@example.org" || w.mail.sent[0].Subject != "mail.password_changed" {
		t.Fatalf("mail %+v", w.mail.sent)
	}
	// An expired ticket.
	in, err = w.passwordLogin(t, m, secret, w.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(selfservice.TicketTTL)
	wantCode(t, "expired ticket", w.svc.ChangePassword(ctx, m, in.Ticket, pw, pw, ""), fault.Expired, selfservice.CodeTicket)
}

func TestConcurrentUsesOfOneTicket(t *testing.T) {
	w := newWorld(t)
	secret, m := w.logIn(t, w.anna)
	in, err := w.passwordLogin(t, m, secret, w.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i := range 6 {
		wg.Go(func() {
			pw := "Parallel-Passwort-Nummer-" + string(rune('A'+i))
			if w.svc.ChangePassword(t.Context(), m, in.Ticket, pw, pw, "") == nil {
				mu.Lock()
				won++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d uses of one ticket succeeded, want 1", won)
	}
}

// TestPasswordChangeEndsOtherSessions: a new password ends the member's
// sessions in other browsers (they logged in with the old password), with
// the reason recorded; the browser that changed it stays logged in.
func TestPasswordChangeEndsOtherSessions(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	otherSecret, otherCookie, other := w.logInCookie(t, w.anna)
	secret, m := w.logIn(t, w.anna)
	_, bodo := w.logIn(t, w.bodo)
	in, err := w.passwordLogin(t, m, secret, w.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	cur, err := w.svc.Authenticate(ctx, in.Cookie, secret)
	if err != nil {
		t.Fatalf("the browser's login for the change: %v", err)
	}
	const pw = "Leuchtturm-Nebelhorn-Seemoewe"
	if err := w.svc.ChangePassword(ctx, cur, in.Ticket, pw, pw, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.Authenticate(ctx, otherCookie, otherSecret); err == nil {
		t.Fatal("the other browser is still logged in")
	}
	ss, err := w.SessionByID(ctx, other.Session.ID)
	if err != nil || ss.EndedAt.IsZero() || ss.EndReason != session.EndPassword {
		t.Fatalf("the other session: %+v, %v", ss, err)
	}
	if _, err := w.svc.Authenticate(ctx, in.Cookie, secret); err != nil {
		t.Fatalf("the browser that changed the password: %v", err)
	}
	if bs, err := w.SessionByID(ctx, bodo.Session.ID); err != nil || !bs.EndedAt.IsZero() {
		t.Fatalf("another member's session: %+v, %v", bs, err)
	}
}
