package sqlstore_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The audit log is append-only: no statement of the adapter updates or
// deletes audit events, so nothing a member or an attacker drives through
// the ports can rewrite the record of what happened.
func TestAuditLogAppendOnly(t *testing.T) {
	writes := regexp.MustCompile(`(?is)(UPDATE|DELETE\s+FROM)\s+audit_events\b|"audit_events"`)
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		if m := writes.Find(b); m != nil {
			t.Errorf("%s: %q changes the append-only audit log", f, m)
		}
	}
	if checked == 0 {
		t.Fatal("no source files found")
	}
}
