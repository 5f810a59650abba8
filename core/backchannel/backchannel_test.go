package backchannel_test

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
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/backchannel"
	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/ports/metrics"
)

func TestLogoutTokenClaims(t *testing.T) {
	w := newWorld(t, backchannel.Config{})
	if err := w.svc.EnqueueSession(t.Context(), "sid-1", "acct-1", []string{"forms", "portal", "quiet", "gone"}); err != nil {
		t.Fatal(err)
	}
	if got := w.queued(t); got != 2 {
		t.Fatalf("%d jobs queued, want 2 (clients without a URI and unknown ones are skipped)", got)
	}
	if n := w.deliverDue(t); n != 2 {
		t.Fatalf("DeliverDue claimed %d", n)
	}
	got := w.rps.received()
	slices.SortFunc(got, func(a, b sent) int { return strings.Compare(a.URI, b.URI) })
	if want := []string{formsURI, portalURI}; !slices.Equal(uris(got), want) {
		t.Fatalf("delivered to %v, want %v", uris(got), want)
	}
	subs := map[string]string{formsURI: "acct-1", portalURI: "pw:portal.partner.example:acct-1"}
	auds := map[string]string{formsURI: "forms", portalURI: "portal"}
	for _, s := range got {
		c, raw := w.verify(t, s.Token)
		if c.Issuer != issuer || c.Audience != auds[s.URI] || c.Subject != subs[s.URI] || c.SessionID != "sid-1" {
			t.Errorf("%s: claims %+v", s.URI, c)
		}
		if c.IssuedAt != t0.Unix() || c.Expiry != t0.Add(backchannel.TokenTTL).Unix() {
			t.Errorf("%s: iat %d exp %d, want %d and %d", s.URI, c.IssuedAt, c.Expiry, t0.Unix(), t0.Add(backchannel.TokenTTL).Unix())
		}
		if len(c.JTI) < 20 {
			t.Errorf("%s: jti %q", s.URI, c.JTI)
		}
		ev, ok := raw["events"].(map[string]any)
		if !ok || len(ev) != 1 {
			t.Errorf("%s: events %v", s.URI, raw["events"])
		} else if e, ok := ev[backchannel.EventLogout].(map[string]any); !ok || len(e) != 0 {
			t.Errorf("%s: the logout event must be an empty object, got %v", s.URI, ev[backchannel.EventLogout])
		}
		if _, has := raw["nonce"]; has {
			t.Errorf("%s: a logout token carries a nonce", s.URI)
		}
		if _, ok := raw["aud"].(string); !ok {
			t.Errorf("%s: aud %v", s.URI, raw["aud"])
		}
	}
	if w.queued(t) != 0 || w.count.get(metrics.Delivered) != 2 {
		t.Errorf("after delivery: %d queued, %d counted delivered", w.queued(t), w.count.get(metrics.Delivered))
	}
	// Nothing of a token reaches the log.
	for _, s := range got {
		if strings.Contains(w.log.String(), s.Token) {
			t.Error("the log shows a logout token")
		}
	}
}

func TestEnqueueRefusesBadInput(t *testing.T) {
	w := newWorld(t, backchannel.Config{})
	ctx := t.Context()
	for name, err := range map[string]error{
		"no session":     w.svc.Enqueue(ctx, "", []backchannel.Target{target("forms", "s")}),
		"no client":      w.svc.Enqueue(ctx, "sid-1", []backchannel.Target{target("forms", "s"), target("", "s")}),
		"no subject":     w.svc.Enqueue(ctx, "sid-1", []backchannel.Target{target("forms", "")}),
		"no account":     w.svc.EnqueueSession(ctx, "sid-1", "", []string{"forms"}),
		"session no sid": w.svc.EnqueueSession(ctx, "", "acct-1", []string{"forms"}),
	} {
		if !errors.Is(err, fault.Invalid) {
			t.Errorf("%s: got %v, want Invalid", name, err)
		}
	}
	if n := w.queued(t); n != 0 {
		t.Errorf("%d jobs queued by refused calls", n)
	}
	// Enqueued twice (a logout racing a device revocation): one token.
	for range 2 {
		if err := w.svc.Enqueue(ctx, "sid-1", []backchannel.Target{target("forms", "acct-1"), target("forms", "acct-1")}); err != nil {
			t.Fatal(err)
		}
	}
	w.deliverDue(t)
	if got := w.rps.received(); len(got) != 1 {
		t.Errorf("%d tokens delivered for one session and client, want 1", len(got))
	}
}

// An endpoint that is down is tried again, later and later, and gets the
// token once it is back; every attempt has a fresh token.
func TestEndpointDownThenBack(t *testing.T) {
	w := newWorld(t, backchannel.Config{RetryFirst: 10 * time.Second, RetryMax: time.Minute})
	w.rps.set(formsURI, down("status 503"))
	if err := w.svc.Enqueue(t.Context(), "sid-1", []backchannel.Target{target("forms", "acct-1")}); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; attempt <= 4; attempt++ {
		if n := w.deliverDue(t); n != 1 {
			t.Fatalf("attempt %d: claimed %d", attempt, n)
		}
		// Not due again before half of the nominal wait (jitter takes
		// off at most half).
		nominal := min(10*time.Second<<(attempt-1), time.Minute)
		w.clock.Advance(nominal/2 - time.Second)
		if n := w.deliverDue(t); n != 0 {
			t.Fatalf("attempt %d: retried after %s, before its wait", attempt, nominal/2-time.Second)
		}
		w.clock.Advance(nominal/2 + time.Second)
	}
	if w.count.get(metrics.Failed) != 4 || len(w.rps.received()) != 0 {
		t.Fatalf("failed %d, received %d", w.count.get(metrics.Failed), len(w.rps.received()))
	}
	w.rps.set(formsURI, nil)
	if n := w.deliverDue(t); n != 1 {
		t.Fatalf("claimed %d once the endpoint is back", n)
	}
	got := w.rps.received()
	if len(got) != 1 {
		t.Fatalf("received %d", len(got))
	}
	c, _ := w.verify(t, got[0].Token)
	if c.IssuedAt != w.clock.Now().Unix() {
		t.Errorf("the token delivered late was signed at %d, want now %d", c.IssuedAt, w.clock.Now().Unix())
	}
	if w.queued(t) != 0 || w.count.get(metrics.Delivered) != 1 {
		t.Errorf("queued %d, delivered %d", w.queued(t), w.count.get(metrics.Delivered))
	}
	if strings.Contains(w.log.String(), `"level":"WARN"`) {
		t.Errorf("a retried delivery warns: %s", w.log.String())
	}
}

// An endpoint down for longer than GiveUpAfter: the last attempt is made
// at the deadline, then the delivery is given up, audited and removed.
func TestGivenUpAndAudited(t *testing.T) {
	w := newWorld(t, backchannel.Config{GiveUpAfter: 10 * time.Minute, RetryFirst: time.Minute, RetryMax: 4 * time.Minute})
	w.rps.set(portalURI, down("connection refused"))
	if err := w.svc.EnqueueSession(t.Context(), "sid-1", "acct-1", []string{"portal"}); err != nil {
		t.Fatal(err)
	}
	attempts := 0
	for w.queued(t) > 0 {
		if attempts > 20 {
			t.Fatal("never given up")
		}
		attempts += w.deliverDue(t)
		w.clock.Advance(30 * time.Second)
	}
	if w.count.get(metrics.GivenUp) != 1 || w.count.get(metrics.Failed) != attempts-1 {
		t.Errorf("given up %d, failed %d of %d attempts", w.count.get(metrics.GivenUp), w.count.get(metrics.Failed), attempts)
	}
	events, err := w.st.AuditEvents(t.Context(), "acct-1", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 {
		t.Fatalf("audit events %+v", events)
	}
	e := events[0]
	if e.Kind != audit.BackchannelLogoutGivenUp || e.Actor != audit.System || e.ClientID != "portal" ||
		e.Detail["session"] != "sid-1" || e.Detail["reason"] != "connection refused" || e.Detail["attempts"] == "" {
		t.Errorf("audit event %+v", e)
	}
	if e.Time.Before(t0.Add(10 * time.Minute)) {
		t.Errorf("given up at %s, before the deadline", e.Time)
	}
	if !strings.Contains(w.log.String(), "back-channel logout given up") {
		t.Error("giving up is not logged")
	}
	// Back up now: nothing is left to deliver.
	w.rps.set(portalURI, nil)
	w.clock.Advance(time.Hour)
	if n := w.deliverDue(t); n != 0 || len(w.rps.received()) != 0 {
		t.Errorf("a given up delivery was still made")
	}
}

// A relying party removed, or whose URI was removed, after the session
// ended gets nothing.
func TestClientGoneOrWithoutURI(t *testing.T) {
	w := newWorld(t, backchannel.Config{})
	ctx := t.Context()
	if err := w.svc.EnqueueSession(ctx, "sid-1", "acct-1", []string{"forms", "portal"}); err != nil {
		t.Fatal(err)
	}
	if err := w.st.DeleteClient(ctx, "forms"); err != nil {
		t.Fatal(err)
	}
	p, err := w.st.ClientByID(ctx, "portal")
	if err != nil {
		t.Fatal(err)
	}
	p.BackchannelLogoutURI = ""
	if err := w.st.PutClient(ctx, p); err != nil {
		t.Fatal(err)
	}
	w.deliverDue(t)
	if len(w.rps.received()) != 0 || w.queued(t) != 0 || w.count.get(metrics.Dropped) != 2 {
		t.Errorf("received %d, queued %d, dropped %d", len(w.rps.received()), w.queued(t), w.count.get(metrics.Dropped))
	}
}

// An endpoint that never answers holds a worker no longer than Timeout;
// the delivery is retried.
func TestTimeoutBoundsADelivery(t *testing.T) {
	w := newWorld(t, backchannel.Config{Timeout: 100 * time.Millisecond})
	var deadline time.Time
	w.rps.set(formsURI, func(ctx context.Context) error {
		deadline, _ = ctx.Deadline()
		<-ctx.Done()
		return fault.New(fault.Unavailable, "test", "timeout")
	})
	if err := w.svc.Enqueue(t.Context(), "sid-1", []backchannel.Target{target("forms", "acct-1")}); err != nil {
		t.Fatal(err)
	}
	w.deliverDue(t)
	if deadline.IsZero() {
		t.Error("the delivery ran without a deadline")
	}
	if w.count.get(metrics.Failed) != 1 || w.queued(t) != 1 {
		t.Errorf("failed %d, queued %d", w.count.get(metrics.Failed), w.queued(t))
	}
}

// A worker that is stopped mid-delivery records no failure: the job's
// lease runs out and the next worker delivers it.
func TestShutdownMidDelivery(t *testing.T) {
	w := newWorld(t, backchannel.Config{})
	ctx, cancel := context.WithCancel(t.Context())
	w.rps.set(formsURI, func(c context.Context) error {
		cancel()
		<-c.Done()
		return fault.New(fault.Unavailable, "test", "timeout")
	})
	if err := w.svc.Enqueue(t.Context(), "sid-1", []backchannel.Target{target("forms", "acct-1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.DeliverDue(ctx); !errors.Is(err, fault.Unavailable) {
		t.Fatalf("DeliverDue stopped: %v", err)
	}
	if w.count.get(metrics.Failed) != 0 {
		t.Error("the stop was counted as the endpoint's failure")
	}
	w.rps.set(formsURI, nil)
	if n := w.deliverDue(t); n != 0 {
		t.Fatal("taken up again while its lease runs")
	}
	w.clock.Advance(w.svc.Config().Lease())
	if n := w.deliverDue(t); n != 1 || len(w.rps.received()) != 1 {
		t.Fatalf("after the lease: claimed %d, received %d", n, len(w.rps.received()))
	}
}

// A worker that died holding jobs: once the lease runs out, another
// delivers them.
func TestCrashedWorkerLeaseExpires(t *testing.T) {
	w := newWorld(t, backchannel.Config{})
	ctx := t.Context()
	if err := w.svc.EnqueueSession(ctx, "sid-1", "acct-1", []string{"forms", "portal"}); err != nil {
		t.Fatal(err)
	}
	now := w.clock.Now()
	crashed, err := w.st.ClaimLogoutJobs(ctx, 10, "crashed-worker", now, now.Add(w.svc.Config().Lease()))
	if err != nil || len(crashed) != 2 {
		t.Fatalf("claim: %v, %d", err, len(crashed))
	}
	if n := w.deliverDue(t); n != 0 {
		t.Fatal("taken over while the lease runs")
	}
	w.clock.Advance(w.svc.Config().Lease())
	if n := w.deliverDue(t); n != 2 || len(w.rps.received()) != 2 || w.queued(t) != 0 {
		t.Fatalf("after the lease: claimed %d, received %d, queued %d", n, len(w.rps.received()), w.queued(t))
	}
}

// Replicas on one database, each with its own connections, racing over a
// mass logout: every relying party gets each session's token once.
func TestReplicasDeliverOnce(t *testing.T) {
	for _, e := range []struct {
		name string
		cfg  func(testing.TB) sqlstore.Config
	}{{"SQLite", sqlstoretest.SQLite}, {"PostgreSQL", func(t testing.TB) sqlstore.Config { return sqlstoretest.Postgres(t, 10) }}} {
		t.Run(e.name, func(t *testing.T) {
			cfg := e.cfg(t)
			clock, rps := coretest.NewClock(t0), &endpoints{}
			var replicas []*world
			for range 3 {
				st, err := sqlstore.Open(t.Context(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				if _, err := st.Migrate(t.Context()); err != nil {
					t.Fatal(err)
				}
				replicas = append(replicas, newWorldOn(t, st, clock, rps, backchannel.Config{Batch: 4}))
			}
			const sessions = 30
			for i := range sessions {
				if err := replicas[i%3].svc.EnqueueSession(t.Context(), sid(i), "acct-1", []string{"forms", "portal"}); err != nil {
					t.Fatal(err)
				}
			}
			var wg sync.WaitGroup
			errs := make([]error, len(replicas))
			for i, r := range replicas {
				wg.Go(func() {
					for {
						n, err := r.svc.DeliverDue(t.Context())
						if err != nil || n == 0 {
							errs[i] = err
							return
						}
					}
				})
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("replica %d: %v", i, err)
				}
			}
			seen := map[string]int{}
			for _, s := range rps.received() {
				c, _ := replicas[0].verify(t, s.Token)
				seen[c.Audience+" "+c.SessionID]++
			}
			if len(seen) != 2*sessions {
				t.Errorf("%d distinct deliveries, want %d", len(seen), 2*sessions)
			}
			for k, n := range seen {
				if n != 1 {
					t.Errorf("%s delivered %d times", k, n)
				}
			}
			if n := replicas[1].queued(t); n != 0 {
				t.Errorf("%d jobs left", n)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (backchannel.Config{Issuer: issuer}).Validate(); err != nil {
		t.Fatalf("defaults refused: %v", err)
	}
	for field, cfg := range map[string]backchannel.Config{
		"Issuer":      {Issuer: "ftp://x"},
		"Timeout":     {Issuer: issuer, Timeout: 2 * time.Minute},
		"GiveUpAfter": {Issuer: issuer, GiveUpAfter: time.Second},
		"RetryFirst":  {Issuer: issuer, RetryFirst: time.Millisecond},
		"RetryMax":    {Issuer: issuer, RetryFirst: time.Minute, RetryMax: time.Second},
		"Batch":       {Issuer: issuer, Batch: 1000},
	} {
		err := cfg.Validate()
		var fe *fault.Error
		if !errors.As(err, &fe) || fe.Kind != fault.Invalid || fe.Op != "backchannel.Config."+field {
			t.Errorf("%s: got %v", field, err)
		}
	}
	if _, err := backchannel.New(backchannel.Config{Issuer: issuer}, backchannel.Deps{}); !errors.Is(err, fault.Invalid) {
		t.Errorf("New without dependencies: %v", err)
	}
	// The lease outlasts a delivery.
	c := backchannel.Config{Issuer: issuer, Timeout: 20 * time.Second}
	if c.Lease() <= c.Timeout {
		t.Errorf("lease %s does not outlast the timeout", c.Lease())
	}
}
