package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/webauthn"
	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/cmd/pforte/server/servertest"
	"github.com/pforte-id/pforte/core/client"
)

// scrape reads the server's metrics as the admin listener serves them.
func scrape(t *testing.T, s *servertest.Server) string {
	t.Helper()
	rec := httptest.NewRecorder()
	s.Metrics().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	b, _ := io.ReadAll(rec.Result().Body)
	return string(b)
}

// value is the value of the series line that starts with series, or -1.
func value(text, series string) float64 {
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(rest, 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

// TestMetrics drives requests and a client credentials login through the
// public handler and reads what the metrics say: routes are the registered
// patterns (never a raw path or an id from it), the login is counted, and
// the public listener has no /metrics.
func TestMetrics(t *testing.T) {
	secret := client.GenerateSecret()
	s := servertest.Start(t, func(o *server.Options) {
		h, err := server.SecretHasher(o.MasterKey)
		if err != nil {
			t.Fatal(err)
		}
		o.Clients = append(o.Clients, client.Client{
			ID: "metrics-service", Name: "Metrics Service", Kind: client.Service, AuthMethod: client.AuthSecretPost,
			SecretHash: h.Hash(secret), GrantTypes: []string{client.GrantClientCredentials}, Scopes: []string{"claims.read"},
		})
	})
	before := scrape(t, s)
	const cc = `pforte_logins_total{method="client_credentials",outcome="success"}`
	const refused = `pforte_logins_total{method="client_credentials",outcome="failure"}`
	if value(before, cc) != 0 || value(before, refused) != 0 {
		t.Fatalf("before any login: %v and %v, want 0 series present", value(before, cc), value(before, refused))
	}

	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(path string, form url.Values) int {
		resp, err := hc.PostForm(s.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	get := func(path string) int {
		resp, err := hc.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"metrics-service"}, "client_secret": {secret}}); code != http.StatusOK {
		t.Fatalf("client credentials: %d", code)
	}
	if code := post("/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"metrics-service"}, "client_secret": {secret}, "scope": {strings.Repeat("s", 3000)}}); code != http.StatusBadRequest {
		t.Fatalf("client credentials with an oversized scope: %d", code)
	}
	get("/.well-known/openid-configuration")
	post("/app/v1/logins/secret-looking-id-4711/challenge", url.Values{})
	get("/no/such/path-0815")
	if code := get("/metrics"); code != http.StatusNotFound {
		t.Errorf("the public listener answers /metrics with %d, want 404", code)
	}

	after := scrape(t, s)
	if v := value(after, cc); v != 1 {
		t.Errorf("%s = %v after one client credentials login, want 1", cc, v)
	}
	if v := value(after, refused); v != 1 {
		t.Errorf("%s = %v after one refused request, want 1", refused, v)
	}
	for _, series := range []string{
		`pforte_http_request_duration_seconds_count{route="/token",status="2xx"}`,
		`pforte_http_request_duration_seconds_count{route="/token",status="4xx"}`,
		`pforte_http_request_duration_seconds_count{route="/.well-known/openid-configuration",status="2xx"}`,
		`pforte_http_request_duration_seconds_count{route="POST /app/v1/logins/{id}/challenge",status="4xx"}`,
	} {
		if v := value(after, series); v != 1 {
			t.Errorf("%s = %v, want 1", series, v)
		}
	}
	// Unknown paths fall to the catch-all of the OIDC endpoints: one
	// series for all of them, whatever was asked for.
	if v := value(after, `pforte_http_request_duration_seconds_count{route="/",status="4xx"}`); v != 2 {
		t.Errorf("unknown paths: %v, want 2 (/no/such/path-0815 and /metrics)", v)
	}
	// Only the series' names and labels are searched: a sample's value may
	// well contain the digits 0815.
	for line := range strings.Lines(after) {
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		series, _, labeled := strings.Cut(line, "} ")
		if !labeled {
			series = strings.Fields(line)[0]
		}
		for _, raw := range []string{"4711", "0815", "secret-looking"} {
			if strings.Contains(series, raw) {
				t.Errorf("a raw path became a label: %q is in %s", raw, line)
			}
		}
	}
	for _, name := range []string{"go_sql_open_connections", "pforte_letters", "pforte_signing_key_age_seconds", "go_goroutines"} {
		if !regexp.MustCompile(`(?m)^` + name + `[{ ]`).MatchString(after) {
			t.Errorf("the metrics lack %s", name)
		}
	}
	if v := value(after, `pforte_letters{state="handed_over"}`); v != 0 {
		t.Errorf("letters handed over: %v, want 0", v)
	}
	if v := value(after, `pforte_signing_key_age_seconds{state="active"}`); v < 0 {
		t.Errorf("active key age: %v", v)
	}
}

// TestRevocationListMetric: the age of the Android attestation status list
// is exported when one is configured, counted from the file's modification
// time, and follows the operator's refresh.
func TestRevocationListMetric(t *testing.T) {
	path := filepath.Join(t.TempDir(), "status.json")
	if err := os.WriteFile(path, []byte(`{"entries": {}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	written := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	if err := os.Chtimes(path, written, written); err != nil {
		t.Fatal(err)
	}
	list, err := webauthn.OpenRevocationList(path)
	if err != nil {
		t.Fatal(err)
	}
	var now time.Time
	s := servertest.Start(t, func(o *server.Options) {
		o.Devices.Revocations = list
		clock := o.Now
		if clock == nil {
			clock = time.Now
		}
		now = clock()
		o.Now = func() time.Time { return now }
	})
	const series = "pforte_android_revocation_list_age_seconds"
	if v := value(scrape(t, s), series); v != now.Sub(written).Seconds() {
		t.Errorf("age %v, want %v", v, now.Sub(written).Seconds())
	}
	refreshed := now.Add(-time.Hour)
	if err := os.Chtimes(path, refreshed, refreshed); err != nil {
		t.Fatal(err)
	}
	if v := value(scrape(t, s), series); v != 3600 {
		t.Errorf("after a refresh: age %v, want 3600", v)
	}
	if v := value(scrape(t, servertest.Start(t)), series); v != -1 {
		t.Errorf("exported without a list: %v", v)
	}
}
