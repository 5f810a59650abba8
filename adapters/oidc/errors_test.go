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

// TestErrorTablesCoverEveryKind walks each table: every kind has an entry,
// infrastructure kinds are 5xx server errors, and nothing else is.
func TestErrorTablesCoverEveryKind(t *testing.T) {
	for _, k := range fault.Kinds() {
		infra := k == fault.Unavailable || k == fault.Internal

		tm, ok := tokenErrors[k]
		if !ok {
			t.Errorf("token table misses %v", k)
			continue
		}
		if got := string(tm.make().ErrorType); infra != (got == "server_error") || infra != (tm.status >= 500) {
			t.Errorf("token table: %v → %s %d", k, got, tm.status)
		}
		code := authorizeError(k)
		if code == "" {
			t.Errorf("redirect table misses %v", k)
		}
		if infra && code != "server_error" && code != "temporarily_unavailable" {
			t.Errorf("redirect table: %v → %s", k, code)
		}
		st, ok := pageStatus[k]
		if !ok || infra != (st >= 500) {
			t.Errorf("page table: %v → %d (present %v)", k, st, ok)
		}
		rm, ok := resourceErrors[k]
		if !ok || infra != (rm.status >= 500) {
			t.Errorf("resource table: %v → %+v (present %v)", k, rm, ok)
		}
		ps, ok := pushStatus[k]
		if !ok || infra != (ps >= 500) {
			t.Errorf("push table: %v → %d (present %v)", k, ps, ok)
		}
	}
	// The DPoP codes: each has an entry with its own code, a client error
	// at the token endpoint (400, RFC 9449 §5) and an authentication
	// challenge at the resource (401, §7.1); and core's errors reach them.
	for code, oauth := range map[fault.Code]string{dpop.CodeInvalidProof: "invalid_dpop_proof", dpop.CodeUseNonce: "use_dpop_nonce"} {
		m, ok := dpopErrors[code]
		if !ok {
			t.Errorf("DPoP table misses %s", code)
			continue
		}
		if got := string(m.make().ErrorType); got != oauth || m.tokenStatus != http.StatusBadRequest || m.resourceStatus != http.StatusUnauthorized {
			t.Errorf("DPoP table: %s → %s %d/%d", code, got, m.tokenStatus, m.resourceStatus)
		}
	}
	if len(dpopErrors) != 2 {
		t.Errorf("DPoP table has %d entries", len(dpopErrors))
	}
	if _, ok := dpopErrors[codeOf(dpop.InvalidProof("x", "y"))]; !ok {
		t.Error("dpop.InvalidProof does not reach the DPoP table")
	}
	if _, ok := dpopErrors[codeOf(dpop.UseNonce("x", "y"))]; !ok {
		t.Error("dpop.UseNonce does not reach the DPoP table")
	}
	if _, ok := dpopErrors[codeOf(fault.New(fault.Unauthenticated, "x", "y"))]; ok {
		t.Error("a plain Unauthenticated error reaches the DPoP table")
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
