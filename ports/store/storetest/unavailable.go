package storetest

import (
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/signkey"
	"github.com/pforte-id/pforte/ports/store"
)

var unavailableTests = []test{
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
			{"UpsertMember", func() error { return s.UpsertMember(c, newMember(1)) }},
			{"MemberByKVNR unknown", func() error { _, err := s.MemberByKVNR(c, kvnrOf(7)); return err }},
			{"CreateClient existing", func() error { return s.CreateClient(c, newClient("portal")) }},
			{"PutClient", func() error { return s.PutClient(c, newClient("portal")) }},
			{"ClientByID unknown", func() error { _, err := s.ClientByID(c, "nope"); return err }},
			{"ListClients", func() error { _, err := s.ListClients(c); return err }},
			{"DeleteClient unknown", func() error { return s.DeleteClient(c, "nope") }},
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
	}},
}
