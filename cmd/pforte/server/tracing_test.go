package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/pforte-id/pforte/adapters/ops"
	"github.com/pforte-id/pforte/adapters/tracing"
	"github.com/pforte-id/pforte/cmd/pforte-app/appclient"
	"github.com/pforte-id/pforte/cmd/pforte-app/authenticator"
	"github.com/pforte-id/pforte/cmd/pforte-app/dpop"
	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/cmd/pforte/server/servertest"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/member"
)

// keptExporter is the SDK's in-memory exporter that keeps its spans when
// the server shuts tracing down (the in-memory exporter clears them on
// Shutdown), and notes that it was shut down.
type keptExporter struct {
	*tracetest.InMemoryExporter
	shut atomic.Bool
}

func (e *keptExporter) Shutdown(context.Context) error {
	e.shut.Store(true)
	return nil
}

// withTracing turns tracing on with exp as the collector, every trace
// recorded.
func withTracing(exp sdktrace.SpanExporter) func(*server.Options) {
	return func(o *server.Options) {
		o.Tracing = tracing.Config{
			Enabled: true, SampleRatio: 1,
			// Never reached: TraceExporter takes the spans.
			Endpoint: "http://otel-collector.invalid:4318",
		}
		o.TraceExporter = exp
	}
}

// tracingApp is the Service-App's client registration.
var tracingApp = client.Client{
	ID: "pforte-app", Name: "Service-App", Kind: client.Native, AuthMethod: client.AuthNone,
	RedirectURIs: []string{"de.hkk.serviceapp:/oauth2redirect"},
	GrantTypes:   []string{client.GrantCode, client.GrantRefresh},
	Scopes:       []string{"openid", "profile", "kvnr"},
	RequireDPoP:  true,
}

// withTraceparent sends every request with the trace context a proxy in
// front of Pforte would add.
type withTraceparent struct{ parent string }

func (p withTraceparent) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("traceparent", p.parent)
	return http.DefaultTransport.RoundTrip(r)
}

// TestTracingOfAnAppLogin drives an app login (PAR, authorization, login
// challenge, device key and PIN, code exchange with DPoP) through the real
// server behind a trusted proxy that sends a W3C trace context, and reads
// the spans the server exported: each request is a server span named by
// its route pattern and a child of the proxy's span; the store calls are
// client spans below the requests; no span carries member data, ids or
// tokens; the request's log lines carry its trace and span id; and Close
// sends the spans still waiting.
func TestTracingOfAnAppLogin(t *testing.T) {
	const pinCode = "470815"
	kvnr := coretest.KVNR("T12345678")
	key, err := authenticator.New()
	if err != nil {
		t.Fatal(err)
	}
	exp := &keptExporter{InMemoryExporter: tracetest.NewInMemoryExporter()}
	s := servertest.Start(t, withTracing(exp), func(o *server.Options) {
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		o.Clients = []client.Client{tracingApp}
		m := servertest.Member("tracing00000000000000000000a001", member.Member{
			KVNR: kvnr, GivenName: "Tessa", FamilyName: "Tracer", BirthDate: "1975-03-14",
			InsuredFrom: time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC),
		}, time.Now().UTC())
		m.Device = &server.Device{
			ID: "tracing-phone-0001", Name: "Telefon", CredentialID: key.CredentialID(), PublicKey: key.PublicKey(), PIN: pinCode,
		}
		o.Members = []server.Member{m}
	})

	// The proxy's span: the parent of every request of the login.
	proxyTrace, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	proxySpan, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	hc := &http.Client{Timeout: 30 * time.Second, Transport: withTraceparent{"00-" + proxyTrace.String() + "-" + proxySpan.String() + "-01"}}
	app, err := appclient.Discover(t.Context(), appclient.Config{
		Issuer: s.URL, ClientID: tracingApp.ID, RedirectURI: "de.hkk.serviceapp:/oauth2redirect", HTTP: hc,
	})
	if err != nil {
		t.Fatal(err)
	}
	dk, err := dpop.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	origin := "http://localhost:" + strings.TrimPrefix(s.URL, "http://127.0.0.1:")
	toks, err := app.Login(t.Context(), appclient.LoginRequest{
		Scope: "openid profile kvnr", PIN: pinCode, DPoP: dk,
		Device: appclient.Device{BindingID: "tracing-phone-0001", Key: key, Origin: origin},
	})
	if err != nil {
		t.Fatalf("app login: %v", err)
	}
	hc.CloseIdleConnections()

	// The batch has not been sent yet (it goes every 5 s): Close sends it.
	if n := len(exp.GetSpans()); n != 0 {
		t.Logf("%d spans exported before Close", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !exp.shut.Load() {
		t.Error("Close did not shut the exporter down")
	}
	spans := exp.GetSpans()
	t.Logf("%d spans exported", len(spans))
	servers := map[trace.SpanID]tracetest.SpanStub{}
	var names []string
	for _, sp := range spans {
		if sp.SpanKind != trace.SpanKindServer {
			continue
		}
		servers[sp.SpanContext.SpanID()] = sp
		names = append(names, sp.Name)
		if sp.SpanContext.TraceID() != proxyTrace || sp.Parent.SpanID() != proxySpan || !sp.Parent.IsRemote() {
			t.Errorf("request span %q: trace %s parent %s (remote %v), want the proxy's %s/%s",
				sp.Name, sp.SpanContext.TraceID(), sp.Parent.SpanID(), sp.Parent.IsRemote(), proxyTrace, proxySpan)
		}
	}
	for _, want := range []string{
		"GET /.well-known/openid-configuration", "POST /par", "GET /authorize",
		"POST /app/v1/logins/{id}/challenge", "POST /app/v1/logins/{id}", "POST /token",
	} {
		if !slices.Contains(names, want) {
			t.Errorf("no request span %q among %q", want, names)
		}
	}

	// Store calls are children of the request that made them.
	storeCalls := map[string][]string{} // request span name → store span names
	for _, sp := range spans {
		if sp.SpanKind != trace.SpanKindClient {
			continue
		}
		if !strings.HasPrefix(sp.Name, "store.") {
			t.Errorf("client span %q is not a store call", sp.Name)
		}
		parent, ok := servers[sp.Parent.SpanID()]
		if !ok || sp.SpanContext.TraceID() != proxyTrace {
			t.Errorf("store span %q has no request span as its parent", sp.Name)
			continue
		}
		storeCalls[parent.Name] = append(storeCalls[parent.Name], sp.Name)
	}
	for req, want := range map[string]string{
		"POST /par":                          "store.CreatePushedRequest",
		"GET /authorize":                     "store.ConsumePushedRequest",
		"POST /app/v1/logins/{id}/challenge": "store.CreateChallenge",
		"POST /app/v1/logins/{id}":           "store.ConsumeChallenge",
		"POST /token":                        "store.RedeemCode",
	} {
		if !slices.Contains(storeCalls[req], want) {
			t.Errorf("request %q: store spans %q, want %s among them", req, storeCalls[req], want)
		}
	}

	// Nothing a member, a client or a token is known by is in a span.
	secrets := []string{kvnr.String(), "tracing-phone-0001", "tracing00000000000000000000a001", pinCode, toks.AccessToken, toks.IDToken, "Tessa", "Tracer"}
	if toks.RefreshToken != "" {
		secrets = append(secrets, toks.RefreshToken)
	}
	for _, sp := range spans {
		for _, a := range sp.Attributes {
			if a.Key == "url.path" || a.Key == "url.query" || a.Key == "client.address" || a.Key == "db.query.text" {
				t.Errorf("span %q has attribute %s", sp.Name, a.Key)
			}
			for _, sec := range secrets {
				if strings.Contains(a.Value.Emit(), sec) {
					t.Errorf("span %q: attribute %s=%q carries %q", sp.Name, a.Key, a.Value.Emit(), sec)
				}
			}
		}
		for _, sec := range secrets[:3] {
			if strings.Contains(sp.Name, sec) {
				t.Errorf("span name %q carries %q", sp.Name, sec)
			}
		}
	}

	// The request log line of the code exchange carries its trace and span.
	var token tracetest.SpanStub
	for _, sp := range servers {
		if sp.Name == "POST /token" {
			token = sp
		}
	}
	found := false
	for sc := bufio.NewScanner(strings.NewReader(s.Logs.String())); sc.Scan(); {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if l["msg"] != "http request" {
			continue
		}
		if l["trace_id"] != proxyTrace.String() {
			t.Errorf("request line without the proxy's trace id: %s", sc.Text())
		}
		if l["path"] == "/token" && l["span_id"] == token.SpanContext.SpanID().String() {
			found = true
		}
	}
	if !found {
		t.Errorf("no request line of /token with span_id %s in\n%s", token.SpanContext.SpanID(), s.Logs.String())
	}
}

// A trace context from a peer that is no trusted proxy is not followed:
// the request starts a trace of its own, linked to the one it named, and
// logs under its own trace id. Requests on the admin listener's handler
// are spans too when it is wrapped by Instrument.
func TestTracingIgnoresTraceparentOfUntrustedPeers(t *testing.T) {
	exp := &keptExporter{InMemoryExporter: tracetest.NewInMemoryExporter()}
	s := servertest.Start(t, withTracing(exp)) // no trusted proxies
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	req, err := http.NewRequest(http.MethodGet, s.URL+"/.well-known/openid-configuration", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("traceparent", parent)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	admin := s.Instrument(ops.Handler(s.Ready, s.Metrics()))
	rec := httptest.NewRecorder()
	admin.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var discovery, metrics *tracetest.SpanStub
	spans := exp.GetSpans()
	for i, sp := range spans {
		switch sp.Name {
		case "GET /.well-known/openid-configuration":
			discovery = &spans[i]
		case "GET /metrics":
			metrics = &spans[i]
		}
	}
	if discovery == nil || metrics == nil {
		t.Fatalf("spans %v: want the discovery request and the admin listener's /metrics", spans)
	}
	if tid := discovery.SpanContext.TraceID().String(); tid == "4bf92f3577b34da6a3ce929d0e0e4736" || discovery.Parent.IsValid() {
		t.Errorf("an untrusted peer's trace context was followed: trace %s, parent %s", tid, discovery.Parent.SpanID())
	}
	if len(discovery.Links) != 1 || discovery.Links[0].SpanContext.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("links %+v: want one to the trace the request named", discovery.Links)
	}
	if !strings.Contains(s.Logs.String(), `"trace_id":"`+discovery.SpanContext.TraceID().String()+`"`) {
		t.Errorf("no log line with the request's own trace id in\n%s", s.Logs.String())
	}
}

// With tracing off (the default) nothing is wrapped and no log line
// carries a trace id, whatever the request sends.
func TestTracingOffAddsNothing(t *testing.T) {
	s := servertest.Start(t)
	mux := http.NewServeMux()
	if h := s.Instrument(mux); h != http.Handler(mux) {
		t.Errorf("Instrument wrapped a handler with tracing off")
	}
	req, err := http.NewRequest(http.MethodGet, s.URL+"/.well-known/openid-configuration", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if strings.Contains(s.Logs.String(), "trace_id") {
		t.Errorf("a log line carries a trace id with tracing off:\n%s", s.Logs.String())
	}
}
