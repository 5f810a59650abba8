package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/pforte-id/pforte/core/fault"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestProblemTableCoversEveryKind(t *testing.T) {
	for _, k := range fault.Kinds() {
		wi, ok := kinds[k]
		st := wi.status
		if !ok || wi.oauth == "" {
			t.Fatalf("no status for %v", k)
		}
		infra := k == fault.Unavailable || k == fault.Internal
		if infra != (st >= 500) {
			t.Errorf("%v → %d", k, st)
		}
		rec := httptest.NewRecorder()
		writeProblem(rec, httptest.NewRequest(http.MethodPost, "/app/v1/x", nil), quiet,
			fault.Wrap(k, "test", errors.New("secret internal detail")))
		var p problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		if rec.Code != st || p.Status != st || p.Kind != k.String() || rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("%v: %d %+v", k, rec.Code, p)
		}
		if strings.Contains(rec.Body.String(), "secret internal detail") {
			t.Errorf("%v leaks the cause: %s", k, rec.Body.String())
		}
	}
}

func TestDecodeRefusesBadBodies(t *testing.T) {
	a := New(Config{}, nil, nil, nil, nil, nil, quiet)
	for _, tc := range []struct {
		name, contentType, body string
		status                  int
	}{
		{"good", "application/json", `{"kvnr":"A123456780","birth_date":"1985-03-14","method":"letter"}`, 0},
		{"charset is fine", "application/json; charset=utf-8", `{"kvnr":"A"}`, 0},
		{"form", "application/x-www-form-urlencoded", `kvnr=A`, 400},
		{"no content type", "", `{}`, 400},
		{"unknown field", "application/json", `{"kvnr":"A","address":"Evil Street 1"}`, 400},
		{"two objects", "application/json", `{"kvnr":"A"}{"kvnr":"B"}`, 400},
		{"array", "application/json", `[1]`, 400},
		{"truncated", "application/json", `{"kvnr":`, 400},
		{"wrong type", "application/json", `{"kvnr":5}`, 400},
		{"oversized", "application/json", `{"kvnr":"` + strings.Repeat("A", 20<<10) + `"}`, 413},
	} {
		req := httptest.NewRequest(http.MethodPost, "/app/v1/registrations", strings.NewReader(tc.body))
		if tc.contentType != "" {
			req.Header.Set("Content-Type", tc.contentType)
		}
		rec := httptest.NewRecorder()
		var in registrationRequest
		err := a.decode(rec, req, &in)
		if tc.status == 0 {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		writeProblem(rec, req, quiet, err)
		if rec.Code != tc.status {
			t.Errorf("%s: status %d, want %d (%v)", tc.name, rec.Code, tc.status, err)
		}
	}
}

func TestClientIP(t *testing.T) {
	proxy := netip.MustParsePrefix("10.0.0.0/8")
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		remote  string
		xff     string
		want    string
	}{
		{"direct", nil, "203.0.113.9:5000", "", "203.0.113.9"},
		{"spoofed header without trusted proxy", nil, "203.0.113.9:5000", "1.2.3.4", "203.0.113.9"},
		{"behind proxy", []netip.Prefix{proxy}, "10.0.0.2:5000", "198.51.100.7", "198.51.100.7"},
		{"client prepends a lie", []netip.Prefix{proxy}, "10.0.0.2:5000", "1.2.3.4, 198.51.100.7", "198.51.100.7"},
		{"two proxies", []netip.Prefix{proxy}, "10.0.0.2:5000", "198.51.100.7, 10.0.0.5", "198.51.100.7"},
		{"garbage header", []netip.Prefix{proxy}, "10.0.0.2:5000", "not-an-ip", "10.0.0.2"},
		{"ipv4-mapped", nil, "[::ffff:203.0.113.9]:5000", "", "203.0.113.9"},
	} {
		a := New(Config{TrustedProxies: tc.trusted}, nil, nil, nil, nil, nil, quiet)
		req := httptest.NewRequest(http.MethodPost, "/", nil)
		req.RemoteAddr = tc.remote
		if tc.xff != "" {
			req.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := a.clientIP(req); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestOpenAPIDescribesEveryRoute keeps the document and the handler in step.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	routes := map[string]string{"/openapi.yaml": "get", "/registrations": "post", "/letters/lost": "post", "/activations": "post", "/enrollment": "get post", "/enrollment/password": "put",
		"/enrollment/device/challenge": "post", "/enrollment/device": "post", "/enrollment/pin": "put",
		"/devices/{id}/challenge": "post", "/devices/list": "post", "/devices/{id}/rename": "post",
		"/devices/{id}/revoke": "post", "/devices/revoke-others": "post", "/devices/reconfirm": "post", "/pin/reset": "post", "/pin/change": "post", "/account/delete": "post",
		"/password/reset": "post", "/password/change": "post", "/recovery": "post", "/recovery/confirmation": "post", "/step-up": "post", "/step-up/confirmation": "post",
		"/logins/{id}/challenge": "post", "/logins/{id}": "post",
		"/approvals": "get", "/approvals/{id}/challenge": "post", "/approvals/{id}": "post",
		"/transfers": "post", "/transfers/approval": "post", "/transfers/redemption": "post"}
	for path, methods := range routes {
		for _, method := range strings.Fields(methods) {
			if _, ok := doc.Paths[path][method]; !ok {
				t.Errorf("openapi.yaml does not describe %s %s", strings.ToUpper(method), path)
			}
		}
	}
	if len(doc.Paths) != len(routes) {
		t.Errorf("openapi.yaml describes %d paths, the handler serves %d", len(doc.Paths), len(routes))
	}
	h := New(Config{}, nil, nil, nil, nil, nil, quiet).Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, Prefix+"openapi.yaml", nil))
	if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), OpenAPI) {
		t.Fatalf("serving openapi.yaml: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, Prefix+"registrations", nil))
	if rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET registrations: %d", rec.Code)
	}
}
