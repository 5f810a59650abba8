package registration_test

import (
	"context"
	"sync"
	"testing"

	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/core/registration"
	"github.com/pforte-id/pforte/ports/metrics"
)

// methodCounter is a metrics.Recorder that keeps the registrations it is
// told.
type methodCounter struct {
	mu sync.Mutex
	n  map[proof.Method]int
}

func (c *methodCounter) Grant(context.Context, metrics.Grant, metrics.Outcome) {}

func (c *methodCounter) Registration(_ context.Context, m proof.Method) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[m]++
}

func TestRegistrationsCounted(t *testing.T) {
	c := &methodCounter{n: map[proof.Method]int{}}
	f := setup(t,
		withMethods(&fakeMethod{name: proof.Letter, level: loa.Substantial}, &fakeMethod{name: proof.EID, level: loa.High}),
		func(_ *registration.Config, d *registration.Deps) { d.Metrics = c })
	if _, _, err := f.svc.Activate(ctx, "192.0.2.7", "letter", anna.KVNR, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.Activate(ctx, "192.0.2.7", "eid", anna.KVNR, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.Activate(ctx, "192.0.2.7", "letter", "A123", nil); err == nil {
		t.Fatal("a malformed number was activated")
	}
	if c.n[proof.Letter] != 1 || c.n[proof.EID] != 1 {
		t.Errorf("counted %v, want one letter and one eid (a refused activation is not a registration)", c.n)
	}
}
