package keys_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/pforte-id/pforte/adapters/keys"
	"github.com/pforte-id/pforte/core/dpop"
	"github.com/pforte-id/pforte/core/fault"
)

const dpopPayload = `{"jti":"-BwC3ESc6acc2lTc","htm":"POST","htu":"https://login.example/token","iat":1796040000}`

// ecJWK is the public JWK of pub, written by hand (RFC 7518 §6.2.1) rather
// than by jwx, with extra members added.
func ecJWK(t testing.TB, pub *ecdsa.PublicKey, extra map[string]any) map[string]any {
	t.Helper()
	b, err := pub.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	size := (len(b) - 1) / 2
	crv := map[int]string{32: "P-256", 48: "P-384"}[size]
	m := map[string]any{"kty": "EC", "crv": crv, "x": enc.EncodeToString(b[1 : 1+size]), "y": enc.EncodeToString(b[1+size:])}
	maps.Copy(m, extra)
	return m
}

// thumbprint is the RFC 7638 thumbprint of a P-256 key, by hand: SHA-256 of
// the required members in lexicographic order without white space.
func thumbprint(t testing.TB, pub *ecdsa.PublicKey) string {
	t.Helper()
	b, err := pub.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + enc.EncodeToString(b[1:33]) + `","y":"` + enc.EncodeToString(b[33:]) + `"}`))
	return enc.EncodeToString(sum[:])
}

// dpopHdr is a proof header for priv's public key, with changes: a nil
// value removes a member.
func dpopHdr(t testing.TB, priv *ecdsa.PrivateKey, changes map[string]any) map[string]any {
	h := map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": ecJWK(t, &priv.PublicKey, nil)}
	for k, v := range changes {
		if v == nil {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	return h
}

func TestDPoPVerifyAccepts(t *testing.T) {
	v := keys.NewDPoPVerifier()
	want := dpop.Proof{
		JKT: thumbprint(t, &p256Key.PublicKey),
		JTI: "-BwC3ESc6acc2lTc", HTM: "POST", HTU: "https://login.example/token",
		IAT: time.Unix(1796040000, 0).UTC(),
	}
	full := `{"jti":"j","htm":"GET","htu":"https://login.example/userinfo","iat":1796040000.25,` +
		`"ath":"fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo","nonce":"eyJ7S_zG.eyJH0-Z.HX4w-7v"}`
	for _, tc := range []struct {
		name, raw string
		want      dpop.Proof
	}{
		{"plain", forge(t, dpopHdr(t, p256Key, nil), dpopPayload, es256(p256Key)), want},
		{"jwk with kid, use and alg", forge(t, dpopHdr(t, p256Key, map[string]any{
			"jwk": ecJWK(t, &p256Key.PublicKey, map[string]any{"kid": "app", "use": "sig", "alg": "ES256"}),
		}), dpopPayload, es256(p256Key)), want},
		{"every claim, fractional iat", forge(t, dpopHdr(t, p256Key, nil), full, es256(p256Key)), dpop.Proof{
			JKT: want.JKT, JTI: "j", HTM: "GET", HTU: "https://login.example/userinfo",
			IAT: time.Unix(1796040000, 250e6).UTC(), ATH: "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo", Nonce: "eyJ7S_zG.eyJH0-Z.HX4w-7v",
		}},
		{"no claims: left to the policy", forge(t, dpopHdr(t, p256Key, nil), `{}`, es256(p256Key)), dpop.Proof{JKT: want.JKT}},
		{"null iat", forge(t, dpopHdr(t, p256Key, nil), `{"jti":"j","iat":null}`, es256(p256Key)), dpop.Proof{JKT: want.JKT, JTI: "j"}},
		{"made by jwx", jwxDPoP(t, p256Key, dpopPayload), want},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := v.Verify(context.Background(), tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// jwxDPoP signs a proof with jwx, which writes the jwk header itself.
func jwxDPoP(t *testing.T, priv *ecdsa.PrivateKey, payload string) string {
	t.Helper()
	pub, err := jwk.Import(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	h := jws.NewHeaders()
	h.Set(jws.TypeKey, "dpop+jwt")
	h.Set(jws.JWKKey, pub)
	b, err := jws.Sign([]byte(payload), jws.WithKey(jwa.ES256(), priv, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDPoPThumbprintMatchesJWX(t *testing.T) {
	k, err := jwk.Import(&p256Key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if got := enc.EncodeToString(sum); got != thumbprint(t, &p256Key.PublicKey) {
		t.Fatalf("jwx %s, by hand %s", got, thumbprint(t, &p256Key.PublicKey))
	}
}

func TestDPoPVerifyRejects(t *testing.T) {
	v := keys.NewDPoPVerifier()
	other := mustP256()
	p := dpopPayload
	es := es256(p256Key)
	hdr := func(changes map[string]any) map[string]any { return dpopHdr(t, p256Key, changes) }
	privJWK := ecJWK(t, &p256Key.PublicKey, map[string]any{"d": privateScalar(t, p256Key)})
	rsaJWK := map[string]any{"kty": "RSA", "e": "AQAB", "n": enc.EncodeToString(rsaKey.N.Bytes())}
	short := shortCoordinateKey(t)
	shortJWK := ecJWK(t, &short.PublicKey, nil)
	shortPoint, _ := short.PublicKey.Bytes()
	shortJWK["x"] = enc.EncodeToString(shortPoint[2:33]) // the leading zero byte dropped
	offCurve := ecJWK(t, &p256Key.PublicKey, nil)
	offCurve["y"] = ecJWK(t, &other.PublicKey, nil)["y"]
	jwkJSON, _ := json.Marshal(ecJWK(t, &p256Key.PublicKey, nil))

	for _, tc := range []struct {
		name, raw, public string
	}{
		{"typ JWT", forge(t, hdr(map[string]any{"typ": "JWT"}), p, es), "typ"},
		{"typ with application/ prefix", forge(t, hdr(map[string]any{"typ": "application/dpop+jwt"}), p, es), "typ"},
		{"typ in upper case", forge(t, hdr(map[string]any{"typ": "DPOP+JWT"}), p, es), "typ"},
		{"no typ", forge(t, hdr(map[string]any{"typ": nil}), p, es), "typ"},
		{"alg none", forge(t, hdr(map[string]any{"alg": "none"}), p, func([]byte) []byte { return []byte("x") }), "alg"},
		{"alg none, no signature", forge(t, hdr(map[string]any{"alg": "none"}), p, func([]byte) []byte { return nil }), "compact JWS"},
		{"HS256 keyed with the jwk", forge(t, hdr(map[string]any{"alg": "HS256"}), p, hs256(jwkJSON)), "alg"},
		{"RS256 with an RSA jwk", forge(t, hdr(map[string]any{"alg": "RS256", "jwk": rsaJWK}), p, rs256(rsaKey)), "alg"},
		{"ES256 with an RSA jwk", forge(t, hdr(map[string]any{"jwk": rsaJWK}), p, rs256(rsaKey)), "jwk"},
		{"ES384", forge(t, hdr(map[string]any{"alg": "ES384", "jwk": ecJWK(t, &p384Key.PublicKey, nil)}), p, es384(p384Key)), "alg"},
		{"ES256 with a P-384 jwk", forge(t, hdr(map[string]any{"jwk": ecJWK(t, &p384Key.PublicKey, nil)}), p, es384(p384Key)), "jwk"},
		{"no jwk", forge(t, hdr(map[string]any{"jwk": nil}), p, es), "no jwk"},
		{"jwk null", forge(t, hdr(map[string]any{"jwk": json.RawMessage("null")}), p, es), "no jwk"},
		{"jwk not an object", forge(t, hdr(map[string]any{"jwk": "key"}), p, es), "jwk"},
		{"jwk as a JWKS", forge(t, hdr(map[string]any{"jwk": map[string]any{"keys": []any{ecJWK(t, &p256Key.PublicKey, nil)}}}), p, es), "jwk"},
		{"jwk with the private key", forge(t, hdr(map[string]any{"jwk": privJWK}), p, es), "private key"},
		{"jwk with an empty d", forge(t, hdr(map[string]any{"jwk": ecJWK(t, &p256Key.PublicKey, map[string]any{"d": ""})}), p, es), "private key"},
		{"oct jwk", forge(t, hdr(map[string]any{"alg": "HS256", "jwk": map[string]any{"kty": "oct", "k": "c2VjcmV0"}}), p, hs256([]byte("secret"))), "alg"},
		{"jwk with a short coordinate", forge(t, dpopHdr(t, short, map[string]any{"jwk": shortJWK}), p, es256(short)), "jwk"},
		{"jwk off the curve", forge(t, hdr(map[string]any{"jwk": offCurve}), p, es), "jwk"},
		{"signed by another key", forge(t, hdr(nil), p, es256(other)), "signature"},
		{"tampered payload", tamper(forge(t, hdr(nil), p, es)), "signature"},
		{"header swapped for another key", swapHeader(forge(t, hdr(nil), p, es), dpopHdr(t, other, nil)), "signature"},
		{"ASN.1 signature", forge(t, hdr(nil), p, asn1ES256(p256Key)), "signature"},
		{"empty signature bytes", forge(t, hdr(nil), p, func([]byte) []byte { return []byte{0} }), "signature"},
		{"crit header", forge(t, hdr(map[string]any{"crit": []string{"exp"}}), p, es), "compact JWS"},
		{"oversize", forge(t, hdr(nil), `{"jti":"`+strings.Repeat("a", 8<<10)+`"}`, es), "too large"},
		{"jti a number", forge(t, hdr(nil), `{"jti":1,"htm":"POST"}`, es), "claims"},
		{"payload an array", forge(t, hdr(nil), `[]`, es), "claims"},
		{"payload not JSON", forge(t, hdr(nil), `jti`, es), "claims"},
		{"iat a string", forge(t, hdr(nil), `{"jti":"j","iat":"1796040000"}`, es), "iat"},
		{"iat negative", forge(t, hdr(nil), `{"jti":"j","iat":-1}`, es), "iat"},
		{"iat beyond 9999", forge(t, hdr(nil), `{"jti":"j","iat":1e300}`, es), "iat"},
		{"iat true", forge(t, hdr(nil), `{"jti":"j","iat":true}`, es), "iat"},
		{"empty", "", "compact JWS"},
		{"garbage", "garbage", "compact JWS"},
		{"three dots", "a.b.c.d", "compact JWS"},
		{"not base64url", "a+b.c.d", "compact JWS"},
		{"header not JSON", enc.EncodeToString([]byte("dpop")) + ".e30.AAAA", "compact JWS"},
		{"a JWT without signature", enc.EncodeToString([]byte(`{"typ":"dpop+jwt","alg":"ES256"}`)) + "." + enc.EncodeToString([]byte(p)) + ".", "compact JWS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := v.Verify(context.Background(), tc.raw)
			wantDPoPError(t, err, tc.public)
			if got != (dpop.Proof{}) {
				t.Errorf("a rejected proof returned %+v", got)
			}
		})
	}
}

func wantDPoPError(t *testing.T, err error, public string) {
	t.Helper()
	wantKind(t, err, fault.Unauthenticated)
	if code, _ := fault.CodeOf(err); code != dpop.CodeInvalidProof {
		t.Fatalf("%v is not dpop.CodeInvalidProof", err)
	}
	if p := fault.PublicOf(err); !strings.HasPrefix(p, "DPoP proof") || !strings.Contains(p, public) {
		t.Fatalf("public text %q, want it to contain %q", p, public)
	}
}

func TestDPoPVerifyAndCheck(t *testing.T) {
	// The verifier's output is what the policy needs: a proof made now for
	// the request passes both.
	now := time.Unix(1796040000, 0)
	raw := forge(t, dpopHdr(t, p256Key, nil), dpopPayload, es256(p256Key))
	p, err := keys.NewDPoPVerifier().Verify(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := (dpop.Policy{}).Check(p, "POST", "https://login.example/token", now, ""); err != nil {
		t.Fatal(err)
	}
	if err := (dpop.Policy{}).Check(p, "GET", "https://login.example/token", now, ""); err == nil {
		t.Fatal("a proof for POST passed for GET")
	}
}

// privateScalar is the JWK d of priv.
func privateScalar(t *testing.T, priv *ecdsa.PrivateKey) string {
	b, err := priv.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return enc.EncodeToString(b)
}

// shortCoordinateKey returns a P-256 key whose x coordinate starts with a
// zero byte (one key in 256), so that a JWK can drop it.
func shortCoordinateKey(t *testing.T) *ecdsa.PrivateKey {
	for range 1 << 14 {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := k.PublicKey.Bytes(); b[1] == 0 {
			return k
		}
	}
	t.Fatal("no key with a short x coordinate")
	return nil
}

// asn1ES256 signs with the DER signature encoding instead of R ‖ S.
func asn1ES256(priv *ecdsa.PrivateKey) func([]byte) []byte {
	return func(input []byte) []byte {
		d := sha256.Sum256(input)
		sig, err := ecdsa.SignASN1(rand.Reader, priv, d[:])
		if err != nil {
			panic(err)
		}
		return sig
	}
}

// swapHeader replaces the protected header of a compact JWS.
func swapHeader(raw string, hdr map[string]any) string {
	b, _ := json.Marshal(hdr)
	return enc.EncodeToString(b) + raw[strings.IndexByte(raw, '.'):]
}

func BenchmarkDPoPVerify(b *testing.B) {
	v := keys.NewDPoPVerifier()
	raw := forge(b, dpopHdr(b, p256Key, nil), dpopPayload, es256(p256Key))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(context.Background(), raw); err != nil {
			b.Fatal(err)
		}
	}
}
