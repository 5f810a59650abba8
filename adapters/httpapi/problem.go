package httpapi

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/registration"
)

// problem is an RFC 9457 problem document.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Kind is the machine-readable error kind the app switches on.
	Kind string `json:"kind"`
}

// statuses is the one table from error kinds to HTTP statuses of this API.
var statuses = map[fault.Kind]int{
	fault.Invalid:         http.StatusBadRequest,
	fault.Unauthenticated: http.StatusUnauthorized,
	fault.Forbidden:       http.StatusForbidden,
	fault.NotFound:        http.StatusNotFound,
	fault.Expired:         http.StatusGone,
	fault.Locked:          http.StatusLocked,
	fault.RateLimited:     http.StatusTooManyRequests,
	fault.Conflict:        http.StatusConflict,
	fault.Unavailable:     http.StatusServiceUnavailable,
	fault.Internal:        http.StatusInternalServerError,
}

// writeProblem answers err. Clients see the public text of the error or
// the fixed text of its kind, never the cause.
func writeProblem(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	k := fault.KindOf(err)
	status, ok := statuses[k]
	if !ok {
		k, status = fault.Internal, http.StatusInternalServerError
	}
	if err == errTooLarge {
		status = http.StatusRequestEntityTooLarge
	}
	detail := fault.PublicOf(err)
	if status >= 500 {
		log.ErrorContext(r.Context(), "app api failed", "path", r.URL.Path, "kind", k.String(), "err", err)
		detail = fault.FixedText(k)
	}
	if d, ok := registration.RetryAfter(err); ok {
		secs := int((d + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	} else if k == fault.Unavailable {
		// Overload (every password hashing slot busy) and outages are
		// expected to pass within seconds.
		w.Header().Set("Retry-After", "5")
	}
	if k == fault.Unauthenticated {
		w.Header().Set("WWW-Authenticate", `Bearer realm="pforte-app"`)
	}
	writeJSON(w, status, "application/problem+json", problem{
		Type: "urn:pforte:problem:" + k.String(), Title: http.StatusText(status), Status: status, Detail: detail, Kind: k.String(),
	})
}

func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
