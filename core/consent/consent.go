package consent

import (
	"slices"
	"time"
)

// Consent is a member's remembered consent for one client.
type Consent struct {
	AccountID string
	ClientID  string
	// Scopes are the scopes the member allowed, sorted.
	Scopes    []string
	GrantedAt time.Time
}

// Covers reports whether the consent includes every scope of scopes
// ("openid" needs none: it releases nothing but the subject).
func (c Consent) Covers(scopes []string) bool {
	for _, s := range scopes {
		if s != "openid" && !slices.Contains(c.Scopes, s) {
			return false
		}
	}
	return true
}

// Add returns the consent with scopes added (the union, sorted), granted
// at now.
func (c Consent) Add(scopes []string, now time.Time) Consent {
	all := append(slices.Clone(c.Scopes), scopes...)
	slices.Sort(all)
	c.Scopes = slices.Compact(all)
	c.GrantedAt = now
	return c
}
