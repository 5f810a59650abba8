package support_test

import (
	"errors"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/session"
	"github.com/pforte-id/pforte/core/support"
)

// Support deletes a member's account with a reason: the account, its
// devices and sessions go (the sessions stay ended for the servers'
// sweep, which tells the relying parties); the directory record and the
// audit log stay; the entry names the agent; a second deletion changes
// nothing and says so.
func TestDeleteMember(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	id := w.enroll(t, anna, "phone-1")
	if err := w.CreateSession(ctx, session.Session{ID: "s1", SecretHash: "hs1", AccountID: id, Level: loa.Substantial,
		AuthTime: t0, CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour), IdleUntil: t0.Add(30 * time.Minute),
		Clients: []string{"portal"}}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, w.svc.DeleteMember(ctx, agent, anna.KVNR, " "), fault.Invalid, support.CodeReason)
	wantCode(t, w.svc.DeleteMember(ctx, support.Agent{ClientID: agent.ClientID}, anna.KVNR, "Wunsch des Mitglieds"), fault.Invalid, support.CodeAgent)
	if _, err := w.AccountByID(ctx, id); err != nil {
		t.Fatalf("a refused deletion deleted: %v", err)
	}

	if err := w.svc.DeleteMember(ctx, agent, anna.KVNR, "Wunsch des Mitglieds, Brief vom 1.12."); err != nil {
		t.Fatal(err)
	}
	if _, err := w.AccountByID(ctx, id); !errors.Is(err, fault.NotFound) {
		t.Fatalf("the account after the deletion: %v", err)
	}
	if _, err := w.BindingByID(ctx, "phone-1"); !errors.Is(err, fault.NotFound) {
		t.Fatalf("the device after the deletion: %v", err)
	}
	if un, err := w.UnnotifiedSessions(ctx, t0.Add(time.Hour), 10); err != nil || len(un) != 1 || un[0].EndReason != session.EndDeleted {
		t.Fatalf("the session left for the sweep: %+v, %v", un, err)
	}
	if _, err := w.MemberByKVNR(ctx, anna.KVNR); err != nil {
		t.Fatalf("the directory record went: %v", err)
	}
	es := w.events(t, id, audit.AccountDeleted)
	if len(es) != 1 || es[0].Detail["reason"] != "support" || es[0].Detail["note"] != "Wunsch des Mitglieds, Brief vom 1.12." {
		t.Fatalf("audited as %+v", es)
	}
	byAgent(t, es[0])

	wantCode(t, w.svc.DeleteMember(ctx, agent, anna.KVNR, "noch einmal"), fault.NotFound, support.CodeNothingToDelete)
	if len(w.events(t, id, audit.AccountDeleted)) != 1 {
		t.Fatal("a second deletion was recorded")
	}
}
