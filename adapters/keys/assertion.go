package keys

import (
	"container/list"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"sync"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/pforte-id/pforte/core/fault"
)

// MaxJWKSSize is the largest client JWKS accepted.
const MaxJWKSSize = 64 << 10

// DefaultAssertionCacheSize is how many parsed client key sets an
// AssertionVerifier keeps.
const DefaultAssertionCacheSize = 256

// minRSABits is the smallest RSA modulus accepted from a client.
const minRSABits = 2048

// AssertionVerifier verifies clients' signed JWTs (private_key_jwt,
// RFC 7523) against the client's registered JWKS. Only asymmetric
// algorithms are allowed — RS256, PS256, ES256, ES384, EdDSA (Ed25519) —
// so neither an unsigned token (alg none) nor an HMAC token keyed with the
// client's public key can pass. Parsed key sets are cached by the SHA-256
// of their JSON, so a changed JWKS is simply a new entry; the cache is
// bounded (least recently used first out). Safe for concurrent use.
type AssertionVerifier struct {
	mu    sync.Mutex
	max   int
	lru   *list.List // of *cachedSet, most recently used at the front
	index map[[32]byte]*list.Element
}

// clientKey is one usable verification key of a client.
type clientKey struct {
	kid string
	alg string // the JWK's alg; empty: any that fits the key
	pub any    // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

type cachedSet struct {
	sum  [32]byte
	keys []clientKey
}

// NewAssertionVerifier returns a verifier caching up to cacheSize parsed key
// sets (0: DefaultAssertionCacheSize).
func NewAssertionVerifier(cacheSize int) *AssertionVerifier {
	if cacheSize <= 0 {
		cacheSize = DefaultAssertionCacheSize
	}
	return &AssertionVerifier{max: cacheSize, lru: list.New(), index: map[[32]byte]*list.Element{}}
}

// VerifyAssertion implements token.AssertionVerifier. The key is chosen by
// the header kid; without a kid only a JWKS with exactly one signing key
// will do. It checks no claims. Errors: Unauthenticated.
func (v *AssertionVerifier) VerifyAssertion(_ context.Context, raw string, jwks []byte, claims any) error {
	const op = "keys.VerifyAssertion"
	c, err := splitCompact(raw)
	if err != nil {
		return fault.Wrap(fault.Unauthenticated, op, err)
	}
	alg, ok := allowedAlgorithm(c.header.Alg)
	if !ok {
		return fault.Wrap(fault.Unauthenticated, op, errors.New("algorithm not allowed"))
	}
	keys, err := v.keySet(jwks)
	if err != nil {
		return fault.Wrap(fault.Unauthenticated, op, err)
	}
	key, err := pickKey(keys, c.header.Kid, c.header.Alg)
	if err != nil {
		return fault.Wrap(fault.Unauthenticated, op, err)
	}
	payload, err := jws.Verify([]byte(raw), jws.WithCompact(), jws.WithKey(alg, key.pub), jws.WithAlgorithmMatch(true))
	if err != nil {
		return fault.Wrap(fault.Unauthenticated, op, errors.New("bad signature"))
	}
	if err := json.Unmarshal(payload, claims); err != nil {
		return fault.Wrap(fault.Unauthenticated, op, errors.New("payload is not the expected JSON"))
	}
	return nil
}

// allowedAlgorithm is the allowlist of client signature algorithms.
func allowedAlgorithm(name string) (jwa.SignatureAlgorithm, bool) {
	switch name {
	case "RS256":
		return jwa.RS256(), true
	case "PS256":
		return jwa.PS256(), true
	case "ES256":
		return jwa.ES256(), true
	case "ES384":
		return jwa.ES384(), true
	case "EdDSA":
		return jwa.EdDSA(), true
	}
	return jwa.SignatureAlgorithm{}, false
}

// fits reports whether a key of this kind may verify alg: the key type and
// curve follow from the algorithm, so an RSA key is never tried for ES256
// nor a P-384 key for ES256.
func fits(pub any, alg string) bool {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return (alg == "RS256" || alg == "PS256") && k.N.BitLen() >= minRSABits
	case *ecdsa.PublicKey:
		return (alg == "ES256" && k.Curve == elliptic.P256()) || (alg == "ES384" && k.Curve == elliptic.P384())
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// pickKey selects the key for kid (or the only key when kid is empty) and
// checks it fits alg.
func pickKey(keys []clientKey, kid, alg string) (clientKey, error) {
	var candidates []clientKey
	if kid == "" {
		if len(keys) != 1 {
			return clientKey{}, errors.New("no kid, and the JWKS has not exactly one signing key")
		}
		candidates = keys
	} else {
		for _, k := range keys {
			if k.kid == kid {
				candidates = append(candidates, k)
			}
		}
		if len(candidates) == 0 {
			return clientKey{}, errors.New("unknown kid")
		}
	}
	for _, k := range candidates {
		if (k.alg == "" || k.alg == alg) && fits(k.pub, alg) {
			return k, nil
		}
	}
	return clientKey{}, errors.New("the key does not fit the algorithm")
}

// keySet returns the parsed signing keys of jwks, from the cache when it
// was seen before.
func (v *AssertionVerifier) keySet(jwks []byte) ([]clientKey, error) {
	if len(jwks) > MaxJWKSSize {
		return nil, errors.New("JWKS too large")
	}
	sum := sha256.Sum256(jwks)
	v.mu.Lock()
	if e, ok := v.index[sum]; ok {
		v.lru.MoveToFront(e)
		keys := e.Value.(*cachedSet).keys
		v.mu.Unlock()
		return keys, nil
	}
	v.mu.Unlock()

	keys, err := parseClientJWKS(jwks)
	if err != nil {
		return nil, err
	}

	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.index[sum]; !ok { // another caller may have added it meanwhile
		v.index[sum] = v.lru.PushFront(&cachedSet{sum: sum, keys: keys})
		for v.lru.Len() > v.max {
			last := v.lru.Back()
			v.lru.Remove(last)
			delete(v.index, last.Value.(*cachedSet).sum)
		}
	}
	return keys, nil
}

// parseClientJWKS keeps the public signature keys of a client's JWKS. Keys
// for encryption, symmetric keys and key types Pforte does not verify with
// are skipped, not errors: a client may publish them for other purposes.
// Private parameters a client published by mistake are dropped.
func parseClientJWKS(jwks []byte) ([]clientKey, error) {
	set, err := jwk.Parse(jwks)
	if err != nil {
		return nil, errors.New("malformed JWKS")
	}
	var keys []clientKey
	for i := range set.Len() {
		k, _ := set.Key(i)
		if use, ok := k.KeyUsage(); ok && use != jwk.ForSignature.String() {
			continue
		}
		pk, err := k.PublicKey()
		if err != nil {
			continue // symmetric keys have no public key
		}
		var pub any
		if err := jwk.Export(pk, &pub); err != nil {
			continue
		}
		switch pub.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		default:
			continue
		}
		ck := clientKey{pub: pub}
		ck.kid, _ = k.KeyID()
		if a, ok := k.Algorithm(); ok {
			ck.alg = a.String()
		}
		keys = append(keys, ck)
	}
	if len(keys) == 0 {
		return nil, errors.New("the JWKS has no signing key")
	}
	return keys, nil
}
