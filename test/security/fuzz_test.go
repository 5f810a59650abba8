package security

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pforte-id/pforte/adapters/httpapi"
	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/cmd/pforte/server/servertest"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/loa"
)

// The fuzz targets of this file send arbitrary requests to the endpoints a
// client reaches from the internet: token, PAR, authorize, introspection
// and the app API. Whatever arrives, the answer is a client error or a
// success, never a 5xx (a 500 is a bug, and a 503 here would claim an
// outage that is not there), an error answer names an error from the
// protocol's closed set, and no redirect leads anywhere but to Pforte or
// to a registered redirect URI.

const (
	webID, webRedirect = "fuzz-web", "https://forms.example/callback"
	appID, appRedirect = "fuzz-app", "http://127.0.0.1/callback"
	svcID              = "fuzz-service"
)

// target is a server for fuzzing and the credentials of its clients.
type target struct {
	handler   http.Handler
	url       string
	webSecret string
	svcSecret string
	remote    atomic.Uint32
}

// newTarget starts a server with a web form (client_secret_basic), the
// app (public, DPoP) and a service (client_credentials), logging nothing:
// a fuzz run sends millions of requests.
func newTarget(f *testing.F) *target {
	// The protocol library logs each refused request through slog's
	// default logger; a fuzz run makes millions.
	slog.SetDefault(slog.New(slog.DiscardHandler))
	tg := &target{webSecret: client.GenerateSecret(), svcSecret: client.GenerateSecret()}
	srv := servertest.Start(f, func(o *server.Options) {
		o.Log = slog.New(slog.DiscardHandler)
		hasher, err := server.SecretHasher(o.MasterKey)
		if err != nil {
			f.Fatal(err)
		}
		scopes := []string{"openid", "profile", "email", "kvnr", "offline_access"}
		o.Clients = []client.Client{
			{ID: webID, Name: "Formular", Kind: client.Web, AuthMethod: client.AuthSecretBasic, SecretHash: hasher.Hash(tg.webSecret),
				RedirectURIs: []string{webRedirect}, GrantTypes: []string{client.GrantCode, client.GrantRefresh}, Scopes: scopes,
				MinACR: loa.Low, IntrospectionAudiences: []string{svcID}},
			{ID: appID, Name: "App", Kind: client.Native, AuthMethod: client.AuthNone, RedirectURIs: []string{appRedirect},
				GrantTypes: []string{client.GrantCode, client.GrantRefresh}, Scopes: scopes, RequireDPoP: true},
			{ID: svcID, Name: "Dienst", Kind: client.Service, AuthMethod: client.AuthSecretPost, SecretHash: hasher.Hash(tg.svcSecret),
				GrantTypes: []string{client.GrantClientCredentials}, Scopes: []string{"claims.read"}},
		}
	})
	tg.handler, tg.url = srv.Handler(), srv.URL
	return tg
}

// do sends r in process, each from another client address so that the
// per-address limits do not turn the run into a run of 429s.
func (tg *target) do(r *http.Request) *http.Response {
	n := tg.remote.Add(1)
	r.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:40000", byte(n>>16), byte(n>>8), byte(n))
	w := httptest.NewRecorder()
	tg.handler.ServeHTTP(w, r)
	return w.Result()
}

// oauthErrors is the closed set of error codes Pforte's OAuth endpoints
// answer with (RFC 6749 §5.2, RFC 9126, RFC 9449, OpenID Connect Core).
var oauthErrors = map[string]bool{
	"invalid_request": true, "invalid_client": true, "invalid_grant": true, "unauthorized_client": true,
	"unsupported_grant_type": true, "invalid_scope": true, "invalid_dpop_proof": true, "use_dpop_nonce": true,
	"invalid_request_uri": true, "invalid_request_object": true, "request_not_supported": true,
	"request_uri_not_supported": true, "access_denied": true, "temporarily_unavailable": true,
	"unsupported_response_type": true, "invalid_target": true, "slow_down": true,
}

// checkAnswer fails t on a 5xx, and on an OAuth error answer outside the
// closed set.
func checkAnswer(t *testing.T, what string, resp *http.Response) []byte {
	t.Helper()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 500 {
		t.Fatalf("%s: %d %s", what, resp.StatusCode, body)
	}
	if resp.StatusCode >= 400 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error != "" && !oauthErrors[e.Error] {
			t.Fatalf("%s: error %q is not one of the protocol's: %s", what, e.Error, body)
		}
	}
	return body
}

func form(path, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// FuzzTokenRequest fuzzes the token endpoint's form, with the web form's
// real credentials, with none, or with a fuzzed Authorization header.
func FuzzTokenRequest(f *testing.F) {
	tg := newTarget(f)
	f.Add("grant_type=authorization_code&code=abc&redirect_uri="+url.QueryEscape(webRedirect)+"&code_verifier=x", uint8(0), "")
	f.Add("grant_type=refresh_token&refresh_token=abc", uint8(0), "")
	f.Add("grant_type=client_credentials&scope=claims.read&client_id="+svcID+"&client_secret="+tg.svcSecret, uint8(1), "")
	f.Add("grant_type=authorization_code&client_id="+appID+"&code=x&code_verifier="+strings.Repeat("a", 43), uint8(1), "")
	f.Add("grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=a.b.c", uint8(2), "Basic Og==")
	f.Add("client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=..", uint8(2), "Bearer x")
	f.Add("%zz&&==", uint8(2), "Basic "+strings.Repeat("A", 5000))
	f.Fuzz(func(t *testing.T, body string, auth uint8, header string) {
		r := form("/token", body)
		switch auth % 3 {
		case 0:
			r.SetBasicAuth(webID, tg.webSecret)
		case 2:
			r.Header.Set("Authorization", header)
		}
		resp := tg.do(r)
		b := checkAnswer(t, "token", resp)
		if resp.StatusCode == http.StatusOK {
			var tok struct {
				AccessToken string `json:"access_token"`
			}
			if json.Unmarshal(b, &tok) != nil || tok.AccessToken == "" {
				t.Fatalf("200 without an access token: %s", b)
			}
			// The only grant these inputs can complete is the service's.
			if !strings.Contains(body, tg.svcSecret) {
				t.Fatalf("a token without the service's secret: %q → %s", body, b)
			}
		}
	})
}

// FuzzPARRequest fuzzes a pushed authorization request of the web form.
func FuzzPARRequest(f *testing.F) {
	tg := newTarget(f)
	f.Add("response_type=code&scope=openid&redirect_uri=" + url.QueryEscape(webRedirect) +
		"&code_challenge=E9Melhoe2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=s&nonce=n")
	f.Add("response_type=code&scope=openid&redirect_uri=https://evil.example/&code_challenge=x&code_challenge_method=plain")
	f.Add("request_uri=urn:ietf:params:oauth:request_uri:abc")
	f.Add("request=eyJhbGciOiJub25lIn0.e30.&client_id=" + webID)
	f.Add("scope=" + strings.Repeat("openid ", 2000))
	f.Fuzz(func(t *testing.T, body string) {
		r := form("/par", body)
		r.SetBasicAuth(webID, tg.webSecret)
		resp := tg.do(r)
		b := checkAnswer(t, "par", resp)
		if resp.StatusCode == http.StatusCreated {
			var par struct {
				RequestURI string `json:"request_uri"`
			}
			if json.Unmarshal(b, &par) != nil || !strings.HasPrefix(par.RequestURI, "urn:ietf:params:oauth:request_uri:") {
				t.Fatalf("201 without a request_uri: %s", b)
			}
			// Accepted: then it named the registered redirect URI.
			if q, _ := url.ParseQuery(body); q.Get("redirect_uri") != webRedirect {
				t.Fatalf("pushed with redirect_uri %q: %s", q.Get("redirect_uri"), body)
			}
		}
	})
}

// FuzzAuthorizeRequest fuzzes the query of /authorize. Whatever it holds,
// a redirect goes to Pforte's own pages or to a registered redirect URI:
// anything else is an open redirect.
func FuzzAuthorizeRequest(f *testing.F) {
	tg := newTarget(f)
	good := url.Values{
		"client_id": {webID}, "response_type": {"code"}, "scope": {"openid"}, "redirect_uri": {webRedirect},
		"code_challenge": {"E9Melhoe2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}, "state": {"s"},
	}
	f.Add(good.Encode())
	f.Add(good.Encode() + "&prompt=none")
	f.Add(good.Encode() + "&redirect_uri=https://evil.example/")
	f.Add("client_id=" + appID + "&response_type=code&redirect_uri=http://127.0.0.1:9/callback&scope=openid&code_challenge=x")
	f.Add("client_id=" + webID + "&request_uri=urn:ietf:params:oauth:request_uri:x")
	f.Add("client_id=" + webID + "&redirect_uri=" + url.QueryEscape(webRedirect) + "&response_type=token&prompt=none&max_age=-1")
	f.Add("client_id=nobody&redirect_uri=https://evil.example/")
	f.Fuzz(func(t *testing.T, query string) {
		r := httptest.NewRequest(http.MethodGet, "/authorize", nil)
		r.URL.RawQuery = query
		resp := tg.do(r)
		checkAnswer(t, "authorize", resp)
		if loc := resp.Header.Get("Location"); resp.StatusCode >= 300 && resp.StatusCode < 400 {
			u, err := url.Parse(loc)
			if err != nil {
				t.Fatalf("redirect to an unparsable %q", loc)
			}
			target := u.Scheme + "://" + u.Host + u.Path
			own := !u.IsAbs() && strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//")
			// RFC 8252 §7.3: the app's loopback redirect URI matches on any port.
			loopback := u.Scheme == "http" && u.Hostname() == "127.0.0.1" && u.Path == "/callback"
			if !own && target != tg.url+u.Path && target != webRedirect && !loopback {
				t.Fatalf("open redirect: %q → %s", query, loc)
			}
		}
	})
}

// FuzzIntrospectionRequest fuzzes the service's introspection request.
func FuzzIntrospectionRequest(f *testing.F) {
	tg := newTarget(f)
	f.Add("token=eyJhbGciOiJFUzI1NiJ9.e30.sig&token_type_hint=access_token")
	f.Add("token=" + strings.Repeat("x", 9000))
	f.Add("token_type_hint=refresh_token&token=abc")
	f.Add("")
	f.Fuzz(func(t *testing.T, body string) {
		resp := tg.do(form("/introspect", body+"&client_id="+svcID+"&client_secret="+tg.svcSecret))
		b := checkAnswer(t, "introspect", resp)
		if resp.StatusCode == http.StatusOK {
			var in struct {
				Active *bool `json:"active"`
			}
			if json.Unmarshal(b, &in) != nil || in.Active == nil {
				t.Fatalf("200 without active: %s", b)
			}
			// Nothing was ever issued by this server: no input is an active token.
			if *in.Active {
				t.Fatalf("active token from %q", body)
			}
		}
	})
}

// appRoutes are the app API's routes that take a JSON body; {id} is
// filled from the input.
var appRoutes = []string{
	"registrations", "activations", "enrollment", "enrollment/password", "enrollment/device/challenge",
	"enrollment/device", "enrollment/pin", "devices/{id}/challenge", "devices/list", "devices/{id}/rename",
	"devices/{id}/revoke", "devices/revoke-others", "devices/reconfirm", "pin/reset", "step-up", "step-up/confirmation",
	"logins/{id}/challenge", "logins/{id}", "approvals/{id}/challenge", "approvals/{id}",
	"pin/change", "password/reset", "password/change", "recovery", "recovery/confirmation",
	"transfers", "transfers/approval", "transfers/redemption",
}

// FuzzAppAPI fuzzes the JSON body (and the bearer token and path id) of
// every app API route. An error is a problem document with a stable code.
func FuzzAppAPI(f *testing.F) {
	tg := newTarget(f)
	for i, body := range []string{
		`{"kvnr":"A123456780","birth_date":"1964-08-12","method":"letter"}`,
		`{"kvnr":"A123456780","activation_code":"x","initial_password":"ABCD-EFGH-JKLM"}`,
		`{"password":"ein langes neues Passwort"}`, `{"challenge_id":"x","response":{"id":"x"},"name":"Telefon","platform":"android"}`,
		`{"pin":"123456"}`, `{"pin":"975318","password":"x","response":{}}`, `{"name":"` + strings.Repeat("x", 300) + `"}`,
		`{"choice":47,"approve":true,"response":{"rawId":"AA"},"pin":"975318"}`, `[]`, `null`, `{"kvnr":1e999}`,
		`{"proof":{"challenge_id":"x","assertion":{"id":"x"},"pin":"975318"},"new_pin":"271836"}`,
		`{"proof":{"challenge_id":"x","assertion":{},"pin":"975318"},"current_password":"x","new_password":"ein langes neues Passwort"}`,
		`{"challenge_id":"x","assertion":{},"return_uri":"http://127.0.0.1:1/eid","code_challenge":"x","code_challenge_method":"S256"}`,
		`{"code":"x","code_verifier":"` + strings.Repeat("v", 43) + `","challenge_id":"x","assertion":{},"new_pin":"271836"}`,
		`{"kvnr":"A123456780"}`, `{"transfer_code":"x","proof":{"challenge_id":"x","assertion":{},"pin":"975318"}}`,
		`{"transfer_secret":"x"}`,
	} {
		f.Add(uint8(i), body, "x", "Bearer abc")
	}
	f.Fuzz(func(t *testing.T, route uint8, body, id, authz string) {
		p := strings.ReplaceAll(appRoutes[int(route)%len(appRoutes)], "{id}", url.PathEscape(id))
		method := http.MethodPost
		if strings.HasPrefix(p, "enrollment/password") || strings.HasPrefix(p, "enrollment/pin") {
			method = http.MethodPut
		}
		r := httptest.NewRequest(method, httpapi.Prefix+p, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		if authz != "" && !strings.ContainsAny(authz, "\r\n\x00") {
			r.Header.Set("Authorization", authz)
		}
		resp := tg.do(r)
		b := checkAnswer(t, p, resp)
		if resp.StatusCode >= 400 {
			var pr struct {
				Code string `json:"code"`
			}
			if err := json.Unmarshal(b, &pr); err != nil || pr.Code == "" {
				t.Fatalf("%s: %d without a problem code: %s", p, resp.StatusCode, b)
			}
		}
	})
}
