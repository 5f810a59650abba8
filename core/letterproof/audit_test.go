package letterproof_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/letter"
)

// events returns the events of kind for letter id (letter events name no
// account), checking that none holds the member number.
func (f *fixture) events(t *testing.T, kind audit.Kind, id string) []audit.Event {
	t.Helper()
	es, err := f.st.AuditEvents(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Event
	for _, e := range es {
		for _, v := range e.Detail {
			if strings.Contains(v, string(anna.KVNR)) {
				t.Errorf("event %+v holds the member number", e)
			}
		}
		if e.Kind == kind && e.Detail["letter"] == id {
			out = append(out, e)
		}
	}
	return out
}

// Of concurrent activations with the right secrets one wins, and the
// activation is recorded once, as the member's.
func TestActivationAuditedOnce(t *testing.T) {
	f := setup(t)
	l, pw, code := f.handedOver(t, anna)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { _, _, _ = f.activate(present(anna.KVNR, pw, code)) })
	}
	wg.Wait()
	es := f.events(t, audit.LetterActivated, l.ID)
	if len(es) != 1 {
		t.Fatalf("%d activation events, want 1", len(es))
	}
	if e := es[0]; e.Actor != audit.Member || e.AccountID != "" || e.Detail["member"] != hasher.Pseudonym(anna.KVNR) {
		t.Errorf("event %+v", e)
	}
	if n := len(f.events(t, audit.LetterVoided, l.ID)); n != 0 {
		t.Errorf("%d voiding events for an activated letter", n)
	}
}

// Of concurrent wrong attempts exactly one voids the letter, and the
// voiding is recorded once, by the system, with its reason.
func TestVoidingByAttemptsAuditedOnce(t *testing.T) {
	f := setup(t)
	l, pw, code := f.handedOver(t, anna)
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() { _, _ = f.check(present(anna.KVNR, wrongPassword(pw), code)) })
	}
	wg.Wait()
	es := f.events(t, audit.LetterVoided, l.ID)
	if len(es) != 1 {
		t.Fatalf("%d voiding events, want 1", len(es))
	}
	if e := es[0]; e.Actor != audit.System || e.Detail["reason"] != letter.ReasonAttempts {
		t.Errorf("event %+v", e)
	}
	if n := len(f.events(t, audit.LetterActivated, l.ID)); n != 0 {
		t.Errorf("%d activation events", n)
	}
}
