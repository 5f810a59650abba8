package server

import (
	"net/http"

	"github.com/pforte-id/pforte/adapters/tracing"
)

// Instrument wraps h in a server span per request when tracing is on
// (Options.Tracing), named by the route pattern h matched; with tracing
// off it returns h itself, so that nothing is added to a request. New
// wraps the public handler; wrap a handler served on another listener
// (the admin listener's) with it too.
func (s *Server) Instrument(h http.Handler) http.Handler {
	if s.tracing == nil {
		return h
	}
	return traceRequests(s.tracing, h)
}

// traceRequests starts the span of each request before anything else
// runs, so that the request log line, the handlers' log lines and the
// store calls below are in it, and names it after the handler returned,
// when the route pattern and the status are known (see countRequests for
// how the route is found).
func traceRequests(t *tracing.Tracing, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, span := t.StartRequest(r)
		r, rctx := withRouteContext(r)
		rec := &statusRecorder{ResponseWriter: w}
		// Deferred: a handler that aborts the response (http.ErrAbortHandler
		// passes recoverPanics) still ends its span.
		defer func() {
			if rec.status == 0 {
				rec.status = http.StatusOK
			}
			tracing.EndRequest(span, r, routeOf(r, rctx), rec.status)
		}()
		next.ServeHTTP(rec, r)
	})
}
