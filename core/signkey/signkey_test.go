package signkey_test

import (
	"slices"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/signkey"
)

func TestDecide(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	p := signkey.DefaultPolicy
	day := 24 * time.Hour
	for _, tc := range []struct {
		name  string
		keys  []signkey.Key
		force bool
		want  signkey.Plan
	}{
		{"empty store needs a next key", nil, false, signkey.Plan{NeedNext: true}},
		{"fresh next key activates at once when nothing signs",
			[]signkey.Key{{ID: "n", State: signkey.Next, CreatedAt: now}}, false,
			signkey.Plan{NeedNext: true, Activate: "n"}},
		{"steady state", []signkey.Key{
			{ID: "a", State: signkey.Active, ActivatedAt: now.Add(-day)},
			{ID: "n", State: signkey.Next, CreatedAt: now.Add(-day)}}, false, signkey.Plan{}},
		{"lifetime over: next that was published long enough takes over", []signkey.Key{
			{ID: "a", State: signkey.Active, ActivatedAt: now.Add(-31 * day)},
			{ID: "n", State: signkey.Next, CreatedAt: now.Add(-2 * day)}}, false,
			signkey.Plan{NeedNext: true, Activate: "n", Retire: "a"}},
		{"lifetime over but next too fresh: wait", []signkey.Key{
			{ID: "a", State: signkey.Active, ActivatedAt: now.Add(-31 * day)},
			{ID: "n", State: signkey.Next, CreatedAt: now.Add(-time.Hour)}}, false, signkey.Plan{}},
		{"forced rotation does not wait", []signkey.Key{
			{ID: "a", State: signkey.Active, ActivatedAt: now.Add(-day)},
			{ID: "n", State: signkey.Next, CreatedAt: now.Add(-time.Minute)}}, true,
			signkey.Plan{NeedNext: true, Activate: "n", Retire: "a"}},
		{"retired key is kept while its tokens live, then dropped", []signkey.Key{
			{ID: "a", State: signkey.Active, ActivatedAt: now.Add(-day)},
			{ID: "n", State: signkey.Next, CreatedAt: now.Add(-day)},
			{ID: "r1", State: signkey.Retired, RetiredAt: now.Add(-2 * time.Minute)},
			{ID: "r2", State: signkey.Retired, RetiredAt: now.Add(-time.Hour)}}, false,
			signkey.Plan{Drop: []string{"r2"}}},
	} {
		got := p.Decide(tc.keys, now, tc.force)
		if got.NeedNext != tc.want.NeedNext || got.Activate != tc.want.Activate ||
			got.Retire != tc.want.Retire || !slices.Equal(got.Drop, tc.want.Drop) {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
