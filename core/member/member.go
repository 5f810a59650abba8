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
}
