package keys_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/pforte-id/pforte/adapters/keys"
	"github.com/pforte-id/pforte/core/fault"
)

type assertionClaims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Aud string `json:"aud"`
	JTI string `json:"jti"`
}

const assertionPayload = `{"iss":"portal","sub":"portal","aud":"https://login.example","jti":"j1"}`

// clientJWKS renders public keys as a JWKS; kid "" leaves the kid out, alg
// "" the alg.
func clientJWKS(t testing.TB, entries ...jwksEntry) []byte {
	t.Helper()
	var out []json.RawMessage
	for _, e := range entries {
		k, err := jwk.Import(e.pub)
		if err != nil {
			t.Fatal(err)
		}
		if e.kid != "" {
			k.Set(jwk.KeyIDKey, e.kid)
		}
		if e.alg != "" {
			k.Set(jwk.AlgorithmKey, e.alg)
		}
		if e.use != "" {
			k.Set(jwk.KeyUsageKey, e.use)
		}
		b, _ := json.Marshal(k)
		out = append(out, b)
	}
	b, _ := json.Marshal(map[string]any{"keys": out})
	return b
}

type jwksEntry struct {
	pub           any
	kid, alg, use string
}

func rs256(k *rsa.PrivateKey) func([]byte) []byte {
	return func(in []byte) []byte {
		d := sha256.Sum256(in)
		s, _ := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, d[:])
		return s
	}
}

func ps256(k *rsa.PrivateKey) func([]byte) []byte {
	return func(in []byte) []byte {
		d := sha256.Sum256(in)
		s, _ := rsa.SignPSS(rand.Reader, k, crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		return s
	}
}

func es384(k *ecdsa.PrivateKey) func([]byte) []byte {
	return func(in []byte) []byte {
		d := sha512.Sum384(in)
		r, s, _ := ecdsa.Sign(rand.Reader, k, d[:])
		sig := make([]byte, 96)
		r.FillBytes(sig[:48])
		s.FillBytes(sig[48:])
		return sig
	}
}

func eddsa(k ed25519.PrivateKey) func([]byte) []byte {
	return func(in []byte) []byte { return ed25519.Sign(k, in) }
}

// Client keys are generated once: RSA generation is slow on two cores.
var (
	rsaKey, rsaKey2 = mustRSA(2048), mustRSA(2048)
	p256Key, _      = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384Key, _      = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, edKey, _     = ed25519.GenerateKey(rand.Reader)
)

func mustRSA(bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return k
}

func TestVerifyAssertionAccepts(t *testing.T) {
	v := keys.NewAssertionVerifier(0)
	all := clientJWKS(t,
		jwksEntry{pub: &rsaKey.PublicKey, kid: "rsa", use: "sig"},
		jwksEntry{pub: &p256Key.PublicKey, kid: "p256", alg: "ES256"},
		jwksEntry{pub: &p384Key.PublicKey, kid: "p384"},
		jwksEntry{pub: edKey.Public(), kid: "ed"},
	)
	for _, tc := range []struct {
		name, raw string
		jwks      []byte
	}{
		{"RS256", forge(t, map[string]any{"alg": "RS256", "kid": "rsa"}, assertionPayload, rs256(rsaKey)), all},
		{"PS256", forge(t, map[string]any{"alg": "PS256", "kid": "rsa"}, assertionPayload, ps256(rsaKey)), all},
		{"ES256", forge(t, map[string]any{"alg": "ES256", "kid": "p256", "typ": "JWT"}, assertionPayload, es256(p256Key)), all},
		{"ES384", forge(t, map[string]any{"alg": "ES384", "kid": "p384"}, assertionPayload, es384(p384Key)), all},
		{"EdDSA", forge(t, map[string]any{"alg": "EdDSA", "kid": "ed"}, assertionPayload, eddsa(edKey)), all},
		{"no kid, the only key", forge(t, map[string]any{"alg": "RS256"}, assertionPayload, rs256(rsaKey)),
			clientJWKS(t, jwksEntry{pub: &rsaKey.PublicKey})},
		{"no kid, the only signing key", forge(t, map[string]any{"alg": "ES256"}, assertionPayload, es256(p256Key)),
			clientJWKS(t, jwksEntry{pub: &p256Key.PublicKey}, jwksEntry{pub: &rsaKey2.PublicKey, use: "enc"})},
		{"signed by jwx", jwxSigned(t, p256Key, "p256"), all},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c assertionClaims
			if err := v.VerifyAssertion(context.Background(), tc.raw, tc.jwks, &c); err != nil {
				t.Fatal(err)
			}
			if c.Iss != "portal" || c.JTI != "j1" {
				t.Errorf("claims %+v", c)
			}
		})
	}
}

func jwxSigned(t *testing.T, priv *ecdsa.PrivateKey, kid string) string {
	k, err := jwk.Import(priv)
	if err != nil {
		t.Fatal(err)
	}
	k.Set(jwk.KeyIDKey, kid)
	b, err := jws.Sign([]byte(assertionPayload), jws.WithKey(jwa.ES256(), k))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestVerifyAssertionRejects(t *testing.T) {
	v := keys.NewAssertionVerifier(0)
	rsaJWKS := clientJWKS(t, jwksEntry{pub: &rsaKey.PublicKey, kid: "rsa"})
	ecJWKS := clientJWKS(t, jwksEntry{pub: &p256Key.PublicKey, kid: "ec"})
	two := clientJWKS(t, jwksEntry{pub: &rsaKey.PublicKey, kid: "a"}, jwksEntry{pub: &rsaKey2.PublicKey, kid: "b"})
	small := mustRSA(1024)
	octJWKS := []byte(`{"keys":[{"kty":"oct","kid":"rsa","k":"` + enc.EncodeToString([]byte("shared secret")) + `"}]}`)
	h := func(alg, kid string) map[string]any { return map[string]any{"alg": alg, "kid": kid} }
	for _, tc := range []struct {
		name, raw string
		jwks      []byte
	}{
		{"wrong RSA key", forge(t, h("RS256", "rsa"), assertionPayload, rs256(rsaKey2)), rsaJWKS},
		{"wrong EC key", forge(t, h("ES256", "ec"), assertionPayload, es256(mustP256())), ecJWKS},
		{"alg none", forge(t, h("none", "rsa"), assertionPayload, func([]byte) []byte { return []byte("x") }), rsaJWKS},
		{"alg none, no signature", forge(t, h("none", "rsa"), assertionPayload, func([]byte) []byte { return nil }), rsaJWKS},
		{"HS256 keyed with the JWKS", forge(t, h("HS256", "rsa"), assertionPayload, hs256(rsaJWKS)), rsaJWKS},
		{"HS256 keyed with the JWK", forge(t, h("HS256", "rsa"), assertionPayload, hs256(jwkOf(t, rsaJWKS))), rsaJWKS},
		{"HS256 with an oct key in the JWKS", forge(t, h("HS256", "rsa"), assertionPayload, hs256([]byte("shared secret"))), octJWKS},
		{"HS512", forge(t, h("HS512", "rsa"), assertionPayload, hs256(rsaJWKS)), rsaJWKS},
		{"RS512 not allowed", forge(t, h("RS512", "rsa"), assertionPayload, rs256(rsaKey)), rsaJWKS},
		{"RS256 header on an EC key", forge(t, h("RS256", "ec"), assertionPayload, rs256(rsaKey)), ecJWKS},
		{"ES384 header on a P-256 key", forge(t, h("ES384", "ec"), assertionPayload, es384(p384Key)), ecJWKS},
		{"JWK alg differs", forge(t, h("RS256", "rsa"), assertionPayload, rs256(rsaKey)),
			clientJWKS(t, jwksEntry{pub: &rsaKey.PublicKey, kid: "rsa", alg: "PS256"})},
		{"encryption key", forge(t, h("RS256", "rsa"), assertionPayload, rs256(rsaKey)),
			clientJWKS(t, jwksEntry{pub: &rsaKey.PublicKey, kid: "rsa", use: "enc"})},
		{"RSA key under 2048 bits", forge(t, h("RS256", "s"), assertionPayload, rs256(small)),
			[]byte(`{"keys":[{"kty":"RSA","kid":"s","e":"AQAB","n":"` + enc.EncodeToString(small.N.Bytes()) + `"}]}`)},
		{"unknown kid", forge(t, h("RS256", "other"), assertionPayload, rs256(rsaKey)), rsaJWKS},
		{"no kid, two keys", forge(t, map[string]any{"alg": "RS256"}, assertionPayload, rs256(rsaKey)), two},
		{"tampered payload", tamper(forge(t, h("RS256", "rsa"), assertionPayload, rs256(rsaKey))), rsaJWKS},
		{"malformed token", "not.a.jws", rsaJWKS},
		{"oversize token", forge(t, h("RS256", "rsa"), `{"x":"`+strings.Repeat("a", 17<<10)+`"}`, rs256(rsaKey)), rsaJWKS},
		{"malformed JWKS", forge(t, h("RS256", "rsa"), assertionPayload, rs256(rsaKey)), []byte(`{"keys":[{"kty":`)},
		{"empty JWKS", forge(t, h("RS256", "rsa"), assertionPayload, rs256(rsaKey)), []byte(`{"keys":[]}`)},
		{"oversize JWKS", forge(t, h("RS256", "rsa"), assertionPayload, rs256(rsaKey)), append(rsaJWKS, make([]byte, 64<<10)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c assertionClaims
			wantKind(t, v.VerifyAssertion(context.Background(), tc.raw, tc.jwks, &c), fault.Unauthenticated)
			if c.Iss != "" {
				t.Errorf("claims filled from a rejected assertion: %+v", c)
			}
		})
	}
}

func TestAssertionCacheFollowsJWKSChange(t *testing.T) {
	// A client that rotates its key registers a new JWKS; the old parsed set
	// must not be used for it.
	v := keys.NewAssertionVerifier(2)
	raw := forge(t, map[string]any{"alg": "RS256", "kid": "k"}, assertionPayload, rs256(rsaKey))
	oldJWKS := clientJWKS(t, jwksEntry{pub: &rsaKey.PublicKey, kid: "k"})
	newJWKS := clientJWKS(t, jwksEntry{pub: &rsaKey2.PublicKey, kid: "k"})
	for i := range 3 { // also from the cache
		if err := v.VerifyAssertion(context.Background(), raw, oldJWKS, &assertionClaims{}); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		wantKind(t, v.VerifyAssertion(context.Background(), raw, newJWKS, &assertionClaims{}), fault.Unauthenticated)
	}
}

func jwkOf(t *testing.T, jwks []byte) []byte {
	var s struct{ Keys []json.RawMessage }
	if err := json.Unmarshal(jwks, &s); err != nil {
		t.Fatal(err)
	}
	return s.Keys[0]
}

func tamper(raw string) string {
	p := strings.Split(raw, ".")
	return p[0] + "." + enc.EncodeToString([]byte(`{"iss":"evil"}`)) + "." + p[2]
}

func mustP256() *ecdsa.PrivateKey {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return k
}

func BenchmarkVerifyAssertion(b *testing.B) {
	v := keys.NewAssertionVerifier(0)
	raw := forge(b, map[string]any{"alg": "ES256", "kid": "k"}, assertionPayload, es256(p256Key))
	jwks := clientJWKS(&testing.T{}, jwksEntry{pub: &p256Key.PublicKey, kid: "k"})
	b.ReportAllocs()
	for b.Loop() {
		if err := v.VerifyAssertion(context.Background(), raw, jwks, &assertionClaims{}); err != nil {
			b.Fatal(err)
		}
	}
}
