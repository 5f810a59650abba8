package ops

import (
	"context"
	"net/http"
	"net/http/pprof"
)

// Health is liveness: 200 while the process answers.
func Health(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

// Ready is readiness: 200 when ready answers nil, else 503 (the cause stays
// in the server). ready may be nil: then it answers like Health.
func Ready(ready func(context.Context) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if ready != nil {
			if err := ready(r.Context()); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte("not ready\n"))
				return
			}
		}
		_, _ = w.Write([]byte("ready\n"))
	}
}

// Handler returns the admin endpoints:
//
//	GET /healthz             Health
//	GET /readyz              Ready(ready)
//	GET /debug/pprof/        the index of runtime profiles
//	GET /debug/pprof/profile CPU profile (?seconds=N), and the other
//	                         net/http/pprof endpoints (heap, goroutine,
//	                         allocs, block, mutex, trace, cmdline, symbol)
//	GET /metrics             metrics (Prometheus exposition), when not nil
func Handler(ready func(context.Context) error, metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", Health)
	mux.HandleFunc("GET /readyz", Ready(ready))
	if metrics != nil {
		mux.Handle("GET /metrics", metrics)
	}
	// Importing net/http/pprof also registers these on
	// http.DefaultServeMux; Pforte never serves the default mux (the
	// public listener's handler is its own), which a test of `pforte
	// serve` checks.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}
