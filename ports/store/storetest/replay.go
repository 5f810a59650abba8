package storetest

import (
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/ports/store"
)

var replayTests = []test[store.Replay]{
	{"UseOnce", func(t *testing.T, s store.Replay) {
		ctx := t.Context()
		exp := t0.Add(5 * time.Minute)
		must(t, "UseOnce", s.UseOnce(ctx, "client_assertion", "jti-1", exp, t0))
		wantKind(t, "UseOnce again", s.UseOnce(ctx, "client_assertion", "jti-1", exp, t0.Add(time.Minute)), fault.Conflict)
		must(t, "UseOnce other scope", s.UseOnce(ctx, "dpop", "jti-1", exp, t0))
		must(t, "UseOnce other value", s.UseOnce(ctx, "client_assertion", "jti-2", exp, t0))
	}},
	{"ExpiredEntryIsReplaced", func(t *testing.T, s store.Replay) {
		ctx := t.Context()
		exp := t0.Add(time.Minute)
		must(t, "UseOnce", s.UseOnce(ctx, "client_assertion", "jti-1", exp, t0))
		wantKind(t, "UseOnce just before expiry", s.UseOnce(ctx, "client_assertion", "jti-1", exp.Add(time.Hour), exp.Add(-time.Millisecond)), fault.Conflict)
		// At exp the old entry is over; the value is recorded anew, until
		// the new expiry.
		must(t, "UseOnce at expiry", s.UseOnce(ctx, "client_assertion", "jti-1", exp.Add(time.Hour), exp))
		wantKind(t, "UseOnce under the new entry", s.UseOnce(ctx, "client_assertion", "jti-1", exp.Add(2*time.Hour), exp.Add(30*time.Minute)), fault.Conflict)
	}},
}

var expiryTests = []test[ExpiryStore]{
	{"DeleteExpired", func(t *testing.T, s ExpiryStore) {
		ctx := t.Context()
		now := t0.Add(time.Hour)
		old, live := time.Minute, 2*time.Hour // relative to t0

		// Requests: one expired, one live.
		r := newAuthRequest("req-old")
		r.ExpiresAt = t0.Add(old)
		must(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r))
		keepReq := newAuthRequest("req-live")
		keepReq.ExpiresAt = t0.Add(live)
		must(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, keepReq))

		// Codes: one expired, one live.
		for _, c := range []struct {
			id  string
			exp time.Duration
		}{{"old", old}, {"live", live}} {
			req := completedRequest("req-code-" + c.id)
			must(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, req))
			code := newCode("code-"+c.id, req)
			code.ExpiresAt = t0.Add(c.exp)
			must(t, "IssueCode", s.IssueCode(ctx, code))
		}

		// An expired family with its tokens; a live family with an expired
		// access token and a live refresh token.
		f := newFamily("fam-old", "code-old")
		f.ExpiresAt = t0.Add(old)
		rt := newRefreshToken("rt-old", f.ID)
		rt.ExpiresAt = t0.Add(old)
		at := newAccessToken("at-old", f.ID)
		at.ExpiresAt = t0.Add(old)
		must(t, "CreateFamily old", s.CreateFamily(ctx, f, &rt, at))
		f2 := newFamily("fam-live", "code-live")
		f2.ExpiresAt = t0.Add(live)
		rt2 := newRefreshToken("rt-live", f2.ID)
		rt2.ExpiresAt = t0.Add(live)
		at2 := newAccessToken("at-expired", f2.ID)
		at2.ExpiresAt = t0.Add(old)
		must(t, "CreateFamily live", s.CreateFamily(ctx, f2, &rt2, at2))
		cc := newAccessToken("cc-live", "")
		cc.ExpiresAt = t0.Add(live)
		must(t, "CreateAccessToken", s.CreateAccessToken(ctx, cc))

		n, err := s.DeleteExpired(ctx, now)
		must(t, "DeleteExpired", err)
		// req-old, code-old, fam-old, rt-old, at-old, at-expired at least.
		if n < 6 {
			t.Errorf("DeleteExpired = %d, want at least 6", n)
		}

		_, err = s.AuthRequestByID(ctx, r.ID)
		wantKind(t, "expired request", err, fault.NotFound)
		_, err = s.AuthRequestByID(ctx, keepReq.ID)
		must(t, "live request", err)
		_, err = s.RedeemCode(ctx, "code-old", now)
		wantKind(t, "expired code", err, fault.NotFound)
		_, err = s.RedeemCode(ctx, "code-live", now)
		must(t, "live code", err)
		_, _, err = s.RefreshToken(ctx, rt.Hash)
		wantKind(t, "expired refresh token", err, fault.NotFound)
		_, err = s.AccessToken(ctx, at.JTI)
		wantKind(t, "expired access token", err, fault.NotFound)
		_, err = s.AccessToken(ctx, at2.JTI)
		wantKind(t, "expired access token of a live family", err, fault.NotFound)
		_, err = s.AccessToken(ctx, cc.JTI)
		must(t, "live client_credentials token", err)
		wantKind(t, "expired family", s.RevokeFamily(ctx, f.ID, now), fault.NotFound)
		gotRT, gotF, err := s.RefreshToken(ctx, rt2.Hash)
		must(t, "live refresh token", err)
		equal(t, "live refresh token", rt2, gotRT)
		equal(t, "live family", f2, gotF)

		n, err = s.DeleteExpired(ctx, now)
		must(t, "DeleteExpired again", err)
		if n != 0 {
			t.Errorf("second DeleteExpired = %d, want 0", n)
		}
	}},
	{"DeleteExpiredReplay", func(t *testing.T, s ExpiryStore) {
		ctx := t.Context()
		must(t, "UseOnce", s.UseOnce(ctx, "client_assertion", "jti-old", t0.Add(time.Minute), t0))
		must(t, "UseOnce", s.UseOnce(ctx, "client_assertion", "jti-live", t0.Add(time.Hour), t0))
		_, err := s.DeleteExpired(ctx, t0.Add(30*time.Minute))
		must(t, "DeleteExpired", err)
		// The live value is still remembered; a deleted one may be used
		// again (its expiry is over either way).
		wantKind(t, "live value", s.UseOnce(ctx, "client_assertion", "jti-live", t0.Add(2*time.Hour), t0.Add(31*time.Minute)), fault.Conflict)
		must(t, "expired value", s.UseOnce(ctx, "client_assertion", "jti-old", t0.Add(2*time.Hour), t0.Add(31*time.Minute)))
	}},
	// Codes outlive their expiry by store.CodeRetention, so that a late
	// replay is still a replay (Conflict, not NotFound) and its mark stays.
	{"DeleteExpiredKeepsCodes", func(t *testing.T, s ExpiryStore) {
		ctx := t.Context()
		used := redeemedCode(t, ctx, s, "req-used", "code-used")
		r := completedRequest("req-unused")
		must(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r))
		unused := newCode("code-unused", r)
		must(t, "IssueCode", s.IssueCode(ctx, unused))
		exp := unused.ExpiresAt // newCode's, the same for both

		_, err := s.DeleteExpired(ctx, exp.Add(time.Millisecond))
		must(t, "DeleteExpired just after expiry", err)
		_, err = s.RedeemCode(ctx, used.Hash, exp.Add(time.Second))
		wantKind(t, "replay of a just expired code", err, fault.Conflict)
		_, err = s.RedeemCode(ctx, unused.Hash, exp.Add(time.Second))
		wantKind(t, "redemption of a just expired code", err, fault.Expired)
		_, err = s.RevokeFamiliesOfCode(ctx, used.Hash, exp.Add(time.Second))
		must(t, "RevokeFamiliesOfCode", err)

		_, err = s.DeleteExpired(ctx, exp.Add(store.CodeRetention))
		must(t, "DeleteExpired at the end of the retention", err)
		_, err = s.RedeemCode(ctx, used.Hash, exp.Add(store.CodeRetention))
		wantKind(t, "replay at the end of the retention", err, fault.Conflict)
		err = s.CreateFamily(ctx, newFamily("fam-late", used.Hash), nil, newAccessToken("at-late", "fam-late"))
		wantKind(t, "CreateFamily for the replayed code", err, fault.Conflict)

		n, err := s.DeleteExpired(ctx, exp.Add(store.CodeRetention+time.Millisecond))
		must(t, "DeleteExpired after the retention", err)
		if n != 2 {
			t.Errorf("DeleteExpired after the retention = %d, want 2 (the codes)", n)
		}
		for _, h := range []string{used.Hash, unused.Hash} {
			_, err = s.RedeemCode(ctx, h, exp.Add(store.CodeRetention+time.Millisecond))
			wantKind(t, "RedeemCode of "+h+" after the retention", err, fault.NotFound)
		}
	}},
	// Everything else goes when it expired strictly before now.
	{"DeleteExpiredStrictlyBefore", func(t *testing.T, s ExpiryStore) {
		ctx := t.Context()
		exp := t0.Add(time.Hour)
		r := newAuthRequest("req-b")
		r.ExpiresAt = exp
		must(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r))
		f := newFamily("fam-b", "code-b")
		f.ExpiresAt = exp
		rt := newRefreshToken("rt-b", f.ID)
		rt.ExpiresAt = exp
		at := newAccessToken("at-b", f.ID)
		at.ExpiresAt = exp
		must(t, "CreateFamily", s.CreateFamily(ctx, f, &rt, at))
		cc := newAccessToken("cc-b", "")
		cc.ExpiresAt = exp
		must(t, "CreateAccessToken", s.CreateAccessToken(ctx, cc))
		must(t, "UseOnce", s.UseOnce(ctx, "client_assertion", "jti-b", exp, t0))

		n, err := s.DeleteExpired(ctx, exp)
		must(t, "DeleteExpired at expiry", err)
		if n != 0 {
			t.Errorf("DeleteExpired at expiry = %d, want 0", n)
		}
		_, err = s.AuthRequestByID(ctx, r.ID)
		must(t, "request at its expiry", err)
		_, _, err = s.RefreshToken(ctx, rt.Hash)
		must(t, "refresh token at its expiry", err)
		_, err = s.AccessToken(ctx, cc.JTI)
		must(t, "access token at its expiry", err)

		n, err = s.DeleteExpired(ctx, exp.Add(time.Millisecond))
		must(t, "DeleteExpired after expiry", err)
		// request, family, refresh token, two access tokens, one-time value.
		if n < 6 {
			t.Errorf("DeleteExpired after expiry = %d, want at least 6", n)
		}
		_, err = s.AuthRequestByID(ctx, r.ID)
		wantKind(t, "request after its expiry", err, fault.NotFound)
		_, err = s.AccessToken(ctx, cc.JTI)
		wantKind(t, "access token after its expiry", err, fault.NotFound)
	}},
	{"FamilyActiveUntilExpiry", func(t *testing.T, s ExpiryStore) {
		ctx := t.Context()
		f, rt, _ := seedFamily(t, ctx, s, "fam-exp", "code-exp")
		_, got, err := s.RefreshToken(ctx, rt.Hash)
		must(t, "RefreshToken", err)
		if !got.Active(f.ExpiresAt.Add(-time.Millisecond)) || got.Active(f.ExpiresAt) {
			t.Errorf("family activity around its expiry is wrong: %+v", got)
		}
	}},
}
