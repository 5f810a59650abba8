package letter

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/member"
)

// State is where a letter is in its life.
type State string

const (
	// Requested: decided, not yet rendered. Holds no secrets yet.
	Requested State = "requested"
	// Rendered: secrets generated and their hashes stored; the PDF is being
	// written to the outbox.
	Rendered State = "rendered"
	// HandedOver: the PDF is in the outbox; the letter can be activated.
	HandedOver State = "handed_over"
	// Activated: used once, successfully. Final.
	Activated State = "activated"
	// Voided: replaced by a newer letter, blocked by wrong attempts or
	// reported lost. Final.
	Voided State = "voided"
)

// Recipient is who the letter goes to: the name and the address on file at
// the time of the request, never an address from the request.
type Recipient struct {
	Name    string
	Address member.Address
}

// Letter is one password letter.
type Letter struct {
	ID        string
	KVNR      kvnr.KVNR
	Recipient Recipient
	State     State
	// PasswordHash and CodeHash are set when the letter is rendered.
	PasswordHash   string
	CodeHash       string
	FailedAttempts int
	CreatedAt      time.Time
	// ExpiresAt is the end of validity, printed on the letter.
	ExpiresAt    time.Time
	RenderedAt   time.Time
	HandedOverAt time.Time
	ActivatedAt  time.Time
	VoidedAt     time.Time
	// VoidReason is "superseded", "attempts", "lost" or VoidDeleted.
	VoidReason string
	// OutboxName is the file name in the outbox once handed over.
	OutboxName string
}

// Void reasons.
const (
	ReasonSuperseded = "superseded"
	ReasonAttempts   = "attempts"
	// ReasonLost: the member reported the letter lost (in the app, or
	// to support). It does not hold back its replacement, which comes at
	// once whatever Policy.MinInterval (core/registration guards how often).
	ReasonLost = "lost"
)

// Live reports whether the letter is on its way or can be activated:
// neither used nor voided.
func (l Letter) Live() bool { return l.State != Activated && l.State != Voided }

// Activatable reports whether the letter can be activated at now.
func (l Letter) Activatable(now time.Time) bool {
	return l.State == HandedOver && now.Before(l.ExpiresAt)
}

// Policy is the rule set of password letters.
type Policy struct {
	// Validity is how long a letter can be activated.
	Validity time.Duration
	// MinInterval is the least time between two letters for one member.
	MinInterval time.Duration
	// MaxAttempts wrong activations void the letter.
	MaxAttempts int
	// AttemptsPerKVNR wrong activations per member number, across its
	// letters, are answered in each AttemptWindow (a fixed window); further
	// wrong ones are refused as rate limited, with the wait, while the
	// right secrets still activate. The count runs for every well-formed
	// number alike — member or not, letter or not — so that the refusal
	// says nothing about whether a letter exists.
	AttemptsPerKVNR int
	AttemptWindow   time.Duration
	// GuardWindow is how long, after a letter of a member number was voided
	// by wrong attempts, wrong attempts for that number void no letter
	// (they are still answered as wrong and counted per number): the
	// voided letter does not hold back the next one (see MinInterval), and
	// whoever knows the number cannot void that next one too. The guard
	// lasts at least GuardWindow and less than twice that (two fixed
	// windows). It is at least Validity, so that it covers the whole life
	// of a letter ordered right after the voiding.
	GuardWindow time.Duration
}

// DefaultPolicy: valid 60 days, one letter per 7 days, 5 attempts per
// letter, 10 wrong attempts per member number and day, a guard of 90 days
// after a letter was voided by wrong attempts.
var DefaultPolicy = Policy{
	Validity: 60 * 24 * time.Hour, MinInterval: 7 * 24 * time.Hour, MaxAttempts: 5,
	AttemptsPerKVNR: 10, AttemptWindow: 24 * time.Hour, GuardWindow: 90 * 24 * time.Hour,
}

// Bounds of a Policy.
const (
	// MinValidity leaves the member at least a day after the letter is
	// handed to the print service; MaxValidity keeps a letter lying in a
	// letter box from opening the account months later.
	MinValidity = 24 * time.Hour
	MaxValidity = 90 * 24 * time.Hour
	// MaxMaxAttempts caps the guesses at an initial password (60 bits).
	MaxMaxAttempts = 10
	// MaxAttemptsPerKVNR caps the wrong attempts answered per member
	// number in one AttemptWindow; MinAttemptWindow and MaxAttemptWindow
	// bound that window (an hour to a week).
	MaxAttemptsPerKVNR = 100
	MinAttemptWindow   = time.Hour
	MaxAttemptWindow   = 7 * 24 * time.Hour
	// MaxGuardWindow is a year: a guard never outlasts the member's own
	// need for letters by much.
	MaxGuardWindow = 365 * 24 * time.Hour
)

// Validate checks the policy: the one place its bounds are written.
// Errors: fault.Invalid whose Op names the field ("letter.Policy.Validity").
func (p Policy) Validate() error {
	field := func(name, msg string) error { return fault.New(fault.Invalid, "letter.Policy."+name, msg) }
	switch {
	case p.Validity < MinValidity || p.Validity > MaxValidity:
		return field("Validity", fmt.Sprintf("must be between 24h and 2160h (90 days), not %s", p.Validity))
	case p.MinInterval < 0 || p.MinInterval > p.Validity:
		return field("MinInterval", fmt.Sprintf("must be between 0 and the validity, not %s", p.MinInterval))
	case p.MaxAttempts < 1 || p.MaxAttempts > MaxMaxAttempts:
		return field("MaxAttempts", "must be between 1 and 10")
	case p.AttemptsPerKVNR < p.MaxAttempts || p.AttemptsPerKVNR > MaxAttemptsPerKVNR:
		// Below MaxAttempts a letter could never be voided within one
		// window: the per-letter rule would be dead.
		return field("AttemptsPerKVNR", fmt.Sprintf("must be between the attempts per letter (%d) and 100, not %d", p.MaxAttempts, p.AttemptsPerKVNR))
	case p.AttemptWindow < MinAttemptWindow || p.AttemptWindow > MaxAttemptWindow:
		return field("AttemptWindow", fmt.Sprintf("must be between 1h and 168h (7 days), not %s", p.AttemptWindow))
	case p.GuardWindow < p.Validity || p.GuardWindow > MaxGuardWindow:
		return field("GuardWindow", fmt.Sprintf("must be between the validity (%s) and 8760h (365 days), not %s", p.Validity, p.GuardWindow))
	}
	return nil
}

// Alphabet is the character set of initial passwords and activation codes:
// capital letters and digits without the look-alikes 0/O and 1/I (no
// lower case at all, so l cannot occur), no special characters. 32 symbols,
// so each carries exactly 5 bits and sampling has no bias.
const Alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// Lengths of the printed secrets.
const (
	PasswordLength = 12 // 60 bits; guessing is capped by MaxAttempts
	CodeLength     = 26 // 130 bits
)

// IDLength is the length of a letter's ID (80 bits).
const IDLength = 16

// NewID draws the ID of a letter request, which becomes the letter's ID
// and is printed on it as the letter number ("Brief-Nr."). It uses the
// letters' Alphabet — capitals and digits without look-alikes, no mixed
// case, no signs — so that a member can read it out to support on the
// phone without spelling out "small b" or "dash".
func NewID() string { return randomString(IDLength) }

// Secrets are what is printed on a letter. They exist in memory only while
// the letter is rendered; the store keeps hashes.
type Secrets struct {
	InitialPassword string
	ActivationCode  string
}

// LogValue keeps secrets out of logs.
func (Secrets) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// NewSecrets draws a fresh initial password and activation code.
func NewSecrets() Secrets {
	return Secrets{InitialPassword: randomString(PasswordLength), ActivationCode: randomString(CodeLength)}
}

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	for i := range b {
		b[i] = Alphabet[b[i]&31]
	}
	return string(b)
}

// Group writes s in groups of four for printing: "ABCD EFGH JKLM".
func Group(s string) string {
	var parts []string
	for len(s) > 4 {
		parts = append(parts, s[:4])
		s = s[4:]
	}
	return strings.Join(append(parts, s), " ")
}

// Normalize reads a secret as a member typed it: spaces and dashes
// dropped, lower case raised. It does not map look-alikes, which the
// alphabet does not contain.
func Normalize(typed string) string {
	var b strings.Builder
	for _, r := range typed {
		switch {
		case r == ' ' || r == '-' || r == '\t':
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// WellFormed reports whether s (normalised) could be a secret of length n.
func WellFormed(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune(Alphabet, rune(s[i])) {
			return false
		}
	}
	return true
}

// Hasher computes the stored forms of letter secrets. The initial password
// has only 60 bits, so it is hashed under a key kept outside the database
// (HMAC-SHA-256): a stolen table does not allow guessing it offline. The
// activation code has 130 bits and is hashed the same way for uniformity.
type Hasher struct{ key []byte }

// NewHasher returns a Hasher under key (at least 32 bytes).
func NewHasher(key []byte) (Hasher, error) {
	if len(key) < 32 {
		return Hasher{}, fault.New(fault.Invalid, "letter.NewHasher", "letter hash key must be at least 32 bytes")
	}
	return Hasher{key: slices.Clone(key)}, nil
}

func (h Hasher) mac(kind, v string) string {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(v))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Password returns the stored form of an initial password.
func (h Hasher) Password(pw string) string { return h.mac("initial-password", pw) }

// Code returns the stored form of an activation code.
func (h Hasher) Code(code string) string { return h.mac("activation-code", code) }

// Matches compares typed secrets with a letter's hashes in constant time;
// both are always compared, so timing does not tell which one was wrong.
func (h Hasher) Matches(l Letter, password, code string) bool {
	a := subtle.ConstantTimeCompare([]byte(h.Password(password)), []byte(l.PasswordHash))
	b := subtle.ConstantTimeCompare([]byte(h.Code(code)), []byte(l.CodeHash))
	return a&b == 1 && l.PasswordHash != "" && l.CodeHash != ""
}

// VoidDeleted is the void reason of a letter that was still open when
// its member's account was deleted, or the member removed from the
// directory: it may no longer open an account.
const VoidDeleted = "deleted"
