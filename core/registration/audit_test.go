package registration_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/letter"
)

// letterEvents returns the letter events (which name no account) as
// "kind letter reason", sorted (events of one instant have no order).
func (f *fixture) letterEvents(t *testing.T) []string {
	t.Helper()
	es, err := f.st.AuditEvents(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if !strings.HasPrefix(string(e.Kind), "letter.") {
			continue
		}
		if e.Detail["member"] != letterHasher.Pseudonym(anna.KVNR) {
			t.Errorf("event %+v does not name the member's pseudonym", e)
		}
		for _, v := range e.Detail {
			if strings.Contains(v, string(anna.KVNR)) {
				t.Errorf("event %+v holds the member number", e)
			}
		}
		out = append(out, strings.TrimSpace(string(e.Kind)+" "+e.Detail["letter"]+" "+e.Detail["reason"]))
	}
	slices.Sort(out)
	return out
}

// Each step of a letter is recorded once; a newer letter records the
// voiding of the one it superseded.
func TestLetterEventsAudited(t *testing.T) {
	f := setup(t)
	first, _, _ := f.letterFor(t, anna)
	// A second run finds nothing to do and records nothing.
	if _, err := f.svc.ProcessLetters(ctx, 10); err != nil {
		t.Fatal(err)
	}
	want := []string{"letter.ordered " + first.ID, "letter.rendered " + first.ID, "letter.handed_over " + first.ID}
	slices.Sort(want)
	if got := f.letterEvents(t); !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	f.w.Advance(7*24*time.Hour + time.Second)
	second, _, _ := f.letterFor(t, anna)
	want = append(want, "letter.ordered "+second.ID, "letter.voided "+first.ID+" "+letter.ReasonSuperseded,
		"letter.rendered "+second.ID, "letter.handed_over "+second.ID)
	slices.Sort(want)
	if got := f.letterEvents(t); !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
}
