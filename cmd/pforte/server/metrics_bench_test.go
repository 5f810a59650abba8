package server

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/pforte-id/pforte/adapters/metrics"
)

// BenchmarkRequestMetrics measures what the request metrics add to one
// request through a chi route (as the OIDC endpoints are served) and
// through a ServeMux pattern (as the app API is): compare the "plain" and
// "counted" sub-benchmarks of each.
//
//	go test ./cmd/pforte/server -run '^$' -bench RequestMetrics -benchmem
func BenchmarkRequestMetrics(b *testing.B) {
	ok := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }
	r := chi.NewRouter()
	r.Get("/jwks", ok)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /app/v1/logins/{id}/challenge", ok)
	m := metrics.New()
	for _, c := range []struct {
		name string
		h    http.Handler
		req  func() *http.Request
	}{
		{"chi/plain", r, func() *http.Request { return httptest.NewRequest(http.MethodGet, "/jwks", nil) }},
		{"chi/counted", countRequests(m, r), func() *http.Request { return httptest.NewRequest(http.MethodGet, "/jwks", nil) }},
		{"mux/plain", mux, func() *http.Request { return httptest.NewRequest(http.MethodPost, "/app/v1/logins/abc/challenge", nil) }},
		{"mux/counted", countRequests(m, mux), func() *http.Request {
			return httptest.NewRequest(http.MethodPost, "/app/v1/logins/abc/challenge", nil)
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			req := c.req()
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				c.h.ServeHTTP(w, req)
			}
		})
	}
}
