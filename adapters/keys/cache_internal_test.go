package keys

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

func TestAssertionCacheIsBounded(t *testing.T) {
	v := NewAssertionVerifier(3)
	var sets [][]byte
	for range 5 {
		priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		k, _ := jwk.Import(&priv.PublicKey)
		b, _ := json.Marshal(map[string]any{"keys": []jwk.Key{k}})
		sets = append(sets, b)
	}
	for _, s := range append(sets, sets[4], sets[0]) {
		if _, err := v.keySet(s); err != nil {
			t.Fatal(err)
		}
	}
	if v.lru.Len() != 3 || len(v.index) != 3 {
		t.Fatalf("cache holds %d/%d sets, want 3", v.lru.Len(), len(v.index))
	}
	// Least recently used first out: 0 (just used), 4 and 3 stay.
	for i, want := range []bool{true, false, false, true, true} {
		if _, ok := v.index[sha(sets[i])]; ok != want {
			t.Errorf("set %d cached: %v, want %v", i, ok, want)
		}
	}
}

func sha(b []byte) [32]byte { return sha256.Sum256(b) }
