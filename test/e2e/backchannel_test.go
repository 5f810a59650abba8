package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/cmd/pforte/server/servertest"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/backchannel"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/loa"
)

// logoutClaims is what a relying party reads from a logout token.
type logoutClaims struct {
	Iss    string                    `json:"iss"`
	Sub    string                    `json:"sub"`
	Aud    string                    `json:"aud"`
	Iat    int64                     `json:"iat"`
	Exp    int64                     `json:"exp"`
	JTI    string                    `json:"jti"`
	SID    string                    `json:"sid"`
	Events map[string]map[string]any `json:"events"`
	Nonce  *string                   `json:"nonce"`
}

// logoutRP is a relying party's back-channel logout endpoint that
// verifies every logout token the way OpenID Connect Back-Channel Logout
// 1.0 §2.6 tells it to: the signature against Pforte's published keys,
// typ logout+jwt, iss, aud (its own client id), iat and exp, the logout
// event, sid, and no nonce. What fails verification is kept as a
// problem; the test fails on any.
type logoutRP struct {
	srv      *httptest.Server
	clientID string
	in       func() *instance
	// status is the answer it gives (0: 200).
	status atomic.Int32

	mu       sync.Mutex
	tokens   []logoutClaims
	problems []string
}

func newLogoutRP(t *testing.T, clientID string, in func() *instance) *logoutRP {
	t.Helper()
	rp := &logoutRP{clientID: clientID, in: in}
	rp.srv = httptest.NewServer(http.HandlerFunc(rp.serve))
	t.Cleanup(rp.srv.Close)
	return rp
}

func (rp *logoutRP) uri() string { return rp.srv.URL + "/backchannel-logout" }

func (rp *logoutRP) problem(format string, args ...any) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	rp.problems = append(rp.problems, fmt.Sprintf(format, args...))
}

func (rp *logoutRP) serve(w http.ResponseWriter, r *http.Request) {
	if s := rp.status.Load(); s != 0 {
		w.WriteHeader(int(s))
		return
	}
	if err := rp.check(r); err != nil {
		rp.problem("%s: %v", rp.clientID, err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (rp *logoutRP) check(r *http.Request) error {
	if r.Method != http.MethodPost || r.URL.Path != "/backchannel-logout" {
		return fmt.Errorf("%s %s", r.Method, r.URL.Path)
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		return fmt.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
	}
	if err := r.ParseForm(); err != nil {
		return err
	}
	if len(r.PostForm) != 1 || len(r.PostForm["logout_token"]) != 1 {
		return fmt.Errorf("form %v, want logout_token only", r.PostForm)
	}
	raw := []byte(r.PostForm.Get("logout_token"))
	in := rp.in()
	resp, err := http.Get(in.base + "/jwks")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	set, err := jwk.Parse(body)
	if err != nil {
		return fmt.Errorf("JWKS: %w", err)
	}
	msg, err := jws.Parse(raw)
	if err != nil || len(msg.Signatures()) != 1 {
		return fmt.Errorf("not a JWS: %v", err)
	}
	h := msg.Signatures()[0].ProtectedHeaders()
	if typ, _ := h.Type(); typ != "logout+jwt" {
		return fmt.Errorf("typ %q, want logout+jwt", typ)
	}
	if alg, _ := h.Algorithm(); alg != jwa.ES256() {
		return fmt.Errorf("alg %v", alg)
	}
	payload, err := jws.Verify(raw, jws.WithKeySet(set, jws.WithInferAlgorithmFromKey(true)))
	if err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	var c logoutClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return err
	}
	now := in.clock.Now().Unix()
	switch {
	case c.Iss != in.issuer:
		return fmt.Errorf("iss %q", c.Iss)
	case c.Aud != rp.clientID:
		return fmt.Errorf("aud %q", c.Aud)
	case c.Iat > now || c.Exp <= now || c.Exp-c.Iat > int64(backchannel.TokenTTL/time.Second):
		return fmt.Errorf("iat %d exp %d at %d", c.Iat, c.Exp, now)
	case c.JTI == "" || c.SID == "" || c.Sub == "":
		return fmt.Errorf("jti %q sid %q sub %q", c.JTI, c.SID, c.Sub)
	case c.Nonce != nil:
		return fmt.Errorf("a nonce")
	case len(c.Events) != 1:
		return fmt.Errorf("events %v", c.Events)
	}
	if ev, ok := c.Events["http://schemas.openid.net/event/backchannel-logout"]; !ok || len(ev) != 0 {
		return fmt.Errorf("events %v", c.Events)
	}
	rp.mu.Lock()
	rp.tokens = append(rp.tokens, c)
	rp.mu.Unlock()
	return nil
}

func (rp *logoutRP) received() []logoutClaims {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return slices.Clone(rp.tokens)
}

func (rp *logoutRP) checkNoProblems(t *testing.T) {
	t.Helper()
	rp.mu.Lock()
	defer rp.mu.Unlock()
	for _, p := range rp.problems {
		t.Errorf("logout token refused by the relying party: %s", p)
	}
}

// logoutWorld is w with two online forms that take logout tokens: forms
// (the world's web client, public sub) and forms2 (pairwise sub), each
// with an endpoint of its own.
type logoutWorld struct {
	*world
	forms, forms2     testClient
	formsRP, forms2RP *logoutRP
	in                atomic.Pointer[instance]
}

func newLogoutWorld(t *testing.T) *logoutWorld {
	t.Helper()
	lw := &logoutWorld{world: newWorld(t)}
	current := func() *instance { return lw.in.Load() }
	lw.formsRP = newLogoutRP(t, "e2e-web", current)
	lw.forms2RP = newLogoutRP(t, "e2e-forms2", current)
	lw.forms = lw.web
	lw.forms.BackchannelLogoutURI = lw.formsRP.uri()
	hasher, err := server.SecretHasher(lw.master)
	if err != nil {
		t.Fatal(err)
	}
	lw.forms2 = testClient{secret: client.GenerateSecret()}
	lw.forms2.Client = client.Client{
		ID: "e2e-forms2", Name: "E2E Zweites Formular", Kind: client.Web, AuthMethod: client.AuthSecretBasic,
		SecretHash: hasher.Hash(lw.forms2.secret), RedirectURIs: []string{"https://forms2.example/callback"},
		GrantTypes: []string{client.GrantCode}, Scopes: []string{"openid"}, MinACR: loa.Low,
		SectorIdentifier: "forms2.example", BackchannelLogoutURI: lw.forms2RP.uri(),
	}
	return lw
}

// option registers the two forms and sets the delivery settings.
func (lw *logoutWorld) option(cfg backchannel.Config, interval time.Duration) startOption {
	return func(o *server.Options) {
		for i, c := range o.Clients {
			if c.ID == lw.forms.ID {
				o.Clients[i] = lw.forms.Client
			}
		}
		o.Clients = append(o.Clients, lw.forms2.Client)
		o.Logout, o.LogoutInterval = cfg, interval
	}
}

func (lw *logoutWorld) start(t *testing.T, eng engine, cfg backchannel.Config, interval time.Duration) *instance {
	t.Helper()
	in := lw.world.start(t, eng.storage(t), lw.option(cfg, interval))
	lw.in.Store(in)
	return in
}

func deliverDue(t *testing.T, in *instance) int {
	t.Helper()
	n, err := in.srv.Logout().DeliverDue(t.Context())
	if err != nil {
		t.Fatalf("DeliverDue: %v", err)
	}
	return n
}

func queued(t *testing.T, in *instance) int {
	t.Helper()
	n, err := in.srv.Store().CountLogoutJobs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// The member logged into two online forms ends the session: each form's
// endpoint gets one logout token that verifies against Pforte's keys and
// names the member by the sub that form knows, pairwise for the second.
func TestBackchannelLogout(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		lw := newLogoutWorld(t)
		in := lw.start(t, eng, backchannel.Config{}, -1)
		sub := in.rp(t, lw.forms, nil).login(t, "openid").idToken.Subject
		sub2 := in.rp(t, lw.forms2, nil).login(t, "openid").idToken.Subject
		if sub == sub2 {
			t.Fatalf("the second form has no pairwise sub: %s", sub2)
		}
		const sid = "e2e-session-1"
		// The portal and the service registered no URI: they are not told.
		err := in.srv.Logout().EnqueueSession(t.Context(), sid, memberID,
			[]string{lw.forms.ID, lw.forms2.ID, lw.portal.ID, lw.svc.ID})
		if err != nil {
			t.Fatal(err)
		}
		if n := queued(t, in); n != 2 {
			t.Fatalf("%d logout tokens queued, want 2", n)
		}
		if n := deliverDue(t, in); n != 2 {
			t.Fatalf("DeliverDue took %d", n)
		}
		lw.formsRP.checkNoProblems(t)
		lw.forms2RP.checkNoProblems(t)
		for _, tc := range []struct {
			rp  *logoutRP
			sub string
		}{{lw.formsRP, sub}, {lw.forms2RP, sub2}} {
			got := tc.rp.received()
			if len(got) != 1 || got[0].Sub != tc.sub || got[0].SID != sid {
				t.Errorf("%s received %+v, want one token for sub %s and sid %s", tc.rp.clientID, got, tc.sub, sid)
			}
		}
		if n := queued(t, in); n != 0 {
			t.Errorf("%d tokens still queued", n)
		}
	})
}

// An endpoint that is down gets the token once it is back; one that stays
// down past logout.backchannel_give_up_after is given up with an audit
// event. The metrics follow the queue.
func TestBackchannelLogoutRetriedAndGivenUp(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		lw := newLogoutWorld(t)
		in := lw.start(t, eng, backchannel.Config{GiveUpAfter: 10 * time.Minute, RetryFirst: time.Minute, RetryMax: 2 * time.Minute}, -1)
		lw.formsRP.status.Store(http.StatusServiceUnavailable)
		lw.forms2RP.status.Store(http.StatusInternalServerError)
		if err := in.srv.Logout().EnqueueSession(t.Context(), "e2e-session-2", memberID, []string{lw.forms.ID, lw.forms2.ID}); err != nil {
			t.Fatal(err)
		}
		deliverDue(t, in)
		scrape := metricsText(t, in)
		for _, want := range []string{
			"pforte_backchannel_logout_queue 2",
			`pforte_backchannel_logout_deliveries_total{outcome="failed"} 2`,
		} {
			if !strings.Contains(scrape, want) {
				t.Errorf("metrics lack %q", want)
			}
		}
		for minute := 1; queued(t, in) > 0; minute++ {
			if minute > 30 {
				t.Fatal("never finished")
			}
			if minute == 5 {
				lw.formsRP.status.Store(0) // back up
			}
			in.clock.Advance(time.Minute)
			deliverDue(t, in)
		}
		lw.formsRP.checkNoProblems(t)
		if got := lw.formsRP.received(); len(got) != 1 {
			t.Errorf("the endpoint that came back received %d tokens, want 1", len(got))
		}
		if got := lw.forms2RP.received(); len(got) != 0 {
			t.Errorf("the endpoint that stayed down received %d", len(got))
		}
		events, err := in.srv.Store().AuditEvents(t.Context(), memberID, 20)
		if err != nil {
			t.Fatal(err)
		}
		var given []audit.Event
		for _, e := range events {
			if e.Kind == audit.BackchannelLogoutGivenUp {
				given = append(given, e)
			}
		}
		if len(given) != 1 || given[0].ClientID != lw.forms2.ID || given[0].Detail["reason"] != "status 500" ||
			given[0].Detail["session"] != "e2e-session-2" {
			t.Errorf("given up events %+v", given)
		}
		scrape = metricsText(t, in)
		for _, want := range []string{
			"pforte_backchannel_logout_queue 0",
			`pforte_backchannel_logout_deliveries_total{outcome="delivered"} 1`,
			`pforte_backchannel_logout_deliveries_total{outcome="given_up"} 1`,
			`pforte_audit_events_total{kind="logout.backchannel_given_up"} 1`,
		} {
			if !strings.Contains(scrape, want) {
				t.Errorf("metrics lack %q", want)
			}
		}
	})
}

// Two replicas on one database, each running its worker as pforte serve
// does, and a burst of ended sessions queued at both: every relying party
// gets each session's token exactly once.
func TestBackchannelLogoutReplicasDeliverOnce(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		lw := newLogoutWorld(t)
		st := eng.storage(t)
		opt := lw.option(backchannel.Config{Batch: 3}, 50*time.Millisecond)
		a := lw.world.start(t, st, opt)
		lw.in.Store(a)
		ln, _ := servertest.Listen(t)
		b := lw.world.serve(t, ln, a.issuer, st, opt)
		const sessions = 20
		for i := range sessions {
			in := []*instance{a, b}[i%2]
			if err := in.srv.Logout().EnqueueSession(t.Context(), fmt.Sprintf("e2e-burst-%02d", i), memberID,
				[]string{lw.forms.ID, lw.forms2.ID}); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(30 * time.Second)
		for queued(t, a) > 0 || len(lw.formsRP.received())+len(lw.forms2RP.received()) < 2*sessions {
			if time.Now().After(deadline) {
				t.Fatalf("not delivered: %d queued, %d+%d received", queued(t, a),
					len(lw.formsRP.received()), len(lw.forms2RP.received()))
			}
			time.Sleep(20 * time.Millisecond)
		}
		for _, rp := range []*logoutRP{lw.formsRP, lw.forms2RP} {
			rp.checkNoProblems(t)
			seen := map[string]int{}
			for _, c := range rp.received() {
				seen[c.SID]++
			}
			if len(seen) != sessions {
				t.Errorf("%s: tokens for %d sessions, want %d", rp.clientID, len(seen), sessions)
			}
			for sid, n := range seen {
				if n != 1 {
					t.Errorf("%s: %d tokens for %s", rp.clientID, n, sid)
				}
			}
		}
	})
}

// A client whose back-channel logout URI is not https (http only on
// loopback) is refused when the server applies its clients.
func TestBackchannelLogoutURIRefused(t *testing.T) {
	w := newWorld(t)
	bad := w.web
	bad.BackchannelLogoutURI = "http://forms.example/backchannel"
	o := w.options(t, "http://127.0.0.1:1", sqliteStorage(t))
	o.Clients = []client.Client{bad.Client}
	if _, err := server.New(t.Context(), o); err == nil || !strings.Contains(err.Error(), "backchannel_logout_uri") {
		t.Fatalf("server.New with an http back-channel logout URI: %v", err)
	}
}

func metricsText(t *testing.T, in *instance) string {
	t.Helper()
	rec := httptest.NewRecorder()
	in.srv.Metrics().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Body.String()
}

// An endpoint that never answers, or answers without end, holds a
// delivery no longer than logout.backchannel_timeout; the token is
// retried later with the reason "timeout".
func TestBackchannelLogoutSlowEndpoint(t *testing.T) {
	lw := newLogoutWorld(t)
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release) // before Close, which waits for the handler
	lw.forms.BackchannelLogoutURI = hang.URL + "/backchannel-logout"
	in := lw.start(t, sqliteEngine, backchannel.Config{Timeout: 200 * time.Millisecond}, -1)
	if err := in.srv.Logout().EnqueueSession(t.Context(), "e2e-session-3", memberID, []string{lw.forms.ID}); err != nil {
		t.Fatal(err)
	}
	if n := deliverDue(t, in); n != 1 {
		t.Fatalf("DeliverDue took %d", n)
	}
	if n := queued(t, in); n != 1 {
		t.Fatalf("%d queued after a timeout, want the token kept for a retry", n)
	}
	if !strings.Contains(in.logs.String(), `"reason":"timeout"`) {
		t.Errorf("the failed delivery is not logged with its reason:\n%s", in.logs.String())
	}
	if !strings.Contains(metricsText(t, in), `pforte_backchannel_logout_deliveries_total{outcome="failed"} 1`) {
		t.Error("the timeout is not counted as a failed delivery")
	}
}

// TestLogoutEndsTheSessionAtEveryRelyingParty: the member logs into two
// online forms in one browser (the second by single sign-on) and logs out
// at the first: each form's back-channel endpoint receives one logout
// token with the session's sid and the sub that form knows, and both
// forms' tokens are dead.
func TestLogoutEndsTheSessionAtEveryRelyingParty(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		lw := newLogoutWorld(t)
		in := lw.start(t, eng, backchannel.Config{}, -1)
		rpA, rpB := in.rp(t, lw.forms, nil), in.rp(t, lw.forms2, nil)
		b := newBrowser(t)
		tokA := rpA.logIn(t, b, "openid", "offline_access")
		tokB := rpB.silent(t, b, nil, "openid")
		sid := sidOf(t, tokA)
		if sidOf(t, tokB) != sid {
			t.Fatal("the second form was not answered from the session")
		}
		r := b.getNoFollow(t, in.base+"/end_session?id_token_hint="+tokA.id)
		if r.status != http.StatusFound {
			t.Fatalf("logout: %d", r.status)
		}
		if n := deliverDue(t, in); n != 2 {
			t.Fatalf("DeliverDue took %d jobs, want 2", n)
		}
		lw.formsRP.checkNoProblems(t)
		lw.forms2RP.checkNoProblems(t)
		for _, tc := range []struct {
			rp  *logoutRP
			sub string
		}{{lw.formsRP, tokA.idToken.Subject}, {lw.forms2RP, tokB.idToken.Subject}} {
			if got := tc.rp.received(); len(got) != 1 || got[0].SID != sid || got[0].Sub != tc.sub {
				t.Errorf("%s received %+v, want one token for sid %s and sub %s", tc.rp.clientID, got, sid, tc.sub)
			}
		}
		if _, err := rpA.refresh(tokA.refresh); err == nil {
			t.Error("the first form's refresh token works after the logout")
		}
		if st := userinfo(t, in, tokB.access).status; st != http.StatusUnauthorized {
			t.Errorf("the second form's access token at userinfo after the logout: %d", st)
		}
		// A second logout with the same hint tells nobody again.
		b.getNoFollow(t, in.base+"/end_session?id_token_hint="+tokA.id)
		if n := queued(t, in); n != 0 {
			t.Errorf("a repeated logout queued %d more tokens", n)
		}
	})
}
