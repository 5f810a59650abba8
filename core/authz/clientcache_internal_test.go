package authz

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/fault"
)

// countingClients is a store.Clients that counts its reads.
type countingClients struct {
	mu      sync.Mutex
	clients map[string]client.Client
	reads   atomic.Int64
	fail    error
}

func (f *countingClients) CreateClient(context.Context, client.Client) error { return nil }
func (f *countingClients) ListClients(context.Context) ([]client.Client, error) {
	return nil, nil
}

func (f *countingClients) PutClient(_ context.Context, c client.Client) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clients[c.ID] = c
	return nil
}

func (f *countingClients) DeleteClient(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.clients, id)
	return nil
}

func (f *countingClients) ClientByID(_ context.Context, id string) (client.Client, error) {
	f.reads.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return client.Client{}, f.fail
	}
	c, ok := f.clients[id]
	if !ok {
		return client.Client{}, fault.New(fault.NotFound, "fake.ClientByID", "")
	}
	return c, nil
}

func TestClientCache(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := &countingClients{clients: map[string]client.Client{"svc": {ID: "svc", Name: "v1"}}}
	cc := newClientCache(st, 5*time.Second, clock)

	get := func(id string) (client.Client, error) {
		t.Helper()
		return cc.ClientByID(ctx, id)
	}
	for range 3 {
		if c, err := get("svc"); err != nil || c.Name != "v1" {
			t.Fatalf("svc: %+v %v", c, err)
		}
	}
	if n := st.reads.Load(); n != 1 {
		t.Errorf("three lookups read the store %d times, want 1", n)
	}

	// A change or removal takes effect once the entry is older than the TTL.
	st.PutClient(ctx, client.Client{ID: "svc", Name: "v2"})
	now = now.Add(4 * time.Second)
	if c, _ := get("svc"); c.Name != "v1" {
		t.Errorf("within the TTL: %q, want the cached v1", c.Name)
	}
	now = now.Add(time.Second)
	if c, _ := get("svc"); c.Name != "v2" {
		t.Errorf("after the TTL: %q, want v2", c.Name)
	}
	st.DeleteClient(ctx, "svc")
	now = now.Add(5 * time.Second)
	if _, err := get("svc"); !errors.Is(err, fault.NotFound) {
		t.Errorf("a removed client after the TTL: %v, want NotFound", err)
	}

	// Unknown ids are not cached: a client added meanwhile is found at once,
	// and random ids do not fill the cache.
	before := st.reads.Load()
	for range 3 {
		if _, err := get("new"); !errors.Is(err, fault.NotFound) {
			t.Fatalf("unknown: %v", err)
		}
	}
	if n := st.reads.Load() - before; n != 3 {
		t.Errorf("three lookups of an unknown id read the store %d times, want 3", n)
	}
	st.PutClient(ctx, client.Client{ID: "new"})
	if _, err := get("new"); err != nil {
		t.Errorf("a client added after a miss: %v", err)
	}
	if len(cc.entries) != 1 {
		t.Errorf("%d cache entries, want 1 (misses are not cached)", len(cc.entries))
	}

	// A store fault is returned and not cached.
	now = now.Add(time.Minute)
	st.fail = fault.New(fault.Unavailable, "fake.ClientByID", "down")
	if _, err := get("new"); !errors.Is(err, fault.Unavailable) {
		t.Errorf("store down: %v, want Unavailable", err)
	}
	st.fail = nil
	if _, err := get("new"); err != nil {
		t.Errorf("after the outage: %v", err)
	}
}

func TestClientCacheOff(t *testing.T) {
	st := &countingClients{clients: map[string]client.Client{"svc": {ID: "svc"}}}
	cc := newClientCache(st, -1, time.Now)
	for range 3 {
		if _, err := cc.ClientByID(t.Context(), "svc"); err != nil {
			t.Fatal(err)
		}
	}
	if n := st.reads.Load(); n != 3 {
		t.Errorf("with caching off, three lookups read the store %d times", n)
	}
}

func TestClientCacheBounded(t *testing.T) {
	st := &countingClients{clients: map[string]client.Client{}}
	for i := range maxCachedClients + 10 {
		id := string(rune('a'+i%26)) + time.Duration(i).String()
		st.clients[id] = client.Client{ID: id}
	}
	cc := newClientCache(st, time.Hour, time.Now)
	for id := range st.clients {
		if _, err := cc.ClientByID(t.Context(), id); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(cc.entries); n > maxCachedClients {
		t.Errorf("%d entries, more than the bound %d", n, maxCachedClients)
	}
}

// TestClientCacheConcurrent is for the race detector.
func TestClientCacheConcurrent(t *testing.T) {
	st := &countingClients{clients: map[string]client.Client{"a": {ID: "a"}, "b": {ID: "b"}}}
	now := time.Now()
	var mu sync.Mutex
	cc := newClientCache(st, time.Millisecond, func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Millisecond / 2)
		return now
	})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 200 {
				id := []string{"a", "b", "c"}[(i+j)%3]
				_, err := cc.ClientByID(t.Context(), id)
				if (err == nil) == (id == "c") {
					t.Errorf("%s: %v", id, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
