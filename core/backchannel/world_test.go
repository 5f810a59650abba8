package backchannel_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/keys"
	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/adapters/sqlstore/sqlstoretest"
	"github.com/pforte-id/pforte/core/backchannel"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/ports/metrics"
	"github.com/pforte-id/pforte/ports/token"
)

const issuer = "https://login.kasse.example"

var t0 = time.Date(2031, time.May, 17, 10, 30, 0, 0, time.UTC)

// sent is one logout token a relying party received.
type sent struct {
	URI, Token string
}

// endpoints is the relying parties' side: a function-field fake of the
// delivery port (it has no state of its own to keep honest), answering
// each delivery by the URI's current answer and recording what arrived.
type endpoints struct {
	mu      sync.Mutex
	answer  map[string]func(ctx context.Context) error
	arrived []sent
}

func (e *endpoints) Deliver(ctx context.Context, uri, tok string) error {
	e.mu.Lock()
	f := e.answer[uri]
	e.mu.Unlock()
	var err error
	if f != nil {
		err = f(ctx)
	}
	if err == nil {
		e.mu.Lock()
		e.arrived = append(e.arrived, sent{uri, tok})
		e.mu.Unlock()
	}
	return err
}

// set makes uri answer with f from now on (nil: accept).
func (e *endpoints) set(uri string, f func(ctx context.Context) error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.answer == nil {
		e.answer = map[string]func(context.Context) error{}
	}
	e.answer[uri] = f
}

func (e *endpoints) received() []sent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]sent(nil), e.arrived...)
}

func down(reason string) func(context.Context) error {
	return func(context.Context) error { return fault.New(fault.Unavailable, "test", reason) }
}

// counter is a metrics.LogoutRecorder that keeps the counts.
type counter struct {
	mu sync.Mutex
	n  map[metrics.Delivery]int
}

func (c *counter) LogoutDelivery(_ context.Context, d metrics.Delivery) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[metrics.Delivery]int{}
	}
	c.n[d]++
}

func (c *counter) get(d metrics.Delivery) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[d]
}

// pairwise is the Subjects of the tests: the sector and the account.
type pairwise struct{}

func (pairwise) ClientSubject(c client.Client, accountID string) string {
	if c.SectorIdentifier == "" {
		return accountID
	}
	return "pw:" + c.SectorIdentifier + ":" + accountID
}

// world is a store, a signing key ring, the relying parties and a
// service over them.
type world struct {
	st    *sqlstore.Store
	ring  *keys.Ring
	clock *coretest.Clock
	rps   *endpoints
	count *counter
	log   *coretest.Log
	svc   *backchannel.Service
}

var master = make([]byte, keys.MasterKeySize)

const (
	formsURI  = "https://forms.kasse.example/backchannel"
	portalURI = "https://portal.partner.example/logout?tenant=1"
)

func newWorld(t *testing.T, cfg backchannel.Config) *world {
	t.Helper()
	return newWorldOn(t, sqlstoretest.Open(t), coretest.NewClock(t0), &endpoints{}, cfg)
}

func newWorldOn(t *testing.T, st *sqlstore.Store, clock *coretest.Clock, rps *endpoints, cfg backchannel.Config) *world {
	t.Helper()
	ctx := t.Context()
	w := &world{st: st, clock: clock, rps: rps, count: &counter{}, log: &coretest.Log{}}
	for _, c := range []client.Client{
		{ID: "forms", Name: "Formulare", Kind: client.Web, AuthMethod: client.AuthSecretBasic, SecretHash: "h",
			RedirectURIs: []string{"https://forms.kasse.example/cb"}, GrantTypes: []string{client.GrantCode},
			BackchannelLogoutURI: formsURI},
		{ID: "portal", Name: "Portal", Kind: client.Web, AuthMethod: client.AuthSecretBasic, SecretHash: "h",
			RedirectURIs: []string{"https://portal.partner.example/cb"}, GrantTypes: []string{client.GrantCode},
			SectorIdentifier: "portal.partner.example", BackchannelLogoutURI: portalURI},
		{ID: "quiet", Name: "Ohne Abmeldung", Kind: client.Web, AuthMethod: client.AuthSecretBasic, SecretHash: "h",
			RedirectURIs: []string{"https://quiet.example/cb"}, GrantTypes: []string{client.GrantCode}},
	} {
		if err := st.PutClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	ring, err := keys.New(ctx, st, master, keys.Config{}, clock.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.ring = ring
	if cfg.Issuer == "" {
		cfg.Issuer = issuer
	}
	w.svc, err = backchannel.New(cfg, backchannel.Deps{
		Jobs: st, Clients: st, Signer: ring, Deliverer: rps, Audit: st, Subjects: pairwise{},
		Metrics: w.count, Now: clock.Now, Logger: w.log.JSON(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// deliverDue runs one worker pass and fails on an error.
func (w *world) deliverDue(t *testing.T) int {
	t.Helper()
	n, err := w.svc.DeliverDue(t.Context())
	if err != nil {
		t.Fatalf("DeliverDue: %v", err)
	}
	return n
}

func (w *world) queued(t *testing.T) int {
	t.Helper()
	n, err := w.st.CountLogoutJobs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// verify checks raw's signature and typ against the ring and returns its
// claims and its payload as a JSON object.
func (w *world) verify(t *testing.T, raw string) (backchannel.LogoutClaims, map[string]any) {
	t.Helper()
	var c backchannel.LogoutClaims
	if err := w.ring.Verify(t.Context(), raw, token.TypeLogout, &c); err != nil {
		t.Fatalf("logout token does not verify as %s: %v", token.TypeLogout, err)
	}
	var idToken map[string]any
	if err := w.ring.Verify(t.Context(), raw, token.TypeID, &idToken); err == nil {
		t.Errorf("a logout token verifies as an ID token")
	}
	parts := strings.Split(raw, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatal(err)
	}
	return c, m
}

func target(clientID, sub string) backchannel.Target {
	return backchannel.Target{ClientID: clientID, Subject: sub, AccountID: "acct-1"}
}

func uris(ss []sent) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		out = append(out, s.URI)
	}
	return out
}

func sid(i int) string { return fmt.Sprintf("sid-%03d", i) }
