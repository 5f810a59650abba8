package authz_test

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/dpop"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/ports/token"
)

// Thumbprints of two client keys. The keys adapter computes them from the
// proof's jwk; here a proof is what the adapter hands to core.
var (
	keyA = thumbprint("key A")
	keyB = thumbprint("key B")
)

func thumbprint(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// proof is a fresh, valid proof by the key jkt for method at path under
// the issuer, with the current server nonce; accessToken ("" at the token
// endpoint) gives the ath.
func (e *env) proof(jkt, method, path, accessToken string) authz.DPoPRequest {
	p := dpop.Proof{
		JKT: jkt, JTI: newID(), HTM: method, HTU: issuer + path, IAT: e.clock.Now(), Nonce: e.svc.DPoPNonce(),
	}
	if accessToken != "" {
		p.ATH = dpop.AccessTokenHash(accessToken)
	}
	return authz.DPoPRequest{Proof: &p, Method: method, Path: path}
}

// tokenProof is a proof by jkt for the token endpoint.
func (e *env) tokenProof(jkt string) authz.DPoPRequest { return e.proof(jkt, "POST", "/token", "") }

// userinfoProof is a proof by jkt for GET /userinfo with tok.
func (e *env) userinfoProof(jkt, tok string) authz.DPoPRequest {
	return e.proof(jkt, "GET", "/userinfo", tok)
}

// changed returns r with its proof changed by f (a new jti, so that only
// the change decides).
func changed(r authz.DPoPRequest, f func(*dpop.Proof)) authz.DPoPRequest {
	p := *r.Proof
	p.JTI = newID()
	f(&p)
	r.Proof = &p
	return r
}

// wantDPoP fails unless err is the DPoP error code (invalid_dpop_proof or
// use_dpop_nonce).
func wantDPoP(t *testing.T, err error, code fault.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %s", code)
	}
	if got, _ := fault.CodeOf(err); got != code {
		t.Fatalf("DPoP error code %q, want %q (err: %v)", got, code, err)
	}
	if fault.KindOf(err) != fault.Unauthenticated || !strings.HasPrefix(fault.PublicOf(err), "DPoP ") {
		t.Fatalf("kind %v, public %q", fault.KindOf(err), fault.PublicOf(err))
	}
}

// wantNotDPoP fails unless err has kind want and is not a DPoP proof
// error (a binding mismatch is about the grant or the token).
func wantNotDPoP(t *testing.T, err error, want fault.Kind) {
	t.Helper()
	wantKind(t, err, want)
	if c, _ := fault.CodeOf(err); c == dpop.CodeInvalidProof || c == dpop.CodeUseNonce {
		t.Fatalf("err %v is DPoP error %s", err, c)
	}
}

func (e *env) dpopCode(clientID, scope string) flow {
	e.t.Helper()
	return e.codeFor(clientID, appRedirect, scope)
}

func (e *env) exchangeDPoP(f flow, pop authz.DPoPRequest) (authz.TokenResponse, error) {
	return e.svc.ExchangeCode(e.ctx, e.client(f.client), f.code, f.redirectURI, f.verifier, pop)
}

// TestDPoPTokensOfAPublicClient: a proof at the code exchange binds the
// access token (cnf.jkt, token_type DPoP, the record) and the refresh
// token family of a public client; the bound refresh token works with the
// key and gives bound tokens again.
func TestDPoPTokensOfAPublicClient(t *testing.T) {
	e := newEnv(t)
	resp, err := e.exchangeDPoP(e.dpopCode("dpop-app", "openid profile"), e.tokenProof(keyA))
	if err != nil {
		t.Fatalf("ExchangeCode: %v", err)
	}
	if resp.TokenType != "DPoP" {
		t.Errorf("token_type %q, want DPoP", resp.TokenType)
	}
	at := e.accessClaims(resp.AccessToken)
	if at.Cnf == nil || at.Cnf.JKT != keyA {
		t.Fatalf("access token cnf %+v, want jkt %s", at.Cnf, keyA)
	}
	if rec := e.st.access()[at.JTI]; rec.DPoPJKT != keyA {
		t.Errorf("access token record DPoPJKT %q", rec.DPoPJKT)
	}
	fam := e.st.families()[e.st.access()[at.JTI].FamilyID]
	if fam.DPoPJKT != keyA {
		t.Errorf("family DPoPJKT %q, want the proof's key", fam.DPoPJKT)
	}
	in, err := e.svc.Introspect(e.ctx, e.client("svc"), resp.AccessToken)
	if err != nil || !in.Active || in.TokenType != "DPoP" || in.JKT != keyA {
		t.Fatalf("introspection %+v, %v; want active DPoP with jkt", in, err)
	}

	next, err := e.svc.Refresh(e.ctx, e.client("dpop-app"), resp.RefreshToken, "", e.tokenProof(keyA))
	if err != nil {
		t.Fatalf("Refresh with the bound key: %v", err)
	}
	if next.TokenType != "DPoP" || e.accessClaims(next.AccessToken).Cnf.JKT != keyA || next.RefreshToken == "" {
		t.Fatalf("refresh answer %+v", next)
	}
}

// TestDPoPTokensOfAConfidentialClient: the access token is bound, the
// refresh tokens are not (the client authenticates at every refresh, RFC
// 9449 §5); a later refresh binds its access token to whatever key proves.
func TestDPoPTokensOfAConfidentialClient(t *testing.T) {
	e := newEnv(t)
	f := e.codeFor("web", webRedirect, "openid")
	resp, err := e.exchangeDPoP(f, e.tokenProof(keyA))
	if err != nil {
		t.Fatal(err)
	}
	at := e.accessClaims(resp.AccessToken)
	if resp.TokenType != "DPoP" || at.Cnf == nil || at.Cnf.JKT != keyA {
		t.Fatalf("token_type %q cnf %+v", resp.TokenType, at.Cnf)
	}
	if fam := e.st.families()[e.st.access()[at.JTI].FamilyID]; fam.DPoPJKT != "" {
		t.Errorf("a confidential client's family is bound to %q", fam.DPoPJKT)
	}
	bearer, err := e.svc.Refresh(e.ctx, e.client("web"), resp.RefreshToken, "", noPoP)
	if err != nil {
		t.Fatalf("refresh without a proof: %v", err)
	}
	if bearer.TokenType != "Bearer" || e.accessClaims(bearer.AccessToken).Cnf != nil {
		t.Errorf("refresh without a proof gave %q with cnf %+v", bearer.TokenType, e.accessClaims(bearer.AccessToken).Cnf)
	}
	other, err := e.svc.Refresh(e.ctx, e.client("web"), bearer.RefreshToken, "", e.tokenProof(keyB))
	if err != nil {
		t.Fatalf("refresh with another key: %v", err)
	}
	if e.accessClaims(other.AccessToken).Cnf.JKT != keyB {
		t.Error("the access token of a refresh is not bound to the refresh's proof")
	}
}

// TestDPoPTokenEndpointRefusals: every way a proof at the token endpoint
// is refused, and that none of them costs the client its code: the proof
// is checked before the code is redeemed.
func TestDPoPTokenEndpointRefusals(t *testing.T) {
	stale := func(e *env) string {
		return dpop.NonceSource{Key: nonceKey}.Current(e.clock.Now().Add(-3 * dpop.DefaultNonceLifetime))
	}
	tests := []struct {
		name   string
		client string
		pop    func(e *env) authz.DPoPRequest
		code   fault.Code // DPoP error code, or
		kind   fault.Kind // the kind when code is ""
	}{
		{"RequireDPoP client without a proof", "dpop-app", func(*env) authz.DPoPRequest { return noPoP }, dpop.CodeInvalidProof, 0},
		{"no nonce", "dpop-app", func(e *env) authz.DPoPRequest {
			return changed(e.tokenProof(keyA), func(p *dpop.Proof) { p.Nonce = "" })
		}, dpop.CodeUseNonce, 0},
		{"stale nonce", "dpop-app", func(e *env) authz.DPoPRequest {
			return changed(e.tokenProof(keyA), func(p *dpop.Proof) { p.Nonce = stale(e) })
		}, dpop.CodeUseNonce, 0},
		{"nonce of another server", "dpop-app", func(e *env) authz.DPoPRequest {
			other := dpop.NonceSource{Key: []byte("another-nonce-key-of-32-bytes!!!")}
			return changed(e.tokenProof(keyA), func(p *dpop.Proof) { p.Nonce = other.Current(e.clock.Now()) })
		}, dpop.CodeUseNonce, 0},
		{"nonce missing from a confidential client's proof", "web", func(e *env) authz.DPoPRequest {
			return changed(e.tokenProof(keyA), func(p *dpop.Proof) { p.Nonce = "" })
		}, dpop.CodeUseNonce, 0},
		{"wrong htm", "dpop-app", func(e *env) authz.DPoPRequest {
			return changed(e.tokenProof(keyA), func(p *dpop.Proof) { p.HTM = "GET" })
		}, dpop.CodeInvalidProof, 0},
		{"htu of another endpoint", "dpop-app", func(e *env) authz.DPoPRequest {
			return changed(e.tokenProof(keyA), func(p *dpop.Proof) { p.HTU = issuer + "/userinfo" })
		}, dpop.CodeInvalidProof, 0},
		{"htu of another host", "dpop-app", func(e *env) authz.DPoPRequest {
			return changed(e.tokenProof(keyA), func(p *dpop.Proof) { p.HTU = "https://evil.example/token" })
		}, dpop.CodeInvalidProof, 0},
		{"iat too old", "dpop-app", func(e *env) authz.DPoPRequest {
			return changed(e.tokenProof(keyA), func(p *dpop.Proof) { p.IAT = p.IAT.Add(-dpop.DefaultMaxAge - time.Second) })
		}, dpop.CodeInvalidProof, 0},
		{"iat in the future", "dpop-app", func(e *env) authz.DPoPRequest {
			return changed(e.tokenProof(keyA), func(p *dpop.Proof) { p.IAT = p.IAT.Add(time.Minute) })
		}, dpop.CodeInvalidProof, 0},
		{"no jti", "dpop-app", func(e *env) authz.DPoPRequest {
			return changed(e.tokenProof(keyA), func(p *dpop.Proof) { p.JTI = "" })
		}, dpop.CodeInvalidProof, 0},
		{"no key thumbprint", "dpop-app", func(e *env) authz.DPoPRequest {
			return changed(e.tokenProof(keyA), func(p *dpop.Proof) { p.JKT = "" })
		}, dpop.CodeInvalidProof, 0},
		{"adapter forgot the path", "dpop-app", func(e *env) authz.DPoPRequest {
			r := e.tokenProof(keyA)
			r.Path = ""
			return r
		}, "", fault.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			redirect := appRedirect
			if tt.client == "web" {
				redirect = webRedirect
			}
			f := e.codeFor(tt.client, redirect, "openid")
			_, err := e.exchangeDPoP(f, tt.pop(e))
			if tt.code != "" {
				wantDPoP(t, err, tt.code)
			} else {
				wantNotDPoP(t, err, tt.kind)
			}
			if len(e.st.families()) != 0 {
				t.Fatal("tokens stored after a refusal")
			}
			// The code is unspent: the retry with a good proof works.
			if _, err := e.exchangeDPoP(f, e.tokenProof(keyA)); err != nil {
				t.Fatalf("retry with a good proof: %v", err)
			}
		})
	}
}

// TestDPoPProofReplay: a proof is accepted once, on any endpoint.
func TestDPoPProofReplay(t *testing.T) {
	e := newEnv(t)
	p := e.tokenProof(keyA)
	if _, err := e.exchangeDPoP(e.dpopCode("dpop-app", "openid"), p); err != nil {
		t.Fatal(err)
	}
	f := e.dpopCode("dpop-app", "openid")
	_, err := e.exchangeDPoP(f, p)
	wantDPoP(t, err, dpop.CodeInvalidProof)
	if !strings.Contains(fault.PublicOf(err), "already used") {
		t.Errorf("public text %q", fault.PublicOf(err))
	}
	// The same jti by another key is another proof (the replay key is
	// per key, so one client cannot burn another's jti).
	other := changed(p, func(q *dpop.Proof) { q.JTI, q.JKT = p.Proof.JTI, keyB })
	if _, err := e.exchangeDPoP(f, other); err != nil {
		t.Fatalf("the jti of another key: %v", err)
	}
	// The replay cache is the shared store: when it is down, nothing is
	// issued and the client sees a server error, not invalid_dpop_proof.
	e.st.failWith("UseOnce", unavailable("fake.UseOnce"))
	_, err = e.exchangeDPoP(e.dpopCode("dpop-app", "openid"), e.tokenProof(keyA))
	wantNotDPoP(t, err, fault.Unavailable)
}

// TestDPoPNonceFollowsTheClock: the nonce of DPoPNonce is the current one
// of the configured key; an old one is refused once two slots have passed,
// and the new one works.
func TestDPoPNonceFollowsTheClock(t *testing.T) {
	e := newEnv(t)
	first := e.svc.DPoPNonce()
	if want := (dpop.NonceSource{Key: nonceKey}).Current(e.clock.Now()); first != want {
		t.Fatalf("DPoPNonce = %q, want the nonce of the configured key %q", first, want)
	}
	e.clock.Advance(2 * dpop.DefaultNonceLifetime)
	f := e.dpopCode("dpop-app", "openid")
	old := changed(e.tokenProof(keyA), func(p *dpop.Proof) { p.Nonce = first })
	_, err := e.exchangeDPoP(f, old)
	wantDPoP(t, err, dpop.CodeUseNonce)
	if e.svc.DPoPNonce() == first {
		t.Fatal("the nonce did not change")
	}
	if _, err := e.exchangeDPoP(f, e.tokenProof(keyA)); err != nil {
		t.Fatalf("with the new nonce: %v", err)
	}
}

// TestDPoPJKTBindsTheCode: a code whose authorization request named a key
// (dpop_jkt) is redeemed only with a proof by that key (RFC 9449 §10).
func TestDPoPJKTBindsTheCode(t *testing.T) {
	tests := []struct {
		name string
		pop  func(e *env) authz.DPoPRequest
		ok   bool
		code fault.Code
	}{
		{"proof by the named key", func(e *env) authz.DPoPRequest { return e.tokenProof(keyA) }, true, ""},
		{"no proof", func(*env) authz.DPoPRequest { return noPoP }, false, dpop.CodeInvalidProof},
		{"proof by another key", func(e *env) authz.DPoPRequest { return e.tokenProof(keyB) }, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			req, v := request("app", appRedirect, "openid")
			req.DPoPJKT = keyA
			r, err := e.svc.Authorize(e.ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if r.DPoPJKT != keyA || e.st.requests()[r.ID].DPoPJKT != keyA {
				t.Fatalf("stored dpop_jkt %q", e.st.requests()[r.ID].DPoPJKT)
			}
			code := codeOf(t, e, r.ID)
			resp, err := e.svc.ExchangeCode(e.ctx, e.client("app"), code, appRedirect, v, tt.pop(e))
			switch {
			case tt.ok:
				if err != nil {
					t.Fatal(err)
				}
				if e.accessClaims(resp.AccessToken).Cnf.JKT != keyA {
					t.Error("the access token is not bound to the named key")
				}
			case tt.code != "":
				wantDPoP(t, err, tt.code)
			default:
				// The proof is fine, the code is bound to another key:
				// invalid_grant.
				wantNotDPoP(t, err, fault.Forbidden)
			}
		})
	}
}

// queryOf returns the query of URL u.
func queryOf(t *testing.T, u string) url.Values {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Query()
}

// codeOf completes request id with a password login and returns the code.
func codeOf(t *testing.T, e *env, id string) string {
	t.Helper()
	to, err := e.svc.CompleteLogin(e.ctx, id, e.passwordLogin())
	if err != nil {
		t.Fatal(err)
	}
	code := queryOf(t, to).Get("code")
	if code == "" {
		t.Fatalf("no code in %s", to)
	}
	return code
}

// TestDPoPRefreshBinding: the refresh token of a public client needs a
// proof by its key. A missing proof is invalid_dpop_proof, another key
// invalid_grant; neither spends the token or ends the session, even when
// the token presented is a spent one (a thief without the key cannot log
// the member out).
func TestDPoPRefreshBinding(t *testing.T) {
	tests := []struct {
		name  string
		pop   func(e *env) authz.DPoPRequest
		spent bool // present the spent first token instead of the current one
		code  fault.Code
		kind  fault.Kind
	}{
		{"no proof", func(*env) authz.DPoPRequest { return noPoP }, false, dpop.CodeInvalidProof, 0},
		{"proof by another key", func(e *env) authz.DPoPRequest { return e.tokenProof(keyB) }, false, "", fault.Forbidden},
		{"spent token, another key", func(e *env) authz.DPoPRequest { return e.tokenProof(keyB) }, true, "", fault.Forbidden},
		{"spent token, no proof", func(*env) authz.DPoPRequest { return noPoP }, true, dpop.CodeInvalidProof, 0},
		{"proof without nonce", func(e *env) authz.DPoPRequest {
			return changed(e.tokenProof(keyA), func(p *dpop.Proof) { p.Nonce = "" })
		}, false, dpop.CodeUseNonce, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.client("dpop-app")
			first, err := e.exchangeDPoP(e.dpopCode("dpop-app", "openid offline_access"), e.tokenProof(keyA))
			if err != nil {
				t.Fatal(err)
			}
			second, err := e.svc.Refresh(e.ctx, c, first.RefreshToken, "", e.tokenProof(keyA))
			if err != nil {
				t.Fatal(err)
			}
			tok := second.RefreshToken
			if tt.spent {
				tok = first.RefreshToken
			}
			_, err = e.svc.Refresh(e.ctx, c, tok, "", tt.pop(e))
			if tt.code != "" {
				wantDPoP(t, err, tt.code)
			} else {
				wantNotDPoP(t, err, tt.kind)
			}
			for _, f := range e.st.families() {
				if !f.RevokedAt.IsZero() {
					t.Fatal("the family was revoked")
				}
			}
			// The current token still works with the bound key.
			if _, err := e.svc.Refresh(e.ctx, c, second.RefreshToken, "", e.tokenProof(keyA)); err != nil {
				t.Fatalf("refresh with the bound key afterwards: %v", err)
			}
		})
	}
}

// TestDPoPRefreshReuseWithTheKeyRevokes: with the key, a spent token is
// reuse as before: the family ends.
func TestDPoPRefreshReuseWithTheKeyRevokes(t *testing.T) {
	e := newEnv(t)
	c := e.client("dpop-app")
	first, err := e.exchangeDPoP(e.dpopCode("dpop-app", "openid"), e.tokenProof(keyA))
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.svc.Refresh(e.ctx, c, first.RefreshToken, "", e.tokenProof(keyA))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Refresh(e.ctx, c, first.RefreshToken, "", e.tokenProof(keyA))
	wantNotDPoP(t, err, fault.Conflict)
	_, err = e.svc.Refresh(e.ctx, c, second.RefreshToken, "", e.tokenProof(keyA))
	wantKind(t, err, fault.Expired)
}

// TestDPoPClientCredentials: a service's token is bound when it proves a
// key, and bearer otherwise.
func TestDPoPClientCredentials(t *testing.T) {
	e := newEnv(t)
	resp, err := e.svc.ClientCredentials(e.ctx, e.client("svc"), "", e.tokenProof(keyA))
	if err != nil {
		t.Fatal(err)
	}
	at := e.accessClaims(resp.AccessToken)
	if resp.TokenType != "DPoP" || at.Cnf == nil || at.Cnf.JKT != keyA {
		t.Fatalf("token_type %q cnf %+v", resp.TokenType, at.Cnf)
	}
	// Not recorded: introspection takes the binding from the signed cnf.
	in, err := e.svc.Introspect(e.ctx, e.client("svc"), resp.AccessToken)
	if err != nil || !in.Active || in.JKT != keyA || in.TokenType != "DPoP" {
		t.Errorf("introspection: %+v %v", in, err)
	}
	if at.Subject != "svc" {
		t.Errorf("sub %q, want the client", at.Subject)
	}
	_, err = e.svc.ClientCredentials(e.ctx, e.client("svc"), "", changed(e.tokenProof(keyA), func(p *dpop.Proof) { p.Nonce = "" }))
	wantDPoP(t, err, dpop.CodeUseNonce)
}

// TestDPoPUserInfo covers the resource side: the DPoP scheme, the proof
// with ath, and no downgrade to Bearer.
func TestDPoPUserInfo(t *testing.T) {
	type tokens struct{ bound, plain string }
	tests := []struct {
		name string
		in   func(e *env, tk tokens) authz.PresentedToken
		code fault.Code // DPoP error code, or
		kind fault.Kind // the kind; 0: success
		// bound: the error wraps ErrDPoPBound (answer with a DPoP challenge).
		bound bool
	}{
		{"bound token, DPoP, proof by its key", func(e *env, tk tokens) authz.PresentedToken {
			return authz.PresentedToken{Token: tk.bound, Scheme: "DPoP", DPoP: e.userinfoProof(keyA, tk.bound)}
		}, "", 0, false},
		{"bound token, DPoP, POST", func(e *env, tk tokens) authz.PresentedToken {
			return authz.PresentedToken{Token: tk.bound, Scheme: "DPoP", DPoP: e.proof(keyA, "POST", "/userinfo", tk.bound)}
		}, "", 0, false},
		{"bound token as Bearer", func(e *env, tk tokens) authz.PresentedToken {
			return bearer(tk.bound)
		}, "", fault.Unauthenticated, true},
		{"bound token as Bearer with a proof", func(e *env, tk tokens) authz.PresentedToken {
			return authz.PresentedToken{Token: tk.bound, Scheme: "Bearer", DPoP: e.userinfoProof(keyA, tk.bound)}
		}, "", fault.Unauthenticated, true},
		{"DPoP scheme without a proof", func(e *env, tk tokens) authz.PresentedToken {
			return authz.PresentedToken{Token: tk.bound, Scheme: "DPoP"}
		}, dpop.CodeInvalidProof, 0, false},
		{"wrong ath", func(e *env, tk tokens) authz.PresentedToken {
			return authz.PresentedToken{Token: tk.bound, Scheme: "DPoP", DPoP: e.userinfoProof(keyA, tk.plain)}
		}, dpop.CodeInvalidProof, 0, false},
		{"no ath", func(e *env, tk tokens) authz.PresentedToken {
			return authz.PresentedToken{Token: tk.bound, Scheme: "DPoP", DPoP: e.userinfoProof(keyA, "")}
		}, dpop.CodeInvalidProof, 0, false},
		{"wrong htm", func(e *env, tk tokens) authz.PresentedToken {
			r := e.userinfoProof(keyA, tk.bound)
			r.Method = "POST"
			return authz.PresentedToken{Token: tk.bound, Scheme: "DPoP", DPoP: r}
		}, dpop.CodeInvalidProof, 0, false},
		{"htu of the token endpoint", func(e *env, tk tokens) authz.PresentedToken {
			return authz.PresentedToken{Token: tk.bound, Scheme: "DPoP", DPoP: changed(e.userinfoProof(keyA, tk.bound), func(p *dpop.Proof) {
				p.HTU = issuer + "/token"
			})}
		}, dpop.CodeInvalidProof, 0, false},
		{"no nonce", func(e *env, tk tokens) authz.PresentedToken {
			return authz.PresentedToken{Token: tk.bound, Scheme: "DPoP", DPoP: changed(e.userinfoProof(keyA, tk.bound), func(p *dpop.Proof) {
				p.Nonce = ""
			})}
		}, dpop.CodeUseNonce, 0, false},
		{"proof by another key", func(e *env, tk tokens) authz.PresentedToken {
			return authz.PresentedToken{Token: tk.bound, Scheme: "DPoP", DPoP: e.userinfoProof(keyB, tk.bound)}
		}, "", fault.Unauthenticated, false},
		{"bearer token as DPoP", func(e *env, tk tokens) authz.PresentedToken {
			return authz.PresentedToken{Token: tk.plain, Scheme: "DPoP", DPoP: e.userinfoProof(keyA, tk.plain)}
		}, "", fault.Unauthenticated, false},
		{"bearer token as Bearer", func(e *env, tk tokens) authz.PresentedToken {
			return bearer(tk.plain)
		}, "", 0, false},
		{"unknown scheme", func(e *env, tk tokens) authz.PresentedToken {
			return authz.PresentedToken{Token: tk.bound, Scheme: "MAC"}
		}, "", fault.Invalid, false},
		{"invalid token with a good proof", func(e *env, tk tokens) authz.PresentedToken {
			forged := tk.bound[:strings.LastIndex(tk.bound, ".")+1] + "AAAA"
			return authz.PresentedToken{Token: forged, Scheme: "DPoP", DPoP: e.userinfoProof(keyA, forged)}
		}, "", fault.Unauthenticated, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			b, err := e.exchangeDPoP(e.dpopCode("dpop-app", "openid profile"), e.tokenProof(keyA))
			if err != nil {
				t.Fatal(err)
			}
			tk := tokens{bound: b.AccessToken, plain: e.webTokens().AccessToken}
			cl, err := e.svc.UserInfo(e.ctx, tt.in(e, tk))
			switch {
			case tt.code != "":
				wantDPoP(t, err, tt.code)
			case tt.kind != 0:
				wantNotDPoP(t, err, tt.kind)
				if got := errors.Is(err, authz.ErrDPoPBound); got != tt.bound {
					t.Fatalf("errors.Is(err, ErrDPoPBound) = %v (err %v)", got, err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if cl["sub"] != annaID || cl["given_name"] != "Anna" {
					t.Fatalf("claims %v", cl)
				}
			}
		})
	}
}

// TestDPoPUserInfoReplay: a userinfo proof works once.
func TestDPoPUserInfoReplay(t *testing.T) {
	e := newEnv(t)
	b, err := e.exchangeDPoP(e.dpopCode("dpop-app", "openid"), e.tokenProof(keyA))
	if err != nil {
		t.Fatal(err)
	}
	in := authz.PresentedToken{Token: b.AccessToken, Scheme: "DPoP", DPoP: e.userinfoProof(keyA, b.AccessToken)}
	if _, err := e.svc.UserInfo(e.ctx, in); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.UserInfo(e.ctx, in)
	wantDPoP(t, err, dpop.CodeInvalidProof)
}

// TestDPoPForgedConfirmation: a token whose cnf disagrees with its record
// (stripped or changed; only a forger or a bug makes one) is invalid.
func TestDPoPForgedConfirmation(t *testing.T) {
	e := newEnv(t)
	b, err := e.exchangeDPoP(e.dpopCode("dpop-app", "openid"), e.tokenProof(keyA))
	if err != nil {
		t.Fatal(err)
	}
	for _, cnf := range []*authz.Confirmation{nil, {JKT: keyB}} {
		cl := e.accessClaims(b.AccessToken)
		cl.Cnf = cnf
		raw, err := e.jws.Sign(e.ctx, token.TypeAccess, cl)
		if err != nil {
			t.Fatal(err)
		}
		if e.active(raw) {
			t.Errorf("token with cnf %+v is active", cnf)
		}
		_, err = e.svc.UserInfo(e.ctx, bearer(raw))
		wantNotDPoP(t, err, fault.Unauthenticated)
	}
}
