package fault_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/pforte-id/pforte/core/fault"
)

func TestKindThroughWraps(t *testing.T) {
	base := fault.Wrap(fault.Unavailable, "store.Get", errors.New("dial tcp: connection refused"))
	err := fmt.Errorf("outer: %w", base)
	if !errors.Is(err, fault.Unavailable) {
		t.Fatal("errors.Is(err, Unavailable) = false")
	}
	if errors.Is(err, fault.NotFound) {
		t.Fatal("errors.Is(err, NotFound) = true")
	}
	if got := fault.KindOf(err); got != fault.Unavailable {
		t.Fatalf("KindOf = %v", got)
	}
	if got := fault.PublicOf(err); got != fault.FixedText(fault.Unavailable) {
		t.Fatalf("PublicOf leaked or changed text: %q", got)
	}
}

func TestPublicText(t *testing.T) {
	err := fault.New(fault.Invalid, "kvnr.Parse", "Die Versichertennummer ist ungültig.")
	if got := fault.PublicOf(err); got != "Die Versichertennummer ist ungültig." {
		t.Fatalf("PublicOf = %q", got)
	}
	if got := fault.KindOf(errors.New("plain")); got != fault.Internal {
		t.Fatalf("plain error kind = %v", got)
	}
	if got := fault.PublicOf(errors.New("secret detail")); got != fault.FixedText(fault.Internal) {
		t.Fatalf("plain error public text = %q", got)
	}
}

func TestKindsNamed(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range fault.Kinds() {
		name := k.String()
		if name == "" || seen[name] {
			t.Fatalf("kind %d has empty or duplicate name %q", k, name)
		}
		seen[name] = true
	}
	if len(seen) != 10 {
		t.Fatalf("want 10 kinds, got %d", len(seen))
	}
}
