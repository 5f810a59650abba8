package tracing_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/pforte-id/pforte/adapters/tracing"
	"github.com/pforte-id/pforte/adapters/tracing/tracingtest"
	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/fault"
)

func TestConfigValidate(t *testing.T) {
	ok := tracing.Config{Enabled: true, Endpoint: "http://otel-collector:4318", SampleRatio: 0.5}
	if err := ok.Validate(); err != nil {
		t.Fatalf("%+v: %v", ok, err)
	}
	if err := tracing.DefaultConfig().Validate(); err != nil {
		t.Fatalf("the default (off): %v", err)
	}
	for _, tc := range []struct {
		name  string
		edit  func(*tracing.Config)
		field string
	}{
		{"enabled without endpoint", func(c *tracing.Config) { c.Endpoint = "" }, "Endpoint"},
		{"gRPC scheme", func(c *tracing.Config) { c.Endpoint = "grpc://collector:4317" }, "Endpoint"},
		{"no scheme", func(c *tracing.Config) { c.Endpoint = "collector:4318" }, "Endpoint"},
		{"no host", func(c *tracing.Config) { c.Endpoint = "http:///v1/traces" }, "Endpoint"},
		{"credentials", func(c *tracing.Config) { c.Endpoint = "https://u:p@collector/v1/traces" }, "Endpoint"},
		{"query", func(c *tracing.Config) { c.Endpoint = "https://collector/v1/traces?token=x" }, "Endpoint"},
		{"not a URL", func(c *tracing.Config) { c.Endpoint = "http://[::1" }, "Endpoint"},
		{"bad endpoint while off", func(c *tracing.Config) { c.Enabled, c.Endpoint = false, "ftp://collector" }, "Endpoint"},
		{"ratio above 1", func(c *tracing.Config) { c.SampleRatio = 1.01 }, "SampleRatio"},
		{"negative ratio", func(c *tracing.Config) { c.SampleRatio = -0.1 }, "SampleRatio"},
		{"space in service name", func(c *tracing.Config) { c.ServiceName = "pforte prod" }, "ServiceName"},
		{"control character", func(c *tracing.Config) { c.ServiceName = "pforte\n" }, "ServiceName"},
		{"long service name", func(c *tracing.Config) { c.ServiceName = strings.Repeat("p", 101) }, "ServiceName"},
	} {
		c := ok
		tc.edit(&c)
		err := c.Validate()
		var fe *fault.Error
		if !errors.As(err, &fe) || fe.Kind != fault.Invalid || fe.Op != "tracing.Config."+tc.field {
			t.Errorf("%s: %v, want Invalid of tracing.Config.%s", tc.name, err, tc.field)
		}
		if _, nerr := tracing.New(c, tracing.Options{}); nerr == nil {
			t.Errorf("%s: New accepted it", tc.name)
		}
	}
}

func TestOffIsNil(t *testing.T) {
	tr, err := tracing.New(tracing.DefaultConfig(), tracing.Options{})
	if err != nil || tr != nil {
		t.Fatalf("New with tracing off = %v, %v; want nil, nil", tr, err)
	}
	if tr.TracerProvider() != nil {
		t.Error("a provider with tracing off")
	}
	r := httptest.NewRequest(http.MethodGet, "/token", nil)
	r2, span := tr.StartRequest(r)
	if r2 != r || span.IsRecording() {
		t.Error("StartRequest with tracing off changed the request or records")
	}
	tracing.EndRequest(span, r, "/token", http.StatusOK)
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
}

// Spans go to the configured collector over OTLP/HTTP (protobuf, gzip,
// the default path when the URL has none) only when Shutdown flushes
// them — the batch waits 5 s otherwise — and the OTEL_* variables the
// SDK would read change nothing: not the endpoint, not the headers, not
// the sampler, not the service name.
func TestExportToCollectorAndShutdownFlushes(t *testing.T) {
	col := tracingtest.Start(t)
	decoy := tracingtest.Start(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", decoy.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", decoy.URL+"/v1/traces")
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer leaked")
	t.Setenv("OTEL_TRACES_SAMPLER", "always_off")
	t.Setenv("OTEL_SERVICE_NAME", "not-pforte")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=not-pforte")

	tr, err := tracing.New(tracing.Config{Enabled: true, Endpoint: col.URL, SampleRatio: 1, ServiceName: "pforte-test"}, tracing.Options{Version: "v1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	r, span := tr.StartRequest(httptest.NewRequest(http.MethodPost, "/token", nil))
	_, child := tr.TracerProvider().Tracer("test").Start(r.Context(), "store.RedeemCode")
	child.End()
	tracing.EndRequest(span, r, "/token", http.StatusOK)
	// The batch goes every 5 s: what the collector has right after
	// Shutdown returns, Shutdown sent.
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	got := col.Names()
	if len(got) != 2 || !slices.Contains(got, "POST /token") || !slices.Contains(got, "store.RedeemCode") {
		t.Fatalf("the collector got %q, want POST /token and store.RedeemCode", got)
	}
	ex := col.Exports()[0]
	if ex.Path != "/v1/traces" {
		t.Errorf("posted to %s, want /v1/traces", ex.Path)
	}
	if h := ex.Header; h.Get("Authorization") != "" || h.Get("Content-Encoding") != "gzip" || h.Get("Content-Type") != "application/x-protobuf" {
		t.Errorf("headers %v", h)
	}
	for _, s := range col.Spans() {
		if s.Service != "pforte-test" || s.Version != "v1.2.3" {
			t.Errorf("service.name %q, service.version %q", s.Service, s.Version)
		}
	}
	if n := len(decoy.Spans()); n != 0 {
		t.Errorf("%d spans went to the endpoint of OTEL_EXPORTER_OTLP_ENDPOINT", n)
	}
	// Shut down, tracing records and sends nothing more.
	_, late := tr.TracerProvider().Tracer("test").Start(context.Background(), "late")
	late.End()
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Errorf("a second Shutdown: %v", err)
	}
	if len(col.Spans()) != 2 {
		t.Errorf("spans after Shutdown were sent: %q", col.Names())
	}
}

// A collector that refuses the spans costs them, not the requests: the
// failure is one warning in Pforte's log, and Shutdown still returns.
func TestExportFailureIsLogged(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no", http.StatusBadRequest) // not retried
	}))
	defer srv.Close()
	var buf coretest.Log
	tr, err := tracing.New(tracing.Config{Enabled: true, Endpoint: srv.URL + "/otlp/v1/traces", SampleRatio: 1},
		tracing.Options{Log: buf.JSON()})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tr.StartRequest(httptest.NewRequest(http.MethodGet, "/jwks", nil))
	span.End()
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if !strings.Contains(buf.String(), `"level":"WARN","msg":"trace export failed; these spans are lost","spans":1`) {
		t.Errorf("log: %s", buf.String())
	}
}

// newMemory is tracing into the SDK's in-memory exporter.
func newMemory(t *testing.T, cfg tracing.Config, trusted ...string) (*tracing.Tracing, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	var px []netip.Prefix
	for _, p := range trusted {
		px = append(px, netip.MustParsePrefix(p))
	}
	cfg.Enabled, cfg.Endpoint = true, "http://otel-collector.invalid:4318"
	tr, err := tracing.New(cfg, tracing.Options{Exporter: exp, TrustedProxies: px})
	if err != nil {
		t.Fatal(err)
	}
	return tr, exp
}

// flushed sends the spans waiting in tr's batch and returns what the
// exporter holds.
func flushed(t *testing.T, tr *tracing.Tracing, exp *tracetest.InMemoryExporter) tracetest.SpanStubs {
	t.Helper()
	if err := tr.TracerProvider().(*sdktrace.TracerProvider).ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return exp.GetSpans()
}

const (
	parentTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	parentSpan  = "00f067aa0ba902b7"
)

// The sampler: a trace a trusted proxy sampled is recorded whatever the
// ratio, one it did not sample is not; a trace that begins here follows
// the ratio (0: none). Untrusted peers cannot force recording.
func TestSamplingFollowsTrustedParents(t *testing.T) {
	tr, exp := newMemory(t, tracing.Config{SampleRatio: 0}, "10.0.0.0/8")
	for _, tc := range []struct {
		peer, flags string
		recorded    bool
	}{
		{"10.1.2.3:443", "01", true},
		{"10.1.2.3:443", "00", false},
		{"10.1.2.3:443", "", false},
		{"203.0.113.9:5000", "01", false},
	} {
		r := httptest.NewRequest(http.MethodGet, "/userinfo", nil)
		r.RemoteAddr = tc.peer
		if tc.flags != "" {
			r.Header.Set("traceparent", "00-"+parentTrace+"-"+parentSpan+"-"+tc.flags)
		}
		r2, span := tr.StartRequest(r)
		if span.IsRecording() != tc.recorded {
			t.Errorf("peer %s, flags %q: recording %v, want %v", tc.peer, tc.flags, span.IsRecording(), tc.recorded)
		}
		// Sampled out or not, the request has a trace id to log.
		if !trace.SpanContextFromContext(r2.Context()).IsValid() {
			t.Errorf("peer %s, flags %q: no trace context in the request", tc.peer, tc.flags)
		}
		tracing.EndRequest(span, r2, "/userinfo", http.StatusOK)
	}
	if got := flushed(t, tr, exp); len(got) != 1 || got[0].SpanContext.TraceID().String() != parentTrace {
		t.Errorf("exported %v, want the one trace the trusted proxy sampled", got)
	}
}

// Span names are the route patterns; the method a client sends is shown
// only when it is a known one; a 5xx marks the span failed, a 4xx not.
func TestRequestSpanNamesAndStatus(t *testing.T) {
	tr, exp := newMemory(t, tracing.Config{SampleRatio: 1})
	for _, tc := range []struct {
		method, route string
		status        int
	}{
		{http.MethodPost, "/token", 400},
		{http.MethodPost, "POST /app/v1/logins/{id}/challenge", 201},
		{"BREW", "/", 404},
		{http.MethodGet, "GET /readyz", 503},
	} {
		r, span := tr.StartRequest(httptest.NewRequest(tc.method, "/x", nil))
		tracing.EndRequest(span, r, tc.route, tc.status)
	}
	got := flushed(t, tr, exp)
	want := []struct {
		name, route, method string
		failed              bool
	}{
		{"POST /token", "/token", "POST", false},
		{"POST /app/v1/logins/{id}/challenge", "/app/v1/logins/{id}/challenge", "POST", false},
		{"_OTHER /", "/", "_OTHER", false},
		{"GET /readyz", "/readyz", "GET", true},
	}
	if len(got) != len(want) {
		t.Fatalf("%d spans", len(got))
	}
	for i, w := range want {
		sp := got[i]
		attrs := map[string]string{}
		for _, a := range sp.Attributes {
			attrs[string(a.Key)] = a.Value.Emit()
		}
		if sp.Name != w.name || attrs["http.route"] != w.route || attrs["http.request.method"] != w.method ||
			(sp.Status.Code == codes.Error) != w.failed || sp.SpanKind != trace.SpanKindServer {
			t.Errorf("span %d: %q %v %v %v, want %+v", i, sp.Name, attrs, sp.Status, sp.SpanKind, w)
		}
	}
}

// LogHandler adds the ids of the span in the context, nothing without
// one, and only once however often it wraps.
func TestLogHandler(t *testing.T) {
	tr, _ := newMemory(t, tracing.Config{SampleRatio: 1})
	var buf bytes.Buffer
	h := tracing.LogHandler(tracing.LogHandler(slog.NewJSONHandler(&buf, nil)))
	log := slog.New(h).With("component", "test")
	r, span := tr.StartRequest(httptest.NewRequest(http.MethodGet, "/jwks", nil))
	log.InfoContext(r.Context(), "inside")
	log.InfoContext(context.Background(), "outside")
	span.End()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	sc := span.SpanContext()
	want := `"trace_id":"` + sc.TraceID().String() + `","span_id":"` + sc.SpanID().String() + `"`
	if len(lines) != 2 || !strings.Contains(lines[0], want) || strings.Count(lines[0], "trace_id") != 1 {
		t.Errorf("inside a span: %s, want %s once", lines[0], want)
	}
	if strings.Contains(lines[1], "trace_id") {
		t.Errorf("outside a span: %s", lines[1])
	}
}
