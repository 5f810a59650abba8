package authz

import (
	"context"
	"sync"
	"time"

	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/ports/store"
)

// DefaultClientCacheTTL is how long a client read from the store is
// reused: a client removed or changed with `pforte clients` takes effect on
// every replica within this time. Every token request authenticates its
// client, so without the cache the client's row is read on each one.
const DefaultClientCacheTTL = 5 * time.Second

// maxCachedClients bounds the cache. Only clients that exist are cached, so
// the bound is the number of registered clients; it guards against a
// registry far larger than any insurer runs.
const maxCachedClients = 10_000

// clientCache reads clients through to the store and keeps each for ttl.
// Unknown client ids are never cached, so that requests naming random ids
// cannot fill it, and a client added meanwhile is found at once. Faults of
// the store are returned, never cached. Safe for concurrent use.
type clientCache struct {
	st  store.Clients
	ttl time.Duration // <= 0: no caching
	now func() time.Time

	mu      sync.RWMutex
	entries map[string]cachedClient
}

type cachedClient struct {
	c     client.Client
	until time.Time
}

func newClientCache(st store.Clients, ttl time.Duration, now func() time.Time) *clientCache {
	return &clientCache{st: st, ttl: ttl, now: now, entries: make(map[string]cachedClient)}
}

// ClientByID returns client id. The returned client shares its slices with
// the cache: callers must not modify them. Errors: those of
// store.Clients.ClientByID.
func (cc *clientCache) ClientByID(ctx context.Context, id string) (client.Client, error) {
	if cc.ttl <= 0 {
		return cc.st.ClientByID(ctx, id)
	}
	now := cc.now()
	cc.mu.RLock()
	e, ok := cc.entries[id]
	cc.mu.RUnlock()
	if ok && now.Before(e.until) {
		return e.c, nil
	}
	c, err := cc.st.ClientByID(ctx, id)
	if err != nil {
		if ok {
			cc.mu.Lock()
			delete(cc.entries, id)
			cc.mu.Unlock()
		}
		return client.Client{}, err
	}
	cc.mu.Lock()
	if len(cc.entries) >= maxCachedClients {
		clear(cc.entries)
	}
	cc.entries[id] = cachedClient{c: c, until: now.Add(cc.ttl)}
	cc.mu.Unlock()
	return c, nil
}
