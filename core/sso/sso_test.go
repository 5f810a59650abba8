package sso_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/adapters/sqlstore/sqlstoretest"
	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/dpop"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/session"
	"github.com/pforte-id/pforte/core/sso"
)

const issuer = "https://id.kasse.example"

var (
	forms  = client.Client{ID: "forms", Kind: client.Web, RedirectURIs: []string{"https://forms.example/cb"}, MinACR: loa.Low}
	portal = client.Client{ID: "portal", Kind: client.Portal, RedirectURIs: []string{"https://portal.example/cb"},
		SectorIdentifier: "portal.example", MinACR: loa.Low}
)

// queue is a back-channel that records what was queued, or fails.
type queue struct {
	mu     sync.Mutex
	fail   error
	queued map[string][]string // client ids by session
}

func (q *queue) EnqueueSession(_ context.Context, sid, _ string, clientIDs []string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fail != nil {
		return q.fail
	}
	q.queued[sid] = append(q.queued[sid], clientIDs...)
	return nil
}

type keysUnused struct{}

func (keysUnused) Sign(context.Context, string, any) (string, error) { return "", errors.New("unused") }
func (keysUnused) Verify(context.Context, string, string, any) error { return errors.New("unused") }
func (keysUnused) VerifyAssertion(context.Context, string, []byte, any) error {
	return errors.New("unused")
}

type world struct {
	*sqlstore.Store
	clock *coretest.Clock
	az    *authz.Service
	svc   *sso.Service
	q     *queue
	acct  account.Account
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{Store: sqlstoretest.Open(t), clock: coretest.NewClock(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)),
		q: &queue{queued: map[string][]string{}}}
	secrets, err := client.NewSecretHasher([]byte("client-secret-hash-key-of-32-bytes"))
	if err != nil {
		t.Fatal(err)
	}
	w.az, err = authz.New(authz.Config{
		Issuer:      issuer,
		DPoPNonces:  dpop.NonceSource{Key: []byte("dpop-nonce-key-of-thirty-two-b!!")},
		PairwiseKey: []byte("pairwise-sub-key-of-32-bytes-ok!"),
	}, authz.Stores{Consents: w, Clients: w, Requests: w, Tokens: w, Accounts: w, Members: w, Replay: w},
		keysUnused{}, keysUnused{}, secrets, w.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	w.svc, err = sso.New(sso.Config{}, sso.Deps{
		Sessions: w, Accounts: w, Audit: w, Authz: w.az, BackChannel: w.q, Now: w.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []client.Client{forms, portal} {
		if err := w.PutClient(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	k := coretest.KVNR("S11111111")
	w.acct = account.Account{ID: "acct-1", KVNR: k, Status: account.Active, Proofing: loa.Substantial, CreatedAt: w.clock.Now()}
	if err := w.CreateAccount(t.Context(), w.acct); err != nil {
		t.Fatal(err)
	}
	return w
}

// request stores a pending authorization request of client c.
func (w *world) request(t *testing.T, id string, c client.Client) {
	t.Helper()
	if err := w.CreateAuthRequest(t.Context(), grant.AuthRequest{
		ID: id, ClientID: c.ID, RedirectURI: c.RedirectURIs[0], Scopes: []string{"openid"},
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", CodeChallengeMethod: "S256",
		CreatedAt: w.clock.Now(), ExpiresAt: w.clock.Now().Add(authz.DefaultAuthRequestTTL),
	}); err != nil {
		t.Fatal(err)
	}
}

// login begins a session with the app's confirmation of binding and
// answers requests of forms and portal from it.
func (w *world) login(t *testing.T, binding string) (string, session.Session) {
	t.Helper()
	a := loa.Authentication{Subject: w.acct.ID, Proofing: loa.Substantial, Time: w.clock.Now(), BindingID: binding,
		AMR: []string{loa.AMRPassword, loa.AMRHardware, loa.AMRPIN}}
	secret, ss, err := w.svc.Begin(t.Context(), a, "Firefox, Linux", "")
	if err != nil {
		t.Fatal(err)
	}
	w.request(t, "req-forms-"+ss.ID, forms)
	if _, err := w.svc.Complete(t.Context(), "req-forms-"+ss.ID, ss, a); err != nil {
		t.Fatal(err)
	}
	w.request(t, "req-portal-"+ss.ID, portal)
	out, err := w.svc.Resume(t.Context(), "req-portal-"+ss.ID, secret)
	if err != nil || out.Step != sso.Done {
		t.Fatalf("the second client was not answered from the session: %+v, %v", out, err)
	}
	return secret, ss
}

func TestEndTellsEveryRelyingPartyOnce(t *testing.T) {
	w := newWorld(t)
	_, ss := w.login(t, "bind-1")
	if err := w.svc.End(t.Context(), ss.ID, session.EndLogout); err != nil {
		t.Fatal(err)
	}
	if got, want := w.q.queued[ss.ID], []string{forms.ID, portal.ID}; !slices.Equal(got, want) {
		t.Fatalf("queued %+v, want the clients the session served %+v", got, want)
	}
	// Again: nothing more is queued.
	if err := w.svc.End(t.Context(), ss.ID, session.EndLogout); err != nil {
		t.Fatal(err)
	}
	if n, _ := w.svc.Sweep(t.Context()); n != 0 || len(w.q.queued[ss.ID]) != 2 {
		t.Fatalf("a second end queued again: %+v", w.q.queued[ss.ID])
	}
	es, _ := w.AuditEvents(t.Context(), w.acct.ID, 10)
	if len(es) != 1 || es[0].Kind != audit.SessionEnded || es[0].Detail["reason"] != "logout" {
		t.Fatalf("audit %+v, want one session.ended", es)
	}
}

func TestSweepQueuesWhatAnOutageLeft(t *testing.T) {
	w := newWorld(t)
	_, ss := w.login(t, "bind-1")
	w.q.fail = fault.New(fault.Unavailable, "test", "queue down")
	if err := w.svc.End(t.Context(), ss.ID, session.EndLogout); !errors.Is(err, fault.Unavailable) {
		t.Fatalf("End with the queue down: %v, want Unavailable", err)
	}
	if cur, _ := w.SessionByID(t.Context(), ss.ID); cur.EndedAt.IsZero() {
		t.Fatal("the session must end even when the queue is down")
	}
	w.q.fail = nil
	if n, err := w.svc.Sweep(t.Context()); err != nil || n != 0 {
		t.Fatalf("Sweep right after the end: %d, %v; it must leave the session to the call that ended it", n, err)
	}
	w.clock.Advance(sso.SweepAfter + time.Second)
	if n, err := w.svc.Sweep(t.Context()); err != nil || n != 1 || len(w.q.queued[ss.ID]) != 2 {
		t.Fatalf("Sweep: %d, %v, queued %+v", n, err, w.q.queued[ss.ID])
	}
	if n, _ := w.svc.Sweep(t.Context()); n != 0 {
		t.Fatal("a swept session was swept again")
	}
}

func TestRevokedDeviceEndsItsSessionsOnly(t *testing.T) {
	w := newWorld(t)
	secret1, ss1 := w.login(t, "bind-1")
	_, ss2 := w.login(t, "bind-2")
	n, err := w.svc.EndOfBinding(t.Context(), "bind-1")
	if err != nil || n != 1 {
		t.Fatalf("EndOfBinding: %d, %v", n, err)
	}
	if _, err := w.svc.Current(t.Context(), secret1); !errors.Is(err, fault.NotFound) {
		t.Fatalf("the revoked device's session still answers: %v", err)
	}
	if cur, _ := w.SessionByID(t.Context(), ss2.ID); !cur.EndedAt.IsZero() {
		t.Fatal("another device's session ended")
	}
	if len(w.q.queued[ss1.ID]) != 2 || len(w.q.queued[ss2.ID]) != 0 {
		t.Fatalf("queued %+v", w.q.queued)
	}
}

func TestCurrentRefusesBadAndIdleSecrets(t *testing.T) {
	w := newWorld(t)
	secret, _ := w.login(t, "")
	// A secret of the wrong form, an unknown one, and an idle session.
	for _, bad := range []string{"", "short", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		if _, err := w.svc.Current(t.Context(), bad); !errors.Is(err, fault.NotFound) {
			t.Fatalf("Current(%q): %v, want NotFound", bad, err)
		}
	}
	w.clock.Advance(session.DefaultPolicy.Idle)
	if _, err := w.svc.Current(t.Context(), secret); !errors.Is(err, fault.NotFound) {
		t.Fatalf("an idle session: %v, want NotFound", err)
	}
}

// A login made in the browser is recorded once, with its client; an
// answer from the session and a refused completion add nothing.
func TestLoginAudited(t *testing.T) {
	w := newWorld(t)
	for _, tc := range []struct {
		name, binding string
		amr           []string
	}{
		{"password only", "", []string{loa.AMRPassword}},
		{"confirmed in the app", "bind-1", []string{loa.AMRPassword, loa.AMRHardware, loa.AMRPIN}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := loa.Authentication{Subject: w.acct.ID, Proofing: loa.Substantial, Time: w.clock.Now(), BindingID: tc.binding, AMR: tc.amr}
			secret, ss, err := w.svc.Begin(t.Context(), a, "Firefox, Linux", "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.svc.Login(t.Context(), "req-unknown-"+ss.ID, ss, a); !errors.Is(err, fault.NotFound) {
				t.Fatalf("Login of an unknown request: %v, want NotFound", err)
			}
			w.request(t, "req-forms-"+ss.ID, forms)
			if _, err := w.svc.Login(t.Context(), "req-forms-"+ss.ID, ss, a); err != nil {
				t.Fatal(err)
			}
			w.request(t, "req-portal-"+ss.ID, portal)
			if out, err := w.svc.Resume(t.Context(), "req-portal-"+ss.ID, secret); err != nil || out.Step != sso.Done {
				t.Fatalf("Resume: %+v, %v", out, err)
			}
			es, err := w.AuditEvents(t.Context(), w.acct.ID, 100)
			if err != nil {
				t.Fatal(err)
			}
			var got []audit.Event
			for _, e := range es {
				if e.Kind == audit.WebLogin && e.Detail["sid"] == ss.ID {
					got = append(got, e)
				}
			}
			if len(got) != 1 {
				t.Fatalf("%d login.web events for the session, want 1: %+v", len(got), es)
			}
			e := got[0]
			if e.ClientID != forms.ID || e.Actor != audit.Member || e.Detail["binding"] != tc.binding ||
				e.Detail["amr"] != strings.Join(tc.amr, " ") {
				t.Errorf("event %+v", e)
			}
		})
	}
}

// An Ender (an operator command) ends the sessions and leaves their
// back-channel logouts to a serving replica's Sweep.
func TestEnderLeavesLogoutsToSweep(t *testing.T) {
	w := newWorld(t)
	_, ss1 := w.login(t, "bind-1")
	_, ss2 := w.login(t, "bind-2")
	end, err := sso.NewEnder(sso.Deps{Sessions: w, Audit: w, Now: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := end.EndAll(t.Context(), w.acct.ID, session.EndSupport); err != nil || n != 2 {
		t.Fatalf("EndAll: %d, %v", n, err)
	}
	for _, id := range []string{ss1.ID, ss2.ID} {
		if cur, _ := w.SessionByID(t.Context(), id); cur.EndedAt.IsZero() || cur.EndReason != session.EndSupport {
			t.Fatalf("session %s: %+v, want ended by support", id, cur)
		}
	}
	if len(w.q.queued) != 0 {
		t.Fatalf("the Ender queued %+v itself", w.q.queued)
	}
	w.clock.Advance(sso.SweepAfter + time.Second)
	if n, err := w.svc.Sweep(t.Context()); err != nil || n != 2 || len(w.q.queued[ss1.ID]) != 2 || len(w.q.queued[ss2.ID]) != 2 {
		t.Fatalf("Sweep: %d, %v, queued %+v", n, err, w.q.queued)
	}
	es, _ := w.QueryAudit(t.Context(), audit.Query{AccountID: w.acct.ID, Kinds: []audit.Kind{audit.SessionEnded}, Limit: 10})
	if len(es) != 2 || es[0].Actor != audit.Operator {
		t.Fatalf("audit %+v, want two session.ended by the operator", es)
	}
	if _, err := sso.NewEnder(sso.Deps{Sessions: w}); !errors.Is(err, fault.Invalid) {
		t.Fatalf("NewEnder without audit: %v", err)
	}
}
