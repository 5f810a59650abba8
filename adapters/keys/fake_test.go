package keys_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/keys"
	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/signkey"
	"github.com/pforte-id/pforte/ports/store"
)

var _ store.SigningKeys = (*fakeKeys)(nil)

// fakeKeys is an in-memory store.SigningKeys that keeps the port's
// contract, including ApplyKeyPlan's preconditions, under one mutex.
type fakeKeys struct {
	mu   sync.Mutex
	keys []signkey.Key // oldest first
}

func (f *fakeKeys) CreateSigningKey(_ context.Context, k signkey.Key) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.find(k.ID) >= 0 {
		return fault.New(fault.Conflict, "fake.CreateSigningKey", "")
	}
	f.keys = append(f.keys, k)
	return nil
}

func (f *fakeKeys) ListSigningKeys(context.Context) ([]signkey.Key, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.keys), nil
}

func (f *fakeKeys) ApplyKeyPlan(_ context.Context, plan signkey.Plan, newNext *signkey.Key, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	conflict := fault.New(fault.Conflict, "fake.ApplyKeyPlan", "")
	count := func(s signkey.State) int {
		n := 0
		for _, k := range f.keys {
			if k.State == s {
				n++
			}
		}
		return n
	}
	ai, ri := -1, -1
	if plan.Activate != "" {
		if ai = f.find(plan.Activate); ai < 0 || f.keys[ai].State != signkey.Next {
			return conflict
		}
		if plan.Retire == "" && count(signkey.Active) > 0 {
			return conflict
		}
	}
	if plan.Retire != "" {
		if ri = f.find(plan.Retire); ri < 0 || f.keys[ri].State != signkey.Active {
			return conflict
		}
	}
	if newNext != nil {
		if f.find(newNext.ID) >= 0 || (plan.Activate == "" && count(signkey.Next) > 0) {
			return conflict
		}
	}
	if ai >= 0 {
		f.keys[ai].State, f.keys[ai].ActivatedAt = signkey.Active, now
	}
	if ri >= 0 {
		f.keys[ri].State, f.keys[ri].RetiredAt = signkey.Retired, now
	}
	f.keys = slices.DeleteFunc(f.keys, func(k signkey.Key) bool {
		return k.State == signkey.Retired && slices.Contains(plan.Drop, k.ID)
	})
	if newNext != nil {
		f.keys = append(f.keys, *newNext)
	}
	return nil
}

func (f *fakeKeys) find(id string) int {
	return slices.IndexFunc(f.keys, func(k signkey.Key) bool { return k.ID == id })
}

func (f *fakeKeys) states() map[signkey.State]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[signkey.State]int{}
	for _, k := range f.keys {
		m[k.State]++
	}
	return m
}

// newClock returns a clock standing at a fixed time; tests move it.
func newClock() *coretest.Clock {
	return coretest.NewClock(time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC))
}

var testPolicy = signkey.Policy{Publish: time.Hour, Lifetime: 24 * time.Hour, MaxTokenLifetime: 5 * time.Minute}

func testMaster(b byte) []byte {
	m := make([]byte, keys.MasterKeySize)
	for i := range m {
		m[i] = b
	}
	return m
}

func newRing(t testing.TB, st store.SigningKeys, clk *coretest.Clock) *keys.Ring {
	t.Helper()
	r, err := keys.New(context.Background(), st, testMaster(7), keys.Config{Policy: testPolicy}, clk.Now, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

func wantKind(t *testing.T, err error, kind fault.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", kind)
	}
	if got := fault.KindOf(err); got != kind {
		t.Fatalf("got %s (%v), want %s", got, err, kind)
	}
}
