package keys_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/pforte-id/pforte/adapters/keys"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/signkey"
)

// Inspect opens the next and active keys with the master key and changes
// nothing; a wrong master key is Internal and names the key it failed on.
func TestInspect(t *testing.T) {
	ctx := context.Background()
	st, clk := &fakeKeys{}, newClock()

	// An empty store stays empty: Inspect creates no first key.
	got, err := keys.Inspect(ctx, st, testMaster(7))
	if err != nil || len(got) != 0 {
		t.Fatalf("Inspect of an empty store: %v, %v", got, err)
	}
	if len(st.keys) != 0 {
		t.Fatal("Inspect created keys")
	}

	r := newRing(t, st, clk)
	clk.Advance(2 * testPolicy.Lifetime) // a rotation is due
	if _, err := r.Rotate(ctx, false); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * testPolicy.Lifetime) // due again, and Inspect must not apply it
	before, _ := st.ListSigningKeys(ctx)

	got, err = keys.Inspect(ctx, st, testMaster(7))
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	after, _ := st.ListSigningKeys(ctx)
	if !slices.EqualFunc(before, after, func(a, b signkey.Key) bool { return a.ID == b.ID && a.State == b.State }) {
		t.Fatalf("Inspect changed the keys: %v → %v", before, after)
	}
	states := map[signkey.State]int{}
	for _, k := range got {
		states[k.State]++
		if k.Algorithm != "ES256" || k.CreatedAt.IsZero() {
			t.Errorf("key %+v", k)
		}
	}
	if states[signkey.Active] != 1 || states[signkey.Next] != 1 || states[signkey.Retired] != 1 {
		t.Errorf("Inspect found %v, want one active, one next, one retired", states)
	}

	_, err = keys.Inspect(ctx, st, testMaster(8))
	wantKind(t, err, fault.Internal)
	if pub := fault.PublicOf(err); !strings.Contains(pub, "does not open with this master key") {
		t.Errorf("wrong master key: public text %q", pub)
	}
	_, err = keys.Inspect(ctx, st, make([]byte, 16))
	wantKind(t, err, fault.Invalid)
}
