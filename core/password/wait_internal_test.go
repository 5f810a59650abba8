package password

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/fault"
)

// A check that finds every slot busy waits at most maxWait, then fails as
// Unavailable with ErrBusy and a text for the member; without maxWait it
// waits as long as its context; once a slot is free it runs.
func TestHasherWait(t *testing.T) {
	h, err := NewHasher(DefaultParams, 1, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	encoded, err := h.Hash(t.Context(), "Seehund-Leuchtfeuer")
	if err != nil {
		t.Fatal(err)
	}
	h.slots <- struct{}{} // every slot busy

	_, _, err = h.Verify(t.Context(), "Seehund-Leuchtfeuer", encoded)
	if !errors.Is(err, fault.Unavailable) || !errors.Is(err, ErrBusy) || codeOf(err) != CodeBusy {
		t.Errorf("busy: %v, want Unavailable with ErrBusy and CodeBusy", err)
	}

	unbounded, err := NewHasher(DefaultParams, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	unbounded.slots <- struct{}{}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	_, err = unbounded.Hash(ctx, "Seehund-Leuchtfeuer")
	if !errors.Is(err, fault.Unavailable) || errors.Is(err, ErrBusy) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("no maxWait, context ended: %v", err)
	}

	// A slot freed while waiting is taken.
	go func() {
		time.Sleep(5 * time.Millisecond)
		<-h.slots
	}()
	h.maxWait = time.Minute
	ok, _, err := h.Verify(t.Context(), "Seehund-Leuchtfeuer", encoded)
	if err != nil || !ok {
		t.Errorf("after the slot was freed: %v %v", ok, err)
	}
	if len(h.slots) != 0 {
		t.Errorf("%d slots still taken after the check", len(h.slots))
	}
}

func codeOf(err error) fault.Code {
	c, _ := fault.CodeOf(err)
	return c
}
