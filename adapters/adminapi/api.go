package adminapi

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pforte-id/pforte/catalog"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/registration"
	"github.com/pforte-id/pforte/core/support"
)

// OpenAPI is the API description, served at /admin/v1/openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte

// Prefix is where the API is mounted.
const Prefix = "/admin/v1/"

// AgentHeader names the person acting (see the package documentation).
const AgentHeader = "X-Pforte-Agent"

// Config configures the API.
type Config struct {
	// MaxBodyBytes bounds request bodies (default 16 KiB).
	MaxBodyBytes int64
}

// Tokens verifies admin tokens (core/authz.Service).
type Tokens interface {
	AdminToken(ctx context.Context, raw string) (authz.AdminCaller, error)
}

// Support is the use case the API drives (core/support.Service).
type Support interface {
	SearchMembers(ctx context.Context, a support.Agent, q support.Search) ([]support.Found, error)
	MemberStatus(ctx context.Context, a support.Agent, k kvnr.KVNR) (support.Status, error)
	OrderLetter(ctx context.Context, a support.Agent, k kvnr.KVNR, override bool, reason string) (letter.Letter, error)
	ReportLetterLost(ctx context.Context, a support.Agent, k kvnr.KVNR, reason string) (registration.LostResult, error)
	UnblockDevice(ctx context.Context, a support.Agent, k kvnr.KVNR, id string) (bool, error)
	RevokeDevice(ctx context.Context, a support.Agent, k kvnr.KVNR, id string) error
	RevokeAllDevices(ctx context.Context, a support.Agent, k kvnr.KVNR) (int, error)
	EndSessions(ctx context.Context, a support.Agent, k kvnr.KVNR) (int, error)
	Lock(ctx context.Context, a support.Agent, k kvnr.KVNR, reason string) (bool, error)
	Unlock(ctx context.Context, a support.Agent, k kvnr.KVNR, reason string) error
	DeleteMember(ctx context.Context, a support.Agent, k kvnr.KVNR, reason string) error
	Audit(ctx context.Context, a support.Agent, q support.AuditQuery) ([]audit.Event, error)
	Client(ctx context.Context, a support.Agent, id string) (support.Client, error)
	EditClient(ctx context.Context, a support.Agent, id string, e support.ClientEdit) (support.Client, error)
	RotateSecret(ctx context.Context, a support.Agent, id string, oldValidUntil time.Time, immediately bool) (string, support.Client, error)
	FinishRollover(ctx context.Context, a support.Agent, id string) (bool, error)
}

// API is the admin API.
type API struct {
	cfg    Config
	tokens Tokens
	svc    Support
	log    *slog.Logger
}

// New returns the API.
func New(cfg Config, tokens Tokens, svc Support, log *slog.Logger) *API {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 16 << 10
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &API{cfg: cfg, tokens: tokens, svc: svc, log: log}
}

// Codes of the API's own refusals; none has parameters.
const (
	codeUnknownPath  fault.Code = "api.unknown_path"
	codeContentType  fault.Code = "api.content_type"
	codeJSON         fault.Code = "api.json"
	codeTrailing     fault.Code = "api.trailing"
	codeTokenMissing fault.Code = "admin.token_missing"
)

// handlerFunc is an endpoint: it gets the agent of the call.
type handlerFunc func(w http.ResponseWriter, r *http.Request, a support.Agent) error

// Handler returns the handler for everything under Prefix.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Prefix+"openapi.yaml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(OpenAPI)
	})
	for _, e := range []struct {
		pattern string
		h       handlerFunc
	}{
		{"GET " + Prefix + "members", a.searchMembers},
		{"GET " + Prefix + "members/{kvnr}", a.memberStatus},
		{"DELETE " + Prefix + "members/{kvnr}", a.deleteMember},
		{"POST " + Prefix + "members/{kvnr}/letters", a.orderLetter},
		{"POST " + Prefix + "members/{kvnr}/letters/lost", a.reportLetterLost},
		{"POST " + Prefix + "members/{kvnr}/devices/{id}/unblock", a.unblockDevice},
		{"DELETE " + Prefix + "members/{kvnr}/devices/{id}", a.revokeDevice},
		{"DELETE " + Prefix + "members/{kvnr}/devices", a.revokeAllDevices},
		{"DELETE " + Prefix + "members/{kvnr}/sessions", a.endSessions},
		{"POST " + Prefix + "members/{kvnr}/lock", a.lock},
		{"POST " + Prefix + "members/{kvnr}/unlock", a.unlock},
		{"GET " + Prefix + "audit", a.audit},
		{"GET " + Prefix + "clients/{id}", a.client},
		{"PATCH " + Prefix + "clients/{id}", a.editClient},
		{"POST " + Prefix + "clients/{id}/secret", a.rotateSecret},
		{"DELETE " + Prefix + "clients/{id}/secret/previous", a.finishRollover},
	} {
		mux.Handle(e.pattern, a.authenticated(e.h))
	}
	mux.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, a.log, fault.Coded(fault.NotFound, "adminapi", codeUnknownPath))
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := catalog.Match(r.Header.Get("Accept-Language"))
		inner := r.WithContext(catalog.WithPrinter(r.Context(), p))
		mux.ServeHTTP(w, inner)
		r.Pattern = inner.Pattern
	})
}

// authenticated checks the token, then the agent header, before h runs:
// a call that fails either changes nothing.
func (a *API) authenticated(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		const op = "adminapi.authenticate"
		tok, ok := bearer(r)
		if !ok {
			writeProblem(w, r, a.log, fault.Coded(fault.Unauthenticated, op, codeTokenMissing))
			return
		}
		caller, err := a.tokens.AdminToken(r.Context(), tok)
		if err != nil {
			writeProblem(w, r, a.log, err)
			return
		}
		name := r.Header.Get(AgentHeader)
		if !utf8.ValidString(name) || len(r.Header.Values(AgentHeader)) > 1 {
			name = ""
		}
		agent := support.Agent{ClientID: caller.ClientID, Name: name}
		if err := h(w, r, agent); err != nil {
			writeProblem(w, r, a.log, err)
		}
	})
}

func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" || len(tok) > 8192 {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// errTooLarge answers 413.
var errTooLarge = fault.Coded(fault.Invalid, "adminapi.decode", "api.too_large")

// decode reads a JSON body strictly into into: application/json, no
// unknown fields, nothing after the value, at most MaxBodyBytes.
func (a *API) decode(w http.ResponseWriter, r *http.Request, into any) error {
	const op = "adminapi.decode"
	if ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || ct != "application/json" {
		return fault.Coded(fault.Invalid, op, codeContentType)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return errTooLarge
		}
		return fault.Coded(fault.Invalid, op, codeJSON)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fault.Coded(fault.Invalid, op, codeTrailing)
	}
	return nil
}

// pathKVNR reads the member number of the path. A malformed one is
// Invalid coded support.CodeQuery.
func pathKVNR(r *http.Request) (kvnr.KVNR, error) {
	k, err := kvnr.Parse(r.PathValue("kvnr"))
	if err != nil {
		return "", fault.Coded(fault.Invalid, "adminapi", support.CodeQuery, "kvnr")
	}
	return k, nil
}

// problem is an RFC 9457 problem document.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Kind   string `json:"kind"`
	Code   string `json:"code,omitempty"`
}

// statuses is the one table from error kinds to this API's statuses.
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

// writeProblem answers err: the catalog's text of its code or kind, never
// its cause; 5xx answers carry only the kind.
func writeProblem(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	k := fault.KindOf(err)
	status, ok := statuses[k]
	if !ok {
		k, status = fault.Internal, http.StatusInternalServerError
	}
	if err == errTooLarge {
		status = http.StatusRequestEntityTooLarge
	}
	p := catalog.From(r.Context())
	detail := p.Error(err)
	var code string
	if c := fault.CodedOf(err); c != nil {
		code = string(c.Code)
	}
	if status >= 500 {
		log.ErrorContext(r.Context(), "admin api failed", "path", r.Pattern, "kind", k.String(), "err", err)
		detail, code = p.Kind(k), ""
	}
	switch k {
	case fault.Unauthenticated:
		w.Header().Set("WWW-Authenticate", `Bearer realm="pforte-admin", error="invalid_token"`)
	case fault.Forbidden:
		if code == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="pforte-admin", error="insufficient_scope", scope="admin"`)
		}
	case fault.Unavailable:
		w.Header().Set("Retry-After", "5")
	}
	writeJSON(w, r, status, "application/problem+json", problem{
		Type: "urn:pforte:problem:" + k.String(), Title: http.StatusText(status), Status: status, Detail: detail,
		Kind: k.String(), Code: code,
	})
}

// writeJSON answers v.
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

func ok(w http.ResponseWriter, r *http.Request, v any) error {
	writeJSON(w, r, http.StatusOK, "application/json", v)
	return nil
}

// ts is t for JSON: nil when zero, else UTC.
func ts(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
