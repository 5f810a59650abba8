package server

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pforte-id/pforte/adapters/metrics"
	"github.com/pforte-id/pforte/core/signkey"
)

// Metrics serves the Prometheus metrics; mount it on the admin listener
// only (server.admin_addr), never on the public one.
func (s *Server) Metrics() http.Handler { return s.metrics.Handler() }

// watch registers the gauges read at scrape time: database pools, letters
// by state, the back-channel logout queue, the signing keys' age and,
// when one is configured, the age of the Android attestation status list.
func (s *Server) watch() {
	if l := s.opts.Devices.Revocations; l != nil {
		s.metrics.WatchRevocationList(l.Loaded, s.opts.Now)
	}
	s.metrics.WatchPools(s.store.Pools())
	s.metrics.WatchLetters(s.store.LetterCounts)
	s.metrics.WatchLogoutQueue(s.store.CountLogoutJobs)
	s.metrics.WatchKeys(func(ctx context.Context) ([]metrics.Key, error) {
		ks, err := s.ring.Keys(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]metrics.Key, 0, len(ks))
		for _, k := range ks {
			switch k.State {
			case signkey.Active:
				out = append(out, metrics.Key{State: string(k.State), Since: k.ActivatedAt})
			case signkey.Next:
				out = append(out, metrics.Key{State: string(k.State), Since: k.CreatedAt})
			}
		}
		return out, nil
	}, s.opts.Now)
}

// countRequests observes every request's latency by route and status
// class. The route is the pattern that matched, never the raw path (a
// series per URL would be unbounded, and paths can carry ids): the chi
// pattern of the OIDC endpoints, else the innermost ServeMux pattern
// (ServeMux sets Request.Pattern on the request it is handed), else
// "unmatched".
func countRequests(m *metrics.Metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		r, rctx := withRouteContext(r)
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		m.ObserveRequest(routeOf(r, rctx), rec.status, time.Since(start))
	})
}

// withRouteContext returns r with a chi routing context, and the context:
// a chi router that finds one in the request uses it rather than its own,
// so the pattern it matched is readable afterwards. A context an outer
// middleware put there is used as it is, and r is then returned
// unchanged, so that the ServeMux pattern set on the request the muxes
// are handed (Request.Pattern) is visible to that middleware too.
func withRouteContext(r *http.Request) (*http.Request, *chi.Context) {
	if rctx, ok := r.Context().Value(chi.RouteCtxKey).(*chi.Context); ok && rctx != nil {
		return r, rctx
	}
	rctx := chi.NewRouteContext()
	return r.WithContext(context.WithValue(r.Context(), chi.RouteCtxKey, rctx)), rctx
}

// routeOf is the registered pattern r matched (see countRequests). The
// outermost chi pattern is taken: a chi router mounted inside another adds
// its own pattern, which would repeat the path.
func routeOf(r *http.Request, rctx *chi.Context) string {
	if len(rctx.RoutePatterns) > 0 && rctx.RoutePatterns[0] != "" {
		return rctx.RoutePatterns[0]
	}
	if r.Pattern != "" {
		return r.Pattern
	}
	return "unmatched"
}
