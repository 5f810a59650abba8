package consent_test

import (
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/consent"
)

func TestCoversAskAgainWhenTheScopeSetGrows(t *testing.T) {
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	c := consent.Consent{}.Add([]string{"profile", "openid"}, now)
	if !c.Covers([]string{"openid", "profile"}) {
		t.Fatal("the granted set is not covered")
	}
	if !c.Covers([]string{"openid"}) {
		t.Fatal("openid alone needs no consent beyond what was given")
	}
	if c.Covers([]string{"openid", "profile", "email"}) {
		t.Fatal("a grown scope set must be asked again")
	}
	c = c.Add([]string{"email", "profile"}, now.Add(time.Hour))
	if got := c.Scopes; len(got) != 3 || got[0] != "email" || got[1] != "openid" || got[2] != "profile" {
		t.Fatalf("scopes = %v, want the sorted union", got)
	}
	if !c.GrantedAt.Equal(now.Add(time.Hour)) {
		t.Fatal("the grant time is the last grant's")
	}
	if (consent.Consent{}).Covers([]string{"profile"}) {
		t.Fatal("no consent covers a personal scope")
	}
}
