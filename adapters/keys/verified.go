package keys

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"sync"
)

// maxVerified bounds the verified-token cache: about 100 bytes an entry,
// so a megabyte at most.
const maxVerified = 10_000

// verifiedCache remembers tokens whose signature this replica has checked,
// so that a token presented again — by each API call of a resource server
// that introspects it, or at userinfo — costs a hash instead of an ECDSA
// verification. Only the signature is cached: typ, expiry, revocation and
// every claim are checked on each use by the callers, as before.
//
// An entry is keyed by SHA-256 of the whole compact token (header, payload
// and signature), so a cached signature cannot vouch for another payload,
// and remembers the key it was verified with: a hit counts only while that
// same key is still published under the token's kid, so a key dropped from
// the ring stops vouching for its tokens at once. Safe for concurrent use.
type verifiedCache struct {
	mu      sync.RWMutex
	entries map[[sha256.Size]byte]*ecdsa.PublicKey
}

func newVerifiedCache() *verifiedCache {
	return &verifiedCache{entries: make(map[[sha256.Size]byte]*ecdsa.PublicKey)}
}

// has reports whether raw was verified with pub.
func (v *verifiedCache) has(sum [sha256.Size]byte, pub *ecdsa.PublicKey) bool {
	v.mu.RLock()
	got := v.entries[sum]
	v.mu.RUnlock()
	return got != nil && got == pub
}

// add records that the token with hash sum verified with pub. When the
// cache is full an arbitrary entry makes room (Go's map iteration order is
// unspecified): a miss only costs a verification.
func (v *verifiedCache) add(sum [sha256.Size]byte, pub *ecdsa.PublicKey) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.entries) >= maxVerified {
		for k := range v.entries {
			delete(v.entries, k)
			break
		}
	}
	v.entries[sum] = pub
}
