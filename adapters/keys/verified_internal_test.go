package keys

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"strconv"
	"sync"
	"testing"
)

// The cache never holds more than maxVerified entries, and an entry counts
// only for the key it was verified with.
func TestVerifiedCache(t *testing.T) {
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	v := newVerifiedCache()
	sum := sha256.Sum256([]byte("a.b.c"))
	if v.has(sum, &k1.PublicKey) {
		t.Fatal("hit in an empty cache")
	}
	v.add(sum, &k1.PublicKey)
	if !v.has(sum, &k1.PublicKey) {
		t.Error("no hit after add")
	}
	if v.has(sum, &k2.PublicKey) {
		t.Error("a hit for another key")
	}
	if v.has(sum, nil) {
		t.Error("a hit for no key")
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range maxVerified/2 + 100 {
				s := sha256.Sum256([]byte(strconv.Itoa(w) + "/" + strconv.Itoa(i)))
				v.add(s, &k1.PublicKey)
				v.has(s, &k1.PublicKey)
			}
		})
	}
	wg.Wait()
	if n := len(v.entries); n > maxVerified {
		t.Errorf("%d entries, bound %d", n, maxVerified)
	}
}
