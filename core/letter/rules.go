package letter

import (
	"strings"
	"time"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/member"
)

// RecipientOf is the recipient of a letter to m: the name and the postal
// address on file. A letter never goes to an address given in a request:
// whoever knows a member's number and birth date must not be able to
// redirect the member's credentials to themselves. ok is false when the
// record lacks a name or a deliverable address.
func RecipientOf(m member.Member) (r Recipient, ok bool) {
	name := strings.TrimSpace(strings.TrimSpace(m.GivenName) + " " + strings.TrimSpace(m.FamilyName))
	a := m.Address
	if a.Country == "" {
		a.Country = "DE"
	}
	ok = name != "" && strings.TrimSpace(a.Street) != "" && strings.TrimSpace(a.PostalCode) != "" &&
		strings.TrimSpace(a.Locality) != ""
	return Recipient{Name: name, Address: a}, ok
}

// ActivationURL is the URL in the QR code: the app opens it. The code is
// in the fragment, which browsers and proxies never send to a server, so
// a member who opens it in a browser by mistake leaves the code in no
// access log and no Referer header.
func ActivationURL(issuer, code string) string {
	return strings.TrimRight(issuer, "/") + "/app/activate#" + code
}

// NewDocument is what the letter l with secrets s shows, dated now.
func NewDocument(l Letter, s Secrets, issuer, sender string, now time.Time) Document {
	return Document{
		LetterID:        l.ID,
		Recipient:       l.Recipient,
		InitialPassword: Group(s.InitialPassword),
		ActivationCode:  Group(s.ActivationCode),
		ActivationURL:   ActivationURL(issuer, s.ActivationCode),
		Date:            now.UTC(),
		ValidUntil:      l.ExpiresAt.UTC(),
		Sender:          sender,
	}
}

// Exhausted reports whether count wrong activations void a letter.
func (p Policy) Exhausted(count int) bool { return count >= p.MaxAttempts }

// Attempt is what an activation attempt on a member's latest letter
// amounts to, before anything is written.
type Attempt uint8

const (
	// AttemptUnknown: there is no letter, or the secrets are wrong for a
	// letter that cannot be activated anyway. Answered exactly like a
	// wrong guess, and nothing is counted.
	AttemptUnknown Attempt = iota
	// AttemptWrong: wrong secrets for an activatable letter; counts
	// towards MaxAttempts.
	AttemptWrong
	// AttemptNotYet: the right secrets of a letter that is not handed
	// over yet (a crash left it Rendered); not counted, answered as
	// unknown until the worker hands it over.
	AttemptNotYet
	// AttemptExpired: the right secrets, too late.
	AttemptExpired
	// AttemptUsed: the right secrets of a letter activated before
	// (replay).
	AttemptUsed
	// AttemptVoided: the right secrets of a voided letter (too many wrong
	// attempts, or superseded).
	AttemptVoided
	// AttemptValid: the right secrets of an activatable letter.
	AttemptValid
)

var attemptNames = [...]string{"unknown", "wrong", "not_yet", "expired", "used", "voided", "valid"}

func (a Attempt) String() string {
	if int(a) < len(attemptNames) {
		return attemptNames[a]
	}
	return "attempt?"
}

// Classify decides an activation attempt: found says whether the member
// has a letter at all (l is the latest), match whether the typed secrets
// match its hashes (Hasher.Matches, computed even when !found, against a
// dummy, so that both cases cost the same).
//
// The state of a letter is told only to whoever holds its secrets: a
// wrong guess on an expired, used or voided letter looks exactly like a
// guess for a member who has no letter (member enumeration through the
// activation endpoint). Only wrong guesses on an activatable letter are
// counted, since only those could ever succeed.
func Classify(l Letter, found, match bool, now time.Time) Attempt {
	switch {
	case !found:
		return AttemptUnknown
	case !match:
		if l.Activatable(now) {
			return AttemptWrong
		}
		return AttemptUnknown
	}
	switch l.State {
	case HandedOver:
		if !now.Before(l.ExpiresAt) {
			return AttemptExpired
		}
		return AttemptValid
	case Activated:
		return AttemptUsed
	case Voided:
		return AttemptVoided
	}
	return AttemptNotYet
}

// Pseudonym is a short keyed hash of a member number for logs and counter
// keys: operators can correlate log lines of one member without the logs
// holding member numbers, and without the key they cannot be reversed by
// hashing all valid numbers (there are only about 2.6 billion).
func (h Hasher) Pseudonym(k kvnr.KVNR) string { return h.mac("kvnr-pseudonym", string(k))[:16] }

// AuditEvent is the audit entry of kind for letter id of member k at at,
// by the system, without an ID: it names no account (a letter comes
// before the account it opens) and has the letter id and the member
// number's pseudonym in Detail ("letter", "member"), never the number or
// a secret.
func (h Hasher) AuditEvent(kind audit.Kind, id string, k kvnr.KVNR, at time.Time) audit.Event {
	return audit.Event{Time: at, Kind: kind, Actor: audit.System,
		Detail: map[string]string{"letter": id, "member": h.Pseudonym(k)}}
}

// IsZero reports whether h was not made by NewHasher.
func (h Hasher) IsZero() bool { return len(h.key) == 0 }
