package proof

import (
	"time"

	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/member"
)

// Method names a way of proving a member's identity.
type Method string

const (
	// Letter: a password letter sent by post to the address on file
	// (eIDAS substantial).
	Letter Method = "letter"
	// EID: the electronic ID card through an eID service (eIDAS high).
	EID Method = "eid"
)

// Attributes are the identity attributes a proofing verified.
type Attributes struct {
	// GivenName holds all given names, separated by spaces.
	GivenName  string
	FamilyName string
	// BirthName is the family name at birth where it differs (an ID
	// card's "geb."); empty when the service does not know it.
	BirthName string
	// BirthDate is YYYY-MM-DD; an identity document may leave the day or
	// the month unknown (see Compare), never filled in.
	BirthDate    string
	PlaceOfBirth string
	Address      member.Address
}

// Evidence says how the proof was obtained (OpenID Connect for Identity
// Assurance calls this evidence).
type Evidence struct {
	// Type is the kind of evidence: "postal_letter", "electronic_id".
	Type string
	// Reference identifies the evidence at Pforte (a letter id, an eID
	// transaction id); never a secret.
	Reference string
	// Issuer names the service that produced the evidence: an eID
	// service's issuer identifier; for a letter, Pforte's own issuer,
	// which printed and posted it.
	Issuer string
	// Subject is the service's stable pseudonym for the holder (an eID's
	// restricted ID), kept to recognise the same card at a later proofing;
	// empty for a letter.
	Subject string
	// IssuedAt is when the evidence was created (the letter printed).
	IssuedAt time.Time
	// DeliveredTo is the postal address a letter went to.
	DeliveredTo member.Address
}

// Proof is the outcome of one successful identity proofing.
type Proof struct {
	Method     Method
	Level      loa.Level
	KVNR       kvnr.KVNR
	Attributes Attributes
	Evidence   Evidence
	// Time is when the proofing completed.
	Time time.Time
}
