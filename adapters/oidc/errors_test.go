package oidc

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/pforte-id/pforte/core/dpop"
	"github.com/pforte-id/pforte/core/fault"
)

// TestErrorTablesCoverEveryKind walks the table: every kind has a row,
// infrastructure kinds are 5xx server errors at every kind of endpoint, and
// nothing else is.
func TestErrorTablesCoverEveryKind(t *testing.T) {
	for _, k := range fault.Kinds() {
		infra := k == fault.Unavailable || k == fault.Internal
		w, ok := kinds[k]
		if !ok {
			t.Errorf("the table misses %v", k)
			continue
		}
		if got := string(w.token().ErrorType); infra != (got == "server_error") || infra != (w.tokenStatus >= 500) {
			t.Errorf("token: %v → %s %d", k, got, w.tokenStatus)
		}
		if w.authorize == "" || infra && w.authorize != "server_error" && w.authorize != "temporarily_unavailable" {
			t.Errorf("authorize: %v → %q", k, w.authorize)
		}
		if infra != (w.pageStatus >= 500) || w.pageStatus < 400 {
			t.Errorf("page: %v → %d", k, w.pageStatus)
		}
		if infra != (w.resourceStatus >= 500) || w.resource == "" || infra != (w.resource == "server_error") {
			t.Errorf("resource: %v → %s %d", k, w.resource, w.resourceStatus)
		}
		if infra != (w.pushStatus >= 500) || w.pushStatus < 400 {
			t.Errorf("push: %v → %d", k, w.pushStatus)
		}
	}
	if wireOf(fault.Kind(200)).tokenStatus != http.StatusInternalServerError {
		t.Error("an unknown kind is not answered as internal")
	}
	// The DPoP codes: each has a row with its own OAuth error, a client
	// error at the token endpoint (400, RFC 9449 §5) and an authentication
	// challenge at the resource (401, §7.1); and core's errors reach them.
	for code, oauth := range map[fault.Code]string{dpop.CodeInvalidProof: "invalid_dpop_proof", dpop.CodeUseNonce: "use_dpop_nonce"} {
		m, ok := codes[code]
		if !ok {
			t.Errorf("the code table misses %s", code)
			continue
		}
		if got := string(m.token().ErrorType); got != oauth || m.oauth != oauth || m.tokenStatus != http.StatusBadRequest || m.resourceStatus != http.StatusUnauthorized {
			t.Errorf("code table: %s → %s %d/%d", code, got, m.tokenStatus, m.resourceStatus)
		}
	}
	if len(codes) != 2 {
		t.Errorf("the code table has %d rows", len(codes))
	}
	if _, ok := codes[codeOf(dpop.InvalidProof("x", "y"))]; !ok {
		t.Error("dpop.InvalidProof does not reach the code table")
	}
	if _, ok := codes[codeOf(dpop.UseNonce("x", "y"))]; !ok {
		t.Error("dpop.UseNonce does not reach the code table")
	}
	if _, ok := codes[codeOf(fault.New(fault.Unauthenticated, "x", "y"))]; ok {
		t.Error("a plain Unauthenticated error reaches the code table")
	}
}

// TestTokenErrorHidesInternalText writes errors the way the library does
// and checks what a client receives.
func TestTokenErrorHidesInternalText(t *testing.T) {
	for _, tc := range []struct {
		err        error
		wantStatus int
		wantCode   string
		wantText   string
	}{
		{fault.Wrap(fault.Unavailable, "store.RedeemCode", errors.New("dial tcp 10.0.0.5:5432: connection refused")),
			http.StatusServiceUnavailable, "server_error", "The service is temporarily unavailable."},
		{fault.Wrap(fault.Internal, "x", errors.New("pq: secret detail")),
			http.StatusInternalServerError, "server_error", "An internal error occurred."},
		{fault.New(fault.Conflict, "authz.ExchangeCode", "the authorization code was already used"),
			http.StatusBadRequest, "invalid_grant", "the authorization code was already used"},
		{fault.New(fault.Unauthenticated, "authz.AuthenticateClient", "client authentication failed"),
			http.StatusUnauthorized, "invalid_client", "client authentication failed"},
		{errors.New("plain error with secret detail"),
			http.StatusInternalServerError, "server_error", "An internal error occurred."},
		// DPoP errors are Unauthenticated in core, but not invalid_client.
		{dpop.InvalidProof("authz.checkProof", "DPoP proof was already used (jti)"),
			http.StatusBadRequest, "invalid_dpop_proof", "DPoP proof was already used (jti)"},
		{dpop.UseNonce("dpop.Check", "DPoP proof has no nonce; use the one in the DPoP-Nonce header"),
			http.StatusBadRequest, "use_dpop_nonce", "DPoP proof has no nonce"},
	} {
		rec := httptest.NewRecorder()
		op.WriteError(rec, httptest.NewRequest(http.MethodPost, "/token", nil), tokenError(tc.err), nil)
		body := rec.Body.String()
		if rec.Code != tc.wantStatus || !strings.Contains(body, `"error":"`+tc.wantCode+`"`) || !strings.Contains(body, tc.wantText) {
			t.Errorf("%v: got %d %s", tc.err, rec.Code, body)
		}
		for _, leak := range []string{"10.0.0.5", "secret detail", "dial tcp", "store.RedeemCode"} {
			if strings.Contains(body, leak) {
				t.Errorf("%v: body leaks %q: %s", tc.err, leak, body)
			}
		}
	}
}

// TestBodyOnlyRefusesURLParameters: a code or secret in the URL of a form
// endpoint is refused before anything reads it.
func TestBodyOnlyRefusesURLParameters(t *testing.T) {
	reached := false
	h := bodyOnly(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/token?code=abc&code_verifier=xyz", strings.NewReader("grant_type=authorization_code")))
	if rec.Code != http.StatusBadRequest || reached || !strings.Contains(rec.Body.String(), `"invalid_request"`) {
		t.Fatalf("query parameters: %d reached=%v %s", rec.Code, reached, rec.Body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/token", strings.NewReader("grant_type=authorization_code")))
	if !reached {
		t.Fatal("a request without URL parameters did not reach the endpoint")
	}
}
