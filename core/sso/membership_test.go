package sso_test

import (
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/member"
)

// A session of a member whose insurance ended more than the grace period
// ago answers no further client: the member is told why, and the client
// gets no code.
func TestSessionOfAnEndedMembershipAnswersNoClient(t *testing.T) {
	w := newWorld(t)
	m := member.Member{KVNR: w.acct.KVNR, GivenName: "Sina", FamilyName: "Sommer", BirthDate: "1990-01-01",
		InsuredFrom: time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)}
	if err := w.UpsertMember(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	secret, ss := w.login(t, "bind-1")

	m.InsuredUntil = w.clock.Now().Add(-40 * 24 * time.Hour).Truncate(24 * time.Hour)
	if err := w.UpsertMember(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	w.request(t, "req-forms-again", forms)
	_, err := w.svc.Resume(t.Context(), "req-forms-again", secret)
	code, _ := fault.CodeOf(err)
	if err == nil || fault.KindOf(err) != fault.Forbidden || code != member.CodeEnded {
		t.Fatalf("Resume from the session %s after the grace period: %v (code %q), want Forbidden %s", ss.ID, err, code, member.CodeEnded)
	}
	if _, toClient := fault.RedirectOf(err); toClient {
		t.Fatal("the refusal went to the client; the member must be told by Pforte")
	}
}
