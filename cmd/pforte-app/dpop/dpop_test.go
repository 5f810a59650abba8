package dpop_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/keys"
	"github.com/pforte-id/pforte/cmd/pforte-app/dpop"
	coredpop "github.com/pforte-id/pforte/core/dpop"
	"github.com/pforte-id/pforte/core/fault"
)

var now = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

const (
	tokenURL    = "https://login.example/token"
	userinfoURL = "https://login.example/userinfo"
)

func newKey(t *testing.T) *dpop.Key {
	t.Helper()
	k, err := dpop.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func verify(t *testing.T, raw string) (coredpop.Proof, error) {
	t.Helper()
	return keys.NewDPoPVerifier().Verify(context.Background(), raw)
}

func TestProofsPassTheServer(t *testing.T) {
	k := newKey(t)
	nonces := coredpop.NonceSource{Key: []byte("0123456789abcdef0123456789abcdef")}
	strict := coredpop.Policy{RequireNonce: true, Nonces: nonces}
	for _, tc := range []struct {
		name, method, target, token, nonce string
		checkURL                           string // the URL the server checks against
		pol                                coredpop.Policy
	}{
		{"token request", "POST", tokenURL, "", "", tokenURL, coredpop.Policy{}},
		{"userinfo with an access token", "GET", userinfoURL, "at-123", "", userinfoURL, coredpop.Policy{}},
		{"query and fragment left out of htu", "GET", userinfoURL + "?schema=openid#x", "at-123", "", userinfoURL, coredpop.Policy{}},
		{"with the server's nonce", "POST", tokenURL, "", nonces.Current(now), tokenURL, strict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := k.Proof(tc.method, tc.target, tc.token, tc.nonce, now)
			if err != nil {
				t.Fatal(err)
			}
			p, err := verify(t, raw)
			if err != nil {
				t.Fatal(err)
			}
			if p.JKT != k.Thumbprint() || !p.BoundTo(k.Thumbprint()) {
				t.Errorf("server thumbprint %s, client %s", p.JKT, k.Thumbprint())
			}
			if strings.ContainsAny(p.HTU, "?#") || !p.IAT.Equal(now) || p.HTM != tc.method || p.Nonce != tc.nonce {
				t.Errorf("proof %+v", p)
			}
			if err := tc.pol.Check(p, tc.method, tc.checkURL, now, tc.token); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestProofsFailTheServerWhenWrong(t *testing.T) {
	k := newKey(t)
	pol := coredpop.Policy{}
	for _, tc := range []struct {
		name, method, target, token string
		at                          time.Time
		checkMethod, checkURL       string
		presented                   string
	}{
		{"wrong method", "GET", tokenURL, "", now, "POST", tokenURL, ""},
		{"wrong URL", "POST", userinfoURL, "", now, "POST", tokenURL, ""},
		{"no ath", "GET", userinfoURL, "", now, "GET", userinfoURL, "at-123"},
		{"ath of another token", "GET", userinfoURL, "at-other", now, "GET", userinfoURL, "at-123"},
		{"made too long ago", "POST", tokenURL, "", now.Add(-time.Hour), "POST", tokenURL, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := k.Proof(tc.method, tc.target, tc.token, "", tc.at)
			if err != nil {
				t.Fatal(err)
			}
			p, err := verify(t, raw)
			if err != nil {
				t.Fatal(err)
			}
			err = pol.Check(p, tc.checkMethod, tc.checkURL, now, tc.presented)
			if code, _ := fault.CodeOf(err); code != coredpop.CodeInvalidProof {
				t.Fatalf("got %v, want an invalid proof", err)
			}
		})
	}
}

func TestVerifierRefusesBrokenProofs(t *testing.T) {
	k := newKey(t)
	raw, err := k.Proof("POST", tokenURL, "", "", now)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(raw, ".")
	huge, err := k.Proof("POST", tokenURL, "", strings.Repeat("n", 9<<10), now)
	if err != nil {
		t.Fatal(err)
	}
	other := newKey(t)
	otherRaw, _ := other.Proof("POST", tokenURL, "", "", now)
	for name, bad := range map[string]string{
		"tampered payload":  parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"jti":"x","htm":"POST","htu":"`+tokenURL+`","iat":1}`)) + "." + parts[2],
		"another key's jwk": strings.SplitN(otherRaw, ".", 2)[0] + "." + parts[1] + "." + parts[2],
		"no signature":      parts[0] + "." + parts[1] + ".",
		"oversize":          huge,
		"garbage":           "garbage",
		"empty":             "",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := verify(t, bad)
			if err == nil || fault.KindOf(err) != fault.Unauthenticated || fault.CodedOf(err) == nil || fault.CodedOf(err).Code != coredpop.CodeInvalidProof {
				t.Fatalf("got %v, want an invalid proof", err)
			}
		})
	}
}

func TestProofShape(t *testing.T) {
	k := newKey(t)
	a, _ := k.Proof("POST", tokenURL, "", "", now)
	b, _ := k.Proof("POST", tokenURL, "", "", now)
	pa, _ := verify(t, a)
	pb, _ := verify(t, b)
	if pa.JTI == pb.JTI || len(pa.JTI) < 22 {
		t.Errorf("jti %q and %q: not fresh random values", pa.JTI, pb.JTI)
	}
	hdr, err := base64.RawURLEncoding.DecodeString(strings.Split(a, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Typ, Alg string
		JWK      map[string]string
	}
	if err := json.Unmarshal(hdr, &h); err != nil {
		t.Fatal(err)
	}
	if h.Typ != "dpop+jwt" || h.Alg != "ES256" || h.JWK["kty"] != "EC" || h.JWK["crv"] != "P-256" || h.JWK["d"] != "" {
		t.Errorf("header %s", hdr)
	}
	if _, err := k.Proof("", tokenURL, "", "", now); err == nil {
		t.Error("a proof without a method")
	}
	for _, target := range []string{"/token", "token", "https://", "::"} {
		if _, err := k.Proof("POST", target, "", "", now); err == nil {
			t.Errorf("a proof for %q", target)
		}
	}
}

func TestKeyJSONRoundTrip(t *testing.T) {
	k := newKey(t)
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	var back dpop.Key
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Thumbprint() != k.Thumbprint() {
		t.Fatal("the thumbprint changed in the state file")
	}
	raw, err := back.Proof("POST", tokenURL, "", "", now)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := verify(t, raw); err != nil || p.JKT != k.Thumbprint() {
		t.Fatalf("restored key: %v, %+v", err, p)
	}
	if k2 := newKey(t); k2.Thumbprint() == k.Thumbprint() {
		t.Error("two new keys share a thumbprint")
	}
}

func TestKeyUnmarshalRejects(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(p384)
	for name, in := range map[string]string{
		"not JSON":      `{`,
		"not base64":    `{"private_key_pkcs8":"***"}`,
		"not PKCS#8":    `{"private_key_pkcs8":"AAAA"}`,
		"a P-384 key":   `{"private_key_pkcs8":"` + base64.StdEncoding.EncodeToString(der) + `"}`,
		"no key at all": `{}`,
	} {
		var k dpop.Key
		if err := json.Unmarshal([]byte(in), &k); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
