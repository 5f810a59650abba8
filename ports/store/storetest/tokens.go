package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/ports/store"
)

// seedFamily stores family id (issued for codeHash) with refresh token
// "rt-<id>" and access token "at-<id>".
func seedFamily(t *testing.T, ctx context.Context, s store.Tokens, id, codeHash string) (grant.Family, grant.RefreshToken, grant.AccessToken) {
	t.Helper()
	f := newFamily(id, codeHash)
	rt := newRefreshToken("rt-"+id, id)
	at := newAccessToken("at-"+id, id)
	must(t, "CreateFamily "+id, s.CreateFamily(ctx, f, &rt, at))
	return f, rt, at
}

// redeemedCode stores a code with hash for a fresh request reqID (expiring
// at t0 + 1 min) and redeems it at t0 + 1 s, as the winner of an exchange
// does before it stores the tokens.
func redeemedCode(t *testing.T, ctx context.Context, s store.AuthRequests, reqID, hash string) grant.Code {
	t.Helper()
	r := completedRequest(reqID)
	must(t, "CreateAuthRequest "+reqID, s.CreateAuthRequest(ctx, r))
	must(t, "IssueCode "+hash, s.IssueCode(ctx, newCode(hash, r)))
	c, err := s.RedeemCode(ctx, hash, t0.Add(time.Second))
	must(t, "RedeemCode "+hash, err)
	return c
}

// wantNoFamily fails unless nothing of family id (with refresh token rtHash
// and access token jti) is stored.
func wantNoFamily(t *testing.T, ctx context.Context, s store.Tokens, id, rtHash, jti string) {
	t.Helper()
	_, err := s.AccessToken(ctx, jti)
	wantKind(t, "access token of the refused family", err, fault.NotFound)
	_, _, err = s.RefreshToken(ctx, rtHash)
	wantKind(t, "refresh token of the refused family", err, fault.NotFound)
	wantKind(t, "the refused family", s.RevokeFamily(ctx, id, t0), fault.NotFound)
}

var tokenTests = []test[TokenStore]{
	{"FamilyRoundTrip", func(t *testing.T, s TokenStore) {
		ctx := t.Context()
		f, rt, at := seedFamily(t, ctx, s, "fam-1", "code-1")
		gotRT, gotF, err := s.RefreshToken(ctx, rt.Hash)
		must(t, "RefreshToken", err)
		equal(t, "refresh token", rt, gotRT)
		equal(t, "family", f, gotF)
		if !gotF.Active(t0) {
			t.Errorf("new family is not active")
		}
		gotAT, err := s.AccessToken(ctx, at.JTI)
		must(t, "AccessToken", err)
		equal(t, "access token", at, gotAT)
	}},
	{"FamilyWithoutRefreshToken", func(t *testing.T, s TokenStore) {
		ctx := t.Context()
		f := newFamily("fam-2", "code-2")
		f.AuthTime, f.AMR, f.ACR = time.Time{}, nil, ""
		at := newAccessToken("at-2", f.ID)
		must(t, "CreateFamily", s.CreateFamily(ctx, f, nil, at))
		got, err := s.AccessToken(ctx, at.JTI)
		must(t, "AccessToken", err)
		equal(t, "access token", at, got)
		must(t, "RevokeFamily", s.RevokeFamily(ctx, f.ID, t0))
		got, err = s.AccessToken(ctx, at.JTI)
		must(t, "AccessToken", err)
		sameInstant(t, "RevokedAt via family", t0, got.RevokedAt)
	}},
	{"NotFound", func(t *testing.T, s TokenStore) {
		ctx := t.Context()
		_, _, err := s.RefreshToken(ctx, "nope")
		wantKind(t, "RefreshToken", err, fault.NotFound)
		_, err = s.AccessToken(ctx, "nope")
		wantKind(t, "AccessToken", err, fault.NotFound)
		wantKind(t, "RevokeFamily", s.RevokeFamily(ctx, "nope", t0), fault.NotFound)
		wantKind(t, "RevokeAccessToken", s.RevokeAccessToken(ctx, "nope", t0), fault.NotFound)
		err = s.RotateRefreshToken(ctx, "nope", newRefreshToken("rt-x", ""), newAccessToken("at-x", ""), t0)
		wantKind(t, "RotateRefreshToken", err, fault.NotFound)
		n, err := s.RevokeFamiliesOfCode(ctx, "nope", t0)
		must(t, "RevokeFamiliesOfCode of an unknown code", err)
		if n != 0 {
			t.Errorf("RevokeFamiliesOfCode of an unknown code = %d", n)
		}
	}},
	{"CreateFamilyConflictRollsBack", func(t *testing.T, s TokenStore) {
		ctx := t.Context()
		seedFamily(t, ctx, s, "fam-3", "code-3")
		// Same family ID.
		rt := newRefreshToken("rt-new", "fam-3")
		err := s.CreateFamily(ctx, newFamily("fam-3", "code-x"), &rt, newAccessToken("at-new", "fam-3"))
		wantKind(t, "CreateFamily duplicate ID", err, fault.Conflict)
		// New family, but its access token's JTI exists: nothing of it stays.
		rt = newRefreshToken("rt-4", "fam-4")
		err = s.CreateFamily(ctx, newFamily("fam-4", "code-4"), &rt, newAccessToken("at-fam-3", "fam-4"))
		wantKind(t, "CreateFamily duplicate JTI", err, fault.Conflict)
		_, _, err = s.RefreshToken(ctx, "rt-4")
		wantKind(t, "refresh token of the rolled-back family", err, fault.NotFound)
		n, err := s.RevokeFamiliesOfCode(ctx, "code-4", t0)
		must(t, "RevokeFamiliesOfCode", err)
		if n != 0 {
			t.Errorf("the rolled-back family exists (%d revoked)", n)
		}
		// Duplicate refresh token hash.
		rt = newRefreshToken("rt-fam-3", "fam-5")
		err = s.CreateFamily(ctx, newFamily("fam-5", "code-5"), &rt, newAccessToken("at-5", "fam-5"))
		wantKind(t, "CreateFamily duplicate hash", err, fault.Conflict)
		_, err = s.AccessToken(ctx, "at-5")
		wantKind(t, "access token of the rolled-back family", err, fault.NotFound)
	}},
	{"Rotate", func(t *testing.T, s TokenStore) {
		ctx := t.Context()
		f, rt, _ := seedFamily(t, ctx, s, "fam-r", "code-r")
		now := t0.Add(time.Minute)
		next := newRefreshToken("rt-next", f.ID)
		next.CreatedAt = now
		at := newAccessToken("at-next", f.ID)
		at.IssuedAt = now
		must(t, "RotateRefreshToken", s.RotateRefreshToken(ctx, rt.Hash, next, at, now))

		gotOld, gotF, err := s.RefreshToken(ctx, rt.Hash)
		must(t, "RefreshToken old", err)
		rt.UsedAt = now
		equal(t, "old token", rt, gotOld)
		equal(t, "family", f, gotF)
		gotNext, _, err := s.RefreshToken(ctx, next.Hash)
		must(t, "RefreshToken next", err)
		equal(t, "next token", next, gotNext)
		gotAT, err := s.AccessToken(ctx, at.JTI)
		must(t, "AccessToken", err)
		equal(t, "new access token", at, gotAT)

		// Reuse of the old token.
		err = s.RotateRefreshToken(ctx, rt.Hash, newRefreshToken("rt-again", f.ID), newAccessToken("at-again", f.ID), now)
		wantKind(t, "RotateRefreshToken reuse", err, fault.Conflict)
		_, _, err = s.RefreshToken(ctx, "rt-again")
		wantKind(t, "token of the refused rotation", err, fault.NotFound)
		// The next one still rotates.
		must(t, "RotateRefreshToken next", s.RotateRefreshToken(ctx, next.Hash,
			newRefreshToken("rt-third", f.ID), newAccessToken("at-third", f.ID), now.Add(time.Minute)))
	}},
	{"RotateRollsBack", func(t *testing.T, s TokenStore) {
		ctx := t.Context()
		f, rt, _ := seedFamily(t, ctx, s, "fam-rb", "code-rb")
		_, rt2, _ := seedFamily(t, ctx, s, "fam-other", "code-other")
		// The next token's hash exists: the rotation fails as a whole and
		// the old token stays unused.
		err := s.RotateRefreshToken(ctx, rt.Hash, newRefreshToken(rt2.Hash, f.ID), newAccessToken("at-rb", f.ID), t0)
		wantKind(t, "RotateRefreshToken duplicate next hash", err, fault.Conflict)
		got, _, err := s.RefreshToken(ctx, rt.Hash)
		must(t, "RefreshToken", err)
		if !got.UsedAt.IsZero() {
			t.Errorf("old token marked used by a failed rotation")
		}
		_, err = s.AccessToken(ctx, "at-rb")
		wantKind(t, "access token of the failed rotation", err, fault.NotFound)
		must(t, "RotateRefreshToken after the failure", s.RotateRefreshToken(ctx, rt.Hash,
			newRefreshToken("rt-ok", f.ID), newAccessToken("at-ok", f.ID), t0))
	}},
	{"RotateExpired", func(t *testing.T, s TokenStore) {
		ctx := t.Context()
		_, rt, _ := seedFamily(t, ctx, s, "fam-x", "code-x")
		err := s.RotateRefreshToken(ctx, rt.Hash, newRefreshToken("rt-late", "fam-x"), newAccessToken("at-late", "fam-x"), rt.ExpiresAt)
		wantKind(t, "RotateRefreshToken of an expired token", err, fault.Expired)
		got, _, err := s.RefreshToken(ctx, rt.Hash)
		must(t, "RefreshToken", err)
		if !got.UsedAt.IsZero() {
			t.Errorf("expired token marked used")
		}
	}},
	{"RevokeFamily", func(t *testing.T, s TokenStore) {
		ctx := t.Context()
		f, rt, at := seedFamily(t, ctx, s, "fam-v", "code-v")
		_, _, other := seedFamily(t, ctx, s, "fam-keep", "code-keep")
		revoked := t0.Add(time.Minute)
		must(t, "RevokeFamily", s.RevokeFamily(ctx, f.ID, revoked))

		gotAT, err := s.AccessToken(ctx, at.JTI)
		must(t, "AccessToken", err)
		sameInstant(t, "access token RevokedAt", revoked, gotAT.RevokedAt)
		_, gotF, err := s.RefreshToken(ctx, rt.Hash)
		must(t, "RefreshToken", err)
		sameInstant(t, "family RevokedAt", revoked, gotF.RevokedAt)
		if gotF.Active(revoked) {
			t.Errorf("revoked family is active")
		}
		err = s.RotateRefreshToken(ctx, rt.Hash, newRefreshToken("rt-after", f.ID), newAccessToken("at-after", f.ID), revoked)
		wantKind(t, "RotateRefreshToken in a revoked family", err, fault.Forbidden)

		// Idempotent; the first revocation time stays.
		must(t, "RevokeFamily again", s.RevokeFamily(ctx, f.ID, revoked.Add(time.Hour)))
		gotAT, _ = s.AccessToken(ctx, at.JTI)
		sameInstant(t, "RevokedAt after the second revocation", revoked, gotAT.RevokedAt)

		gotOther, err := s.AccessToken(ctx, other.JTI)
		must(t, "AccessToken of another family", err)
		if !gotOther.RevokedAt.IsZero() {
			t.Errorf("revoking one family revoked another")
		}
	}},
	{"RevokeFamilyAfterRotation", func(t *testing.T, s TokenStore) {
		ctx := t.Context()
		f, rt, _ := seedFamily(t, ctx, s, "fam-w", "code-w")
		next, at := newRefreshToken("rt-w2", f.ID), newAccessToken("at-w2", f.ID)
		must(t, "RotateRefreshToken", s.RotateRefreshToken(ctx, rt.Hash, next, at, t0))
		must(t, "RevokeFamily", s.RevokeFamily(ctx, f.ID, t0))
		got, err := s.AccessToken(ctx, at.JTI)
		must(t, "AccessToken", err)
		sameInstant(t, "rotated access token RevokedAt", t0, got.RevokedAt)
		err = s.RotateRefreshToken(ctx, next.Hash, newRefreshToken("rt-w3", f.ID), newAccessToken("at-w3", f.ID), t0)
		wantKind(t, "RotateRefreshToken of the newest token", err, fault.Forbidden)
		// A spent token stays a reuse after the revocation, so that every
		// replay is seen.
		err = s.RotateRefreshToken(ctx, rt.Hash, newRefreshToken("rt-w4", f.ID), newAccessToken("at-w4", f.ID), t0)
		wantKind(t, "RotateRefreshToken of a spent token in a revoked family", err, fault.Conflict)
	}},
	{"RevokeFamiliesOfCode", func(t *testing.T, s TokenStore) {
		ctx := t.Context()
		_, _, at1 := seedFamily(t, ctx, s, "fam-c1", "code-shared")
		_, _, at2 := seedFamily(t, ctx, s, "fam-c2", "code-shared")
		_, _, at3 := seedFamily(t, ctx, s, "fam-c3", "code-other")
		n, err := s.RevokeFamiliesOfCode(ctx, "code-shared", t0)
		must(t, "RevokeFamiliesOfCode", err)
		if n != 2 {
			t.Errorf("RevokeFamiliesOfCode = %d, want 2", n)
		}
		for _, at := range []grant.AccessToken{at1, at2} {
			got, err := s.AccessToken(ctx, at.JTI)
			must(t, "AccessToken", err)
			sameInstant(t, at.JTI+" RevokedAt", t0, got.RevokedAt)
		}
		got, _ := s.AccessToken(ctx, at3.JTI)
		if !got.RevokedAt.IsZero() {
			t.Errorf("family of another code was revoked")
		}
		n, err = s.RevokeFamiliesOfCode(ctx, "code-shared", t0.Add(time.Minute))
		must(t, "RevokeFamiliesOfCode again", err)
		if n != 0 {
			t.Errorf("second RevokeFamiliesOfCode = %d, want 0", n)
		}
	}},
	// A replay that comes between RedeemCode and CreateFamily finds no
	// family to revoke; the mark RevokeFamiliesOfCode leaves on the code
	// stops the family from being stored afterwards.
	{"CreateFamilyAfterReplay", func(t *testing.T, s TokenStore) {
		ctx := t.Context()
		c := redeemedCode(t, ctx, s, "req-rp", "code-rp")
		replay := t0.Add(2 * time.Second)
		_, err := s.RedeemCode(ctx, c.Hash, replay)
		wantKind(t, "RedeemCode replay", err, fault.Conflict)
		n, err := s.RevokeFamiliesOfCode(ctx, c.Hash, replay)
		must(t, "RevokeFamiliesOfCode", err)
		if n != 0 {
			t.Errorf("RevokeFamiliesOfCode before any family = %d, want 0", n)
		}

		f := newFamily("fam-rp", c.Hash)
		rt, at := newRefreshToken("rt-rp", f.ID), newAccessToken("at-rp", f.ID)
		wantKind(t, "CreateFamily for a replayed code", s.CreateFamily(ctx, f, &rt, at), fault.Conflict)
		wantNoFamily(t, ctx, s, f.ID, rt.Hash, at.JTI)
		wantKind(t, "CreateFamily for a replayed code without refresh token", s.CreateFamily(ctx, f, nil, at), fault.Conflict)
		wantNoFamily(t, ctx, s, f.ID, rt.Hash, at.JTI)

		// The mark stays: another replay and later calls change nothing.
		n, err = s.RevokeFamiliesOfCode(ctx, c.Hash, replay.Add(time.Minute))
		must(t, "RevokeFamiliesOfCode again", err)
		if n != 0 {
			t.Errorf("second RevokeFamiliesOfCode = %d, want 0", n)
		}
		wantKind(t, "CreateFamily later", s.CreateFamily(ctx, newFamily("fam-rp2", c.Hash), nil, newAccessToken("at-rp2", "fam-rp2")), fault.Conflict)

		// Other codes are not affected; the family of a code that is not
		// replayed is stored, and a later replay revokes it and stops a
		// second one.
		other := redeemedCode(t, ctx, s, "req-ok", "code-ok")
		_, _, okAT := seedFamily(t, ctx, s, "fam-ok", other.Hash)
		n, err = s.RevokeFamiliesOfCode(ctx, other.Hash, replay)
		must(t, "RevokeFamiliesOfCode of the other code", err)
		if n != 1 {
			t.Errorf("RevokeFamiliesOfCode after CreateFamily = %d, want 1", n)
		}
		got, err := s.AccessToken(ctx, okAT.JTI)
		must(t, "AccessToken", err)
		sameInstant(t, "RevokedAt of the family stored before the replay", replay, got.RevokedAt)
		wantKind(t, "second CreateFamily for the now replayed code",
			s.CreateFamily(ctx, newFamily("fam-ok2", other.Hash), nil, newAccessToken("at-ok2", "fam-ok2")), fault.Conflict)

		// A family without a code (not from a code exchange) is stored.
		f3 := newFamily("fam-nocode", "")
		must(t, "CreateFamily without a code", s.CreateFamily(ctx, f3, nil, newAccessToken("at-nocode", f3.ID)))
	}},
	{"CreateFamilyOtherFamily", func(t *testing.T, s TokenStore) {
		ctx := t.Context()
		f := newFamily("fam-of", "code-of")
		rt := newRefreshToken("rt-of", "fam-else")
		err := s.CreateFamily(ctx, f, &rt, newAccessToken("at-of", f.ID))
		wantKind(t, "CreateFamily with a refresh token of another family", err, fault.Invalid)
		rt.FamilyID = f.ID
		err = s.CreateFamily(ctx, f, &rt, newAccessToken("at-of", "fam-else"))
		wantKind(t, "CreateFamily with an access token of another family", err, fault.Invalid)
		wantNoFamily(t, ctx, s, f.ID, rt.Hash, "at-of")
		// An empty FamilyID is the family's own.
		rt.FamilyID = ""
		must(t, "CreateFamily with empty FamilyIDs", s.CreateFamily(ctx, f, &rt, newAccessToken("at-of", "")))
		gotRT, _, err := s.RefreshToken(ctx, rt.Hash)
		must(t, "RefreshToken", err)
		gotAT, err := s.AccessToken(ctx, "at-of")
		must(t, "AccessToken", err)
		if gotRT.FamilyID != f.ID || gotAT.FamilyID != f.ID {
			t.Errorf("tokens stored under %q and %q, want %q", gotRT.FamilyID, gotAT.FamilyID, f.ID)
		}
	}},
	{"RotateOtherFamily", func(t *testing.T, s TokenStore) {
		ctx := t.Context()
		f, rt, _ := seedFamily(t, ctx, s, "fam-ro", "code-ro")
		seedFamily(t, ctx, s, "fam-else", "code-else")
		err := s.RotateRefreshToken(ctx, rt.Hash, newRefreshToken("rt-ro2", "fam-else"), newAccessToken("at-ro2", f.ID), t0)
		wantKind(t, "RotateRefreshToken with next in another family", err, fault.Invalid)
		err = s.RotateRefreshToken(ctx, rt.Hash, newRefreshToken("rt-ro2", f.ID), newAccessToken("at-ro2", "fam-else"), t0)
		wantKind(t, "RotateRefreshToken with at in another family", err, fault.Invalid)
		got, _, err := s.RefreshToken(ctx, rt.Hash)
		must(t, "RefreshToken", err)
		if !got.UsedAt.IsZero() {
			t.Errorf("old token marked used by a refused rotation")
		}
		_, _, err = s.RefreshToken(ctx, "rt-ro2")
		wantKind(t, "next token of the refused rotation", err, fault.NotFound)
		// An empty FamilyID is the old token's family.
		must(t, "RotateRefreshToken with empty FamilyIDs", s.RotateRefreshToken(ctx, rt.Hash,
			newRefreshToken("rt-ro2", ""), newAccessToken("at-ro2", ""), t0))
		_, gotF, err := s.RefreshToken(ctx, "rt-ro2")
		must(t, "RefreshToken next", err)
		if gotF.ID != f.ID {
			t.Errorf("next token stored in family %q, want %q", gotF.ID, f.ID)
		}
	}},
	{"RotateFamilyExpired", func(t *testing.T, s TokenStore) {
		ctx := t.Context()
		f, rt, _ := seedFamily(t, ctx, s, "fam-fx", "code-fx")
		if !f.ExpiresAt.Before(rt.ExpiresAt) {
			t.Fatalf("fixture: the family must end before its token")
		}
		err := s.RotateRefreshToken(ctx, rt.Hash, newRefreshToken("rt-fx2", f.ID), newAccessToken("at-fx2", f.ID), f.ExpiresAt)
		wantKind(t, "RotateRefreshToken at the family's expiry", err, fault.Expired)
		must(t, "RotateRefreshToken just before", s.RotateRefreshToken(ctx, rt.Hash,
			newRefreshToken("rt-fx2", f.ID), newAccessToken("at-fx2", f.ID), f.ExpiresAt.Add(-time.Millisecond)))
	}},
	{"AccessTokenWithoutFamily", func(t *testing.T, s TokenStore) {
		ctx := t.Context()
		at := newAccessToken("cc-1", "")
		at.Subject = "service-client"
		must(t, "CreateAccessToken", s.CreateAccessToken(ctx, at))
		got, err := s.AccessToken(ctx, at.JTI)
		must(t, "AccessToken", err)
		equal(t, "access token", at, got)
		wantKind(t, "CreateAccessToken duplicate", s.CreateAccessToken(ctx, at), fault.Conflict)

		revoked := t0.Add(time.Minute)
		must(t, "RevokeAccessToken", s.RevokeAccessToken(ctx, at.JTI, revoked))
		got, err = s.AccessToken(ctx, at.JTI)
		must(t, "AccessToken", err)
		at.RevokedAt = revoked
		equal(t, "revoked access token", at, got)
		must(t, "RevokeAccessToken again", s.RevokeAccessToken(ctx, at.JTI, revoked.Add(time.Hour)))
		got, _ = s.AccessToken(ctx, at.JTI)
		sameInstant(t, "RevokedAt after the second revocation", revoked, got.RevokedAt)
	}},
	{"RevokeOneAccessTokenOfAFamily", func(t *testing.T, s TokenStore) {
		ctx := t.Context()
		f, rt, at := seedFamily(t, ctx, s, "fam-one", "code-one")
		must(t, "RevokeAccessToken", s.RevokeAccessToken(ctx, at.JTI, t0))
		got, _ := s.AccessToken(ctx, at.JTI)
		sameInstant(t, "RevokedAt", t0, got.RevokedAt)
		_, gotF, err := s.RefreshToken(ctx, rt.Hash)
		must(t, "RefreshToken", err)
		if !gotF.RevokedAt.IsZero() {
			t.Errorf("revoking an access token revoked its family %s", f.ID)
		}
	}},
}
