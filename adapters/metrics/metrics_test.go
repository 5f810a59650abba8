package metrics

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/ports/metrics"
)

// auditLog is a store.Audit that keeps events and may fail.
type auditLog struct {
	events []audit.Event
	err    error
}

func (a *auditLog) AppendAudit(_ context.Context, e audit.Event) error {
	a.events = append(a.events, e)
	return a.err
}

func (a *auditLog) AuditEvents(context.Context, string, int) ([]audit.Event, error) {
	return a.events, nil
}

func TestAuditCounts(t *testing.T) {
	m := New()
	log := &auditLog{}
	a := m.Audit(log)
	ctx := context.Background()
	for _, e := range []audit.Event{
		{Kind: audit.AppLogin},
		{Kind: audit.AppLogin},
		{Kind: audit.WebLoginApproved},
		{Kind: audit.WebLoginDenied},
		{Kind: audit.LoginFailed, Detail: map[string]string{"reason": "password.wrong", "via": "web_login"}},
		{Kind: audit.LoginFailed, Detail: map[string]string{"reason": "throttle.account", "via": "web_login"}},
		{Kind: audit.LoginFailed, Detail: map[string]string{"reason": "1234567890 K", "via": "web_login"}}, // never a label value
		{Kind: audit.LoginFailed, Detail: map[string]string{"reason": "password.wrong", "via": "pin_reset"}},
		{Kind: audit.PINFailed},
		{Kind: audit.PINLocked},
		{Kind: "something.new"},
	} {
		if err := a.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if len(log.events) != 11 {
		t.Fatalf("the decorator stored %d events, want 11", len(log.events))
	}
	// A store that fails still sees the event counted, and the error passes.
	log.err = errors.New("disk full")
	if err := a.AppendAudit(ctx, audit.Event{Kind: audit.AppLogin}); !errors.Is(err, log.err) {
		t.Errorf("AppendAudit error %v, want the store's", err)
	}

	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"app success", testutil.ToFloat64(m.logins.WithLabelValues("app", "success")), 3},
		{"web success", testutil.ToFloat64(m.logins.WithLabelValues("web", "success")), 1},
		{"web denied", testutil.ToFloat64(m.logins.WithLabelValues("web", "denied")), 1},
		{"web failure", testutil.ToFloat64(m.logins.WithLabelValues("web", "failure")), 3},
		{"wrong password", testutil.ToFloat64(m.pwFails.WithLabelValues("password.wrong")), 2},
		{"delayed", testutil.ToFloat64(m.pwFails.WithLabelValues("throttle.account")), 1},
		{"unknown reason", testutil.ToFloat64(m.pwFails.WithLabelValues("other")), 1},
		{"PIN failures", testutil.ToFloat64(m.pinFails), 1},
		{"PIN lockouts", testutil.ToFloat64(m.pinLocks), 1},
		{"unknown kind", testutil.ToFloat64(m.events.WithLabelValues("other")), 1},
		{"kind login.app", testutil.ToFloat64(m.events.WithLabelValues("login.app")), 3},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
	if n := testutil.CollectAndCount(m.pwFails); n != len(passwordReasons) {
		t.Errorf("password failure series: %d, want the %d known reasons", n, len(passwordReasons))
	}
}

func TestRecorder(t *testing.T) {
	m := New()
	ctx := context.Background()
	m.Grant(ctx, metrics.ClientCredentials, metrics.Success)
	m.Grant(ctx, metrics.Refresh, metrics.Failure)
	m.Registration(ctx, proof.Letter)
	m.Registration(ctx, proof.Method("carrier pigeon"))
	if v := testutil.ToFloat64(m.logins.WithLabelValues("client_credentials", "success")); v != 1 {
		t.Errorf("client credentials: %v", v)
	}
	if v := testutil.ToFloat64(m.logins.WithLabelValues("refresh", "failure")); v != 1 {
		t.Errorf("refresh failures: %v", v)
	}
	if v := testutil.ToFloat64(m.regs.WithLabelValues("letter")); v != 1 {
		t.Errorf("letter registrations: %v", v)
	}
	if v := testutil.ToFloat64(m.regs.WithLabelValues("other")); v != 1 {
		t.Errorf("unknown method: %v", v)
	}
}

func TestExposition(t *testing.T) {
	m := New()
	m.ObserveRequest("POST /api/v1/logins/{id}", 201, 3*time.Millisecond)
	m.ObserveRequest("/token", 503, time.Second)
	m.ObserveRequest("unmatched", 0, time.Millisecond)
	m.WatchLetters(func(context.Context) (map[letter.State]int, error) {
		return map[letter.State]int{letter.HandedOver: 4, letter.Requested: 2}, nil
	})
	m.WatchLogoutQueue(func(context.Context) (int, error) { return 7, nil })
	m.LogoutDelivery(context.Background(), metrics.Delivered)
	m.LogoutDelivery(context.Background(), metrics.Delivered)
	m.LogoutDelivery(context.Background(), metrics.GivenUp)
	m.LogoutDelivery(context.Background(), "bogus")
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	m.WatchKeys(func(context.Context) ([]Key, error) {
		return []Key{
			{State: "active", Since: now.Add(-90 * time.Minute)},
			{State: "next", Since: now.Add(-time.Hour)},
			{State: "retired", Since: now.Add(-time.Minute)},
		}, nil
	}, func() time.Time { return now })
	m.WatchRevocationList(func() time.Time { return now.Add(-26 * time.Hour) }, func() time.Time { return now })

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Result().Body)
	text := string(body)
	for _, want := range []string{
		`pforte_http_request_duration_seconds_count{route="POST /api/v1/logins/{id}",status="2xx"} 1`,
		`pforte_http_request_duration_seconds_count{route="/token",status="5xx"} 1`,
		`pforte_http_request_duration_seconds_count{route="unmatched",status="other"} 1`,
		`pforte_letters{state="handed_over"} 4`,
		`pforte_letters{state="requested"} 2`,
		`pforte_letters{state="voided"} 0`,
		`pforte_signing_key_age_seconds{state="active"} 5400`,
		`pforte_signing_key_age_seconds{state="next"} 3600`,
		`pforte_android_revocation_list_age_seconds 93600`,
		`pforte_logins_total{method="app",outcome="success"} 0`,
		`pforte_pin_lockouts_total 0`,
		`pforte_backchannel_logout_queue 7`,
		`pforte_backchannel_logout_deliveries_total{outcome="delivered"} 2`,
		`pforte_backchannel_logout_deliveries_total{outcome="given_up"} 1`,
		`pforte_backchannel_logout_deliveries_total{outcome="failed"} 0`,
		`pforte_backchannel_logout_deliveries_total{outcome="dropped"} 0`,
		`pforte_backchannel_logout_deliveries_total{outcome="other"} 1`,
		"go_goroutines ",
		"process_cpu_seconds_total ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the exposition lacks %s", want)
		}
	}
	if strings.Contains(text, `state="retired"`) {
		t.Error("retired keys are exported")
	}

	// A failing count leaves its family out, never a stale or zero
	// value, and the rest is still served.
	m2 := New()
	m2.WatchLetters(func(context.Context) (map[letter.State]int, error) { return nil, errors.New("database down") })
	if _, err := m2.Registry().Gather(); err == nil {
		t.Error("a failing letter count gathers without error")
	}
	rec = httptest.NewRecorder()
	m2.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ = io.ReadAll(rec.Result().Body)
	if rec.Code != 200 || strings.Contains(string(body), "pforte_letters") || !strings.Contains(string(body), "go_goroutines") {
		t.Errorf("scrape with the database down: %d, letters or runtime wrong:\n%.300s", rec.Code, body)
	}
}

func TestHousekeeping(t *testing.T) {
	m := New()
	ctx := context.Background()
	if v := testutil.ToFloat64(m.hkRuns.WithLabelValues("skipped")); v != 0 {
		t.Errorf("skipped runs before any: %v", v)
	}
	m.HousekeepingRun(ctx, metrics.RunDone)
	m.HousekeepingRun(ctx, metrics.RunSkipped)
	m.HousekeepingRun(ctx, metrics.RunSkipped)
	m.HousekeepingRun(ctx, "bogus")
	m.HousekeepingTask(ctx, "expired", metrics.TaskDone, 40, 20*time.Millisecond)
	m.HousekeepingTask(ctx, "expired", metrics.TaskDone, 2, time.Millisecond)
	m.HousekeepingTask(ctx, "letter-secrets", metrics.TaskFailed, 0, time.Second)
	m.HousekeepingTask(ctx, "letter-secrets", "bogus", -3, time.Second)
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"done runs", testutil.ToFloat64(m.hkRuns.WithLabelValues("done")), 1},
		{"skipped runs", testutil.ToFloat64(m.hkRuns.WithLabelValues("skipped")), 2},
		{"other runs", testutil.ToFloat64(m.hkRuns.WithLabelValues("other")), 1},
		{"expired done", testutil.ToFloat64(m.hkTasks.WithLabelValues("expired", "done")), 2},
		{"expired rows", testutil.ToFloat64(m.hkRows.WithLabelValues("expired")), 42},
		{"letter-secrets failed", testutil.ToFloat64(m.hkTasks.WithLabelValues("letter-secrets", "failed")), 2},
		{"letter-secrets rows", testutil.ToFloat64(m.hkRows.WithLabelValues("letter-secrets")), 0},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
	if v := testutil.ToFloat64(m.hkLast.WithLabelValues("expired")); v <= 0 {
		t.Errorf("last success of expired: %v", v)
	}
}
