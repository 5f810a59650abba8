package member

import (
	"time"

	"github.com/pforte-id/pforte/core/kvnr"
)

// Address is a postal address as printed on a letter.
type Address struct {
	Street     string // street and house number
	PostalCode string
	Locality   string
	Country    string // ISO 3166-1 alpha-2, "DE" by default
}

// Member is one insured person.
type Member struct {
	KVNR       kvnr.KVNR
	GivenName  string
	FamilyName string
	// BirthDate is a calendar date, YYYY-MM-DD (OIDC birthdate format).
	BirthDate string
	Address   Address
	Email     string // optional
	// InsuredFrom and InsuredUntil are calendar dates (UTC midnight);
	// InsuredUntil is zero while the insurance is open-ended.
	InsuredFrom  time.Time
	InsuredUntil time.Time
	UpdatedAt    time.Time
	// RemovedAt is when a full sync of the insurer's file no longer found
	// the member (zero while the member is in the file). The store sets
	// and clears it (MemberLifecycle.SyncMembers); imports do not write it.
	RemovedAt time.Time
}

// EndedOn is the calendar day (UTC midnight) the membership ended: the
// earlier of InsuredUntil and the day the member left the insurer's file;
// zero while the membership is open-ended.
func (m Member) EndedOn() time.Time {
	end := m.InsuredUntil
	if !m.RemovedAt.IsZero() && (end.IsZero() || m.RemovedAt.Before(end)) {
		end = m.RemovedAt
	}
	if end.IsZero() {
		return time.Time{}
	}
	return end.UTC().Truncate(24 * time.Hour)
}
