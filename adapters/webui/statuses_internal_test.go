package webui

import (
	"testing"

	"github.com/pforte-id/pforte/core/fault"
)

// TestStatusTableCoversEveryKind: every kind has an error page status, an
// infrastructure fault is a 5xx and never shown on the login form, and a
// member's own mistake is a 4xx.
func TestStatusTableCoversEveryKind(t *testing.T) {
	for _, k := range fault.Kinds() {
		w, ok := statuses[k]
		infra := k == fault.Unavailable || k == fault.Internal
		if !ok || infra != (w.page >= 500) || infra != (w.form == 0) || (!infra && (w.form < 400 || w.form >= 500)) {
			t.Errorf("%v → %+v (present %v)", k, w, ok)
		}
	}
	if statusOf(fault.Kind(200)) != statuses[fault.Internal] {
		t.Error("an unknown kind is not answered as internal")
	}
}
