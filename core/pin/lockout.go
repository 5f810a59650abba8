package pin

import (
	"time"

	"github.com/pforte-id/pforte/core/fault"
)

// Policy is the attempt rule for release PINs.
type Policy struct {
	// MaxFailures consecutive wrong PINs block the device binding.
	MaxFailures int
	// Delays are the waits after the 3rd, 4th, … failure; the last one
	// repeats. Empty: no delays, only the block.
	Delays []time.Duration
	// DelayFrom is the failure count from which delays apply (3).
	DelayFrom int
}

// DefaultPolicy: five failures block; after the 3rd wait 1 minute, after
// the 4th 5 minutes.
var DefaultPolicy = Policy{MaxFailures: 5, Delays: []time.Duration{time.Minute, 5 * time.Minute}, DelayFrom: 3}

// Validate checks the policy: the one place its bounds are written.
// Errors: fault.Invalid whose Op names the field ("pin.Policy.MaxFailures").
func (p Policy) Validate() error {
	field := func(name, msg string) error { return fault.New(fault.Invalid, "pin.Policy."+name, msg) }
	if p.MaxFailures < 1 || p.MaxFailures > 10 {
		return field("MaxFailures", "must be between 1 and 10")
	}
	if p.DelayFrom < 1 {
		return field("DelayFrom", "delays start at failure 1 or later")
	}
	for _, d := range p.Delays {
		if d < 0 || d > 24*time.Hour {
			return field("Delays", "each delay must be between 0 and 24h, not "+d.String())
		}
	}
	return nil
}

// Counter is the attempt state of one device binding's PIN.
type Counter struct {
	Failures int
	// NotBefore is when the next attempt may be made (zero: now).
	NotBefore time.Time
	// Blocked is set when MaxFailures was reached.
	Blocked bool
}

// Attempt is the outcome of one PIN entry.
type Attempt struct {
	// Evaluated is false when the PIN was not even compared (blocked or
	// delayed); such an attempt changes nothing.
	Evaluated bool
	OK        bool
	// Next is the counter after the attempt.
	Next Counter
	// Remaining attempts before the block; RetryAt when delayed.
	Remaining int
	RetryAt   time.Time
}

// Try applies one PIN entry to c at now. compare is only called when an
// attempt is allowed, so a blocked or delayed binding evaluates no guess at
// all. A correct PIN resets the counter; a wrong one counts, delays from
// the DelayFrom-th failure and blocks at MaxFailures.
func (p Policy) Try(c Counter, now time.Time, compare func() bool) Attempt {
	if c.Blocked {
		return Attempt{Next: c}
	}
	if now.Before(c.NotBefore) {
		return Attempt{Next: c, Remaining: p.MaxFailures - c.Failures, RetryAt: c.NotBefore}
	}
	if compare() {
		return Attempt{Evaluated: true, OK: true, Remaining: p.MaxFailures}
	}
	next := Counter{Failures: c.Failures + 1}
	if next.Failures >= p.MaxFailures {
		next.Blocked = true
		return Attempt{Evaluated: true, Next: next}
	}
	if next.Failures >= p.DelayFrom && len(p.Delays) > 0 {
		i := min(next.Failures-p.DelayFrom, len(p.Delays)-1)
		if p.Delays[i] > 0 {
			next.NotBefore = now.Add(p.Delays[i])
		}
	}
	return Attempt{Evaluated: true, Next: next, Remaining: p.MaxFailures - next.Failures, RetryAt: next.NotBefore}
}

// Codes of a refused PIN entry. The error carries the attempt's Remaining
// (wrong entries left before the block), and RetryAt and RetryAfter when
// the next entry is delayed.
const (
	// CodeWrong: the PIN is wrong. Params: attempts left (int).
	CodeWrong fault.Code = "pin.wrong"
	// CodeWait: entered before RetryAt; the PIN was not compared.
	CodeWait fault.Code = "pin.wait"
	// CodeBlocked: wrong too often; the device binding is blocked until
	// the member sets a new PIN with the password.
	CodeBlocked fault.Code = "pin.blocked"
)

// Err is the error an unsuccessful attempt reports for operation op at
// now (the clock RetryAt was computed with), nil for a successful one.
// Errors: Locked (CodeBlocked); RateLimited (CodeWait); Unauthenticated
// (CodeWrong).
func (a Attempt) Err(op string, now time.Time) error {
	var e *fault.Error
	switch {
	case a.OK:
		return nil
	case a.Next.Blocked:
		return Blocked(op)
	case !a.Evaluated:
		e = fault.Coded(fault.RateLimited, op, CodeWait)
	default:
		e = fault.Coded(fault.Unauthenticated, op, CodeWrong, a.Remaining)
	}
	e.Remaining = a.Remaining
	if !a.RetryAt.IsZero() {
		e = e.WithRetry(a.RetryAt, max(0, a.RetryAt.Sub(now)))
	}
	return e
}

// Blocked is the error of an entry on a blocked binding: Locked,
// CodeBlocked, no attempts left.
func Blocked(op string) error {
	return fault.Coded(fault.Locked, op, CodeBlocked)
}
