package server

import (
	"log/slog"
	"net/http"
	"time"
)

// statusRecorder captures the status code for the access log, and the
// reason code a handler gives for a refusal.
type statusRecorder struct {
	http.ResponseWriter
	status int
	reason string
}

// SetLogReason records the machine-readable reason of an error answer
// ("invalid_client", "pin.wrong", "not_found") for the request's log line.
// Adapters find it through the ResponseWriter's Unwrap chain by its method
// alone, so that they need not import this package.
func (r *statusRecorder) SetLogReason(code string) { r.reason = code }

// retryAfterUnavailable is the Retry-After of a 503 whose handler gave
// none (the protocol library's error writer gives none): an outage of the
// database or an overload, after which a client should try again soon,
// not give up and not hammer.
const retryAfterUnavailable = "5"

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	if code == http.StatusServiceUnavailable && r.Header().Get("Retry-After") == "" {
		r.Header().Set("Retry-After", retryAfterUnavailable)
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// logRequests writes one access log line per request: method, path (never
// the query, which carries codes and states), status, the reason code of
// an error answer when the handler gave one, and duration_ms, the time to
// the handler's return in milliseconds (a number, with microseconds as
// its fraction, so that log pipelines need not parse a unit). Bodies and
// headers are never logged: they carry passwords, secrets and tokens.
//
// The level says who should act: ERROR for a 5xx, which an operator
// should look at; INFO for everything else, client errors (4xx) included,
// which are the clients' and members' mistakes and are answered as such.
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		level := slog.LevelInfo
		if rec.status >= 500 {
			level = slog.LevelError
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", redactURL(r.URL)),
			slog.Int("status", rec.status),
		}
		if rec.reason != "" {
			attrs = append(attrs, slog.String("reason", rec.reason))
		}
		attrs = append(attrs, slog.Float64("duration_ms", durationMS(time.Since(start))))
		log.LogAttrs(r.Context(), level, "http request", attrs...)
	})
}

// durationMS is d in milliseconds, to the microsecond.
func durationMS(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// recoverPanics turns a panic in a handler into a 500 and a log line
// instead of a dropped connection.
func recoverPanics(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.ErrorContext(r.Context(), "handler panic", "panic", v, "path", r.URL.Path)
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// hstsValue tells browsers to reach this host over https only, for a year
// (RFC 6797), so that a member who types the address or follows an http
// link is never served a login page an attacker on the network could
// replace. Subdomains are left out: they belong to whoever runs the
// insurer's domain, not to Pforte.
const hstsValue = "max-age=31536000"

// strictTransport sets Strict-Transport-Security on every response of an
// https issuer, before the handler runs, so that errors, redirects and
// answers to panics carry it too.
func strictTransport(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", hstsValue)
		next.ServeHTTP(w, r)
	})
}
