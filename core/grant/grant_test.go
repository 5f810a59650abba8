package grant_test

import (
	"testing"

	"github.com/pforte-id/pforte/core/grant"
)

// TestIDsAreNoFlags: no id begins with '-', which a command line would
// take for a flag (one in 64 would without the rule).
func TestIDsAreNoFlags(t *testing.T) {
	seen := map[string]bool{}
	for range 10_000 {
		id := grant.NewID()
		if id[0] == '-' {
			t.Fatalf("id %q begins with '-'", id)
		}
		if len(id) != 22 || seen[id] {
			t.Fatalf("id %q: %d characters, or seen before", id, len(id))
		}
		seen[id] = true
	}
}
