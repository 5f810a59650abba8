package approval

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"math/big"
	"slices"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
)

// Status is where an approval is in its life.
type Status string

const (
	// Pending: waiting for the member's decision in the app.
	Pending Status = "pending"
	// Approved: the member chose the right number and released it with
	// the device key and the PIN; the browser may complete the login once.
	Approved Status = "approved"
	// Denied: the member said "that was not me", or chose a wrong number.
	Denied Status = "denied"
	// Used: the browser completed the login with it.
	Used Status = "used"
)

// Reason says why an approval was denied.
type Reason string

const (
	// ReasonMember: the member denied the login in the app.
	ReasonMember Reason = "member"
	// ReasonWrongNumber: the member chose a number the browser did not
	// show; the login is refused, since guessing one of three is no proof.
	ReasonWrongNumber Reason = "wrong_number"
)

// Policy is the rule of approvals.
type Policy struct {
	// TTL is how long an approval can be decided and used.
	TTL time.Duration
	// MaxPending is how many approvals of one member may wait for the app
	// at once. Whoever has the password could otherwise fill the member's
	// app with logins until a tired member picks a number at random (one
	// in three approves).
	MaxPending int
}

// DefaultPolicy: two minutes; three waiting at once (a member with a few
// browser tabs).
var DefaultPolicy = Policy{TTL: 2 * time.Minute, MaxPending: 3}

// Validate checks the policy: the one place its bounds are written.
// Errors: fault.Invalid whose Op names the field ("approval.Policy.TTL").
func (p Policy) Validate() error {
	if p.TTL < 30*time.Second || p.TTL > 10*time.Minute {
		return fault.New(fault.Invalid, "approval.Policy.TTL", "must be between 30s and 10m")
	}
	if p.MaxPending < 1 || p.MaxPending > 10 {
		return fault.New(fault.Invalid, "approval.Policy.MaxPending", "must be between 1 and 10")
	}
	return nil
}

// Approval is one pending web login's request for confirmation.
type Approval struct {
	ID        string
	AccountID string
	// RequestID is the authorization request the approval completes.
	RequestID string
	ClientID  string
	// Browser is a coarse description of the browser that asks ("Firefox
	// unter Windows"), shown in the app; never the full User-Agent.
	Browser string
	// Number is what the browser shows; Choices are the three numbers the
	// app offers, Number among them, in random order.
	Number  int
	Choices [3]int
	// SessionHash is SHA-256 of the browser session's secret (a cookie):
	// only that browser may use the approval.
	SessionHash [32]byte
	CreatedAt   time.Time
	ExpiresAt   time.Time

	Status Status
	// Reason is set when Denied; BindingID names the device that decided.
	Reason    Reason
	BindingID string
	DecidedAt time.Time
}

// New is a pending approval of a login of accountID on request requestID
// of clientID, started by the browser whose session secret is session.
func (p Policy) New(accountID, requestID, clientID, browser, session string, now time.Time) Approval {
	a := Approval{
		ID: grant.NewID(), AccountID: accountID, RequestID: requestID, ClientID: clientID, Browser: browser,
		SessionHash: SessionHash(session), CreatedAt: now.UTC(), ExpiresAt: now.UTC().Add(p.TTL), Status: Pending,
	}
	a.Number, a.Choices = numbers()
	return a
}

// SessionHash is what an approval stores of a browser session's secret.
func SessionHash(session string) [32]byte {
	return sha256.Sum256([]byte("pforte/approval-session\x00" + session))
}

// BelongsTo reports, in constant time, whether the browser with session
// secret session started a.
func (a Approval) BelongsTo(session string) bool {
	h := SessionHash(session)
	return subtle.ConstantTimeCompare(h[:], a.SessionHash[:]) == 1
}

// Expired reports whether a can no longer be decided or used at now.
func (a Approval) Expired(now time.Time) bool { return !now.Before(a.ExpiresAt) }

// Decide is the member's decision on a at now, by the device binding
// bindingID: approve with the chosen number, or deny. The caller has
// checked the device key's assertion and the PIN before approving, and
// stores the result only if a is still pending (one atomic update).
// Errors: Expired; Conflict (already decided or used).
func (a Approval) Decide(approve bool, chosen int, bindingID string, now time.Time) (Approval, error) {
	const op = "approval.Decide"
	switch {
	case a.Status != Pending:
		return a, fault.New(fault.Conflict, op, "")
	case a.Expired(now):
		return a, fault.New(fault.Expired, op, "")
	}
	a.BindingID, a.DecidedAt = bindingID, now.UTC()
	switch {
	case !approve:
		a.Status, a.Reason = Denied, ReasonMember
	case chosen != a.Number:
		a.Status, a.Reason = Denied, ReasonWrongNumber
	default:
		a.Status = Approved
	}
	return a, nil
}

// Use is the browser's completion of the login with a at now: only the
// browser that started it, only once, only while it is valid.
// Errors: Forbidden (another browser); Expired; Conflict (pending, denied
// or used).
func (a Approval) Use(session string, now time.Time) (Approval, error) {
	const op = "approval.Use"
	switch {
	case !a.BelongsTo(session):
		return a, fault.New(fault.Forbidden, op, "")
	case a.Expired(now):
		return a, fault.New(fault.Expired, op, "")
	case a.Status != Approved:
		return a, fault.New(fault.Conflict, op, "")
	}
	a.Status = Used
	return a, nil
}

// numbers draws the number the browser shows (10–99) and two other,
// distinct two-digit numbers, and shuffles the three.
func numbers() (int, [3]int) {
	var c [3]int
	for i := 0; i < len(c); {
		c[i] = 10 + randInt(90)
		if !slices.Contains(c[:i], c[i]) {
			i++
		}
	}
	return c[randInt(3)], c
}

func randInt(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return int(v.Int64())
}
