package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/ports/store"
)

// pushTTL is how long the suite's request_uris live (RFC 9126 suggests
// short lifetimes; Pforte's is 90 s).
const pushTTL = 90 * time.Second

// pushed stores request id as a pushed request under hash, usable until
// t0 + pushTTL.
func pushed(t *testing.T, s store.AuthRequests, id, hash string) grant.AuthRequest {
	t.Helper()
	r := newAuthRequest(id)
	must(t, "CreatePushedRequest "+id, s.CreatePushedRequest(t.Context(), r, hash, t0.Add(pushTTL)))
	return r
}

var pushedRequestTests = []test[store.AuthRequests]{
	{"HiddenUntilConsumed", func(t *testing.T, s store.AuthRequests) {
		ctx := t.Context()
		r := pushed(t, s, "req-par", "uri-1")

		// Before its request_uri is used, nothing sees the request by its ID.
		_, err := s.AuthRequestByID(ctx, r.ID)
		wantKind(t, "AuthRequestByID of a pushed request", err, fault.NotFound)
		wantKind(t, "CompleteAuthRequest of a pushed request", s.CompleteAuthRequest(ctx, r.ID, newLogin(), t0), fault.NotFound)
		done := r
		l := newLogin()
		done.Login = &l
		wantKind(t, "IssueCode of a pushed request", s.IssueCode(ctx, newCode("code-par", done)), fault.NotFound)
		wantKind(t, "CreateAuthRequest with the pushed request's ID", s.CreateAuthRequest(ctx, newAuthRequest(r.ID)), fault.Conflict)
		wantKind(t, "CreatePushedRequest with the same ID", s.CreatePushedRequest(ctx, newAuthRequest(r.ID), "uri-2", t0.Add(pushTTL)), fault.Conflict)
		wantKind(t, "CreatePushedRequest with the same request_uri", s.CreatePushedRequest(ctx, newAuthRequest("req-other"), "uri-1", t0.Add(pushTTL)), fault.Conflict)
		_, err = s.AuthRequestByID(ctx, "req-other")
		wantKind(t, "request of the refused push", err, fault.NotFound)

		// Consumed, it is an ordinary pending request with the same ID.
		now := t0.Add(pushTTL - time.Millisecond)
		got, err := s.ConsumePushedRequest(ctx, "uri-1", r.ClientID, now)
		must(t, "ConsumePushedRequest", err)
		equal(t, "consumed request", r, got)
		got, err = s.AuthRequestByID(ctx, r.ID)
		must(t, "AuthRequestByID after ConsumePushedRequest", err)
		equal(t, "pending request", r, got)
		_, err = s.ConsumePushedRequest(ctx, "uri-1", r.ClientID, now)
		wantKind(t, "ConsumePushedRequest again", err, fault.NotFound)

		// The login continues with it, past the request_uri's expiry.
		later := t0.Add(pushTTL + time.Minute)
		must(t, "CompleteAuthRequest", s.CompleteAuthRequest(ctx, r.ID, l, later))
		got, err = s.AuthRequestByID(ctx, r.ID)
		must(t, "AuthRequestByID", err)
		equal(t, "completed request", done, got)
		c := newCode("code-par", done)
		c.CreatedAt, c.ExpiresAt = later, later.Add(time.Minute)
		must(t, "IssueCode", s.IssueCode(ctx, c))
		redeemed, err := s.RedeemCode(ctx, c.Hash, later)
		must(t, "RedeemCode", err)
		c.UsedAt = later
		equal(t, "code of a pushed request", c, redeemed)
		_, err = s.ConsumePushedRequest(ctx, "uri-1", r.ClientID, t0)
		wantKind(t, "ConsumePushedRequest after the code", err, fault.NotFound)
	}},
	{"Refusals", func(t *testing.T, s store.AuthRequests) {
		ctx := t.Context()
		r := pushed(t, s, "req-par", "uri-1")
		_, err := s.ConsumePushedRequest(ctx, "uri-nope", r.ClientID, t0)
		wantKind(t, "ConsumePushedRequest unknown", err, fault.NotFound)
		_, err = s.ConsumePushedRequest(ctx, "uri-1", "other-client", t0)
		wantKind(t, "ConsumePushedRequest by another client", err, fault.Forbidden)
		_, err = s.ConsumePushedRequest(ctx, "uri-1", "other-client", t0.Add(pushTTL))
		wantKind(t, "ConsumePushedRequest by another client after expiry", err, fault.Forbidden)
		_, err = s.ConsumePushedRequest(ctx, "uri-1", r.ClientID, t0.Add(pushTTL))
		wantKind(t, "ConsumePushedRequest at expiry", err, fault.Expired)
		_, err = s.ConsumePushedRequest(ctx, "uri-1", r.ClientID, t0.Add(time.Hour))
		wantKind(t, "ConsumePushedRequest after expiry", err, fault.Expired)
		_, err = s.AuthRequestByID(ctx, r.ID)
		wantKind(t, "AuthRequestByID after refused consumptions", err, fault.NotFound)
		// Neither the other client nor the expired tries spent it.
		got, err := s.ConsumePushedRequest(ctx, "uri-1", r.ClientID, t0)
		must(t, "ConsumePushedRequest by its client", err)
		equal(t, "consumed request", r, got)
	}},
	{"Invalid", func(t *testing.T, s store.AuthRequests) {
		ctx := t.Context()
		r := newAuthRequest("req-bad")
		wantKind(t, "CreatePushedRequest without hash", s.CreatePushedRequest(ctx, r, "", t0.Add(pushTTL)), fault.Invalid)
		wantKind(t, "CreatePushedRequest outliving its request", s.CreatePushedRequest(ctx, r, "uri-1", r.ExpiresAt.Add(time.Second)), fault.Invalid)
		withLogin := completedRequest("req-bad")
		wantKind(t, "CreatePushedRequest with a login", s.CreatePushedRequest(ctx, withLogin, "uri-1", t0.Add(pushTTL)), fault.Invalid)
		_, err := s.ConsumePushedRequest(ctx, "uri-1", r.ClientID, t0)
		wantKind(t, "ConsumePushedRequest of a refused push", err, fault.NotFound)
		// The request_uri may live exactly as long as its request.
		must(t, "CreatePushedRequest until the request's end", s.CreatePushedRequest(ctx, r, "uri-1", r.ExpiresAt))
		// A request without the optional fields round-trips too.
		bare := newAuthRequest("req-bare")
		bare.MaxAge, bare.Prompt, bare.ACRValues, bare.UILocales, bare.DPoPJKT, bare.LoginHint = nil, nil, nil, nil, "", ""
		must(t, "CreatePushedRequest bare", s.CreatePushedRequest(ctx, bare, "uri-bare", t0.Add(pushTTL)))
		got, err := s.ConsumePushedRequest(ctx, "uri-bare", bare.ClientID, t0)
		must(t, "ConsumePushedRequest bare", err)
		equal(t, "bare request", bare, got)
	}},
	{"DeleteExpired", func(t *testing.T, s store.AuthRequests) {
		ctx := t.Context()
		r := pushed(t, s, "req-par", "uri-1")
		n, err := s.DeleteExpired(ctx, t0.Add(pushTTL+time.Second))
		must(t, "DeleteExpired after the request_uri's end", err)
		if n != 0 {
			t.Errorf("DeleteExpired removed %d rows while the request lives", n)
		}
		n, err = s.DeleteExpired(ctx, r.ExpiresAt.Add(time.Millisecond))
		must(t, "DeleteExpired after the request's end", err)
		if n != 1 {
			t.Errorf("DeleteExpired removed %d rows, want 1 (the pushed request)", n)
		}
		_, err = s.ConsumePushedRequest(ctx, "uri-1", r.ClientID, t0)
		wantKind(t, "ConsumePushedRequest of a deleted request", err, fault.NotFound)
	}},
	{"ConsumeRace", func(t *testing.T, s store.AuthRequests) {
		ctx := t.Context()
		r := pushed(t, s, "req-par", "uri-race")
		got := make([]grant.AuthRequest, N)
		errs := race(func(i int) error {
			var err error
			got[i], err = s.ConsumePushedRequest(ctx, "uri-race", r.ClientID, t0.Add(time.Duration(i)*time.Millisecond))
			return err
		})
		w := oneWinner(t, "ConsumePushedRequest", errs, fault.NotFound)
		equal(t, "the winner's request", r, got[w])
		_, err := s.AuthRequestByID(ctx, r.ID)
		must(t, "AuthRequestByID after the race", err)
	}},
}

// boundDevice binds a device key (binding id, enrollment session of
// member i) and returns it.
// deviceFixtures is what boundDevice needs.
type deviceFixtures interface {
	store.Devices
	store.Enrollments
}

func boundDevice(t *testing.T, s deviceFixtures, id string, i int) device.Binding {
	t.Helper()
	b := newBinding(id, enrolled(t, s, "enr-"+id, i))
	must(t, "BindDevice "+id, s.BindDevice(t.Context(), b, t0))
	return b
}

// bindingFamily stores family id of a login with binding bindingID, with
// refresh token "rt-<id>" and access token "at-<id>".
func bindingFamily(t *testing.T, ctx context.Context, s store.Tokens, id, bindingID string) (grant.Family, grant.RefreshToken, grant.AccessToken) {
	t.Helper()
	f := newFamily(id, "code-"+id)
	f.BindingID = bindingID
	rt, at := newRefreshToken("rt-"+id, id), newAccessToken("at-"+id, id)
	must(t, "CreateFamily "+id, s.CreateFamily(ctx, f, &rt, at))
	return f, rt, at
}

// wantRevoked fails unless the family of refresh token rt and access token
// jti is revoked (at at, unless at is zero) and can no longer rotate.
func wantRevoked(t *testing.T, ctx context.Context, s store.Tokens, rt grant.RefreshToken, jti string, at time.Time) {
	t.Helper()
	got, err := s.AccessToken(ctx, jti)
	must(t, "AccessToken "+jti, err)
	if got.RevokedAt.IsZero() {
		t.Fatalf("access token %s is not revoked", jti)
	}
	if !at.IsZero() {
		sameInstant(t, jti+" RevokedAt", at, got.RevokedAt)
	}
	_, f, err := s.RefreshToken(ctx, rt.Hash)
	must(t, "RefreshToken "+rt.Hash, err)
	if f.RevokedAt.IsZero() {
		t.Fatalf("family %s is not revoked", f.ID)
	}
	err = s.RotateRefreshToken(ctx, rt.Hash, newRefreshToken(rt.Hash+"-next", f.ID), newAccessToken(jti+"-next", f.ID), t0.Add(time.Minute))
	wantKind(t, "RotateRefreshToken in the revoked family "+f.ID, err, fault.Forbidden)
}

// wantActive fails unless the access token jti and its family are not revoked.
func wantActive(t *testing.T, ctx context.Context, s store.Tokens, jti string) {
	t.Helper()
	got, err := s.AccessToken(ctx, jti)
	must(t, "AccessToken "+jti, err)
	if !got.RevokedAt.IsZero() {
		t.Fatalf("access token %s was revoked", jti)
	}
}

var bindingFamilyTests = []test[TokenStore]{
	{"RoundTrip", func(t *testing.T, s TokenStore) {
		ctx := t.Context()
		b := boundDevice(t, s, "bind-1", 1)
		f, rt, at := bindingFamily(t, ctx, s, "fam-1", b.ID)
		gotRT, gotF, err := s.RefreshToken(ctx, rt.Hash)
		must(t, "RefreshToken", err)
		equal(t, "refresh token", rt, gotRT)
		equal(t, "family with binding and DPoP key", f, gotF)
		gotAT, err := s.AccessToken(ctx, at.JTI)
		must(t, "AccessToken", err)
		equal(t, "DPoP-bound access token", at, gotAT)
	}},
	{"RevokeFamiliesOfBinding", func(t *testing.T, s TokenStore) {
		ctx := t.Context()
		b := boundDevice(t, s, "bind-1", 1)
		other := boundDevice(t, s, "bind-2", 2)
		_, rt1, at1 := bindingFamily(t, ctx, s, "fam-1", b.ID)
		_, rt2, at2 := bindingFamily(t, ctx, s, "fam-2", b.ID)
		_, _, atOther := bindingFamily(t, ctx, s, "fam-other", other.ID)
		_, _, atPassword := seedFamily(t, ctx, s, "fam-password", "code-password")
		// One of the binding's families is revoked already: it keeps its time.
		must(t, "RevokeFamily", s.RevokeFamily(ctx, "fam-2", t0))

		at := t0.Add(time.Minute)
		n, err := s.RevokeFamiliesOfBinding(ctx, b.ID, at)
		must(t, "RevokeFamiliesOfBinding", err)
		if n != 1 {
			t.Errorf("RevokeFamiliesOfBinding = %d, want 1 (the other was revoked before)", n)
		}
		wantRevoked(t, ctx, s, rt1, at1.JTI, at)
		wantRevoked(t, ctx, s, rt2, at2.JTI, t0)
		wantActive(t, ctx, s, atOther.JTI)
		wantActive(t, ctx, s, atPassword.JTI)

		n, err = s.RevokeFamiliesOfBinding(ctx, b.ID, at.Add(time.Hour))
		must(t, "RevokeFamiliesOfBinding again", err)
		if n != 0 {
			t.Errorf("RevokeFamiliesOfBinding again = %d, want 0", n)
		}
		wantRevoked(t, ctx, s, rt1, at1.JTI, at)
		n, err = s.RevokeFamiliesOfBinding(ctx, "bind-nope", at)
		must(t, "RevokeFamiliesOfBinding unknown", err)
		if n != 0 {
			t.Errorf("RevokeFamiliesOfBinding unknown = %d", n)
		}
		_, err = s.RevokeFamiliesOfBinding(ctx, "", at)
		wantKind(t, "RevokeFamiliesOfBinding empty", err, fault.Invalid)
		wantActive(t, ctx, s, atPassword.JTI)
	}},
	{"RevokeBindingsRevokesFamilies", func(t *testing.T, s TokenStore) {
		ctx := t.Context()
		keep := boundDevice(t, s, "bind-keep", 1)
		gone := boundDevice(t, s, "bind-gone", 1)
		theirs := boundDevice(t, s, "bind-theirs", 2)
		_, _, atKeep := bindingFamily(t, ctx, s, "fam-keep", keep.ID)
		_, rtGone, atGone := bindingFamily(t, ctx, s, "fam-gone", gone.ID)
		_, _, atTheirs := bindingFamily(t, ctx, s, "fam-theirs", theirs.ID)
		_, _, atPassword := seedFamily(t, ctx, s, "fam-password", "code-password")

		at := t0.Add(time.Hour)
		n, err := s.RevokeBindings(ctx, "acct-1", keep.ID, at)
		must(t, "RevokeBindings", err)
		if n != 1 {
			t.Errorf("RevokeBindings = %d, want 1", n)
		}
		wantRevoked(t, ctx, s, rtGone, atGone.JTI, at)
		wantActive(t, ctx, s, atKeep.JTI)
		wantActive(t, ctx, s, atTheirs.JTI)
		wantActive(t, ctx, s, atPassword.JTI)

		// Revoking all takes the kept one's families too.
		n, err = s.RevokeBindings(ctx, "acct-1", "", at.Add(time.Hour))
		must(t, "RevokeBindings all", err)
		if n != 1 {
			t.Errorf("RevokeBindings all = %d, want 1", n)
		}
		got, err := s.AccessToken(ctx, atKeep.JTI)
		must(t, "AccessToken", err)
		sameInstant(t, "RevokedAt of the last binding's family", at.Add(time.Hour), got.RevokedAt)
		got, _ = s.AccessToken(ctx, atGone.JTI)
		sameInstant(t, "RevokedAt of the first revoked binding's family (kept)", at, got.RevokedAt)
		wantActive(t, ctx, s, atTheirs.JTI)
		wantActive(t, ctx, s, atPassword.JTI)
	}},
	// UpdateBinding stores the binding and nothing else: the caller that
	// revokes or flags a binding revokes its families after the update,
	// with its own clock, and from the update on no family of the binding
	// can be created.
	{"UpdateBindingLeavesFamilies", func(t *testing.T, s TokenStore) {
		ctx := t.Context()
		for i, st := range []device.Status{device.Revoked, device.Suspect, device.Blocked, device.Active} {
			b := boundDevice(t, s, "bind-"+string(st), i+1)
			_, rt, at := bindingFamily(t, ctx, s, "fam-"+string(st), b.ID)
			_, err := s.UpdateBinding(ctx, b.ID, func(cur *device.Binding) error {
				cur.Status, cur.Name = st, "umbenannt"
				if st == device.Revoked {
					cur.RevokedAt = t0.Add(time.Hour)
				}
				return nil
			})
			must(t, "UpdateBinding to "+string(st), err)
			wantActive(t, ctx, s, at.JTI)
			if st != device.Revoked && st != device.Suspect {
				continue
			}
			f := newFamily("fam-late-"+string(st), "")
			f.BindingID = b.ID
			lateRT, lateAT := newRefreshToken("rt-"+f.ID, f.ID), newAccessToken("at-"+f.ID, f.ID)
			wantKind(t, "CreateFamily after UpdateBinding to "+string(st), s.CreateFamily(ctx, f, &lateRT, lateAT), fault.Forbidden)
			wantNoFamily(t, ctx, s, f.ID, lateRT.Hash, lateAT.JTI)
			n, err := s.RevokeFamiliesOfBinding(ctx, b.ID, t0.Add(2*time.Hour))
			must(t, "RevokeFamiliesOfBinding", err)
			if n != 1 {
				t.Errorf("RevokeFamiliesOfBinding after UpdateBinding to %s = %d, want 1", st, n)
			}
			wantRevoked(t, ctx, s, rt, at.JTI, t0.Add(2*time.Hour))
		}
	}},
	{"CreateFamilyNeedsAUsableBinding", func(t *testing.T, s TokenStore) {
		ctx := t.Context()
		revoked := boundDevice(t, s, "bind-revoked", 1)
		suspect := boundDevice(t, s, "bind-suspect", 2)
		blocked := boundDevice(t, s, "bind-blocked", 3)
		for b, st := range map[string]device.Status{revoked.ID: device.Revoked, suspect.ID: device.Suspect, blocked.ID: device.Blocked} {
			_, err := s.UpdateBinding(ctx, b, func(cur *device.Binding) error { cur.Status = st; return nil })
			must(t, "UpdateBinding", err)
		}
		for _, b := range []string{revoked.ID, suspect.ID, "bind-nope"} {
			f := newFamily("fam-"+b, "code-"+b)
			f.BindingID = b
			rt, at := newRefreshToken("rt-"+f.ID, f.ID), newAccessToken("at-"+f.ID, f.ID)
			wantKind(t, "CreateFamily for "+b, s.CreateFamily(ctx, f, &rt, at), fault.Forbidden)
			wantNoFamily(t, ctx, s, f.ID, rt.Hash, at.JTI)
		}
		// A blocked binding's login (the right PIN came first) gets its tokens.
		_, _, at := bindingFamily(t, ctx, s, "fam-blocked", blocked.ID)
		wantActive(t, ctx, s, at.JTI)
	}},
	// The revocation of a binding races the code exchange of a login made
	// with it. Whatever the interleaving, no active family of the revoked
	// binding may remain: either CreateFamily failed with Forbidden and
	// stored nothing, or its family was revoked — by RevokeBindings, or by
	// the RevokeFamiliesOfBinding that follows an UpdateBinding.
	{"CreateFamilyAgainstRevocation", func(t *testing.T, s TokenStore) {
		createFamilyAgainst(t, s, func(ctx context.Context, b device.Binding, now time.Time) error {
			_, err := s.RevokeBindings(ctx, b.AccountID, "", now)
			return err
		})
	}},
	{"CreateFamilyAgainstUpdateBinding", func(t *testing.T, s TokenStore) {
		createFamilyAgainst(t, s, func(ctx context.Context, b device.Binding, now time.Time) error {
			if _, err := s.UpdateBinding(ctx, b.ID, func(cur *device.Binding) error {
				cur.Status, cur.RevokedAt = device.Revoked, now
				return nil
			}); err != nil {
				return err
			}
			_, err := s.RevokeFamiliesOfBinding(ctx, b.ID, now)
			return err
		})
	}},
}

// createFamilyAgainst races CreateFamily for a binding's login against
// revoke, which revokes the binding and its families at now, many times
// over, and checks that no active family of the binding remains.
func createFamilyAgainst(t *testing.T, s TokenStore, revoke func(ctx context.Context, b device.Binding, now time.Time) error) {
	ctx := t.Context()
	const rounds = 20
	created := 0
	for round := range rounds {
		b := boundDevice(t, s, fmt.Sprintf("bind-%d", round), round)
		f := newFamily(fmt.Sprintf("fam-%d", round), fmt.Sprintf("code-%d", round))
		f.BindingID = b.ID
		rt, at := newRefreshToken("rt-"+f.ID, f.ID), newAccessToken("at-"+f.ID, f.ID)
		// Which goroutine creates alternates, so that the scheduler's
		// habits do not decide the order every round.
		creator := round % 2
		errs := raceN(2, func(i int) error {
			if i == creator {
				return s.CreateFamily(ctx, f, &rt, at)
			}
			return revoke(ctx, b, t0.Add(time.Minute))
		})
		must(t, fmt.Sprintf("round %d: revocation", round), errs[1-creator])
		switch err := errs[creator]; {
		case err == nil:
			created++
			wantRevoked(t, ctx, s, rt, at.JTI, t0.Add(time.Minute))
		default:
			wantKind(t, fmt.Sprintf("round %d: CreateFamily", round), err, fault.Forbidden)
			wantNoFamily(t, ctx, s, f.ID, rt.Hash, at.JTI)
		}
	}
	t.Logf("%d of %d families stored (then revoked), %d refused", created, rounds, rounds-created)
}
