package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestClientAuthenticationErrors: at token, introspection and revocation
// (and PAR), a client that authenticated with HTTP Basic and fails gets
// 401 invalid_client with a Basic challenge (RFC 6749 §5.2); one that sent
// no client authentication at all gets 401 invalid_client too, not 400
// (RFC 6749 §5.2, RFC 7662 §2.3). Every 401 carries a challenge, as HTTP
// requires.
func TestClientAuthenticationErrors(t *testing.T) {
	w := newWorld(t)
	in := w.start(t, sqliteStorage(t))
	endpoints := map[string]url.Values{
		"/token":      {"grant_type": {"refresh_token"}, "refresh_token": {"whatever"}},
		"/introspect": {"token": {"whatever"}},
		"/revoke":     {"token": {"whatever"}},
	}
	for path, form := range endpoints {
		t.Run(strings.TrimPrefix(path, "/"), func(t *testing.T) {
			for _, tc := range []struct {
				name string
				form url.Values
				auth func(*http.Request)
			}{
				{"wrong Basic secret", form, basic(w.web.ID, w.web.secret+"x")},
				{"unknown Basic client", form, basic("no-such-client", w.web.secret)},
				{"malformed Basic", form, func(r *http.Request) { r.Header.Set("Authorization", "Basic !!!") }},
				{"no client authentication", form, nil},
				{"wrong client_secret_post", with(form, "client_id", w.svc.ID, "client_secret", w.svc.secret+"x"), nil},
			} {
				r := postForm(t, in.base+path, tc.form, tc.auth)
				wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
				if got := r.header.Get("WWW-Authenticate"); got != `Basic realm="pforte"` {
					t.Errorf("%s: WWW-Authenticate %q, want the Basic challenge", tc.name, got)
				}
			}
		})
	}
	t.Run("par", func(t *testing.T) {
		r := postForm(t, in.base+"/par", url.Values{"response_type": {"code"}}, nil)
		wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
		if r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("PAR without client authentication: 401 without a challenge")
		}
		r = postForm(t, in.base+"/par", url.Values{"response_type": {"code"}}, basic(w.web.ID, w.web.secret+"x"))
		wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("PAR: WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
		}
	})
}

// TestRepeatedParametersAtTokenEndpoints: a repeated parameter (OAuth 2.0
// §3.2) — grant_type above all, which decides how the rest is read — is
// refused at the token endpoint as at the authorization endpoint, before
// anything is done with the request; the same at introspection and
// revocation.
func TestRepeatedParametersAtTokenEndpoints(t *testing.T) {
	w := newWorld(t)
	in := w.start(t, sqliteStorage(t))
	for _, tc := range []struct {
		path string
		form url.Values
		auth func(*http.Request)
	}{
		{"/token", url.Values{"grant_type": {"client_credentials", "refresh_token"}, "client_id": {w.svc.ID}, "client_secret": {w.svc.secret}}, nil},
		{"/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"claims.read", "claims.write"}, "client_id": {w.svc.ID}, "client_secret": {w.svc.secret}}, nil},
		{"/introspect", url.Values{"token": {"a", "b"}}, basic(w.web.ID, w.web.secret)},
		{"/revoke", url.Values{"token": {"a", "b"}}, basic(w.web.ID, w.web.secret)},
	} {
		r := postForm(t, in.base+tc.path, tc.form, tc.auth)
		body := wantOAuthError(t, r, http.StatusBadRequest, "invalid_request")
		if d, _ := body["error_description"].(string); !strings.Contains(d, "repeated") {
			t.Errorf("%s %v: error_description %q", tc.path, tc.form, d)
		}
	}
	// Not repeated: the same client's request is served.
	r := postForm(t, in.base+"/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"claims.read"},
		"client_id": {w.svc.ID}, "client_secret": {w.svc.secret}}, nil)
	if r.status != http.StatusOK {
		t.Fatalf("client_credentials: %d %s", r.status, r.body)
	}
}

// with returns a copy of form with the pairs kv set.
func with(form url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, v := range form {
		out[k] = append([]string(nil), v...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
}
