package fault_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

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
	if got := fault.PublicOf(err); got != "" {
		t.Fatalf("PublicOf leaked the cause: %q", got)
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
	if got := fault.PublicOf(errors.New("secret detail")); got != "" {
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

func TestCodeRetryRedirectThroughWraps(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	inner := fault.Coded(fault.Unauthenticated, "pin.Try", "pin.wrong", 2).WithRetry(at, time.Minute)
	inner.Remaining = 2
	err := fault.Wrap(fault.Unauthenticated, "outer", inner).WithRedirect(fault.Redirect{URI: "https://rp.example/cb", State: "s"})
	if code, params := fault.CodeOf(err); code != "pin.wrong" || len(params) != 1 || params[0] != 2 {
		t.Fatalf("CodeOf = %q %v", code, params)
	}
	if e := fault.CodedOf(err); e == nil || e.Remaining != 2 {
		t.Fatalf("CodedOf = %+v", e)
	}
	if e := fault.RetryOf(err); e == nil || !e.RetryAt.Equal(at) || e.RetryAfter != time.Minute {
		t.Fatalf("RetryOf = %+v", e)
	}
	if r, ok := fault.RedirectOf(err); !ok || r.URI != "https://rp.example/cb" || r.State != "s" {
		t.Fatalf("RedirectOf = %+v %v", r, ok)
	}
	if _, ok := fault.RedirectOf(fault.WithoutRedirect(err)); ok {
		t.Fatal("WithoutRedirect kept the redirect")
	}
	if _, ok := fault.RedirectOf(inner); ok {
		t.Fatal("an error without a redirect has one")
	}
}

func TestReasonOf(t *testing.T) {
	if got := fault.ReasonOf(fault.New(fault.Unauthenticated, "op", "a text").WithCode("pin.wrong")); got != "pin.wrong" {
		t.Errorf("ReasonOf(coded) = %q, want the code", got)
	}
	if got := fault.ReasonOf(fault.New(fault.NotFound, "op", "a text")); got != "not_found" {
		t.Errorf("ReasonOf(uncoded) = %q, want the kind", got)
	}
}
