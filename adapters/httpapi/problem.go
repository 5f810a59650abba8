package httpapi

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/pforte-id/pforte/catalog"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/pin"
)

// problem is an RFC 9457 problem document.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	// Detail is the text for the member, in the language the request's
	// Accept-Language asks for (German by default).
	Detail string `json:"detail,omitempty"`
	// Kind is the machine-readable error kind the app switches on.
	Kind string `json:"kind"`
	// Code is the stable machine-readable code of what happened
	// ("pin.wrong"), when the error has one.
	Code string `json:"code,omitempty"`
}

// wire is how this API answers an error of one kind: the HTTP status of
// the problem document, and the OAuth error code (RFC 6749 §4.1.2.1) when
// the error goes to the client's redirect URI instead (the app login).
type wire struct {
	status int
	oauth  string
}

// kinds is the one table from error kinds to this API's answers.
var kinds = map[fault.Kind]wire{
	fault.Invalid:         {http.StatusBadRequest, "invalid_request"},
	fault.Unauthenticated: {http.StatusUnauthorized, "login_required"},
	fault.Forbidden:       {http.StatusForbidden, "access_denied"},
	fault.NotFound:        {http.StatusNotFound, "invalid_request"},
	fault.Expired:         {http.StatusGone, "invalid_request"},
	fault.Locked:          {http.StatusLocked, "access_denied"},
	fault.RateLimited:     {http.StatusTooManyRequests, "temporarily_unavailable"},
	fault.Conflict:        {http.StatusConflict, "invalid_request"},
	fault.Unavailable:     {http.StatusServiceUnavailable, "temporarily_unavailable"},
	fault.Internal:        {http.StatusInternalServerError, "server_error"},
}

// attemptCodes are the codes whose errors count the release PIN's
// attempts: their Remaining goes into Pforte-PIN-Attempts-Remaining.
var attemptCodes = map[fault.Code]bool{pin.CodeWrong: true, pin.CodeWait: true, pin.CodeBlocked: true}

// wireOf returns the answer to kind k.
func wireOf(k fault.Kind) (fault.Kind, wire) {
	if w, ok := kinds[k]; ok {
		return k, w
	}
	return fault.Internal, kinds[fault.Internal]
}

// writeProblem answers err. Clients see the catalog's text of the error's
// code or of its kind, never the cause; 5xx answers carry only the kind.
func writeProblem(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	k, wi := wireOf(fault.KindOf(err))
	status := wi.status
	logReason(w, fault.ReasonOf(err))
	if err == errTooLarge {
		status = http.StatusRequestEntityTooLarge
	}
	p := catalog.From(r.Context())
	detail := p.Error(err)
	coded := fault.CodedOf(err)
	var code string
	if coded != nil {
		code = string(coded.Code)
	}
	if status >= 500 {
		log.ErrorContext(r.Context(), "app api failed", "path", r.URL.Path, "kind", k.String(), "err", err)
		detail, code = p.Kind(k), ""
	}
	if coded != nil && attemptCodes[coded.Code] {
		w.Header().Set("Pforte-PIN-Attempts-Remaining", strconv.Itoa(coded.Remaining))
		if !coded.RetryAt.IsZero() {
			w.Header().Set("Pforte-PIN-Retry-At", coded.RetryAt.UTC().Format(time.RFC3339))
		}
	}
	if e := fault.RetryOf(err); e != nil {
		// From the service's clock, not this host's: RetryAt was computed
		// with it, and Retry-After must agree with it.
		secs := int((e.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	} else if k == fault.Unavailable {
		// Overload (every password hashing slot busy) and outages are
		// expected to pass within seconds.
		w.Header().Set("Retry-After", "5")
	}
	if k == fault.Unauthenticated {
		w.Header().Set("WWW-Authenticate", `Bearer realm="pforte-app"`)
	}
	writeJSON(w, r, status, "application/problem+json", problem{
		Type: "urn:pforte:problem:" + k.String(), Title: http.StatusText(status), Status: status, Detail: detail,
		Kind: k.String(), Code: code,
	})
}

// writeJSON answers v. Every answer may carry text for the member, so it
// says its language and that it depends on Accept-Language.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, contentType string, v any) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Language", catalog.From(r.Context()).Lang())
	h.Add("Vary", "Accept-Language")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
