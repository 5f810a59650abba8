package webui

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestBrowserOf(t *testing.T) {
	for ua, want := range map[string]string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36":                           "Chrome, Linux",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0":                                                        "Firefox, Windows",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36 Edg/131.0":                   "Edge, Windows",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1": "Safari, iOS",
		"Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36":                       "Chrome, Android",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15":                      "Safari, macOS",
		"curl/8.5.0": "Browser",
		"":           "Browser",
	} {
		if got := browserOf(ua); got != want {
			t.Errorf("browserOf(%q) = %q, want %q", ua, got, want)
		}
	}
}

// The approval page alone may run a script, and only Pforte's own file;
// every other page runs none.
func TestOnlyTheApprovalPageRunsAScript(t *testing.T) {
	u := &UI{log: slog.New(slog.DiscardHandler)}
	for _, tc := range []struct {
		page   string
		v      view
		script bool
	}{
		{"approval.html", view{Number: "47", redirectURI: "https://forms.example/cb", script: true}, true},
		{"login.html", view{redirectURI: "https://forms.example/cb"}, false},
		{"nodevice.html", view{}, false},
		{"level.html", view{}, false},
	} {
		rec := httptest.NewRecorder()
		u.render(rec, httptest.NewRequest(http.MethodGet, "/login", nil), http.StatusOK, tc.page, tc.v)
		csp := rec.Header().Get("Content-Security-Policy")
		hasScript := strings.Contains(csp, "script-src 'self'") && strings.Contains(csp, "connect-src 'self'")
		if hasScript != tc.script || !strings.HasPrefix(csp, "default-src 'none'") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: policy %q", tc.page, csp)
		}
		body := rec.Body.String()
		if strings.Contains(body, "<script") != tc.script || strings.Contains(body, "http-equiv") ||
			(tc.script && !strings.Contains(body, `<script src="/login/approval.js" defer></script>`)) {
			t.Errorf("%s: scripts in the page: %s", tc.page, body)
		}
	}
}
