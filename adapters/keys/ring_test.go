package keys_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/pforte-id/pforte/adapters/keys"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/signkey"
	"github.com/pforte-id/pforte/ports/token"
)

type testClaims struct {
	Sub string `json:"sub"`
	Exp int64  `json:"exp"`
}

// kidOf returns the kid in the header of a compact JWS.
func kidOf(t *testing.T, raw string) string {
	t.Helper()
	hb, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Kid string }
	if err := json.Unmarshal(hb, &h); err != nil {
		t.Fatal(err)
	}
	return h.Kid
}

// jwksKids lists the kids of a JWKS body in order.
func jwksKids(t *testing.T, body []byte) []string {
	t.Helper()
	var set struct{ Keys []map[string]any }
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := k[private]; ok {
				t.Fatalf("JWKS publishes private parameter %q", private)
			}
		}
		if k["kty"] != "EC" || k["crv"] != "P-256" || k["alg"] != "ES256" || k["use"] != "sig" {
			t.Fatalf("JWKS key %v", k)
		}
		kids = append(kids, k["kid"].(string))
	}
	return kids
}

func keyIDs(t *testing.T, r *keys.Ring, state signkey.State) []string {
	t.Helper()
	list, err := r.Keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range list {
		if k.State == state {
			ids = append(ids, k.ID)
		}
	}
	return ids
}

func TestFirstStartCreatesNextAndActiveKeys(t *testing.T) {
	st, clk := &fakeKeys{}, newClock()
	r := newRing(t, st, clk)
	active, next := keyIDs(t, r, signkey.Active), keyIDs(t, r, signkey.Next)
	if len(active) != 1 || len(next) != 1 || len(keyIDs(t, r, signkey.Retired)) != 0 {
		t.Fatalf("active %v, next %v", active, next)
	}
	list, _ := r.Keys(context.Background())
	for _, k := range list {
		if k.Algorithm != "ES256" || !k.CreatedAt.Equal(clk.Now()) {
			t.Errorf("key %+v", k)
		}
		if (k.State == signkey.Active) == k.ActivatedAt.IsZero() || !k.RetiredAt.IsZero() {
			t.Errorf("key times %+v", k)
		}
	}
	body, etag := r.JWKS()
	if got := jwksKids(t, body); !slices.Equal(got, []string{active[0], next[0]}) {
		t.Errorf("JWKS kids %v, want active then next %v %v", got, active, next)
	}
	if len(etag) < 3 || etag[0] != '"' || etag[len(etag)-1] != '"' || strings.HasPrefix(etag, "W/") {
		t.Errorf("etag %q is not a strong ETag", etag)
	}
	raw, err := r.Sign(context.Background(), token.TypeAccess, testClaims{Sub: "m1", Exp: 42})
	if err != nil {
		t.Fatal(err)
	}
	if kidOf(t, raw) != active[0] {
		t.Errorf("signed with %s, want the active key %s", kidOf(t, raw), active[0])
	}
	var got testClaims
	if err := r.Verify(context.Background(), raw, token.TypeAccess, &got); err != nil || got.Sub != "m1" || got.Exp != 42 {
		t.Fatalf("Verify: %v, %+v", err, got)
	}

	// A second start on the same store changes nothing.
	r2 := newRing(t, st, clk)
	if b2, e2 := r2.JWKS(); e2 != etag || !bytes.Equal(b2, body) {
		t.Errorf("second replica publishes %s / %s, want %s", b2, e2, etag)
	}
	if st.states()[signkey.Active] != 1 || len(st.keys) != 2 {
		t.Errorf("second start changed the keys: %v", st.states())
	}
}

func TestTokensVerifyWithJWX(t *testing.T) {
	// A relying party with an ordinary JOSE library accepts what Ring signs.
	r := newRing(t, &fakeKeys{}, newClock())
	raw, err := r.Sign(context.Background(), token.TypeID, map[string]any{"sub": "m1"})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := r.JWKS()
	set, err := jwk.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := jws.Verify([]byte(raw), jws.WithKeySet(set))
	if err != nil || string(payload) != `{"sub":"m1"}` {
		t.Fatalf("jws.Verify: %v %s", err, payload)
	}
	msg, _ := jws.Parse([]byte(raw))
	h := msg.Signatures()[0].ProtectedHeaders()
	alg, _ := h.Algorithm()
	typ, _ := h.Type()
	kid, _ := h.KeyID()
	if alg.String() != "ES256" || typ != "JWT" || kid == "" {
		t.Errorf("header alg %s typ %s kid %s", alg, typ, kid)
	}
}

func TestForcedRotationKeepsOldKeyPublished(t *testing.T) {
	ctx := context.Background()
	r := newRing(t, &fakeKeys{}, newClock())
	oldActive, oldNext := keyIDs(t, r, signkey.Active)[0], keyIDs(t, r, signkey.Next)[0]
	_, etag := r.JWKS()
	before, err := r.Sign(ctx, token.TypeAccess, testClaims{Sub: "before"})
	if err != nil {
		t.Fatal(err)
	}

	plan, err := r.Rotate(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Activate != oldNext || plan.Retire != oldActive || !plan.NeedNext {
		t.Fatalf("plan %+v", plan)
	}
	if got := keyIDs(t, r, signkey.Retired); !slices.Equal(got, []string{oldActive}) {
		t.Errorf("retired %v, want %s", got, oldActive)
	}
	if got := keyIDs(t, r, signkey.Active); !slices.Equal(got, []string{oldNext}) {
		t.Errorf("active %v, want %s", got, oldNext)
	}
	newNext := keyIDs(t, r, signkey.Next)
	body, etag2 := r.JWKS()
	if etag2 == etag {
		t.Error("ETag did not change with the key set")
	}
	if got := jwksKids(t, body); !slices.Equal(got, []string{oldNext, newNext[0], oldActive}) {
		t.Errorf("JWKS kids %v", got)
	}

	after, err := r.Sign(ctx, token.TypeAccess, testClaims{Sub: "after"})
	if err != nil {
		t.Fatal(err)
	}
	if kidOf(t, after) != oldNext {
		t.Errorf("signs with %s after rotation, want %s", kidOf(t, after), oldNext)
	}
	for _, raw := range []string{before, after} {
		if err := r.Verify(ctx, raw, token.TypeAccess, &testClaims{}); err != nil {
			t.Errorf("Verify after rotation: %v", err)
		}
	}
}

func TestForcedRotationWithoutNextKey(t *testing.T) {
	// A store holding only an active key (say, restored from a backup): a
	// forced rotation first creates the next key, then rotates to it.
	ctx := context.Background()
	st, clk := &fakeKeys{}, newClock()
	newRing(t, st, clk)
	st.mu.Lock()
	st.keys = slices.DeleteFunc(st.keys, func(k signkey.Key) bool { return k.State == signkey.Next })
	oldActive := st.keys[0].ID
	st.mu.Unlock()
	r := newRing(t, st, clk) // restores a next key, without rotating
	if got := keyIDs(t, r, signkey.Active); !slices.Equal(got, []string{oldActive}) {
		t.Fatalf("active %v", got)
	}
	st.mu.Lock()
	st.keys = st.keys[:1]
	st.mu.Unlock()
	plan, err := r.Rotate(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Activate == "" || plan.Retire != oldActive || !plan.NeedNext {
		t.Fatalf("plan %+v", plan)
	}
	if s := st.states(); s[signkey.Active] != 1 || s[signkey.Next] != 1 || s[signkey.Retired] != 1 {
		t.Errorf("states %v", s)
	}
}

func TestETagFollowsTheKeySet(t *testing.T) {
	ctx := context.Background()
	st, clk := &fakeKeys{}, newClock()
	r := newRing(t, st, clk)
	body1, etag1 := r.JWKS()
	if _, err := r.Rotate(ctx, false); err != nil { // nothing due
		t.Fatal(err)
	}
	if body, etag := r.JWKS(); etag != etag1 || !bytes.Equal(body, body1) {
		t.Error("JWKS changed without a key change")
	}
	if _, err := r.Rotate(ctx, true); err != nil {
		t.Fatal(err)
	}
	_, etag2 := r.JWKS()
	clk.Advance(testPolicy.MaxTokenLifetime + 2*time.Minute)
	plan, err := r.Rotate(ctx, false) // drops the retired key
	if err != nil || len(plan.Drop) != 1 {
		t.Fatalf("plan %+v, %v", plan, err)
	}
	_, etag3 := r.JWKS()
	if etag1 == etag2 || etag2 == etag3 || etag1 == etag3 {
		t.Errorf("ETags %s %s %s are not all different", etag1, etag2, etag3)
	}
}

func TestDroppedKeyNoLongerVerifies(t *testing.T) {
	ctx := context.Background()
	st, clk := &fakeKeys{}, newClock()
	r := newRing(t, st, clk)
	old := keyIDs(t, r, signkey.Active)[0]
	raw, err := r.Sign(ctx, token.TypeAccess, testClaims{Sub: "m1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Rotate(ctx, true); err != nil {
		t.Fatal(err)
	}
	clk.Advance(testPolicy.MaxTokenLifetime) // still within the keep time
	if plan, err := r.Rotate(ctx, false); err != nil || len(plan.Drop) != 0 {
		t.Fatalf("plan %+v, %v", plan, err)
	}
	if err := r.Verify(ctx, raw, token.TypeAccess, &testClaims{}); err != nil {
		t.Fatalf("retired key within its keep time: %v", err)
	}
	clk.Advance(2 * time.Minute)
	plan, err := r.Rotate(ctx, false)
	if err != nil || !slices.Equal(plan.Drop, []string{old}) {
		t.Fatalf("plan %+v, %v", plan, err)
	}
	wantKind(t, r.Verify(ctx, raw, token.TypeAccess, &testClaims{}), fault.Unauthenticated)
	body, _ := r.JWKS()
	if slices.Contains(jwksKids(t, body), old) {
		t.Error("dropped key still published")
	}
}

func TestAutomaticRotationReachesOtherReplicas(t *testing.T) {
	ctx := context.Background()
	st, clk := &fakeKeys{}, newClock()
	a, b := newRing(t, st, clk), newRing(t, st, clk)
	next := keyIDs(t, a, signkey.Next)[0]
	clk.Advance(testPolicy.Lifetime)
	plan, err := a.Rotate(ctx, false)
	if err != nil || plan.Activate != next {
		t.Fatalf("plan %+v, %v", plan, err)
	}
	// b has not reloaded: it still signs with the now retired key, and
	// accepts a's tokens because the new active key was published as next.
	fromA, _ := a.Sign(ctx, token.TypeAccess, testClaims{})
	if err := b.Verify(ctx, fromA, token.TypeAccess, &testClaims{}); err != nil {
		t.Fatalf("b rejects a token of the new key: %v", err)
	}
	if plan, err := b.Rotate(ctx, false); err != nil || !plan.Empty() { // b's reload
		t.Fatalf("b: plan %+v, %v", plan, err)
	}
	fromB, _ := b.Sign(ctx, token.TypeAccess, testClaims{})
	if kidOf(t, fromB) != next {
		t.Errorf("b signs with %s, want %s", kidOf(t, fromB), next)
	}
	ea, eb := func() string { _, e := a.JWKS(); return e }(), func() string { _, e := b.JWKS(); return e }()
	if ea != eb {
		t.Errorf("replicas publish different ETags %s %s", ea, eb)
	}
}

func TestConcurrentRotationLeavesOneActiveKey(t *testing.T) {
	ctx := context.Background()
	st, clk := &fakeKeys{}, newClock()
	rings := []*keys.Ring{newRing(t, st, clk), newRing(t, st, clk)}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if _, err := rings[i%2].Rotate(ctx, true); err != nil {
				t.Errorf("Rotate: %v", err)
			}
		})
	}
	wg.Wait()
	if s := st.states(); s[signkey.Active] != 1 || s[signkey.Next] != 1 {
		t.Fatalf("states %v, want exactly one active and one next key", s)
	}
	for _, r := range rings {
		if _, err := r.Rotate(ctx, false); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := rings[0].Sign(ctx, token.TypeAccess, testClaims{})
	b, _ := rings[1].Sign(ctx, token.TypeAccess, testClaims{})
	if kidOf(t, a) != kidOf(t, b) {
		t.Error("the replicas sign with different keys")
	}
}

func TestConcurrentFirstStart(t *testing.T) {
	st, clk := &fakeKeys{}, newClock()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := keys.New(context.Background(), st, testMaster(7), keys.Config{Policy: testPolicy}, clk.Now, nil); err != nil {
				t.Errorf("New: %v", err)
			}
		})
	}
	wg.Wait()
	if s := st.states(); s[signkey.Active] != 1 || s[signkey.Next] != 1 || len(s) != 2 {
		t.Fatalf("states %v, want exactly one active and one next key", s)
	}
}

func TestRunReloadsAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	st, clk := &fakeKeys{}, newClock()
	a := newRing(t, st, clk)
	b, err := keys.New(ctx, st, testMaster(7), keys.Config{Policy: testPolicy, Refresh: time.Millisecond}, clk.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- b.Run(ctx) }()
	if _, err := a.Rotate(ctx, true); err != nil {
		t.Fatal(err)
	}
	_, want := a.JWKS()
	// Wait for b's loop to pick the rotation up; the deadline only guards
	// against a hang.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, got := b.JWKS(); got == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not reload the keys")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

func TestWrongMasterKeyFailsAtStart(t *testing.T) {
	st, clk := &fakeKeys{}, newClock()
	newRing(t, st, clk)
	_, err := keys.New(context.Background(), st, testMaster(8), keys.Config{Policy: testPolicy}, clk.Now, nil)
	wantKind(t, err, fault.Internal)
}

func TestSealedKeyMovedToAnotherRowFails(t *testing.T) {
	st, clk := &fakeKeys{}, newClock()
	newRing(t, st, clk)
	st.mu.Lock()
	st.keys[0].Sealed, st.keys[1].Sealed = st.keys[1].Sealed, st.keys[0].Sealed
	st.mu.Unlock()
	_, err := keys.New(context.Background(), st, testMaster(7), keys.Config{Policy: testPolicy}, clk.Now, nil)
	wantKind(t, err, fault.Internal)
}

func TestNewRejectsBadInput(t *testing.T) {
	ctx, clk := context.Background(), newClock()
	_, err := keys.New(ctx, &fakeKeys{}, make([]byte, 16), keys.Config{}, clk.Now, nil)
	wantKind(t, err, fault.Invalid)
	_, err = keys.New(ctx, &fakeKeys{}, testMaster(1), keys.Config{Refresh: 2 * time.Minute}, clk.Now, nil)
	wantKind(t, err, fault.Invalid)
}

func TestConfig(t *testing.T) {
	d := keys.Config{}.WithDefaults()
	if d.Policy != signkey.DefaultPolicy || d.Refresh != keys.DefaultRefresh {
		t.Fatalf("defaults %+v", d)
	}
	if err := d.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	for _, tc := range []struct {
		name string
		cfg  keys.Config
	}{
		{"no refresh", keys.Config{Policy: testPolicy}},
		{"refresh over a minute", keys.Config{Policy: testPolicy, Refresh: 61 * time.Second}},
		{"no max token lifetime", keys.Config{Policy: signkey.Policy{Publish: time.Hour}, Refresh: time.Second}},
		{"negative lifetime", keys.Config{Policy: signkey.Policy{Publish: time.Hour, Lifetime: -1, MaxTokenLifetime: time.Minute}, Refresh: time.Second}},
		{"publish shorter than refresh", keys.Config{Policy: signkey.Policy{Publish: time.Second, MaxTokenLifetime: time.Minute}, Refresh: 30 * time.Second}},
		{"lifetime shorter than tokens", keys.Config{Policy: signkey.Policy{Publish: time.Hour, Lifetime: time.Minute, MaxTokenLifetime: time.Hour}, Refresh: time.Second}},
	} {
		if err := tc.cfg.Validate(); err == nil || fault.KindOf(err) != fault.Invalid {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
