package webui

import (
	"testing"

	"github.com/pforte-id/pforte/catalog"
	"github.com/pforte-id/pforte/core/audit"
)

// Every audit kind has its words on the account page, in both languages.
func TestEveryAuditKindHasWords(t *testing.T) {
	if len(audit.Kinds) < 18 {
		t.Fatalf("audit.Kinds lists %d kinds: the list is out of step", len(audit.Kinds))
	}
	for _, k := range audit.Kinds {
		de, en := eventText(catalog.German, k), eventText(catalog.English, k)
		if de == string(k) || en == string(k) || de == en {
			t.Errorf("audit kind %s: %q / %q", k, de, en)
		}
	}
}
