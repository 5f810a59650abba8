package throttle

import (
	"net/netip"
	"time"

	"github.com/pforte-id/pforte/core/fault"
)

// Policy is the throttling rule of password checks.
type Policy struct {
	// Free is how many consecutive failures cost no delay.
	Free int
	// First is the delay after the first failure beyond Free; each further
	// failure doubles it, up to Max.
	First time.Duration
	// Max caps the delay.
	Max time.Duration
	// Forget is how long after the last failure the count starts again
	// from zero: a member who mistyped last month starts fresh.
	Forget time.Duration
	// NotifyAt is the failure count at which the member is told that
	// someone keeps trying their password (once per burst; 0: never).
	NotifyAt int
	// NetworkBudget is how many failed password checks one client network
	// (an IPv4 address, an IPv6 /64) may cause per NetworkWindow, across
	// all accounts: it stops spraying one password over many members.
	NetworkBudget int
	NetworkWindow time.Duration
}

// DefaultPolicy: 3 free failures, then 1 s, 2 s, 4 s, … up to 15 minutes;
// forgotten after a day without failures; the member is told at the 10th;
// 100 failed checks per network and hour.
var DefaultPolicy = Policy{
	Free: 3, First: time.Second, Max: 15 * time.Minute, Forget: 24 * time.Hour, NotifyAt: 10,
	NetworkBudget: 100, NetworkWindow: time.Hour,
}

// Bounds of a Policy.
const (
	// MaxFree: more free guesses than this make a dictionary attack cheap.
	MaxFree = 10
	// MaxDelay: a longer wait locks the member out in all but name.
	MaxDelay = time.Hour
)

// Validate checks the policy: the one place its bounds are written.
// Errors: fault.Invalid whose Op names the field ("throttle.Policy.Max").
func (p Policy) Validate() error {
	field := func(name, msg string) error { return fault.New(fault.Invalid, "throttle.Policy."+name, msg) }
	switch {
	case p.Free < 0 || p.Free > MaxFree:
		return field("Free", "must be between 0 and 10")
	case p.First <= 0 || p.First > time.Minute:
		return field("First", "must be between 1ns and 1m")
	case p.Max < p.First || p.Max > MaxDelay:
		return field("Max", "must be between the first delay and 1h")
	case p.Forget < time.Hour || p.Forget > 90*24*time.Hour:
		return field("Forget", "must be between 1h and 90 days")
	case p.NotifyAt < 0:
		return field("NotifyAt", "must not be negative")
	case p.NetworkBudget < 1:
		return field("NetworkBudget", "must be at least 1")
	case p.NetworkWindow < time.Minute || p.NetworkWindow > 24*time.Hour:
		return field("NetworkWindow", "must be between 1m and 24h")
	}
	return nil
}

// Counter is the throttling state of one account's password.
type Counter struct {
	// Failures is the number of consecutive failed checks.
	Failures int
	// NotBefore is when the next check may run (zero: now).
	NotBefore time.Time
	// LastFailure is when the last check failed.
	LastFailure time.Time
}

// Attempt is the outcome of one password check under the rule.
type Attempt struct {
	// Evaluated is false when the check did not run because of a delay; a
	// correct password is then not accepted, and nothing changes.
	Evaluated bool
	OK        bool
	// Next is the counter after the attempt.
	Next Counter
	// RetryAt is when the next check may run, when it is delayed.
	RetryAt time.Time
	// Notify is set on the failure that makes the member worth telling.
	Notify bool
}

// Try applies one password check to c at now. check runs only when the
// account is not delayed. A correct password resets the counter; a wrong
// one counts, and every failure beyond Free delays the next check by
// First·2^(n−1), at most Max.
func (p Policy) Try(c Counter, now time.Time, check func() bool) Attempt {
	if !c.LastFailure.IsZero() && now.Sub(c.LastFailure) >= p.Forget {
		c = Counter{}
	}
	if now.Before(c.NotBefore) {
		return Attempt{Next: c, RetryAt: c.NotBefore}
	}
	if check() {
		return Attempt{Evaluated: true, OK: true}
	}
	next := Counter{Failures: c.Failures + 1, LastFailure: now}
	if d := p.Delay(next.Failures); d > 0 {
		next.NotBefore = now.Add(d)
	}
	return Attempt{
		Evaluated: true, Next: next, RetryAt: next.NotBefore,
		Notify: p.NotifyAt > 0 && next.Failures == p.NotifyAt,
	}
}

// Reserve is Try for a check whose outcome is stored after it ran: it
// counts the check as a failure before it runs (Evaluated false when the
// account is delayed: the check must not run). The use case stores Next
// atomically, checks the password, and on success stores the zero Counter
// (a correct password resets the count); on failure nothing more, the
// failure is counted already. Counting first is what makes the rule hold
// against parallel guesses: N checks that start together are N failures
// in the store before any of them is evaluated, so the delay after Free
// failures stops the rest instead of all of them running against a count
// that has not grown yet.
func (p Policy) Reserve(c Counter, now time.Time) Attempt {
	return p.Try(c, now, func() bool { return false })
}

// Expiry is when the store may forget c: Forget after its last failure.
func (p Policy) Expiry(c Counter) time.Time { return c.LastFailure.Add(p.Forget) }

// Delay is the wait after the failures-th consecutive failure.
func (p Policy) Delay(failures int) time.Duration {
	over := failures - p.Free
	if over < 1 {
		return 0
	}
	d := p.First
	for i := 1; i < over; i++ {
		d *= 2
		if d >= p.Max {
			return p.Max
		}
	}
	return min(d, p.Max)
}

// Network is the client network a failed check is counted against: the
// address itself for IPv4, its /64 for IPv6, where one subscriber usually
// holds a whole /64 and could otherwise switch addresses at will. An
// IPv4-mapped IPv6 address counts as IPv4.
func Network(addr netip.Addr) netip.Prefix {
	addr = addr.Unmap()
	if addr.Is4() {
		return netip.PrefixFrom(addr, 32)
	}
	p, _ := addr.Prefix(64)
	return p
}
