package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/pforte-id/pforte/catalog"
	"github.com/pforte-id/pforte/core/pin"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/applogin"
	"github.com/pforte-id/pforte/core/device"

	"github.com/pforte-id/pforte/core/fault"
)

// fakeLogins answers with what a test sets and records what it was asked.
type fakeLogins struct {
	options  []byte
	redirect string
	// reconfirmBy is the completed login's re-confirmation date.
	reconfirmBy time.Time
	err         error
	got         []string
}

func (f *fakeLogins) Begin(_ context.Context, authRequestID, bindingID string) (string, []byte, error) {
	f.got = append(f.got, "begin "+authRequestID+" "+bindingID)
	if f.err != nil {
		return "", nil, f.err
	}
	return "challenge-1", f.options, nil
}

func (f *fakeLogins) CompleteLogin(_ context.Context, authRequestID, challengeID string, assertion []byte, pin, ip string) (applogin.Completed, error) {
	f.got = append(f.got, "complete "+authRequestID+" "+challengeID+" "+string(assertion)+" "+pin+" "+ip)
	return applogin.Completed{RedirectURI: f.redirect, ReconfirmBy: f.reconfirmBy}, f.err
}

func (f *fakeLogins) ErrorRedirect(r fault.Redirect, code, description string) string {
	return r.URI + "?" + url.Values{"error": {code}, "error_description": {description}, "state": {r.State}}.Encode()
}

func serveLogin(t *testing.T, f *fakeLogins, path, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, Prefix+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	req.RemoteAddr = "203.0.113.9:4711"
	rec := httptest.NewRecorder()
	New(Config{}, nil, nil, f, nil, nil, quiet).Handler().ServeHTTP(rec, req)
	return rec
}

func TestLoginChallenge(t *testing.T) {
	f := &fakeLogins{options: []byte(`{"publicKey":{"challenge":"abc"}}`)}
	rec := serveLogin(t, f, "logins/req-1/challenge", `{"binding_id":"b-1"}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var out challengeResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if out.ChallengeID != "challenge-1" || string(out.Options) != string(f.options) || out.ExpiresIn != 180 {
		t.Fatalf("answer %s", rec.Body)
	}
	if len(f.got) != 1 || f.got[0] != "begin req-1 b-1" {
		t.Fatalf("calls %v", f.got)
	}
	for name, body := range map[string]string{
		"unknown field": `{"binding_id":"b-1","pin":"123456"}`, "not JSON": `binding_id=b-1`, "wrong type": `{"binding_id":1}`,
	} {
		if rec := serveLogin(t, f, "logins/req-1/challenge", body); rec.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d", name, rec.Code)
		}
	}
	f.err = fault.Coded(fault.Forbidden, "applogin.Begin", "login.not_app")
	rec = serveLogin(t, f, "logins/req-1/challenge", `{"binding_id":"b-1"}`)
	var p problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Code != http.StatusForbidden || p.Code != "login.not_app" ||
		p.Detail != catalog.German.Code("login.not_app") || !strings.Contains(p.Detail, "nicht in der App") ||
		rec.Header().Get("Content-Language") != "de" {
		t.Fatalf("refused: %d %s", rec.Code, rec.Body)
	}
}

// TestProblemInTheRequestedLanguage: the detail of a problem document is
// the catalog's text in the language Accept-Language asks for, German
// unless English is preferred; the code stays the same.
func TestProblemInTheRequestedLanguage(t *testing.T) {
	f := &fakeLogins{err: fault.Coded(fault.Unauthenticated, "binding.AuthenticateLogin", pin.CodeWrong, 2)}
	f.err.(*fault.Error).Remaining = 2
	for header, want := range map[string]string{
		"":                          "Die PIN ist falsch. Verbleibende Versuche: 2.",
		"en":                        "The PIN is wrong. Attempts left: 2.",
		"en-GB,en;q=0.9,de;q=0.5":   "The PIN is wrong. Attempts left: 2.",
		"de-DE,de;q=0.9,en;q=0.8":   "Die PIN ist falsch. Verbleibende Versuche: 2.",
		"fr-FR":                     "Die PIN ist falsch. Verbleibende Versuche: 2.",
		"fr;q=0.9, en;q=0.5":        "The PIN is wrong. Attempts left: 2.",
		"not a ; language header,,": "Die PIN ist falsch. Verbleibende Versuche: 2.",
	} {
		rec := serveLogin(t, f, "logins/req-1", `{"challenge_id":"ch-1","assertion":{"id":"k"},"pin":"583920"}`, "Accept-Language", header)
		var p problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Code != http.StatusUnauthorized {
			t.Fatalf("%q: %d %s", header, rec.Code, rec.Body)
		}
		if p.Detail != want || p.Code != string(pin.CodeWrong) || p.Kind != "unauthenticated" {
			t.Errorf("Accept-Language %q: %+v, want detail %q", header, p, want)
		}
		if rec.Header().Get("Pforte-PIN-Attempts-Remaining") != "2" || !strings.Contains(rec.Header().Get("Vary"), "Accept-Language") {
			t.Errorf("Accept-Language %q: headers %v", header, rec.Header())
		}
	}
}

func TestLoginComplete(t *testing.T) {
	const cb = "http://127.0.0.1:4000/callback"
	for _, tc := range []struct {
		name     string
		redirect string
		err      error
		status   int
		want     string // in the redirect_uri, or the problem kind
	}{
		{"code", cb + "?code=c&state=s&iss=x", nil, http.StatusOK, "code=c"},
		{"level not reachable", "", fault.New(fault.Forbidden, "applogin.Complete", "This service requires the level of assurance high.").
			WithRedirect(fault.Redirect{URI: cb, State: "s"}),
			http.StatusOK, "error=access_denied"},
		{"max_age", "", fault.New(fault.Unauthenticated, "authz.CompleteLogin", "the authentication is older than max_age").
			WithRedirect(fault.Redirect{URI: cb, State: "s"}),
			http.StatusOK, "error=login_required"},
		{"wrong PIN", "", fault.New(fault.Unauthenticated, "binding.AuthenticateLogin", "Die PIN ist falsch."), http.StatusUnauthorized, "unauthenticated"},
		{"blocked", "", fault.New(fault.Locked, "binding.AuthenticateLogin", "gesperrt"), http.StatusLocked, "locked"},
		{"web client", "", fault.New(fault.Forbidden, "applogin.Complete", "im Browser"), http.StatusForbidden, "forbidden"},
		{"request expired", "", fault.New(fault.Expired, "authz.PendingLogin", "abgelaufen"), http.StatusGone, "expired"},
		{"request completed", "", fault.New(fault.Conflict, "authz.PendingLogin", "abgeschlossen"), http.StatusConflict, "conflict"},
		{"database down", "", fault.Wrap(fault.Unavailable, "store", errors.New("connection refused")), http.StatusServiceUnavailable, "unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeLogins{redirect: tc.redirect, err: tc.err}
			rec := serveLogin(t, f, "logins/req-1", `{"challenge_id":"ch-1","assertion":{"id":"k"},"pin":"583920"}`)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", rec.Header().Get("Cache-Control"))
			}
			if len(f.got) != 1 || f.got[0] != `complete req-1 ch-1 {"id":"k"} 583920 203.0.113.9` {
				t.Fatalf("calls %v", f.got)
			}
			if tc.status != http.StatusOK {
				var p problem
				if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Kind != tc.want {
					t.Fatalf("problem %s", rec.Body)
				}
				if strings.Contains(rec.Body.String(), "connection refused") {
					t.Fatalf("the cause leaks: %s", rec.Body)
				}
				return
			}
			var out map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || len(out) != 1 {
				t.Fatalf("answer %s", rec.Body)
			}
			u, err := url.Parse(out["redirect_uri"])
			if err != nil || u.Scheme+"://"+u.Host+u.Path != cb || !strings.Contains(u.RawQuery, tc.want) {
				t.Fatalf("redirect_uri %q, want %s", out["redirect_uri"], tc.want)
			}
		})
	}
	f := &fakeLogins{}
	if rec := serveLogin(t, f, "logins/req-1", `{"challenge_id":"ch-1","assertion":{},"pin":"583920","extra":1}`); rec.Code != http.StatusBadRequest || len(f.got) != 0 {
		t.Fatalf("unknown field: %d, calls %v", rec.Code, f.got)
	}
}

// TestLoginReconfirm: a completed login tells the app when the device
// needs a re-confirmation; a login refused because it is due says how
// to confirm it, in the member's language.
func TestLoginReconfirm(t *testing.T) {
	by := time.Date(2027, 6, 8, 10, 0, 0, 0, time.FixedZone("CEST", 7200))
	f := &fakeLogins{redirect: "http://127.0.0.1:4000/callback?code=c", reconfirmBy: by}
	rec := serveLogin(t, f, "logins/req-1", `{"challenge_id":"ch-1","assertion":{"id":"k"},"pin":"583920"}`)
	var out map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("answer %d %s", rec.Code, rec.Body)
	}
	if out["reconfirm_by"] != "2027-06-08T08:00:00Z" {
		t.Fatalf("reconfirm_by %q", out["reconfirm_by"])
	}
	for code, status := range map[string]int{string(device.CodeReconfirmPassword): http.StatusForbidden, string(device.CodeReconfirmEID): http.StatusForbidden} {
		f := &fakeLogins{err: fault.Coded(fault.Forbidden, "binding.BeginLogin", fault.Code(code))}
		rec := serveLogin(t, f, "logins/req-1/challenge", `{"binding_id":"b-1"}`, "Accept-Language", "en")
		var p problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Code != status || p.Code != code ||
			p.Detail != catalog.English.Code(fault.Code(code)) || !strings.Contains(p.Detail, "confirm this device again") {
			t.Fatalf("%s: %d %s", code, rec.Code, rec.Body)
		}
	}
}
