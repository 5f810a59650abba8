package ops

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

func TestHandler(t *testing.T) {
	var notReady error
	h := Handler(func(context.Context) error { return notReady }, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("pforte_up 1\n"))
	}))

	if code, _ := get(t, h, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d", code)
	}
	if code, _ := get(t, h, "/readyz"); code != http.StatusOK {
		t.Errorf("/readyz when ready: %d", code)
	}
	notReady = errors.New("database down")
	if code, body := get(t, h, "/readyz"); code != http.StatusServiceUnavailable || strings.Contains(body, "database") {
		t.Errorf("/readyz when not ready: %d %q (the cause stays in the server)", code, body)
	}

	code, body := get(t, h, "/debug/pprof/")
	if code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("pprof index: %d %.80q", code, body)
	}
	if code, body := get(t, h, "/debug/pprof/heap?debug=1"); code != http.StatusOK || !strings.Contains(body, "heap profile") {
		t.Errorf("heap profile: %d %.80q", code, body)
	}
	if code, _ := get(t, h, "/nope"); code != http.StatusNotFound {
		t.Errorf("unknown path: %d", code)
	}
	if code, body := get(t, h, "/metrics"); code != http.StatusOK || body != "pforte_up 1\n" {
		t.Errorf("/metrics: %d %q", code, body)
	}
	if code, _ := get(t, Handler(nil, nil), "/readyz"); code != http.StatusOK {
		t.Errorf("/readyz without a check: %d", code)
	}
	if code, _ := get(t, Handler(nil, nil), "/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics without metrics: %d", code)
	}
}
