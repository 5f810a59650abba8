package authz_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/ports/token"
)

// --- token.Signer and token.AssertionVerifier ---

// fakeJWS signs compact JWS-shaped tokens, base64url(header) "."
// base64url(payload) "." base64url(HMAC-SHA-256), under a test key. It is
// not ES256 (adapters/keys tests that); it gives authz the same contract:
// Verify checks the signature and the typ header and nothing else.
type fakeJWS struct {
	key []byte
	mu  sync.Mutex
	// failNext makes the next Sign of a typ fail with the error.
	failNext map[string]error
}

var (
	_ token.Signer            = (*fakeJWS)(nil)
	_ token.AssertionVerifier = (*fakeJWS)(nil)
)

type jwsHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ,omitempty"`
	Kid string `json:"kid,omitempty"`
}

func signJWS(key []byte, h jwsHeader, claims any) (string, error) {
	hb, err := json.Marshal(h)
	if err != nil {
		return "", err
	}
	pb, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	input := enc.EncodeToString(hb) + "." + enc.EncodeToString(pb)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(input))
	return input + "." + enc.EncodeToString(m.Sum(nil)), nil
}

// verifyJWS checks the HMAC under key and returns header and payload.
func verifyJWS(key []byte, raw string) (jwsHeader, []byte, bool) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return jwsHeader{}, nil, false
	}
	enc := base64.RawURLEncoding
	sig, err := enc.DecodeString(parts[2])
	if err != nil {
		return jwsHeader{}, nil, false
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(sig, m.Sum(nil)) {
		return jwsHeader{}, nil, false
	}
	hb, err1 := enc.DecodeString(parts[0])
	pb, err2 := enc.DecodeString(parts[1])
	var h jwsHeader
	if err1 != nil || err2 != nil || json.Unmarshal(hb, &h) != nil {
		return jwsHeader{}, nil, false
	}
	return h, pb, true
}

func (s *fakeJWS) Sign(_ context.Context, typ string, claims any) (string, error) {
	s.mu.Lock()
	err := s.failNext[typ]
	delete(s.failNext, typ)
	s.mu.Unlock()
	if err != nil {
		return "", err
	}
	return signJWS(s.key, jwsHeader{Alg: "HS256", Typ: typ, Kid: "test"}, claims)
}

func (s *fakeJWS) failNextSign(typ string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failNext == nil {
		s.failNext = map[string]error{}
	}
	s.failNext[typ] = err
}

func (s *fakeJWS) Verify(_ context.Context, raw, typ string, claims any) error {
	h, payload, ok := verifyJWS(s.key, raw)
	if !ok || h.Typ != typ || json.Unmarshal(payload, claims) != nil {
		return fault.New(fault.Unauthenticated, "fake.Verify", "invalid token")
	}
	return nil
}

// VerifyAssertion treats the client's JWKS bytes as its HMAC key, so an
// assertion verifies only for the client whose "key set" signed it.
func (s *fakeJWS) VerifyAssertion(_ context.Context, raw string, jwks []byte, claims any) error {
	if len(jwks) == 0 {
		return fault.New(fault.Unauthenticated, "fake.VerifyAssertion", "no keys")
	}
	_, payload, ok := verifyJWS(jwks, raw)
	if !ok || json.Unmarshal(payload, claims) != nil {
		return fault.New(fault.Unauthenticated, "fake.VerifyAssertion", "invalid assertion")
	}
	return nil
}
