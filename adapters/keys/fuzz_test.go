package keys_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/pforte-id/pforte/adapters/keys"
	"github.com/pforte-id/pforte/core/dpop"
	"github.com/pforte-id/pforte/core/fault"
)

// The fuzz targets of this file feed untrusted input to the two JWS
// verifiers a client reaches without any prior authentication: the DPoP
// proof of every token and API request, and the private_key_jwt client
// assertion. Each must refuse with Unauthenticated, never panic, never
// answer with another kind (which would turn garbage into a 500), and
// answer the same input the same way.

// refusedAsUnauthenticated fails unless err is the verifiers' one kind.
func refusedAsUnauthenticated(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, fault.Unauthenticated) {
		t.Fatalf("refusal of kind %v, want Unauthenticated: %v", fault.KindOf(err), err)
	}
}

// checkProof is what every accepted proof satisfies.
func checkProof(t *testing.T, p dpop.Proof) {
	t.Helper()
	if len(p.JKT) != 43 || strings.ContainsAny(p.JKT, "+/=") {
		t.Fatalf("accepted proof with thumbprint %q, want 43 characters of base64url", p.JKT)
	}
	if p.IAT.IsZero() || p.IAT.Location().String() != "UTC" {
		t.Fatalf("accepted proof with iat %v", p.IAT)
	}
}

// FuzzDPoPProof fuzzes the whole DPoP header value. Mutations rarely keep
// a valid signature, so this target explores the parsing in front of it.
func FuzzDPoPProof(f *testing.F) {
	f.Add(forge(f, dpopHdr(f, p256Key, nil), dpopPayload, es256(p256Key)))
	f.Add(forge(f, dpopHdr(f, p256Key, map[string]any{"jwk": map[string]any{"kty": "EC", "crv": "P-256", "x": 1}}), dpopPayload, es256(p256Key)))
	f.Add(forge(f, dpopHdr(f, p256Key, map[string]any{"alg": "none"}), dpopPayload, func([]byte) []byte { return nil }))
	f.Add("eyJ0eXAiOiJkcG9wK2p3dCJ9..")
	f.Add("a.b.c.d")
	f.Add("")
	v := keys.NewDPoPVerifier()
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := v.Verify(context.Background(), raw)
		again, err2 := v.Verify(context.Background(), raw)
		if (err == nil) != (err2 == nil) || p != again {
			t.Fatalf("two answers to one proof: %v / %v", err, err2)
		}
		if err != nil {
			refusedAsUnauthenticated(t, err)
			if code, _ := fault.CodeOf(err); code != dpop.CodeInvalidProof {
				t.Fatalf("refusal with code %q, want %q", code, dpop.CodeInvalidProof)
			}
			return
		}
		checkProof(t, p)
	})
}

// FuzzDPoPSigned fuzzes a proof's header and claims and signs them with a
// real key, so that the input reaches the parsing behind the signature:
// the jwk member, the thumbprint and the claims' JSON types.
func FuzzDPoPSigned(f *testing.F) {
	f.Add(`{"typ":"dpop+jwt","alg":"ES256","jwk":`+jwkJSON(f)+`}`, dpopPayload)
	f.Add(`{"typ":"dpop+jwt","alg":"ES256","jwk":`+jwkJSON(f)+`}`, `{"jti":1,"htm":"POST","htu":"u","iat":"1796040000"}`)
	f.Add(`{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"","y":"","d":"AA"}}`, `{"iat":1e400}`)
	f.Add(`{"typ":"dpop+jwt","alg":"ES256","jwk":null}`, `null`)
	v := keys.NewDPoPVerifier()
	f.Fuzz(func(t *testing.T, header, payload string) {
		raw := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
		raw += "." + enc.EncodeToString(es256(p256Key)([]byte(raw)))
		p, err := v.Verify(context.Background(), raw)
		if err != nil {
			refusedAsUnauthenticated(t, err)
			return
		}
		checkProof(t, p)
		// The key that signed is the only one whose thumbprint can come back:
		// a proof must not be accepted under a key it was not signed with.
		if p.JKT != thumbprint(t, &p256Key.PublicKey) {
			t.Fatalf("accepted under thumbprint %s, signed by %s", p.JKT, thumbprint(t, &p256Key.PublicKey))
		}
	})
}

// FuzzClientAssertion fuzzes a private_key_jwt assertion and the client's
// registered JWKS (which the operator writes, but which a mistake can
// make arbitrary).
func FuzzClientAssertion(f *testing.F) {
	jwks := string(clientJWKS(f, jwksEntry{pub: &p256Key.PublicKey, kid: "p256", alg: "ES256"}, jwksEntry{pub: &rsaKey.PublicKey, kid: "rsa"}))
	f.Add(forge(f, map[string]any{"alg": "ES256", "kid": "p256"}, assertionPayload, es256(p256Key)), jwks)
	f.Add(forge(f, map[string]any{"alg": "RS256", "kid": "rsa"}, assertionPayload, rs256(rsaKey)), jwks)
	f.Add(forge(f, map[string]any{"alg": "HS256", "kid": "p256"}, assertionPayload, hs256([]byte("secret"))), jwks)
	f.Add(forge(f, map[string]any{"alg": "none"}, assertionPayload, func([]byte) []byte { return nil }), jwks)
	f.Add("..", `{"keys":[{"kty":"EC"}]}`)
	f.Add("", "")
	v := keys.NewAssertionVerifier(0)
	f.Fuzz(func(t *testing.T, raw, set string) {
		var c assertionClaims
		err := v.VerifyAssertion(context.Background(), raw, []byte(set), &c)
		if err != nil {
			refusedAsUnauthenticated(t, err)
			return
		}
		// Accepted: the signature verified under a key of set, so the
		// signing input is one of ours, unchanged.
		if strings.Count(raw, ".") != 2 {
			t.Fatalf("accepted an assertion that is not a compact JWS: %q", raw)
		}
	})
}

// jwkJSON is the public JWK of p256Key as JSON.
func jwkJSON(tb testing.TB) string {
	b, err := json.Marshal(ecJWK(tb, &p256Key.PublicKey, nil))
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}
