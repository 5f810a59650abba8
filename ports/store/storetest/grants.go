package storetest

import (
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/ports/store"
)

var authRequestTests = []test[store.AuthRequests]{
	{"RoundTrip", func(t *testing.T, s store.AuthRequests) {
		ctx := t.Context()
		r := newAuthRequest("req-1")
		must(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r))
		got, err := s.AuthRequestByID(ctx, r.ID)
		must(t, "AuthRequestByID", err)
		equal(t, "AuthRequestByID", r, got)
		if got.Login != nil {
			t.Errorf("new request has a login: %+v", got.Login)
		}
		if got.MaxAge == nil || *got.MaxAge != *r.MaxAge {
			t.Errorf("MaxAge: got %v, want %v", got.MaxAge, *r.MaxAge)
		}
	}},
	{"MaxAgeAbsentAndZero", func(t *testing.T, s store.AuthRequests) {
		ctx := t.Context()
		absent := newAuthRequest("req-absent")
		absent.MaxAge = nil
		absent.Prompt, absent.ACRValues, absent.UILocales = nil, nil, []string{}
		zero := newAuthRequest("req-zero")
		var z time.Duration
		zero.MaxAge = &z // max_age=0: authenticate afresh, not "no max_age"
		for _, r := range []grant.AuthRequest{absent, zero} {
			must(t, "CreateAuthRequest "+r.ID, s.CreateAuthRequest(ctx, r))
			got, err := s.AuthRequestByID(ctx, r.ID)
			must(t, "AuthRequestByID "+r.ID, err)
			equal(t, "AuthRequestByID "+r.ID, r, got)
		}
		got, _ := s.AuthRequestByID(ctx, zero.ID)
		if got.MaxAge == nil || *got.MaxAge != 0 {
			t.Errorf("max_age=0 came back as %v", got.MaxAge)
		}
	}},
	{"CreatedWithLogin", func(t *testing.T, s store.AuthRequests) {
		ctx := t.Context()
		r := completedRequest("req-login")
		must(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r))
		got, err := s.AuthRequestByID(ctx, r.ID)
		must(t, "AuthRequestByID", err)
		equal(t, "AuthRequestByID", r, got)
	}},
	{"NotFoundAndConflict", func(t *testing.T, s store.AuthRequests) {
		ctx := t.Context()
		_, err := s.AuthRequestByID(ctx, "nope")
		wantKind(t, "AuthRequestByID", err, fault.NotFound)
		r := newAuthRequest("req-dup")
		must(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r))
		wantKind(t, "CreateAuthRequest duplicate", s.CreateAuthRequest(ctx, newAuthRequest("req-dup")), fault.Conflict)
	}},
	{"ExpiredIsStillReturned", func(t *testing.T, s store.AuthRequests) {
		ctx := t.Context()
		r := newAuthRequest("req-old")
		r.ExpiresAt = t0.Add(-time.Hour)
		must(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r))
		got, err := s.AuthRequestByID(ctx, r.ID)
		must(t, "AuthRequestByID of an expired request", err)
		equal(t, "AuthRequestByID", r, got)
	}},
	{"Complete", func(t *testing.T, s store.AuthRequests) {
		ctx := t.Context()
		r := newAuthRequest("req-c")
		must(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r))
		l := newLogin()
		must(t, "CompleteAuthRequest", s.CompleteAuthRequest(ctx, r.ID, l, t0))
		got, err := s.AuthRequestByID(ctx, r.ID)
		must(t, "AuthRequestByID", err)
		r.Login = &l
		equal(t, "completed request", r, got)

		other := newLogin()
		other.Subject = "acct-2"
		wantKind(t, "CompleteAuthRequest again", s.CompleteAuthRequest(ctx, r.ID, other, t0), fault.Conflict)
		got, _ = s.AuthRequestByID(ctx, r.ID)
		equal(t, "request after second login", r, got)

		wantKind(t, "CompleteAuthRequest unknown", s.CompleteAuthRequest(ctx, "nope", l, t0), fault.NotFound)
	}},
	{"CompleteExpired", func(t *testing.T, s store.AuthRequests) {
		ctx := t.Context()
		r := newAuthRequest("req-e")
		must(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r))
		wantKind(t, "CompleteAuthRequest at ExpiresAt", s.CompleteAuthRequest(ctx, r.ID, newLogin(), r.ExpiresAt), fault.Expired)
		got, _ := s.AuthRequestByID(ctx, r.ID)
		if got.Login != nil {
			t.Errorf("expired request got a login")
		}
	}},
}

var codeTests = []test[store.AuthRequests]{
	{"IssueAndRedeem", func(t *testing.T, s store.AuthRequests) {
		ctx := t.Context()
		r := completedRequest("req-1")
		must(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r))
		c := newCode("code-1", r)
		must(t, "IssueCode", s.IssueCode(ctx, c))
		_, err := s.AuthRequestByID(ctx, r.ID)
		wantKind(t, "AuthRequestByID after IssueCode", err, fault.NotFound)

		now := t0.Add(10 * time.Second)
		got, err := s.RedeemCode(ctx, c.Hash, now)
		must(t, "RedeemCode", err)
		c.UsedAt = now
		equal(t, "redeemed code", c, got)
	}},
	{"IssueDeletesRequest", func(t *testing.T, s store.AuthRequests) {
		ctx := t.Context()
		r := completedRequest("req-2")
		must(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r))
		must(t, "IssueCode", s.IssueCode(ctx, newCode("code-a", r)))
		wantKind(t, "second IssueCode", s.IssueCode(ctx, newCode("code-b", r)), fault.NotFound)
		_, err := s.RedeemCode(ctx, "code-b", t0)
		wantKind(t, "RedeemCode of the refused code", err, fault.NotFound)
		wantKind(t, "IssueCode unknown request", s.IssueCode(ctx, newCode("code-c", completedRequest("nope"))), fault.NotFound)
	}},
	{"IssueNeedsLogin", func(t *testing.T, s store.AuthRequests) {
		ctx := t.Context()
		r := newAuthRequest("req-3")
		must(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r))
		wantKind(t, "IssueCode without login", s.IssueCode(ctx, newCode("code-x", r)), fault.Forbidden)
		got, err := s.AuthRequestByID(ctx, r.ID)
		must(t, "request is kept", err)
		equal(t, "kept request", r, got)
		_, err = s.RedeemCode(ctx, "code-x", t0)
		wantKind(t, "RedeemCode of the refused code", err, fault.NotFound)
	}},
	{"IssueDuplicateHashRollsBack", func(t *testing.T, s store.AuthRequests) {
		ctx := t.Context()
		r1, r2 := completedRequest("req-4"), completedRequest("req-5")
		must(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r1))
		must(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r2))
		must(t, "IssueCode", s.IssueCode(ctx, newCode("same", r1)))
		wantKind(t, "IssueCode duplicate hash", s.IssueCode(ctx, newCode("same", r2)), fault.Conflict)
		got, err := s.AuthRequestByID(ctx, r2.ID)
		must(t, "request survives the failed IssueCode", err)
		equal(t, "kept request", r2, got)
	}},
	{"Replay", func(t *testing.T, s store.AuthRequests) {
		ctx := t.Context()
		r := completedRequest("req-6")
		must(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r))
		c := newCode("code-r", r)
		must(t, "IssueCode", s.IssueCode(ctx, c))
		first := t0.Add(time.Second)
		_, err := s.RedeemCode(ctx, c.Hash, first)
		must(t, "RedeemCode", err)
		got, err := s.RedeemCode(ctx, c.Hash, t0.Add(2*time.Second))
		wantKind(t, "RedeemCode replay", err, fault.Conflict)
		c.UsedAt = first
		equal(t, "code returned with the replay", c, got)
		// A replay after expiry is still a replay: the caller must be able
		// to revoke what the code issued.
		got, err = s.RedeemCode(ctx, c.Hash, c.ExpiresAt.Add(time.Second))
		wantKind(t, "RedeemCode replay after expiry", err, fault.Conflict)
		equal(t, "code returned with the late replay", c, got)
	}},
	{"RedeemExpiredAndUnknown", func(t *testing.T, s store.AuthRequests) {
		ctx := t.Context()
		r := completedRequest("req-7")
		must(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r))
		c := newCode("code-e", r)
		must(t, "IssueCode", s.IssueCode(ctx, c))
		_, err := s.RedeemCode(ctx, c.Hash, c.ExpiresAt)
		wantKind(t, "RedeemCode at ExpiresAt", err, fault.Expired)
		_, err = s.RedeemCode(ctx, c.Hash, c.ExpiresAt.Add(time.Minute))
		wantKind(t, "RedeemCode after expiry", err, fault.Expired)
		_, err = s.RedeemCode(ctx, "no-such-code", t0)
		wantKind(t, "RedeemCode unknown", err, fault.NotFound)
	}},
}
