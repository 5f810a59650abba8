package letter

import (
	"time"

	"github.com/pforte-id/pforte/core/kvnr"
)

// Request is a member's request for a letter as the app sent it. It is
// queued and decided later, so that the answer to the app is the same, and
// as fast, whoever asks (no member enumeration).
type Request struct {
	ID   string
	KVNR kvnr.KVNR
	// BirthDate is what the member typed, normalised to YYYY-MM-DD. It is
	// deleted with the request.
	BirthDate   string
	RequestedAt time.Time
	// Lost marks a report that the member's letter was lost: the worker
	// voids the member's live letter (reason lost) before it decides the
	// request like any other.
	Lost bool
}

// Document is what a rendered letter shows.
type Document struct {
	LetterID  string
	Recipient Recipient
	// InitialPassword and ActivationCode in print form (grouped).
	InitialPassword string
	ActivationCode  string
	// ActivationURL is carried in the QR code: the app opens it.
	ActivationURL string
	Date          time.Time
	ValidUntil    time.Time
	// Sender is the insurer's name and return address line.
	Sender string
	// ContactPhone and ContactAddress are where the member reaches the
	// insurer with questions about the letter; either may be empty.
	ContactPhone   string
	ContactAddress string
	// AppStoreURL is where the member gets the Service-App (a link that
	// leads to the app in the member's store); printed with a QR code of
	// its own. Empty: not printed.
	AppStoreURL string
}
