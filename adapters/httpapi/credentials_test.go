package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/pin"
)

// fakeCredentials records the calls of the credential endpoints and
// answers with err.
type fakeCredentials struct {
	err error
	got []string
}

func (f *fakeCredentials) ChangePIN(_ context.Context, challengeID string, response []byte, currentPIN, newPIN, ip string) error {
	f.got = append(f.got, strings.Join([]string{"pin", challengeID, string(response), currentPIN, newPIN, ip}, " "))
	return f.err
}

func (f *fakeCredentials) ResetPassword(_ context.Context, challengeID string, response []byte, p, newPassword, ip string) error {
	f.got = append(f.got, strings.Join([]string{"reset", challengeID, string(response), p, newPassword, ip}, " "))
	return f.err
}

func (f *fakeCredentials) ChangePassword(_ context.Context, challengeID string, response []byte, p, current, newPassword, ip string) error {
	f.got = append(f.got, strings.Join([]string{"change", challengeID, string(response), p, current, newPassword, ip}, " "))
	return f.err
}

func serveCredentials(f *fakeCredentials, path, contentType, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, Prefix+path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.RemoteAddr = "203.0.113.9:4711"
	a := New(Config{}, nil, nil, nil, nil, nil, quiet)
	a.creds = f
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, req)
	return rec
}

const proofJSON = `{"challenge_id":"c-1","assertion":{"id":"k"},"pin":"583920"}`

func TestCredentialEndpoints(t *testing.T) {
	for _, tc := range []struct {
		path, body, want string
	}{
		{"pin/change", `{"proof":` + proofJSON + `,"new_pin":"271836"}`, `pin c-1 {"id":"k"} 583920 271836 203.0.113.9`},
		{"password/reset", `{"proof":` + proofJSON + `,"new_password":"Kranichflug über der Elbe"}`,
			`reset c-1 {"id":"k"} 583920 Kranichflug über der Elbe 203.0.113.9`},
		{"password/change", `{"proof":` + proofJSON + `,"current_password":"alt und vergessen","new_password":"Kranichflug über der Elbe"}`,
			`change c-1 {"id":"k"} 583920 alt und vergessen Kranichflug über der Elbe 203.0.113.9`},
	} {
		f := &fakeCredentials{}
		rec := serveCredentials(f, tc.path, "application/json", tc.body)
		if rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
			t.Fatalf("%s: %d %s", tc.path, rec.Code, rec.Body)
		}
		if len(f.got) != 1 || f.got[0] != tc.want {
			t.Fatalf("%s: calls %q", tc.path, f.got)
		}
	}
}

// TestCredentialEndpointsRefuseBadBodies: malformed, oversized or
// misdirected bodies are refused before any use case runs, so nothing is
// counted or changed.
func TestCredentialEndpointsRefuseBadBodies(t *testing.T) {
	big := strings.Repeat("x", 20<<10)
	for _, tc := range []struct {
		name, path, contentType, body string
		status                        int
		code                          string
	}{
		{"form", "password/reset", "application/x-www-form-urlencoded", "new_password=x", 400, "api.content_type"},
		{"no content type", "pin/change", "", `{"new_pin":"271836"}`, 400, "api.content_type"},
		{"not JSON", "password/change", "application/json", `proof=1`, 400, "api.json"},
		{"truncated", "password/reset", "application/json", `{"proof":{"challenge_id":"c-1"`, 400, "api.json"},
		{"two objects", "pin/change", "application/json", `{"new_pin":"271836"}{"new_pin":"271836"}`, 400, "api.trailing"},
		{"wrong type", "password/reset", "application/json", `{"proof":` + proofJSON + `,"new_password":12345678901}`, 400, "api.json"},
		{"PIN as a number", "pin/change", "application/json", `{"proof":{"challenge_id":"c-1","assertion":{},"pin":583920},"new_pin":"271836"}`, 400, "api.json"},
		{"unknown field", "pin/change", "application/json", `{"proof":` + proofJSON + `,"new_pin":"271836","password":"x"}`, 400, "api.json"},
		{"current password in a reset", "password/reset", "application/json",
			`{"proof":` + proofJSON + `,"current_password":"x","new_password":"Kranichflug über der Elbe"}`, 400, "api.json"},
		{"oversized", "password/reset", "application/json", `{"proof":` + proofJSON + `,"new_password":"` + big + `"}`, 413, "api.too_large"},
		{"oversized assertion", "password/change", "application/json", `{"proof":{"challenge_id":"c-1","assertion":"` + big + `","pin":"583920"}}`, 413, "api.too_large"},
	} {
		f := &fakeCredentials{}
		rec := serveCredentials(f, tc.path, tc.contentType, tc.body)
		var p struct {
			Code string `json:"code"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &p)
		if rec.Code != tc.status || p.Code != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, rec.Code, p.Code, tc.status, tc.code)
		}
		if len(f.got) != 0 {
			t.Errorf("%s: the use case ran: %q", tc.name, f.got)
		}
		if strings.Contains(rec.Body.String(), "Kranichflug") || strings.Contains(rec.Body.String(), "583920") {
			t.Errorf("%s: a secret in the answer: %s", tc.name, rec.Body)
		}
	}
	for _, m := range []string{http.MethodGet, http.MethodPut} {
		req := httptest.NewRequest(m, Prefix+"password/reset", nil)
		rec := httptest.NewRecorder()
		New(Config{}, nil, nil, nil, nil, nil, quiet).Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusMethodNotAllowed && rec.Code != http.StatusNotFound {
			t.Errorf("%s password/reset: %d", m, rec.Code)
		}
	}
}

// TestCredentialProblems: the use case's refusals become the API's
// problems, with the PIN headers the app shows.
func TestCredentialProblems(t *testing.T) {
	retry := time.Date(2026, 3, 2, 10, 5, 0, 0, time.UTC)
	remaining := func(e *fault.Error, n int) *fault.Error {
		e.Remaining = n
		return e
	}
	for _, tc := range []struct {
		name      string
		err       error
		status    int
		remaining string
	}{
		{"wrong PIN", remaining(fault.Coded(fault.Unauthenticated, "binding.ResetPassword", pin.CodeWrong), 3), 401, "3"},
		{"blocked", fault.Coded(fault.Locked, "binding.ResetPassword", pin.CodeBlocked), 423, "0"},
		{"too early", remaining(fault.Coded(fault.RateLimited, "binding.ResetPassword", pin.CodeWait), 2).WithRetry(retry, time.Minute), 429, "2"},
		{"revoked", fault.Coded(fault.Forbidden, "binding.ResetPassword", "device.gone"), 403, ""},
		{"weak password", fault.Coded(fault.Invalid, "password.Check", "password.common"), 400, ""},
		{"wrong current password", fault.Coded(fault.Unauthenticated, "binding.ChangePassword", "password.wrong"), 401, ""},
	} {
		f := &fakeCredentials{err: tc.err}
		rec := serveCredentials(f, "password/reset", "application/json", `{"proof":`+proofJSON+`,"new_password":"Kranichflug über der Elbe"}`)
		if rec.Code != tc.status || rec.Header().Get("Pforte-PIN-Attempts-Remaining") != tc.remaining {
			t.Errorf("%s: %d, remaining %q: %s", tc.name, rec.Code, rec.Header().Get("Pforte-PIN-Attempts-Remaining"), rec.Body)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%s: content type %q", tc.name, ct)
		}
	}
}

// TestRecoveryRefusesBeforeTheUseCase: the recovery endpoints refuse a
// missing token, bad bodies and a server without an eID service before
// any device or proof is looked at (the API has no use cases here: a call
// that reached one would panic).
func TestRecoveryRefusesBeforeTheUseCase(t *testing.T) {
	serve := func(cfg Config, path, auth, body string) (int, string) {
		req := httptest.NewRequest(http.MethodPost, Prefix+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		New(cfg, nil, nil, nil, nil, nil, quiet).Handler().ServeHTTP(rec, req)
		var p struct {
			Code string `json:"code"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &p)
		return rec.Code, p.Code
	}
	eid := Config{EIDCallbackURL: "https://id.example/eid/callback"}
	begin := `{"challenge_id":"c-1","assertion":{},"return_uri":"de.example.app:/eid","code_challenge":"x","code_challenge_method":"S256"}`
	for _, tc := range []struct {
		name             string
		cfg              Config
		path, auth, body string
		status           int
		code             string
	}{
		{"no eID service", Config{}, "recovery", "", begin, 400, "registration.unknown_method"},
		{"plain challenge", eid, "recovery", "", strings.Replace(begin, "S256", "plain", 1), 400, "proofing.code_challenge"},
		{"PIN in the begin", eid, "recovery", "", strings.Replace(begin, `"assertion":{}`, `"assertion":{},"pin":"583920"`, 1), 400, "api.json"},
		{"oversized begin", eid, "recovery", "", strings.Replace(begin, `"x"`, `"`+strings.Repeat("x", 20<<10)+`"`, 1), 413, "api.too_large"},
		{"no token", eid, "recovery/confirmation", "", `{"code":"c","code_verifier":"v"}`, 401, "enrollment.token_missing"},
		{"basic auth", eid, "recovery/confirmation", "Basic YTpi", `{"code":"c","code_verifier":"v"}`, 401, "enrollment.token_missing"},
		{"unknown field", eid, "recovery/confirmation", "Bearer t", `{"code":"c","kvnr":"A123456780"}`, 400, "api.json"},
		{"truncated", eid, "recovery/confirmation", "Bearer t", `{"code":"c"`, 400, "api.json"},
		{"confirmation without an eID service", Config{}, "recovery/confirmation", "Bearer t", `{"code":"c","code_verifier":"v"}`, 400, "registration.unknown_method"},
	} {
		if status, code := serve(tc.cfg, tc.path, tc.auth, tc.body); status != tc.status || code != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, status, code, tc.status, tc.code)
		}
	}
}
