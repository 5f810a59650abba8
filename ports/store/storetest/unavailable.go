package storetest

import (
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/enrollment"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/core/signkey"
	"github.com/pforte-id/pforte/core/throttle"
	"github.com/pforte-id/pforte/ports/store"
)

var unavailableTests = []test[store.Store]{
	{"Ping", func(t *testing.T, s store.Store) {
		must(t, "Ping", s.Ping(t.Context()))
		wantKind(t, "Ping with a cancelled context", s.Ping(cancelled(t)), fault.Unavailable)
	}},
	// A cancelled request must never look like "not found" or "already
	// used": the caller would answer invalid_grant, or revoke a family,
	// because its own request was slow. Every method is called on data that
	// exists, and on data that does not.
	{"CancelledContext", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		// Existing data, so that a method that ignored the context would
		// succeed or report a conflict instead.
		a := newAccount(1)
		must(t, "CreateAccount", s.CreateAccount(ctx, a))
		must(t, "UpsertMember", s.UpsertMember(ctx, newMember(1)))
		must(t, "CreateClient", s.CreateClient(ctx, newClient("portal")))
		pending := newAuthRequest("req-pending")
		must(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, pending))
		done := completedRequest("req-done")
		must(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, done))
		used := completedRequest("req-used")
		must(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, used))
		must(t, "IssueCode", s.IssueCode(ctx, newCode("code-used", used)))
		_, err := s.RedeemCode(ctx, "code-used", t0)
		must(t, "RedeemCode", err)
		f, rt, at := seedFamily(t, ctx, s, "fam-1", "code-1")
		_, active, next := seedKeys(t, s)
		must(t, "UseOnce", s.UseOnce(ctx, "client_assertion", "jti-1", t0.Add(time.Minute), t0))
		par := newAuthRequest("req-par")
		must(t, "CreatePushedRequest", s.CreatePushedRequest(ctx, par, "uri-1", t0.Add(time.Minute)))

		c := cancelled(t)
		calls := []struct {
			name string
			err  func() error
		}{
			{"CreateAccount", func() error { return s.CreateAccount(c, newAccount(2)) }},
			{"CreateAccount existing", func() error { return s.CreateAccount(c, a) }},
			{"AccountByID", func() error { _, err := s.AccountByID(c, a.ID); return err }},
			{"AccountByID unknown", func() error { _, err := s.AccountByID(c, "nope"); return err }},
			{"AccountByKVNR", func() error { _, err := s.AccountByKVNR(c, a.KVNR); return err }},
			{"SetPasswordHash", func() error { return s.SetPasswordHash(c, a.ID, "h", t0) }},
			{"SetPasswordHash unknown", func() error { return s.SetPasswordHash(c, "nope", "h", t0) }},
			{"SetAccountStatus", func() error { return s.SetAccountStatus(c, a.ID, account.Blocked, t0) }},
			{"CreateTransfer", func() error { return s.CreateTransfer(c, newTransfer("tr-c", 1)) }},
			{"TransferByCodeHash unknown", func() error { _, err := s.TransferByCodeHash(c, "nope"); return err }},
			{"ApproveTransfer unknown", func() error { _, err := s.ApproveTransfer(c, "nope", a.KVNR, a.ID, "b", t0); return err }},
			{"RedeemTransfer unknown", func() error {
				_, _, err := s.RedeemTransfer(c, "nope", transferSession("enr-c"), t0)
				return err
			}},
			{"UpsertMember", func() error { return s.UpsertMember(c, newMember(1)) }},
			{"MemberByKVNR unknown", func() error { _, err := s.MemberByKVNR(c, kvnrOf(7)); return err }},
			{"CreateClient existing", func() error { return s.CreateClient(c, newClient("portal")) }},
			{"PutClient", func() error { return s.PutClient(c, newClient("portal")) }},
			{"ClientByID unknown", func() error { _, err := s.ClientByID(c, "nope"); return err }},
			{"ListClients", func() error { _, err := s.ListClients(c); return err }},
			{"DeleteClient unknown", func() error { return s.DeleteClient(c, "nope") }},
			{"UpdateClient", func() error {
				_, err := s.UpdateClient(c, "nope", func(*client.Client) error { return nil })
				return err
			}},
			{"MembersByBirthDate", func() error { _, err := s.MembersByBirthDate(c, "1970-01-31", 10); return err }},
			{"QueryAudit", func() error { _, err := s.QueryAudit(c, audit.Query{Limit: 10}); return err }},
			{"CreateAuthRequest existing", func() error { return s.CreateAuthRequest(c, pending) }},
			{"AuthRequestByID unknown", func() error { _, err := s.AuthRequestByID(c, "nope"); return err }},
			{"CompleteAuthRequest", func() error { return s.CompleteAuthRequest(c, pending.ID, newLogin(), t0) }},
			{"CompleteAuthRequest completed", func() error { return s.CompleteAuthRequest(c, done.ID, newLogin(), t0) }},
			{"IssueCode", func() error { return s.IssueCode(c, newCode("code-new", done)) }},
			{"IssueCode unknown", func() error { return s.IssueCode(c, newCode("code-x", completedRequest("nope"))) }},
			{"RedeemCode used", func() error { _, err := s.RedeemCode(c, "code-used", t0); return err }},
			{"RedeemCode unknown", func() error { _, err := s.RedeemCode(c, "nope", t0); return err }},
			{"DeleteExpired", func() error { _, err := s.DeleteExpired(c, t0); return err }},
			{"CreateFamily existing", func() error { return s.CreateFamily(c, f, &rt, at) }},
			{"RefreshToken unknown", func() error { _, _, err := s.RefreshToken(c, "nope"); return err }},
			{"RotateRefreshToken", func() error {
				return s.RotateRefreshToken(c, rt.Hash, newRefreshToken("rt-2", f.ID), newAccessToken("at-2", f.ID), t0)
			}},
			{"RevokeFamily unknown", func() error { return s.RevokeFamily(c, "nope", t0) }},
			{"RevokeFamiliesOfCode", func() error { _, err := s.RevokeFamiliesOfCode(c, "code-1", t0); return err }},
			{"RevokeFamiliesOfBinding", func() error { _, err := s.RevokeFamiliesOfBinding(c, "bind-1", t0); return err }},
			{"CreatePushedRequest", func() error {
				return s.CreatePushedRequest(c, newAuthRequest("req-par-2"), "uri-2", t0.Add(time.Minute))
			}},
			{"CreatePushedRequest existing", func() error { return s.CreatePushedRequest(c, par, "uri-1", t0.Add(time.Minute)) }},
			{"ConsumePushedRequest", func() error { _, err := s.ConsumePushedRequest(c, "uri-1", par.ClientID, t0); return err }},
			{"ConsumePushedRequest unknown", func() error { _, err := s.ConsumePushedRequest(c, "nope", par.ClientID, t0); return err }},
			{"CreateAccessToken existing", func() error { return s.CreateAccessToken(c, at) }},
			{"AccessToken unknown", func() error { _, err := s.AccessToken(c, "nope"); return err }},
			{"RevokeAccessToken unknown", func() error { return s.RevokeAccessToken(c, "nope", t0) }},
			{"CreateSigningKey existing", func() error { return s.CreateSigningKey(c, active) }},
			{"ListSigningKeys", func() error { _, err := s.ListSigningKeys(c); return err }},
			{"ApplyKeyPlan", func() error {
				k := newKey("k-fresh", signkey.Next, t0)
				return s.ApplyKeyPlan(c, signkey.Plan{Activate: next.ID, Retire: active.ID, NeedNext: true}, &k, t0)
			}},
			{"ApplyKeyPlan stale", func() error { return s.ApplyKeyPlan(c, signkey.Plan{Activate: "nope"}, nil, t0) }},
			{"UseOnce used", func() error { return s.UseOnce(c, "client_assertion", "jti-1", t0.Add(time.Minute), t0) }},
			{"UseOnce new", func() error { return s.UseOnce(c, "client_assertion", "jti-2", t0.Add(time.Minute), t0) }},
		}
		for _, call := range calls {
			wantKind(t, call.name, call.err(), fault.Unavailable)
		}

		// Nothing of it happened.
		got, err := s.AccountByID(ctx, a.ID)
		must(t, "AccountByID", err)
		equal(t, "account", a, got)
		req, err := s.AuthRequestByID(ctx, pending.ID)
		must(t, "AuthRequestByID", err)
		if req.Login != nil {
			t.Errorf("a cancelled CompleteAuthRequest left a login")
		}
		must(t, "RotateRefreshToken", s.RotateRefreshToken(ctx, rt.Hash, newRefreshToken("rt-3", f.ID), newAccessToken("at-3", f.ID), t0))
		must(t, "UseOnce", s.UseOnce(ctx, "client_assertion", "jti-2", t0.Add(time.Minute), t0))
		_, err = s.ConsumePushedRequest(ctx, "uri-1", par.ClientID, t0)
		must(t, "ConsumePushedRequest after the cancelled one", err)
	}},
	{"CancelledContextRegistration", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		k := kvnrOf(1)
		must(t, "EnqueueRegistration", s.EnqueueRegistration(ctx, newRequest("reg-1", k, t0)))
		requested := createLetter(t, s, "letter-requested", kvnrOf(2), t0)
		handed := handedOver(t, s, "letter-handed", k)
		sess := newSession("enr-1", kvnrOf(3))
		_, err := s.StartEnrollment(ctx, sess, pendingAccount("acct-3", kvnrOf(3), loa.Substantial),
			newProof(kvnrOf(3), proof.Letter, loa.Substantial, t0))
		must(t, "StartEnrollment", err)
		_, _, err = s.Hit(ctx, "ip:a", 1, time.Minute, t0)
		must(t, "Hit", err)

		c := cancelled(t)
		calls := []struct {
			name string
			err  func() error
		}{
			{"UpsertMembers", func() error { return s.UpsertMembers(c, []member.Member{newMember(1)}) }},
			{"UpsertMembers none", func() error { return s.UpsertMembers(c, nil) }},
			{"EnqueueRegistration", func() error { return s.EnqueueRegistration(c, newRequest("reg-2", k, t0)) }},
			{"EnqueueRegistration existing", func() error { return s.EnqueueRegistration(c, newRequest("reg-1", k, t0)) }},
			{"ClaimRegistrations", func() error { _, err := s.ClaimRegistrations(c, 5, t0, t0.Add(time.Minute)); return err }},
			{"DeleteRegistration", func() error { return s.DeleteRegistration(c, "reg-1") }},
			{"CreateLetter", func() error { return s.CreateLetter(c, newLetter("letter-new", kvnrOf(4), t0), t0.Add(-week), t0) }},
			{"CreateLetter too soon", func() error { return s.CreateLetter(c, newLetter("letter-new", k, t0), t0.Add(-week), t0) }},
			{"LetterByID", func() error { _, err := s.LetterByID(c, handed.ID); return err }},
			{"LetterByID unknown", func() error { _, err := s.LetterByID(c, "nope"); return err }},
			{"LatestLetter unknown", func() error { _, err := s.LatestLetter(c, kvnrOf(9)); return err }},
			{"ListLetters", func() error { _, err := s.ListLetters(c, "", 10); return err }},
			{"ClaimLetters", func() error { _, err := s.ClaimLetters(c, 5, t0, t0.Add(time.Minute)); return err }},
			{"MarkRendered", func() error { return s.MarkRendered(c, requested.ID, "pw", "code", "x.pdf", t0) }},
			{"MarkRendered wrong state", func() error { return s.MarkRendered(c, handed.ID, "pw", "code", "x.pdf", t0) }},
			{"MarkHandedOver wrong state", func() error { return s.MarkHandedOver(c, requested.ID, t0) }},
			{"FailActivation", func() error { _, err := s.FailActivation(c, handed.ID, 5, t0); return err }},
			{"FailActivation unknown", func() error { _, err := s.FailActivation(c, "nope", 5, t0); return err }},
			{"ActivateLetter", func() error { return s.ActivateLetter(c, handed.ID, 5, t0) }},
			{"ActivateLetter wrong state", func() error { return s.ActivateLetter(c, requested.ID, 5, t0) }},
			{"StartEnrollment", func() error {
				_, err := s.StartEnrollment(c, newSession("enr-2", k), pendingAccount("acct-1", k, loa.Substantial),
					newProof(k, proof.Letter, loa.Substantial, t0))
				return err
			}},
			{"EnrollmentByTokenHash unknown", func() error { _, err := s.EnrollmentByTokenHash(c, "nope"); return err }},
			{"SetEnrollmentPassword", func() error { return s.SetEnrollmentPassword(c, sess.ID, "$argon2id$x", t0) }},
			{"SetEnrollmentPassword unknown", func() error { return s.SetEnrollmentPassword(c, "nope", "$argon2id$x", t0) }},
			{"Proofs", func() error { _, err := s.Proofs(c, "acct-3"); return err }},
			{"Hit", func() error { _, _, err := s.Hit(c, "ip:a", 1, time.Minute, t0); return err }},
			{"Count", func() error { _, _, err := s.Count(c, "ip:a", 1, time.Minute, t0); return err }},
			{"Release", func() error { return s.Release(c, "ip:a", time.Minute, t0) }},
			{"PasswordThrottle", func() error {
				_, err := s.PasswordThrottle(c, "kvnr:a")
				return err
			}},
			{"UpdatePasswordThrottle", func() error {
				_, err := s.UpdatePasswordThrottle(c, "kvnr:a", keepDay, func(x *throttle.Counter) error { x.Failures++; return nil })
				return err
			}},
		}
		for _, call := range calls {
			wantKind(t, call.name, call.err(), fault.Unavailable)
		}

		// Nothing of it happened.
		equal(t, "handed over letter", handed, letterByID(t, s, handed.ID))
		equal(t, "requested letter", requested, letterByID(t, s, requested.ID))
		regs, err := s.ClaimRegistrations(ctx, 5, t0, t0.Add(time.Minute))
		must(t, "ClaimRegistrations", err)
		equal(t, "queued requests", []string{"reg-1"}, requestIDs(regs))
		must(t, "ActivateLetter", s.ActivateLetter(ctx, handed.ID, 5, t0))
		ok, _, err := s.Hit(ctx, "ip:a", 2, time.Minute, t0)
		must(t, "Hit", err)
		if !ok {
			t.Errorf("a cancelled Hit was counted")
		}
	}},
	{"CancelledContextDevices", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		sess, b := readyToComplete(t, s, true, setPIN)
		free := enrolled(t, s, "enr-free", 2)
		must(t, "CreateChallenge", s.CreateChallenge(ctx, newChallenge("ch-1", t0)))
		must(t, "AppendAudit", s.AppendAudit(ctx, newEvent("ev-1", sess.AccountID, t0)))

		c := cancelled(t)
		calls := []struct {
			name string
			err  func() error
		}{
			{"BindDevice", func() error { return s.BindDevice(c, freshBinding("bind-2", free, t0), t0) }},
			{"BindDevice bound", func() error { return s.BindDevice(c, freshBinding("bind-3", sess, t0), t0) }},
			{"BindDevice unknown", func() error {
				return s.BindDevice(c, freshBinding("bind-4", enrollment.Session{ID: "enr-nope"}, t0), t0)
			}},
			{"BindingByID", func() error { _, err := s.BindingByID(c, b.ID); return err }},
			{"BindingByID unknown", func() error { _, err := s.BindingByID(c, "nope"); return err }},
			{"BindingByCredentialID unknown", func() error { _, err := s.BindingByCredentialID(c, []byte("nope")); return err }},
			{"ListBindings", func() error { _, err := s.ListBindings(c, sess.AccountID); return err }},
			{"UpdateBinding", func() error {
				_, err := s.UpdateBinding(c, b.ID, func(x *device.Binding) error { x.Name = "x"; return nil })
				return err
			}},
			{"UpdateBinding unknown", func() error {
				_, err := s.UpdateBinding(c, "nope", func(*device.Binding) error { return nil })
				return err
			}},
			{"RevokeBindings", func() error { _, err := s.RevokeBindings(c, sess.AccountID, "", t0); return err }},
			{"CreateChallenge", func() error { return s.CreateChallenge(c, newChallenge("ch-2", t0)) }},
			{"CreateChallenge existing", func() error { return s.CreateChallenge(c, newChallenge("ch-1", t0)) }},
			{"ConsumeChallenge", func() error { _, err := s.ConsumeChallenge(c, "ch-1", t0); return err }},
			{"ConsumeChallenge unknown", func() error { _, err := s.ConsumeChallenge(c, "nope", t0); return err }},
			{"AppendAudit", func() error { return s.AppendAudit(c, newEvent("ev-2", sess.AccountID, t0)) }},
			{"AppendAudit existing", func() error { return s.AppendAudit(c, newEvent("ev-1", sess.AccountID, t0)) }},
			{"AuditEvents", func() error { _, err := s.AuditEvents(c, sess.AccountID, 10); return err }},
			{"CompleteEnrollment", func() error {
				_, err := s.CompleteEnrollment(c, sess.ID, newEvent("ev-3", "", t0), t0.Add(4*time.Minute))
				return err
			}},
			{"CompleteEnrollment unknown", func() error { _, err := s.CompleteEnrollment(c, "nope", newEvent("ev-4", "", t0), t0); return err }},
		}
		for _, call := range calls {
			wantKind(t, call.name, call.err(), fault.Unavailable)
		}

		// Nothing of it happened.
		equal(t, "binding", b, bindingByID(t, s, b.ID))
		list, err := s.ListBindings(ctx, free.AccountID)
		must(t, "ListBindings", err)
		if len(list) != 0 {
			t.Errorf("a cancelled BindDevice stored %d bindings", len(list))
		}
		notCompletedSession(t, s, sess)
		got, err := s.ConsumeChallenge(ctx, "ch-1", t0)
		must(t, "ConsumeChallenge", err)
		equal(t, "challenge", newChallenge("ch-1", t0), got)
		evs, err := s.AuditEvents(ctx, sess.AccountID, 10)
		must(t, "AuditEvents", err)
		equal(t, "audit events", []audit.Event{newEvent("ev-1", sess.AccountID, t0)}, evs)
	}},
	{"CancelledContextProofings", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		p := newPending("state-1", t0)
		must(t, "BeginProofing", s.BeginProofing(ctx, p))
		c := cancelled(t)
		wantKind(t, "BeginProofing", s.BeginProofing(c, newPending("state-2", t0)), fault.Unavailable)
		wantKind(t, "BeginProofing existing", s.BeginProofing(c, p), fault.Unavailable)
		_, err := s.TakeProofing(c, p.StateHash, t0)
		wantKind(t, "TakeProofing", err, fault.Unavailable)
		_, err = s.TakeProofing(c, "state-nope", t0)
		wantKind(t, "TakeProofing unknown", err, fault.Unavailable)

		// Nothing of it happened.
		_, err = s.TakeProofing(ctx, "state-2", t0)
		wantKind(t, "TakeProofing of a cancelled begin", err, fault.NotFound)
		got, err := s.TakeProofing(ctx, p.StateHash, t0)
		must(t, "TakeProofing", err)
		equal(t, "proofing", p, got)
	}},
}
