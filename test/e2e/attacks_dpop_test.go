package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/cmd/pforte-app/dpop"
)

// Attacks on DPoP (RFC 9449): proofs that are replayed, made for another
// request, forged or badly keyed, and tokens presented without their key.
// The victim is the DPoP app (require_dpop, a public client).

func init() {
	addAttacks(
		attack{id: "DPOP-01", name: "Proof replay: a proof the app used at the token endpoint sent again", source: "RFC 9449 §11.1", run: attackDPoPProofReplay},
		attack{id: "DPOP-02", name: "A proof made for another URL (htu) presented at the token endpoint", source: "RFC 9449 §4.3", run: attackDPoPOtherHTU},
		attack{id: "DPOP-03", name: "A proof made for another method (htm) presented at the token endpoint", source: "RFC 9449 §4.3", run: attackDPoPOtherHTM},
		attack{id: "DPOP-04", name: "A proof made long before its use (iat too old)", source: "RFC 9449 §11.2", run: attackDPoPOldProof},
		attack{id: "DPOP-05", name: "A proof dated in the future, made ahead of its use", source: "RFC 9449 §11.2", run: attackDPoPFutureProof},
		attack{id: "DPOP-06", name: "An unsigned proof (alg none)", source: "RFC 9449 §11.6", run: attackDPoPAlgNone},
		attack{id: "DPOP-07", name: "A proof MACed with the public key of its jwk (HS256)", source: "RFC 9449 §11.6", run: attackDPoPHMAC},
		attack{id: "DPOP-08", name: "A proof whose jwk carries the private key", source: "RFC 9449 §4.3", run: attackDPoPPrivateJWK},
		attack{id: "DPOP-09", name: "A stolen DPoP-bound access token used with the attacker's key at userinfo", source: "RFC 9449 §7.1", run: attackDPoPTokenOtherKey},
		attack{id: "DPOP-10", name: "Downgrade: a DPoP-bound access token presented as a bearer token", source: "RFC 9449 §7.2", run: attackDPoPBoundAsBearer},
		attack{id: "DPOP-11", name: "A proof without ath presented with an access token at userinfo", source: "RFC 9449 §4.3", run: attackDPoPNoATH},
		attack{id: "DPOP-12", name: "A proof whose ath is the hash of another access token", source: "RFC 9449 §4.3", run: attackDPoPWrongATH},
		attack{id: "DPOP-13", name: "A stolen DPoP-bound refresh token refreshed with the attacker's key", source: "RFC 9449 §5", run: attackDPoPRefreshOtherKey},
		attack{id: "DPOP-14", name: "A code whose pushed request named a key (dpop_jkt) redeemed with another key", source: "RFC 9449 §10", run: attackDPoPCodeOtherJKT},
		attack{id: "DPOP-15", name: "A proof with a stale server nonce", source: "RFC 9449 §8", run: attackDPoPStaleNonce},
		attack{id: "DPOP-16", name: "A proof with the nonce of another installation", source: "RFC 9449 §8", run: attackDPoPForeignNonce},
		attack{id: "DPOP-17", name: "Downgrade: a DPoP-only client's code redeemed without a proof", source: "RFC 9449 §5.2", run: attackDPoPNoProof},
		attack{id: "DPOP-18", name: "A code whose pushed request came with a DPoP proof redeemed with another key", source: "RFC 9449 §10.1", run: attackDPoPCodeOtherPARKey},
		attack{id: "DPOP-19", name: "A proof whose jwk is a point off the P-256 curve (invalid curve)", source: "RFC 8725 §3.4", run: attackDPoPOffCurveKey},
	)
}

// dpopVictim is a server whose member has logged in at the DPoP app: the
// code of that login, not yet redeemed, its verifier, the app's key and
// the server's current nonce.
type dpopVictim struct {
	w        *world
	cs       *dppClients
	in       *instance
	key      *dpop.Key
	nonce    string
	code     string
	verifier string
}

func newDPoPVictim(t *testing.T) dpopVictim {
	t.Helper()
	w := newWorld(t)
	cs := newDPPClients(t, w)
	in := w.start(t, sqliteEngine.storage(t), cs.option)
	q, verifier := dppAuthorize(cs.app, dppAppRedirect, "openid profile offline_access")
	code := dppLogin(t, in, q, dppAppRedirect, q.Get("state"))
	nonce := wantNonce(t, dppPost(t, in, "/token", url.Values{}, nil))
	return dpopVictim{w: w, cs: cs, in: in, key: dppKey(t), nonce: nonce, code: code, verifier: verifier}
}

// codeForm is the app's code exchange.
func (v dpopVictim) codeForm() url.Values {
	return url.Values{
		"grant_type": {"authorization_code"}, "code": {v.code}, "redirect_uri": {dppAppRedirect},
		"client_id": {v.cs.app.ID}, "code_verifier": {v.verifier},
	}
}

// refreshForm is the app's refresh with rt.
func (v dpopVictim) refreshForm(rt string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {v.cs.app.ID}}
}

// proof is a proof of the app's key with the current nonce.
func (v dpopVictim) proof(t *testing.T, method, path, accessToken string) string {
	t.Helper()
	return dppProof(t, v.in, v.key, method, path, accessToken, v.nonce)
}

// redeem exchanges the code as the app does and returns the DPoP-bound
// access and refresh tokens: what the refused attack left, still works.
func (v dpopVictim) redeem(t *testing.T) (at, rt string) {
	t.Helper()
	r := dppPost(t, v.in, "/token", v.codeForm(), nil, v.proof(t, "POST", "/token", ""))
	if r.status != http.StatusOK {
		t.Fatalf("the app's exchange: %d %s", r.status, r.body)
	}
	m := r.json(t)
	if m["token_type"] != "DPoP" {
		t.Fatalf("token response %v", m)
	}
	return m["access_token"].(string), m["refresh_token"].(string)
}

// refreshed checks that the app still refreshes rt with its key.
func (v dpopVictim) refreshed(t *testing.T, rt string) {
	t.Helper()
	r := dppPost(t, v.in, "/token", v.refreshForm(rt), nil, v.proof(t, "POST", "/token", ""))
	if r.status != http.StatusOK {
		t.Fatalf("the app's refresh: %d %s", r.status, r.body)
	}
}

// userinfoWorks checks that the app still reads userinfo with at.
func (v dpopVictim) userinfoWorks(t *testing.T, at string) {
	t.Helper()
	if r := dppUserinfo(t, v.in, "DPoP", at, v.proof(t, "GET", "/userinfo", at)); r.status != http.StatusOK {
		t.Fatalf("the app's userinfo: %d %s", r.status, r.body)
	}
}

// wantProofRefused checks a token endpoint answer of invalid_dpop_proof
// whose description names why, so that the proof is refused for what the
// attack did and not for something the case got wrong.
func wantProofRefused(t *testing.T, r result, why string) {
	t.Helper()
	m := wantOAuthError(t, r, http.StatusBadRequest, "invalid_dpop_proof")
	if d, _ := m["error_description"].(string); !strings.Contains(d, why) {
		t.Fatalf("error_description %q, want it to name %q", d, why)
	}
}

// ---- proofs written by hand ----

// handJWS is a compact JWS of header and claims as given; sign makes the
// signature of the signing input (nil: none, as alg none has).
func handJWS(t *testing.T, header, claims map[string]any, sign func(input []byte) []byte) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// es256 signs as ES256 with key: R ‖ S, 32 bytes each.
func es256(t *testing.T, key *ecdsa.PrivateKey) func([]byte) []byte {
	return func(input []byte) []byte {
		sum := sha256.Sum256(input)
		r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig
	}
}

// ecJWK is the public JWK of key; with private, d is in it too.
func ecJWK(t *testing.T, key *ecdsa.PrivateKey, private bool) map[string]any {
	t.Helper()
	point, err := key.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	j := map[string]any{"kty": "EC", "crv": "P-256", "x": enc(point[1:33]), "y": enc(point[33:])}
	if private {
		d, err := key.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		j["d"] = enc(d)
	}
	return j
}

func newECKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// proofClaims are the claims of a fitting proof for method at the
// issuer's path, with nonce.
func proofClaims(in *instance, method, path, nonce string) map[string]any {
	return map[string]any{"jti": randomHex(16), "htm": method, "htu": in.issuer + path, "iat": in.clock.Now().Unix(), "nonce": nonce}
}

// ---- the cases ----

func attackDPoPProofReplay(t *testing.T) {
	v := newDPoPVictim(t)
	// The attacker captured the proof of the app's code exchange and
	// sends it with the refresh token it also stole.
	proof := v.proof(t, "POST", "/token", "")
	r := dppPost(t, v.in, "/token", v.codeForm(), nil, proof)
	if r.status != http.StatusOK {
		t.Fatalf("exchange: %d %s", r.status, r.body)
	}
	rt := r.json(t)["refresh_token"].(string)
	before := v.in.fingerprint(t)
	wantProofRefused(t, dppPost(t, v.in, "/token", v.refreshForm(rt), nil, proof), "already used")
	v.in.unchanged(t, before)
	v.refreshed(t, rt)
}

func attackDPoPOtherHTU(t *testing.T) {
	v := newDPoPVictim(t)
	before := v.in.fingerprint(t)
	wantProofRefused(t, dppPost(t, v.in, "/token", v.codeForm(), nil, v.proof(t, "POST", "/userinfo", "")), "htu")
	v.in.unchanged(t, before)
	v.redeem(t)
}

func attackDPoPOtherHTM(t *testing.T) {
	v := newDPoPVictim(t)
	before := v.in.fingerprint(t)
	wantProofRefused(t, dppPost(t, v.in, "/token", v.codeForm(), nil, v.proof(t, "GET", "/token", "")), "htm")
	v.in.unchanged(t, before)
	v.redeem(t)
}

func attackDPoPOldProof(t *testing.T) {
	v := newDPoPVictim(t)
	// Made six minutes ago (the window is five), with a nonce that is
	// still current.
	old, err := v.key.Proof("POST", v.in.issuer+"/token", "", v.nonce, v.in.clock.Now().Add(-6*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	before := v.in.fingerprint(t)
	wantProofRefused(t, dppPost(t, v.in, "/token", v.codeForm(), nil, old), "too old")
	v.in.unchanged(t, before)
	v.redeem(t)
}

func attackDPoPFutureProof(t *testing.T) {
	v := newDPoPVictim(t)
	// Dated two minutes ahead: it would stay usable two minutes longer
	// than any proof made now.
	ahead, err := v.key.Proof("POST", v.in.issuer+"/token", "", v.nonce, v.in.clock.Now().Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	before := v.in.fingerprint(t)
	wantProofRefused(t, dppPost(t, v.in, "/token", v.codeForm(), nil, ahead), "future")
	v.in.unchanged(t, before)
	v.redeem(t)
}

func attackDPoPAlgNone(t *testing.T) {
	v := newDPoPVictim(t)
	key := newECKey(t)
	// Unsecured (RFC 7515 §A.5): the signature part is empty.
	proof := handJWS(t, map[string]any{"typ": "dpop+jwt", "alg": "none", "jwk": ecJWK(t, key, false)},
		proofClaims(v.in, "POST", "/token", v.nonce), nil)
	before := v.in.fingerprint(t)
	wantProofRefused(t, dppPost(t, v.in, "/token", v.codeForm(), nil, proof), "not a compact JWS")
	v.in.unchanged(t, before)
	v.redeem(t)
}

func attackDPoPHMAC(t *testing.T) {
	v := newDPoPVictim(t)
	key := newECKey(t)
	jwk := ecJWK(t, key, false)
	// The "secret" of the MAC is the public key the header carries: anyone
	// can make it.
	secret, err := json.Marshal(jwk)
	if err != nil {
		t.Fatal(err)
	}
	proof := handJWS(t, map[string]any{"typ": "dpop+jwt", "alg": "HS256", "jwk": jwk},
		proofClaims(v.in, "POST", "/token", v.nonce), func(in []byte) []byte {
			m := hmac.New(sha256.New, secret)
			m.Write(in)
			return m.Sum(nil)
		})
	before := v.in.fingerprint(t)
	wantProofRefused(t, dppPost(t, v.in, "/token", v.codeForm(), nil, proof), "ES256")
	v.in.unchanged(t, before)
	v.redeem(t)
}

func attackDPoPPrivateJWK(t *testing.T) {
	v := newDPoPVictim(t)
	key := newECKey(t)
	// A correct signature, but the key is no secret: whoever saw the
	// proof could make the next one.
	proof := handJWS(t, map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": ecJWK(t, key, true)},
		proofClaims(v.in, "POST", "/token", v.nonce), es256(t, key))
	before := v.in.fingerprint(t)
	wantProofRefused(t, dppPost(t, v.in, "/token", v.codeForm(), nil, proof), "private key")
	v.in.unchanged(t, before)
	v.redeem(t)
}

func attackDPoPTokenOtherKey(t *testing.T) {
	v := newDPoPVictim(t)
	at, _ := v.redeem(t)
	attacker := dppKey(t)
	before := v.in.fingerprint(t)
	// The proof itself is valid (its jti is spent), the key is not the
	// token's.
	wantChallenge(t, dppUserinfo(t, v.in, "DPoP", at, dppProof(t, v.in, attacker, "GET", "/userinfo", at, v.nonce)),
		`DPoP error="invalid_token", algs="ES256"`)
	v.in.unchanged(t, before, "replay_values")
	v.userinfoWorks(t, at)
}

func attackDPoPBoundAsBearer(t *testing.T) {
	v := newDPoPVictim(t)
	at, _ := v.redeem(t)
	before := v.in.fingerprint(t)
	wantChallenge(t, dppUserinfo(t, v.in, "Bearer", at), `DPoP error="invalid_token", algs="ES256"`)
	// The form parameter of RFC 6750 §2.2 is a bearer presentation too.
	r := postForm(t, v.in.base+"/userinfo", url.Values{"access_token": {at}}, nil)
	wantChallenge(t, r, `DPoP error="invalid_token", algs="ES256"`)
	v.in.unchanged(t, before)
	v.userinfoWorks(t, at)
}

func attackDPoPNoATH(t *testing.T) {
	v := newDPoPVictim(t)
	at, _ := v.redeem(t)
	before := v.in.fingerprint(t)
	// A proof of the right key made for no token: one captured at the
	// token endpoint is of this kind.
	r := dppUserinfo(t, v.in, "DPoP", at, v.proof(t, "GET", "/userinfo", ""))
	wantChallenge(t, r, `DPoP error="invalid_dpop_proof", algs="ES256"`)
	v.in.unchanged(t, before)
	v.userinfoWorks(t, at)
}

func attackDPoPWrongATH(t *testing.T) {
	v := newDPoPVictim(t)
	previous, rt := v.redeem(t)
	// The attacker holds a proof the app made for its previous access
	// token and presents it with the current one.
	stale := v.proof(t, "GET", "/userinfo", previous)
	r := dppPost(t, v.in, "/token", v.refreshForm(rt), nil, v.proof(t, "POST", "/token", ""))
	if r.status != http.StatusOK {
		t.Fatalf("the app's refresh: %d %s", r.status, r.body)
	}
	at := r.json(t)["access_token"].(string)
	before := v.in.fingerprint(t)
	r = dppUserinfo(t, v.in, "DPoP", at, stale)
	wantChallenge(t, r, `DPoP error="invalid_dpop_proof", algs="ES256"`)
	v.in.unchanged(t, before)
	v.userinfoWorks(t, at)
}

func attackDPoPRefreshOtherKey(t *testing.T) {
	v := newDPoPVictim(t)
	_, rt := v.redeem(t)
	attacker := dppKey(t)
	before := v.in.fingerprint(t)
	r := dppPost(t, v.in, "/token", v.refreshForm(rt), nil, dppProof(t, v.in, attacker, "POST", "/token", "", v.nonce))
	wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
	// The proof's jti is spent; the refresh token is neither spent nor is
	// its session ended: a thief without the key cannot log the member out.
	v.in.unchanged(t, before, "replay_values")
	v.refreshed(t, rt)
}

func attackDPoPCodeOtherJKT(t *testing.T) {
	stolenBoundCode(t, func(in *instance, q url.Values, key *dpop.Key, _ string) result {
		q.Set("dpop_jkt", key.Thumbprint())
		return dppPost(t, in, "/par", q, nil)
	})
}

// stolenBoundCode pushes the app's request with its key named by push
// (dpop_jkt, or a proof at the pushed request), logs the member in, and
// redeems the code and verifier an attacker stole with the attacker's key:
// refused, and the code spent (someone else holds it), so that the
// member's own redemption fails too and no token exists.
func stolenBoundCode(t *testing.T, push func(in *instance, q url.Values, key *dpop.Key, nonce string) result) {
	t.Helper()
	w := newWorld(t)
	cs := newDPPClients(t, w)
	in := w.start(t, sqliteEngine.storage(t), cs.option)
	key, attacker := dppKey(t), dppKey(t)
	nonce := wantNonce(t, dppPost(t, in, "/par", url.Values{}, nil))
	q, verifier := dppAuthorize(cs.app, dppAppRedirect, "openid")
	r := push(in, q, key, nonce)
	if r.status != http.StatusCreated {
		t.Fatalf("push: %d %s", r.status, r.body)
	}
	code := dppLogin(t, in, url.Values{"client_id": {cs.app.ID}, "request_uri": {r.json(t)["request_uri"].(string)}}, dppAppRedirect, q.Get("state"))
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {dppAppRedirect},
		"client_id": {cs.app.ID}, "code_verifier": {verifier},
	}
	before := in.fingerprint(t)
	wantOAuthError(t, dppPost(t, in, "/token", form, nil, dppProof(t, in, attacker, "POST", "/token", "", nonce)),
		http.StatusBadRequest, "invalid_grant")
	in.unchanged(t, before, "auth_codes", "replay_values")
	wantOAuthError(t, dppPost(t, in, "/token", form, nil, dppProof(t, in, key, "POST", "/token", "", nonce)),
		http.StatusBadRequest, "invalid_grant")
}

func attackDPoPStaleNonce(t *testing.T) {
	v := newDPoPVictim(t)
	_, rt := v.redeem(t)
	// Eleven minutes later the nonce of the login is two slots old.
	v.w.clock.Advance(11 * time.Minute)
	before := v.in.fingerprint(t)
	r := dppPost(t, v.in, "/token", v.refreshForm(rt), nil, v.proof(t, "POST", "/token", ""))
	wantOAuthError(t, r, http.StatusBadRequest, "use_dpop_nonce")
	fresh := wantNonce(t, r)
	if fresh == v.nonce {
		t.Fatal("the answer repeats the stale nonce")
	}
	v.in.unchanged(t, before)
	// The retry with the fresh nonce finds the refresh token unspent.
	v.nonce = fresh
	v.refreshed(t, rt)
}

func attackDPoPForeignNonce(t *testing.T) {
	v := newDPoPVictim(t)
	// Another Pforte installation (another master key) gave the attacker
	// a nonce.
	other := newWorld(t).start(t, sqliteEngine.storage(t))
	foreign := wantNonce(t, dppPost(t, other, "/token", url.Values{}, nil))
	before := v.in.fingerprint(t)
	r := dppPost(t, v.in, "/token", v.codeForm(), nil, dppProof(t, v.in, v.key, "POST", "/token", "", foreign))
	wantOAuthError(t, r, http.StatusBadRequest, "use_dpop_nonce")
	v.in.unchanged(t, before)
	v.redeem(t)
}

func attackDPoPNoProof(t *testing.T) {
	v := newDPoPVictim(t)
	before := v.in.fingerprint(t)
	wantProofRefused(t, dppPost(t, v.in, "/token", v.codeForm(), nil), "required")
	v.in.unchanged(t, before)
	v.redeem(t)
}

func attackDPoPCodeOtherPARKey(t *testing.T) {
	// The app names its key by a proof at the pushed request instead of
	// dpop_jkt: the code is bound to that key all the same.
	stolenBoundCode(t, func(in *instance, q url.Values, key *dpop.Key, nonce string) result {
		return dppPost(t, in, "/par", q, nil, dppProof(t, in, key, "POST", "/par", "", nonce))
	})
}

func attackDPoPOffCurveKey(t *testing.T) {
	v := newDPoPVictim(t)
	// Coordinates of the right size that are no point of P-256: a verifier
	// that takes them unchecked leaks its secrets or, here, binds tokens
	// to a key nobody holds.
	jwk := ecJWK(t, newECKey(t), false)
	y, err := base64.RawURLEncoding.DecodeString(jwk["y"].(string))
	if err != nil {
		t.Fatal(err)
	}
	y[31] ^= 1
	jwk["y"] = base64.RawURLEncoding.EncodeToString(y)
	proof := handJWS(t, map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk},
		proofClaims(v.in, "POST", "/token", v.nonce), es256(t, newECKey(t)))
	before := v.in.fingerprint(t)
	wantProofRefused(t, dppPost(t, v.in, "/token", v.codeForm(), nil, proof), "P-256")
	v.in.unchanged(t, before)
	v.redeem(t)
}
