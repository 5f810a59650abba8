package authz_test

import (
	"context"
	"sync"
	"testing"

	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/ports/metrics"
)

// grantCounter is a metrics.Recorder that keeps the grants it is told.
type grantCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (g *grantCounter) Grant(_ context.Context, gr metrics.Grant, o metrics.Outcome) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n == nil {
		g.n = map[string]int{}
	}
	g.n[string(gr)+" "+string(o)]++
}

func (g *grantCounter) Registration(context.Context, proof.Method) {}

func (g *grantCounter) get(key string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n[key]
}

func TestGrantsCounted(t *testing.T) {
	e := newEnv(t)
	if _, err := e.svc.ClientCredentials(e.ctx, e.client("svc"), "", noPoP); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ClientCredentials(e.ctx, e.client("web"), "", noPoP); err == nil {
		t.Fatal("a client without the grant got a token")
	}
	if _, err := e.svc.Refresh(e.ctx, e.client("web"), "no-such-token", "", noPoP); err == nil {
		t.Fatal("an unknown refresh token was accepted")
	}
	for key, want := range map[string]int{
		"client_credentials success": 1, "client_credentials failure": 1, "refresh failure": 1, "refresh success": 0,
	} {
		if got := e.grants.get(key); got != want {
			t.Errorf("%s: counted %d, want %d", key, got, want)
		}
	}
}
