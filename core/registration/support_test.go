package registration_test

import (
	"errors"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/registration"
)

// Support orders a letter at once: the interval applies unless support
// overrides it; the new letter voids the earlier live one.
func TestOrderLetter(t *testing.T) {
	f := setup(t)
	first, err := f.svc.OrderLetter(ctx, anna.KVNR, false)
	if err != nil || first.State != letter.Requested || first.CodeHash != "" {
		t.Fatalf("OrderLetter: %+v, %v", first, err)
	}
	_, err = f.svc.OrderLetter(ctx, anna.KVNR, false)
	c := fault.CodedOf(err)
	if !errors.Is(err, fault.Conflict) || c == nil || c.Code != registration.CodeOrderTooSoon || len(c.Params) != 2 {
		t.Fatalf("a second letter within the interval: %v", err)
	}
	if next, ok := c.Params[1].(time.Time); !ok || !next.After(first.CreatedAt) {
		t.Fatalf("next possible at %v", c.Params[1])
	}
	second, err := f.svc.OrderLetter(ctx, anna.KVNR, true)
	if err != nil {
		t.Fatalf("override: %v", err)
	}
	states := map[string]letter.Letter{}
	for _, l := range f.w.LettersOf(anna.KVNR) {
		states[l.ID] = l
	}
	if len(states) != 2 || states[second.ID].State != letter.Requested || states[first.ID].State != letter.Voided ||
		states[first.ID].VoidReason != letter.ReasonSuperseded {
		t.Fatalf("letters %+v", states)
	}
	es, _ := f.st.QueryAudit(ctx, audit.Query{Kinds: []audit.Kind{audit.LetterOrdered}, Limit: 10})
	if len(es) != 2 || es[0].Actor != audit.Operator {
		t.Fatalf("orders audited as %+v", es)
	}
	for _, tc := range []struct {
		name string
		k    kvnr.KVNR
		kind fault.Kind
		code fault.Code
	}{
		{"ineligible", bodo.KVNR, fault.Forbidden, registration.CodeOrderIneligible},
		{"no address", carl.KVNR, fault.Forbidden, registration.CodeOrderNoAddress},
		{"unknown", coretest.KVNR("Z99999999"), fault.NotFound, ""},
	} {
		_, err := f.svc.OrderLetter(ctx, tc.k, true)
		if !errors.Is(err, tc.kind) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.kind)
		}
		if c := fault.CodedOf(err); tc.code != "" && (c == nil || c.Code != tc.code) {
			t.Errorf("%s: %v, want code %s", tc.name, err, tc.code)
		}
	}
}
