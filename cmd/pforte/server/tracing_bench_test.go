package server

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/pforte-id/pforte/adapters/tracing"
)

// BenchmarkRequestTracing measures what tracing adds to one request
// through a ServeMux route (as the app API is served): "off" is the
// handler as New builds it with tracing off (Instrument adds nothing),
// "sampled-out" has tracing on with sample ratio 0 (a span context and
// its log ids, nothing recorded), "on" records and batches every span
// (the exporter drops them, so sending is not in the figure).
//
//	go test ./cmd/pforte/server -run '^$' -bench RequestTracing -benchmem
func BenchmarkRequestTracing(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /app/v1/logins/{id}/challenge", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})
	start := func(ratio float64) *tracing.Tracing {
		tr, err := tracing.New(tracing.Config{Enabled: true, Endpoint: "http://otel-collector.invalid:4318", SampleRatio: ratio},
			tracing.Options{Exporter: tracetest.NewNoopExporter()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = tr.Shutdown(b.Context()) })
		return tr
	}
	off := &Server{}
	for _, c := range []struct {
		name string
		h    http.Handler
	}{
		{"off", off.Instrument(mux)},
		{"sampled-out", traceRequests(start(0), mux)},
		{"on", traceRequests(start(1), mux)},
	} {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodPost, "/app/v1/logins/abc/challenge", nil)
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				c.h.ServeHTTP(w, req)
			}
		})
	}
}
