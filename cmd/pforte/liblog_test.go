package main

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// zitadel/oidc logs a refused request at WARN through the default logger;
// serve's default logger passes it on at INFO with its OAuth error code,
// and keeps server errors at ERROR.
func TestLibraryRefusalsLogAtInfo(t *testing.T) {
	prev := slog.Default()
	t.Cleanup(func() { slog.SetDefault(prev) })
	for _, tc := range []struct {
		name  string
		level slog.Level // of the configured log
		err   error
		want  string // level of the line; empty: no line
	}{
		{"invalid client", slog.LevelInfo, oidc.ErrInvalidClient().WithDescription("client authentication failed"), "INFO"},
		{"invalid grant", slog.LevelInfo, op.NewStatusError(oidc.ErrInvalidGrant(), http.StatusBadRequest), "INFO"},
		{"unavailable", slog.LevelInfo, op.NewStatusError(&oidc.Error{ErrorType: "temporarily_unavailable"}, http.StatusServiceUnavailable), "WARN"},
		{"server error", slog.LevelInfo, errors.New("database gone"), "ERROR"},
		{"refusal at log level warn", slog.LevelWarn, oidc.ErrInvalidClient(), ""},
	} {
		var out strings.Builder
		slog.SetDefault(slog.New(libraryHandler{slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: tc.level})}))
		op.WriteError(httptest.NewRecorder(), httptest.NewRequest("POST", "/token", nil), tc.err, nil)
		if tc.want == "" {
			if out.Len() != 0 {
				t.Errorf("%s: %s", tc.name, out.String())
			}
			continue
		}
		var l struct {
			Level     string         `json:"level"`
			OIDCError map[string]any `json:"oidc_error"`
		}
		if err := json.Unmarshal([]byte(out.String()), &l); err != nil {
			t.Fatalf("%s: %q: %v", tc.name, out.String(), err)
		}
		if l.Level != tc.want || l.OIDCError["type"] == nil {
			t.Errorf("%s: %s, want level %s and the error's type", tc.name, out.String(), tc.want)
		}
	}
}
