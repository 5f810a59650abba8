package keys_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/pforte-id/pforte/adapters/keys"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/ports/token"
)

var enc = base64.RawURLEncoding

// forge builds a compact JWS from a header, a payload and a signing function,
// independently of the code under test.
func forge(t testing.TB, hdr map[string]any, payload string, sign func(input []byte) []byte) string {
	t.Helper()
	hb, err := json.Marshal(hdr)
	if err != nil {
		t.Fatal(err)
	}
	input := enc.EncodeToString(hb) + "." + enc.EncodeToString([]byte(payload))
	return input + "." + enc.EncodeToString(sign([]byte(input)))
}

func es256(priv *ecdsa.PrivateKey) func([]byte) []byte {
	return func(input []byte) []byte {
		d := sha256.Sum256(input)
		r, s, err := ecdsa.Sign(rand.Reader, priv, d[:])
		if err != nil {
			panic(err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig
	}
}

func hs256(secret []byte) func([]byte) []byte {
	return func(input []byte) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write(input)
		return m.Sum(nil)
	}
}

func TestSignHeader(t *testing.T) {
	r := newRing(t, &fakeKeys{}, newClock())
	for _, typ := range []string{token.TypeAccess, token.TypeID, "logout+jwt"} {
		raw, err := r.Sign(context.Background(), typ, map[string]string{"a": "b"})
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(raw, ".")
		hb, _ := enc.DecodeString(parts[0])
		want := `{"alg":"ES256","kid":"` + kidOf(t, raw) + `","typ":"` + typ + `"}`
		if string(hb) != want {
			t.Errorf("header %s, want %s", hb, want)
		}
		if sig, _ := enc.DecodeString(parts[2]); len(sig) != 64 {
			t.Errorf("signature is %d bytes, want R‖S of 64", len(sig))
		}
		if err := r.Verify(context.Background(), raw, typ, &map[string]string{}); err != nil {
			t.Errorf("Verify(%s): %v", typ, err)
		}
	}
	_, err := r.Sign(context.Background(), "", nil)
	wantKind(t, err, fault.Invalid)
	_, err = r.Sign(context.Background(), token.TypeID, func() {})
	wantKind(t, err, fault.Internal)
}

func TestVerifyAcceptsTypSpellings(t *testing.T) {
	r := newRing(t, &fakeKeys{}, newClock())
	raw, _ := r.Sign(context.Background(), token.TypeAccess, testClaims{})
	for _, typ := range []string{"at+jwt", "AT+JWT", "application/at+jwt", "Application/At+JWT"} {
		if err := r.Verify(context.Background(), raw, typ, &testClaims{}); err != nil {
			t.Errorf("typ %q: %v", typ, err)
		}
	}
}

func TestVerifyRejects(t *testing.T) {
	ctx := context.Background()
	st := &fakeKeys{}
	r := newRing(t, st, newClock())
	good, err := r.Sign(ctx, token.TypeAccess, testClaims{Sub: "m1"})
	if err != nil {
		t.Fatal(err)
	}
	// Verified once, good is in the verified-token cache: the forgeries
	// below reuse its header and signature, and must still be refused.
	if err := r.Verify(ctx, good, token.TypeAccess, &testClaims{}); err != nil {
		t.Fatal(err)
	}
	kid := kidOf(t, good)
	parts := strings.Split(good, ".")
	body, _ := r.JWKS()
	var jwks struct{ Keys []json.RawMessage }
	json.Unmarshal(body, &jwks)
	pubJWK := jwks.Keys[0]
	pk, _ := jwk.ParseKey(pubJWK)
	var pub any
	if err := jwk.Export(pk, &pub); err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(pub)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	foreign, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	hdr := func(alg, kid string) map[string]any { return map[string]any{"alg": alg, "kid": kid, "typ": "at+jwt"} }
	payload := `{"sub":"attacker"}`
	big := strings.Repeat("x", 17<<10)
	oversize, err := r.Sign(ctx, token.TypeAccess, testClaims{Sub: big})
	if err != nil {
		t.Fatal(err)
	}
	sigBytes, _ := enc.DecodeString(parts[2])

	for _, tc := range []struct {
		name, raw, typ string
	}{
		{"alg none, empty signature", forge(t, hdr("none", kid), payload, func([]byte) []byte { return nil }), "at+jwt"},
		{"alg none, some signature", forge(t, hdr("none", kid), payload, func([]byte) []byte { return []byte("x") }), "at+jwt"},
		{"alg NONE", forge(t, hdr("NONE", kid), payload, es256(foreign)), "at+jwt"},
		{"HS256 keyed with the public JWK", forge(t, hdr("HS256", kid), payload, hs256(pubJWK)), "at+jwt"},
		{"HS256 keyed with the public PEM", forge(t, hdr("HS256", kid), payload, hs256(pubPEM)), "at+jwt"},
		{"HS256 keyed with the JWKS", forge(t, hdr("HS256", kid), payload, hs256(body)), "at+jwt"},
		{"unknown kid", forge(t, hdr("ES256", "nope"), payload, es256(foreign)), "at+jwt"},
		{"no kid", forge(t, map[string]any{"alg": "ES256", "typ": "at+jwt"}, payload, es256(foreign)), "at+jwt"},
		{"known kid, foreign key", forge(t, hdr("ES256", kid), payload, es256(foreign)), "at+jwt"},
		{"alg ES384 claimed", forge(t, hdr("ES384", kid), payload, es256(foreign)), "at+jwt"},
		{"wrong typ", good, token.TypeID},
		{"typ missing", forge(t, map[string]any{"alg": "ES256", "kid": kid}, payload, es256(foreign)), "at+jwt"},
		{"crit header", forge(t, map[string]any{"alg": "ES256", "kid": kid, "typ": "at+jwt", "crit": []string{"exp"}, "exp": 1}, payload, es256(foreign)), "at+jwt"},
		{"tampered payload", parts[0] + "." + enc.EncodeToString([]byte(payload)) + "." + parts[2], "at+jwt"},
		{"oversize", oversize, "at+jwt"},
		{"empty", "", "at+jwt"},
		{"one part", "abc", "at+jwt"},
		{"two parts", parts[0] + "." + parts[1], "at+jwt"},
		{"four parts", good + ".x", "at+jwt"},
		{"empty signature", parts[0] + "." + parts[1] + ".", "at+jwt"},
		{"header not base64url", "%%%." + parts[1] + "." + parts[2], "at+jwt"},
		{"header not JSON", enc.EncodeToString([]byte("nope")) + "." + parts[1] + "." + parts[2], "at+jwt"},
		{"header a JSON array", enc.EncodeToString([]byte("[]")) + "." + parts[1] + "." + parts[2], "at+jwt"},
		{"padding", good + "=", "at+jwt"},
		{"line break in signature", parts[0] + "." + parts[1] + "." + parts[2][:10] + "\n" + parts[2][10:], "at+jwt"},
		{"standard base64 alphabet", parts[0] + "." + parts[1] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(parts[2]) + "+", "at+jwt"},
		{"signature too short", parts[0] + "." + parts[1] + "." + enc.EncodeToString(sigBytes[:63]), "at+jwt"},
		{"signature as ASN.1", parts[0] + "." + parts[1] + "." + enc.EncodeToString(asn1Sig(t, sigBytes)), "at+jwt"},
		{"payload not the claims", forgeWithRing(t, r, "[1,2]"), "at+jwt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c testClaims
			wantKind(t, r.Verify(ctx, tc.raw, tc.typ, &c), fault.Unauthenticated)
			if c.Sub != "" {
				t.Errorf("claims filled from a rejected token: %+v", c)
			}
		})
	}
	if err := r.Verify(ctx, good, token.TypeAccess, &testClaims{}); err != nil {
		t.Fatalf("the good token: %v", err)
	}
}

// forgeWithRing signs an arbitrary payload with the ring's key, through Sign
// with a json.RawMessage.
func forgeWithRing(t *testing.T, r interface {
	Sign(context.Context, string, any) (string, error)
}, payload string) string {
	raw, err := r.Sign(context.Background(), token.TypeAccess, json.RawMessage(payload))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// asn1Sig re-encodes an R‖S signature as ASN.1 DER, the form JOSE forbids.
func asn1Sig(t *testing.T, rs []byte) []byte {
	t.Helper()
	type sig struct{ R, S []byte }
	var b []byte
	for _, part := range [][]byte{rs[:32], rs[32:]} {
		p := part
		for len(p) > 1 && p[0] == 0 {
			p = p[1:]
		}
		if p[0]&0x80 != 0 {
			p = append([]byte{0}, p...)
		}
		b = append(b, 0x02, byte(len(p)))
		b = append(b, p...)
	}
	return append([]byte{0x30, byte(len(b))}, b...)
}

func BenchmarkSign(b *testing.B) {
	r := newRing(b, &fakeKeys{}, newClock())
	claims := benchClaims()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Sign(ctx, token.TypeAccess, claims); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignParallel(b *testing.B) {
	r := newRing(b, &fakeKeys{}, newClock())
	claims := benchClaims()
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := r.Sign(ctx, token.TypeAccess, claims); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSignJWX is the same work through jwx's jws.Sign with a parsed
// jwk.Key, for comparison with the direct crypto/ecdsa path of Sign.
func BenchmarkSignJWX(b *testing.B) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key, err := jwk.Import(priv)
	if err != nil {
		b.Fatal(err)
	}
	key.Set(jwk.KeyIDKey, "bench")
	claims := benchClaims()
	b.ReportAllocs()
	for b.Loop() {
		payload, err := json.Marshal(claims)
		if err != nil {
			b.Fatal(err)
		}
		h := jws.NewHeaders()
		h.Set(jws.TypeKey, token.TypeAccess)
		if _, err := jws.Sign(payload, jws.WithKey(jwa.ES256(), key, jws.WithProtectedHeaders(h))); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify verifies a token this replica has not seen: the ECDSA
// verification.
func BenchmarkVerify(b *testing.B) {
	r := newRing(b, &fakeKeys{}, newClock())
	ctx := context.Background()
	raw, _ := r.Sign(ctx, token.TypeAccess, benchClaims())
	b.ReportAllocs()
	for b.Loop() {
		keys.ForgetVerified(r)
		var c map[string]any
		if err := r.Verify(ctx, raw, token.TypeAccess, &c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCached verifies a token presented again (a resource
// server introspecting it on each API call).
func BenchmarkVerifyCached(b *testing.B) {
	r := newRing(b, &fakeKeys{}, newClock())
	ctx := context.Background()
	raw, _ := r.Sign(ctx, token.TypeAccess, benchClaims())
	b.ReportAllocs()
	for b.Loop() {
		var c map[string]any
		if err := r.Verify(ctx, raw, token.TypeAccess, &c); err != nil {
			b.Fatal(err)
		}
	}
}

func benchClaims() map[string]any {
	return map[string]any{
		"iss": "https://login.example-kasse.de", "sub": "3bc0d4f6b7e94a59a2ff0f9b1c3e2d11",
		"aud": "https://portal.example-kasse.de", "client_id": "portal", "scope": "openid profile",
		"iat": 1796040000, "exp": 1796040300, "jti": "b6f9c1d2e3a4f5061728394a5b6c7d8e",
		"acr": "substantial", "amr": []string{"pwd", "hwk", "mfa"},
	}
}
