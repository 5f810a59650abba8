package server_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/pforte-id/pforte/cmd/pforte/server/servertest"
)

// A client error is the client's or the member's mistake: the request log
// writes it at INFO with the reason code of the answer, never at WARN,
// which is for what an operator should look at. Durations carry their
// unit (duration_ms).
func TestClientErrorsLogAtInfoWithReason(t *testing.T) {
	s := servertest.Start(t)
	startLines := len(strings.Split(s.Logs.String(), "\n")) - 1
	for _, req := range []struct {
		method, path, body string
		status             int
	}{
		// The app API's problem documents: an unknown login request.
		{"POST", "/app/v1/logins/no-such-request/challenge", "{}", http.StatusNotFound},
		// The OIDC adapter's JSON errors.
		{"GET", "/userinfo", "", http.StatusUnauthorized},
		// The authorization endpoint's error page for an unknown client.
		{"GET", "/authorize?client_id=nope&response_type=code", "", http.StatusBadRequest},
	} {
		r, err := http.NewRequest(req.method, s.URL+req.path, strings.NewReader(req.body))
		if err != nil {
			t.Fatal(err)
		}
		if req.body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != req.status {
			t.Fatalf("%s %s: status %d, want %d", req.method, req.path, resp.StatusCode, req.status)
		}
	}
	lines := strings.Split(s.Logs.String(), "\n")[startLines:]
	seen := map[string]bool{}
	for sc := bufio.NewScanner(strings.NewReader(strings.Join(lines, "\n"))); sc.Scan(); {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if l["level"] == "WARN" || l["level"] == "ERROR" {
			t.Errorf("a client error logged at %s: %s", l["level"], sc.Text())
		}
		if l["msg"] != "http request" {
			continue
		}
		path, _ := l["path"].(string)
		seen[path] = true
		if l["level"] != "INFO" {
			t.Errorf("request line at %v: %s", l["level"], sc.Text())
		}
		if reason, _ := l["reason"].(string); reason == "" {
			t.Errorf("request line without its reason code: %s", sc.Text())
		}
		if _, ok := l["duration_ms"].(float64); !ok || l["duration"] != nil {
			t.Errorf("request line without duration_ms: %s", sc.Text())
		}
	}
	for _, p := range []string{"/app/v1/logins/no-such-request/challenge", "/userinfo", "/authorize"} {
		if !seen[p] {
			t.Errorf("no request line for %s in\n%s", p, strings.Join(lines, "\n"))
		}
	}
}
