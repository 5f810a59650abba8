package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/signkey"
	"github.com/pforte-id/pforte/ports/store"
)

// The race tests start N callers at once on one value. Exactly one wins;
// the others get the kind the port names for a lost race. None of them may
// see NotFound, Unavailable or Internal: a busy database is not an outage.

// replayers is the number of concurrent replays of one code in
// CreateFamilyAgainstReplay, which repeats its race many times.
const replayers = 4

var authRequestRaceTests = []test[store.AuthRequests]{
	{"RedeemCode", func(t *testing.T, s store.AuthRequests) {
		ctx := t.Context()
		r := completedRequest("req-race")
		must(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r))
		c := newCode("code-race", r)
		must(t, "IssueCode", s.IssueCode(ctx, c))
		codes := make([]grant.Code, N)
		errs := race(func(i int) error {
			var err error
			codes[i], err = s.RedeemCode(ctx, c.Hash, t0.Add(time.Duration(i)*time.Millisecond))
			return err
		})
		w := oneWinner(t, "RedeemCode", errs, fault.Conflict)
		for i, got := range codes {
			if got.Hash != c.Hash {
				t.Errorf("caller %d got code %q back, want %q (losers get the code too)", i, got.Hash, c.Hash)
			}
			sameInstant(t, fmt.Sprintf("caller %d: UsedAt", i), t0.Add(time.Duration(w)*time.Millisecond), got.UsedAt)
		}
	}},
	{"IssueCode", func(t *testing.T, s store.AuthRequests) {
		ctx := t.Context()
		r := completedRequest("req-race")
		must(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r))
		errs := race(func(i int) error {
			return s.IssueCode(ctx, newCode(fmt.Sprintf("code-%d", i), r))
		})
		w := oneWinner(t, "IssueCode", errs, fault.NotFound)
		for i := range N {
			_, err := s.RedeemCode(ctx, fmt.Sprintf("code-%d", i), t0)
			if i == w {
				must(t, "RedeemCode of the winner's code", err)
			} else {
				wantKind(t, "RedeemCode of a loser's code", err, fault.NotFound)
			}
		}
	}},
	{"CompleteAuthRequest", func(t *testing.T, s store.AuthRequests) {
		ctx := t.Context()
		r := newAuthRequest("req-race")
		must(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r))
		logins := make([]grant.Login, N)
		errs := race(func(i int) error {
			logins[i] = newLogin()
			logins[i].Subject = fmt.Sprintf("acct-%d", i)
			return s.CompleteAuthRequest(ctx, r.ID, logins[i], t0)
		})
		w := oneWinner(t, "CompleteAuthRequest", errs, fault.Conflict)
		got, err := s.AuthRequestByID(ctx, r.ID)
		must(t, "AuthRequestByID", err)
		if got.Login == nil || got.Login.Subject != logins[w].Subject {
			t.Errorf("stored login %+v, want the winner's %q", got.Login, logins[w].Subject)
		}
	}},
}

var tokenRaceTests = []test[TokenStore]{
	{"RotateRefreshToken", func(t *testing.T, s TokenStore) {
		ctx := t.Context()
		f, rt, _ := seedFamily(t, ctx, s, "fam-race", "code-race")
		errs := race(func(i int) error {
			return s.RotateRefreshToken(ctx, rt.Hash,
				newRefreshToken(fmt.Sprintf("rt-%d", i), f.ID), newAccessToken(fmt.Sprintf("at-%d", i), f.ID), t0)
		})
		w := oneWinner(t, "RotateRefreshToken", errs, fault.Conflict)
		for i := range N {
			_, _, err := s.RefreshToken(ctx, fmt.Sprintf("rt-%d", i))
			_, err2 := s.AccessToken(ctx, fmt.Sprintf("at-%d", i))
			if i == w {
				must(t, "winner's refresh token", err)
				must(t, "winner's access token", err2)
			} else {
				wantKind(t, "loser's refresh token", err, fault.NotFound)
				wantKind(t, "loser's access token", err2, fault.NotFound)
			}
		}
	}},
	// A replay of a code (RevokeFamiliesOfCode, from several replayers)
	// races the winner of the exchange storing its tokens (CreateFamily).
	// Whatever the interleaving, no active family may remain for the
	// replayed code: either CreateFamily failed with Conflict and stored
	// nothing, or its family is revoked, by exactly one of the replayers.
	{"CreateFamilyAgainstReplay", func(t *testing.T, s TokenStore) {
		ctx := t.Context()
		const rounds = 50
		created := 0
		for round := range rounds {
			c := redeemedCode(t, ctx, s, fmt.Sprintf("req-%d", round), fmt.Sprintf("code-%d", round))
			f := newFamily(fmt.Sprintf("fam-%d", round), c.Hash)
			rt, at := newRefreshToken("rt-"+f.ID, f.ID), newAccessToken("at-"+f.ID, f.ID)
			replay := t0.Add(2 * time.Second)
			revoked := make([]int, replayers+1)
			errs := raceN(replayers+1, func(i int) error {
				if i == 0 {
					return s.CreateFamily(ctx, f, &rt, at)
				}
				var err error
				revoked[i], err = s.RevokeFamiliesOfCode(ctx, c.Hash, replay)
				return err
			})
			total := 0
			for i, err := range errs[1:] {
				must(t, fmt.Sprintf("round %d: replayer %d: RevokeFamiliesOfCode", round, i+1), err)
				total += revoked[i+1]
			}
			switch err := errs[0]; {
			case err == nil:
				created++
				got, err := s.AccessToken(ctx, at.JTI)
				must(t, "AccessToken", err)
				if got.RevokedAt.IsZero() {
					t.Fatalf("round %d: the family stored for a replayed code is not revoked", round)
				}
				_, fam, err := s.RefreshToken(ctx, rt.Hash)
				must(t, "RefreshToken", err)
				if fam.Active(replay) {
					t.Fatalf("round %d: the family stored for a replayed code is active", round)
				}
				if total != 1 {
					t.Errorf("round %d: the replayers revoked %d families, want 1", round, total)
				}
			default:
				wantKind(t, fmt.Sprintf("round %d: CreateFamily", round), err, fault.Conflict)
				wantNoFamily(t, ctx, s, f.ID, rt.Hash, at.JTI)
				if total != 0 {
					t.Errorf("round %d: the replayers revoked %d families of a refused CreateFamily", round, total)
				}
			}
			// The code stays marked whoever won.
			f2 := newFamily(f.ID+"-again", c.Hash)
			wantKind(t, fmt.Sprintf("round %d: CreateFamily after the race", round),
				s.CreateFamily(ctx, f2, nil, newAccessToken("at-"+f2.ID, f2.ID)), fault.Conflict)
		}
		// Both outcomes are correct; which one happens is up to the scheduler.
		t.Logf("%d of %d families stored (then revoked), %d refused", created, rounds, rounds-created)
	}},
}

var replayRaceTests = []test[store.Replay]{
	{"UseOnce", func(t *testing.T, s store.Replay) {
		ctx := t.Context()
		errs := race(func(i int) error {
			return s.UseOnce(ctx, "client_assertion", "jti-race", t0.Add(time.Minute), t0)
		})
		oneWinner(t, "UseOnce", errs, fault.Conflict)
	}},
	{"UseOnceReplacingExpired", func(t *testing.T, s store.Replay) {
		ctx := t.Context()
		must(t, "UseOnce", s.UseOnce(ctx, "client_assertion", "jti-race", t0, t0.Add(-time.Minute)))
		errs := race(func(i int) error {
			return s.UseOnce(ctx, "client_assertion", "jti-race", t0.Add(time.Hour), t0.Add(time.Second))
		})
		oneWinner(t, "UseOnce over an expired entry", errs, fault.Conflict)
	}},
}

var signingKeyRaceTests = []test[store.SigningKeys]{
	{"ApplyKeyPlan", func(t *testing.T, s store.SigningKeys) {
		ctx := t.Context()
		retired, active, next := seedKeys(t, s)
		plan := signkey.DefaultPolicy.Decide([]signkey.Key{retired, active, next}, t0, true)
		errs := race(func(i int) error {
			k := newKey(fmt.Sprintf("k-new-%d", i), signkey.Next, t0)
			return s.ApplyKeyPlan(ctx, plan, &k, t0)
		})
		w := oneWinner(t, "ApplyKeyPlan", errs, fault.Conflict)
		states := keyStates(t, s)
		want := map[string]signkey.State{
			active.ID:                  signkey.Retired,
			next.ID:                    signkey.Active,
			fmt.Sprintf("k-new-%d", w): signkey.Next,
		}
		equal(t, "key states", want, states)
	}},
	{"ApplyKeyPlanFirstKey", func(t *testing.T, s store.SigningKeys) {
		ctx := t.Context()
		plan := signkey.DefaultPolicy.Decide(nil, t0, false)
		errs := race(func(i int) error {
			k := newKey(fmt.Sprintf("k-%d", i), signkey.Next, t0)
			return s.ApplyKeyPlan(ctx, plan, &k, t0)
		})
		w := oneWinner(t, "ApplyKeyPlan on an empty key set", errs, fault.Conflict)
		equal(t, "key states", map[string]signkey.State{fmt.Sprintf("k-%d", w): signkey.Next}, keyStates(t, s))
	}},
}
