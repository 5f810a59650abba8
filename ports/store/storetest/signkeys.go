package storetest

import (
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/signkey"
	"github.com/pforte-id/pforte/ports/store"
)

// keyStates returns id → state of the stored keys.
func keyStates(t *testing.T, s store.SigningKeys) map[string]signkey.State {
	t.Helper()
	keys, err := s.ListSigningKeys(t.Context())
	must(t, "ListSigningKeys", err)
	m := make(map[string]signkey.State, len(keys))
	for _, k := range keys {
		m[k.ID] = k.State
	}
	return m
}

// seedKeys stores a retired, an active and a next key.
func seedKeys(t *testing.T, s store.SigningKeys) (retired, active, next signkey.Key) {
	t.Helper()
	retired = newKey("k-retired", signkey.Retired, t0.Add(-60*24*time.Hour))
	active = newKey("k-active", signkey.Active, t0.Add(-30*24*time.Hour))
	next = newKey("k-next", signkey.Next, t0.Add(-2*24*time.Hour))
	for _, k := range []signkey.Key{next, retired, active} {
		must(t, "CreateSigningKey "+k.ID, s.CreateSigningKey(t.Context(), k))
	}
	return retired, active, next
}

var signingKeyTests = []test[store.SigningKeys]{
	{"RoundTripOldestFirst", func(t *testing.T, s store.SigningKeys) {
		ctx := t.Context()
		keys, err := s.ListSigningKeys(ctx)
		must(t, "ListSigningKeys empty", err)
		if len(keys) != 0 {
			t.Fatalf("empty store lists %d keys", len(keys))
		}
		retired, active, next := seedKeys(t, s)
		keys, err = s.ListSigningKeys(ctx)
		must(t, "ListSigningKeys", err)
		equal(t, "keys, oldest first", []signkey.Key{retired, active, next}, keys)
		wantKind(t, "CreateSigningKey duplicate ID", s.CreateSigningKey(ctx, newKey("k-retired", signkey.Retired, t0)), fault.Conflict)
	}},
	{"Rotate", func(t *testing.T, s store.SigningKeys) {
		ctx := t.Context()
		retired, active, next := seedKeys(t, s)
		plan := signkey.DefaultPolicy.Decide([]signkey.Key{retired, active, next}, t0, true)
		if plan.Activate != next.ID || plan.Retire != active.ID || !plan.NeedNext || len(plan.Drop) != 1 {
			t.Fatalf("unexpected plan %+v", plan)
		}
		fresh := newKey("k-fresh", signkey.Next, t0)
		must(t, "ApplyKeyPlan", s.ApplyKeyPlan(ctx, plan, &fresh, t0))

		keys, err := s.ListSigningKeys(ctx)
		must(t, "ListSigningKeys", err)
		active.State, active.RetiredAt = signkey.Retired, t0
		next.State, next.ActivatedAt = signkey.Active, t0
		equal(t, "keys after rotation", []signkey.Key{active, next, fresh}, keys)

		// The same plan again: the states it was decided on are gone.
		again := newKey("k-again", signkey.Next, t0)
		wantKind(t, "ApplyKeyPlan stale", s.ApplyKeyPlan(ctx, plan, &again, t0), fault.Conflict)
		after, err := s.ListSigningKeys(ctx)
		must(t, "ListSigningKeys", err)
		equal(t, "keys after the refused plan", keys, after)
	}},
	{"RefusedPlanRollsBack", func(t *testing.T, s store.SigningKeys) {
		ctx := t.Context()
		_, active, _ := seedKeys(t, s)
		before, err := s.ListSigningKeys(ctx)
		must(t, "ListSigningKeys", err)
		// Retire matches, activate does not (the key named is active, not next).
		plan := signkey.Plan{Retire: active.ID, Activate: active.ID, NeedNext: true}
		fresh := newKey("k-fresh", signkey.Next, t0)
		wantKind(t, "ApplyKeyPlan", s.ApplyKeyPlan(ctx, plan, &fresh, t0), fault.Conflict)
		after, err := s.ListSigningKeys(ctx)
		must(t, "ListSigningKeys", err)
		equal(t, "keys after the refused plan", before, after)
	}},
	{"NoSecondActiveOrNext", func(t *testing.T, s store.SigningKeys) {
		ctx := t.Context()
		_, _, next := seedKeys(t, s)
		// Activating without retiring while a key is active.
		wantKind(t, "activate beside an active key", s.ApplyKeyPlan(ctx, signkey.Plan{Activate: next.ID}, nil, t0), fault.Conflict)
		// A new next key while one is next.
		fresh := newKey("k-fresh", signkey.Next, t0)
		wantKind(t, "second next key", s.ApplyKeyPlan(ctx, signkey.Plan{NeedNext: true}, &fresh, t0), fault.Conflict)
		states := keyStates(t, s)
		if states[next.ID] != signkey.Next || len(states) != 3 {
			t.Errorf("states changed: %v", states)
		}
	}},
	{"CreateSecondNextOrActive", func(t *testing.T, s store.SigningKeys) {
		ctx := t.Context()
		seedKeys(t, s)
		wantKind(t, "CreateSigningKey second next key",
			s.CreateSigningKey(ctx, newKey("k-next2", signkey.Next, t0)), fault.Conflict)
		wantKind(t, "CreateSigningKey second active key",
			s.CreateSigningKey(ctx, newKey("k-active2", signkey.Active, t0)), fault.Conflict)
		must(t, "CreateSigningKey another retired key",
			s.CreateSigningKey(ctx, newKey("k-retired2", signkey.Retired, t0)))
		if states := keyStates(t, s); len(states) != 4 {
			t.Errorf("keys after the refused creations: %v", states)
		}
	}},
	{"FirstKeys", func(t *testing.T, s store.SigningKeys) {
		ctx := t.Context()
		plan := signkey.DefaultPolicy.Decide(nil, t0, false)
		first := newKey("k-1", signkey.Next, t0)
		must(t, "ApplyKeyPlan create", s.ApplyKeyPlan(ctx, plan, &first, t0))
		keys, err := s.ListSigningKeys(ctx)
		must(t, "ListSigningKeys", err)
		plan = signkey.DefaultPolicy.Decide(keys, t0, false)
		if plan.Activate != first.ID {
			t.Fatalf("plan does not activate the first key: %+v", plan)
		}
		second := newKey("k-2", signkey.Next, t0.Add(time.Second))
		must(t, "ApplyKeyPlan activate", s.ApplyKeyPlan(ctx, plan, &second, t0))
		states := keyStates(t, s)
		if states[first.ID] != signkey.Active || states[second.ID] != signkey.Next {
			t.Errorf("states after the first activation: %v", states)
		}
	}},
	{"Drop", func(t *testing.T, s store.SigningKeys) {
		ctx := t.Context()
		retired, active, next := seedKeys(t, s)
		must(t, "ApplyKeyPlan drop", s.ApplyKeyPlan(ctx, signkey.Plan{Drop: []string{retired.ID}}, nil, t0))
		keys, err := s.ListSigningKeys(ctx)
		must(t, "ListSigningKeys", err)
		equal(t, "keys after drop", []signkey.Key{active, next}, keys)
		// Dropping a key that is gone already is not a conflict.
		must(t, "ApplyKeyPlan drop again", s.ApplyKeyPlan(ctx, signkey.Plan{Drop: []string{retired.ID}}, nil, t0))
		// Only retired keys are dropped.
		must(t, "ApplyKeyPlan drop active", s.ApplyKeyPlan(ctx, signkey.Plan{Drop: []string{active.ID}}, nil, t0))
		if keyStates(t, s)[active.ID] != signkey.Active {
			t.Errorf("the active key was dropped")
		}
	}},
}
