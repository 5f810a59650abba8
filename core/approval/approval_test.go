package approval_test

import (
	"errors"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/approval"
	"github.com/pforte-id/pforte/core/fault"
)

var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

func newApproval() approval.Approval {
	return approval.DefaultPolicy.New("acct", "req", "forms", "Firefox unter Linux", "browser-secret", t0)
}

func TestNumbers(t *testing.T) {
	seen := map[int]int{}
	for range 2000 {
		a := newApproval()
		in := 0
		for i, c := range a.Choices {
			if c < 10 || c > 99 {
				t.Fatalf("choice %d out of range", c)
			}
			for j := range i {
				if a.Choices[j] == c {
					t.Fatalf("choices repeat: %v", a.Choices)
				}
			}
			if c == a.Number {
				in++
			}
		}
		if in != 1 {
			t.Fatalf("number %d is %d times among %v", a.Number, in, a.Choices)
		}
		seen[a.Number]++
	}
	// Not a statistical test: only that the number is not fixed.
	if len(seen) < 50 {
		t.Fatalf("only %d different numbers in 2000 approvals", len(seen))
	}
	for pos := range 3 {
		n := 0
		for range 300 {
			if a := newApproval(); a.Choices[pos] == a.Number {
				n++
			}
		}
		if n == 0 || n == 300 {
			t.Fatalf("the right number is at position %d in %d of 300 approvals", pos, n)
		}
	}
}

func TestApproveThenUseOnce(t *testing.T) {
	a := newApproval()
	if a.Status != approval.Pending || !a.ExpiresAt.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("new approval: %+v", a)
	}
	a, err := a.Decide(true, a.Number, "bind-1", t0.Add(time.Minute))
	if err != nil || a.Status != approval.Approved || a.BindingID != "bind-1" {
		t.Fatalf("Decide = %+v, %v", a, err)
	}
	if _, err := a.Decide(false, 0, "bind-1", t0.Add(time.Minute)); !errors.Is(err, fault.Conflict) {
		t.Fatalf("second decision: %v, want Conflict", err)
	}
	if _, err := a.Use("another-browser", t0.Add(time.Minute)); !errors.Is(err, fault.Forbidden) {
		t.Fatalf("use by another browser: %v, want Forbidden", err)
	}
	used, err := a.Use("browser-secret", t0.Add(time.Minute))
	if err != nil || used.Status != approval.Used {
		t.Fatalf("Use = %+v, %v", used, err)
	}
	if _, err := used.Use("browser-secret", t0.Add(time.Minute)); !errors.Is(err, fault.Conflict) {
		t.Fatalf("replayed use: %v, want Conflict", err)
	}
}

func TestDenyAndWrongNumber(t *testing.T) {
	a := newApproval()
	d, err := a.Decide(false, 0, "bind-1", t0)
	if err != nil || d.Status != approval.Denied || d.Reason != approval.ReasonMember {
		t.Fatalf("deny: %+v, %v", d, err)
	}
	wrong := a.Choices[0]
	if wrong == a.Number {
		wrong = a.Choices[1]
	}
	w, err := a.Decide(true, wrong, "bind-1", t0)
	if err != nil || w.Status != approval.Denied || w.Reason != approval.ReasonWrongNumber {
		t.Fatalf("wrong number: %+v, %v", w, err)
	}
	for _, x := range []approval.Approval{d, w, a} {
		if _, err := x.Use("browser-secret", t0); !errors.Is(err, fault.Conflict) {
			t.Fatalf("use of a %s approval: %v, want Conflict", x.Status, err)
		}
	}
}

func TestExpiry(t *testing.T) {
	a := newApproval()
	if _, err := a.Decide(true, a.Number, "bind-1", a.ExpiresAt); !errors.Is(err, fault.Expired) {
		t.Fatalf("decision at expiry: %v, want Expired", err)
	}
	ok, err := a.Decide(true, a.Number, "bind-1", a.ExpiresAt.Add(-time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ok.Use("browser-secret", a.ExpiresAt); !errors.Is(err, fault.Expired) {
		t.Fatalf("use at expiry: %v, want Expired", err)
	}
}

func TestPolicyValidate(t *testing.T) {
	if err := approval.DefaultPolicy.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, ttl := range []time.Duration{0, 29 * time.Second, 11 * time.Minute} {
		if err := (approval.Policy{TTL: ttl}).Validate(); !errors.Is(err, fault.Invalid) {
			t.Errorf("TTL %v: %v, want Invalid", ttl, err)
		}
	}
}
