package ops

import (
	"context"
	"net/http"
	"net/http/pprof"
)

// Handler returns the admin endpoints:
//
//	GET /healthz             200 while the process runs
//	GET /readyz              200 when ready answers nil, else 503
//	GET /debug/pprof/        the index of runtime profiles
//	GET /debug/pprof/profile CPU profile (?seconds=N), and the other
//	                         net/http/pprof endpoints (heap, goroutine,
//	                         allocs, block, mutex, trace, cmdline, symbol)
//
// ready may be nil: then /readyz answers like /healthz.
func Handler(ready func(context.Context) error) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if ready != nil {
			if err := ready(r.Context()); err != nil {
				http.Error(w, "not ready", http.StatusServiceUnavailable)
				return
			}
		}
		w.Write([]byte("ok\n"))
	})
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
