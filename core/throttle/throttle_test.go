package throttle_test

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/throttle"
)

var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

func TestDelaysGrowAndCap(t *testing.T) {
	p := throttle.DefaultPolicy
	want := map[int]time.Duration{
		1: 0, 2: 0, 3: 0, 4: time.Second, 5: 2 * time.Second, 6: 4 * time.Second, 13: 512 * time.Second,
		14: 15 * time.Minute, 40: 15 * time.Minute, 1000: 15 * time.Minute,
	}
	for n, d := range want {
		if got := p.Delay(n); got != d {
			t.Errorf("Delay(%d) = %v, want %v", n, got, d)
		}
	}
}

// TestGuessingSeries plays a series of wrong passwords and checks that a
// check during a delay is not evaluated — the right password included —
// and changes nothing.
func TestGuessingSeries(t *testing.T) {
	p := throttle.DefaultPolicy
	var c throttle.Counter
	now := t0
	wrong := func() bool { return false }
	for i := 1; i <= 5; i++ {
		a := p.Try(c, now, wrong)
		if !a.Evaluated || a.OK || a.Next.Failures != i {
			t.Fatalf("failure %d: %+v", i, a)
		}
		c = a.Next
		if want := now.Add(p.Delay(i)); i > p.Free && !c.NotBefore.Equal(want) {
			t.Fatalf("failure %d: not before %v, want %v", i, c.NotBefore, want)
		}
		if i > p.Free {
			now = c.NotBefore
		}
	}
	// Delayed: the right password is not even checked.
	checked := false
	a := p.Try(c, now.Add(-time.Millisecond), func() bool { checked = true; return true })
	if checked || a.Evaluated || a.OK || a.Next != c || !a.RetryAt.Equal(c.NotBefore) {
		t.Fatalf("during a delay: checked=%v %+v", checked, a)
	}
	// After the delay the right password resets the counter.
	a = p.Try(c, c.NotBefore, func() bool { return true })
	if !a.OK || a.Next != (throttle.Counter{}) {
		t.Fatalf("after the delay: %+v", a)
	}
}

func TestNotifyOncePerBurst(t *testing.T) {
	p := throttle.DefaultPolicy
	var c throttle.Counter
	now := t0
	notified := 0
	for range 3 * p.NotifyAt {
		a := p.Try(c, now, func() bool { return false })
		if a.Notify {
			notified++
		}
		c = a.Next
		now = now.Add(p.Max)
	}
	if notified != 1 {
		t.Fatalf("notified %d times in one burst, want once", notified)
	}
}

func TestForgottenAfterQuietPeriod(t *testing.T) {
	p := throttle.DefaultPolicy
	c := throttle.Counter{Failures: 12, LastFailure: t0, NotBefore: t0.Add(p.Max)}
	a := p.Try(c, t0.Add(p.Forget), func() bool { return false })
	if !a.Evaluated || a.Next.Failures != 1 || !a.Next.NotBefore.IsZero() {
		t.Fatalf("after a quiet day: %+v", a)
	}
}

func TestNetwork(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7":              "203.0.113.7/32",
		"::ffff:203.0.113.7":       "203.0.113.7/32",
		"2001:db8:1:2:3:4:5:6":     "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1":     "2001:db8:1:2::/64",
		"2001:db8:1:3::1":          "2001:db8:1:3::/64",
		"fe80::1%eth0":             "fe80::/64",
		"2001:0db8:0001:0002::abc": "2001:db8:1:2::/64",
	} {
		if got := throttle.Network(netip.MustParseAddr(in)).String(); got != want {
			t.Errorf("Network(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	if err := throttle.DefaultPolicy.Validate(); err != nil {
		t.Fatal(err)
	}
	for field, change := range map[string]func(*throttle.Policy){
		"Free":          func(p *throttle.Policy) { p.Free = 11 },
		"First":         func(p *throttle.Policy) { p.First = 0 },
		"Max":           func(p *throttle.Policy) { p.Max = 2 * time.Hour },
		"Forget":        func(p *throttle.Policy) { p.Forget = time.Minute },
		"NotifyAt":      func(p *throttle.Policy) { p.NotifyAt = -1 },
		"NetworkBudget": func(p *throttle.Policy) { p.NetworkBudget = 0 },
		"NetworkWindow": func(p *throttle.Policy) { p.NetworkWindow = time.Second },
	} {
		p := throttle.DefaultPolicy
		change(&p)
		err := p.Validate()
		var fe *fault.Error
		if !errors.As(err, &fe) || fe.Kind != fault.Invalid || fe.Op != "throttle.Policy."+field {
			t.Errorf("%s: Validate = %v, want Invalid naming the field", field, err)
		}
	}
}

// TestReserveCountsBeforeTheCheck: a reserved check is a failure until the
// use case stores the reset; during a delay nothing is reserved.
func TestReserveCountsBeforeTheCheck(t *testing.T) {
	p := throttle.DefaultPolicy
	var c throttle.Counter
	for i := 1; i <= p.Free+1; i++ {
		a := p.Reserve(c, t0)
		if !a.Evaluated || a.OK || a.Next.Failures != i {
			t.Fatalf("reservation %d: %+v", i, a)
		}
		c = a.Next
	}
	if a := p.Reserve(c, t0); a.Evaluated || a.Next != c || !a.RetryAt.Equal(t0.Add(p.First)) {
		t.Fatalf("during the delay: %+v", a)
	}
	if got := p.Expiry(c); !got.Equal(t0.Add(p.Forget)) {
		t.Fatalf("Expiry = %v", got)
	}
}
