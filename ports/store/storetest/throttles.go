package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/throttle"
	"github.com/pforte-id/pforte/ports/store"
)

// ThrottleStore is what RunPasswordThrottles needs: counters the rule has
// forgotten go with DeleteExpired.
type ThrottleStore interface {
	store.PasswordThrottles
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)
}

// RunPasswordThrottles checks store.PasswordThrottles.
func RunPasswordThrottles[S ThrottleStore](t *testing.T, open func(t *testing.T) S) {
	runTests(t, func(t *testing.T) ThrottleStore { return open(t) }, throttleTests)
}

// keepDay keeps a counter a day after its last failure.
func keepDay(c throttle.Counter) time.Time { return c.LastFailure.Add(24 * time.Hour) }

// read returns the counter of key, changing nothing.
func readCounter(t *testing.T, s ThrottleStore, key string) throttle.Counter {
	t.Helper()
	c, err := s.UpdatePasswordThrottle(t.Context(), key, keepDay, func(*throttle.Counter) error { return nil })
	must(t, "UpdatePasswordThrottle (read)", err)
	return c
}

var errRefused = fault.New(fault.Locked, "storetest.refuse", "refused by f")

var throttleTests = []test[ThrottleStore]{
	{"ReadWritesNothing", func(t *testing.T, s ThrottleStore) {
		ctx := t.Context()
		if c, err := s.PasswordThrottle(ctx, "kvnr:none"); err != nil || c != (throttle.Counter{}) {
			t.Fatalf("PasswordThrottle of no counter = %+v, %v; want the zero Counter", c, err)
		}
		last := t0.Add(time.Minute)
		stored, err := s.UpdatePasswordThrottle(ctx, "kvnr:a", keepDay, func(c *throttle.Counter) error {
			c.Failures, c.NotBefore, c.LastFailure = 4, last.Add(time.Second), last
			return nil
		})
		must(t, "UpdatePasswordThrottle", err)
		got, err := s.PasswordThrottle(ctx, "kvnr:a")
		must(t, "PasswordThrottle", err)
		if got != stored {
			t.Fatalf("PasswordThrottle = %+v, want %+v", got, stored)
		}
		// Reading left no row behind for an unknown key: DeleteExpired
		// finds only the one counter.
		n, err := s.DeleteExpired(ctx, last.Add(48*time.Hour))
		must(t, "DeleteExpired", err)
		if n < 1 {
			t.Fatalf("DeleteExpired removed %d rows", n)
		}
		if c, _ := s.PasswordThrottle(ctx, "kvnr:a"); c != (throttle.Counter{}) {
			t.Fatalf("after DeleteExpired: %+v", c)
		}
	}},
	{"RoundTrip", func(t *testing.T, s ThrottleStore) {
		ctx := t.Context()
		if c := readCounter(t, s, "kvnr:A"); c != (throttle.Counter{}) {
			t.Fatalf("an unknown key has counter %+v, want zero", c)
		}
		want := throttle.Counter{Failures: 4, NotBefore: t0.Add(time.Second), LastFailure: t0}
		got, err := s.UpdatePasswordThrottle(ctx, "kvnr:A", keepDay, func(c *throttle.Counter) error {
			if *c != (throttle.Counter{}) {
				t.Errorf("f saw %+v for a new key, want zero", *c)
			}
			*c = want
			return nil
		})
		must(t, "UpdatePasswordThrottle", err)
		equal(t, "the stored counter", want, got)
		equal(t, "the counter read back", want, readCounter(t, s, "kvnr:A"))
		if c := readCounter(t, s, "kvnr:B"); c != (throttle.Counter{}) {
			t.Errorf("another key has counter %+v", c)
		}
	}},
	{"RefusedStoresNothing", func(t *testing.T, s ThrottleStore) {
		ctx := t.Context()
		before := throttle.Counter{Failures: 2, LastFailure: t0}
		_, err := s.UpdatePasswordThrottle(ctx, "kvnr:A", keepDay, func(c *throttle.Counter) error { *c = before; return nil })
		must(t, "UpdatePasswordThrottle", err)
		_, err = s.UpdatePasswordThrottle(ctx, "kvnr:A", keepDay, func(c *throttle.Counter) error {
			c.Failures = 99
			return errRefused
		})
		if err != errRefused { // the port returns f's error itself
			t.Fatalf("f's error came back as %v, want it unchanged", err)
		}
		equal(t, "the counter after a refused update", before, readCounter(t, s, "kvnr:A"))
		_, err = s.UpdatePasswordThrottle(ctx, "kvnr:new", keepDay, func(c *throttle.Counter) error {
			c.Failures = 1
			return errRefused
		})
		wantKind(t, "a refused update of a new key", err, fault.Locked)
		equal(t, "a new key after a refused update", throttle.Counter{}, readCounter(t, s, "kvnr:new"))
	}},
	{"ZeroRemoves", func(t *testing.T, s ThrottleStore) {
		ctx := t.Context()
		_, err := s.UpdatePasswordThrottle(ctx, "kvnr:A", keepDay, func(c *throttle.Counter) error {
			*c = throttle.Counter{Failures: 5, NotBefore: t0.Add(time.Minute), LastFailure: t0}
			return nil
		})
		must(t, "UpdatePasswordThrottle", err)
		got, err := s.UpdatePasswordThrottle(ctx, "kvnr:A", keepDay, func(c *throttle.Counter) error {
			*c = throttle.Counter{}
			return nil
		})
		must(t, "UpdatePasswordThrottle (reset)", err)
		equal(t, "the reset counter", throttle.Counter{}, got)
		// Nothing is left for DeleteExpired to find, even long after.
		n, err := s.DeleteExpired(ctx, t0.Add(100*24*time.Hour))
		must(t, "DeleteExpired", err)
		if n != 0 {
			t.Errorf("DeleteExpired removed %d rows after a reset", n)
		}
	}},
	{"DeleteExpired", func(t *testing.T, s ThrottleStore) {
		ctx := t.Context()
		c := throttle.Counter{Failures: 7, NotBefore: t0.Add(time.Minute), LastFailure: t0}
		_, err := s.UpdatePasswordThrottle(ctx, "kvnr:A", keepDay, func(x *throttle.Counter) error { *x = c; return nil })
		must(t, "UpdatePasswordThrottle", err)
		_, err = s.DeleteExpired(ctx, t0.Add(23*time.Hour))
		must(t, "DeleteExpired", err)
		equal(t, "a counter within its time", c, readCounter(t, s, "kvnr:A"))
		n, err := s.DeleteExpired(ctx, t0.Add(25*time.Hour))
		must(t, "DeleteExpired", err)
		if n < 1 {
			t.Errorf("DeleteExpired removed %d rows, want the forgotten counter", n)
		}
		equal(t, "a forgotten counter", throttle.Counter{}, readCounter(t, s, "kvnr:A"))
	}},
	{"Races", func(t *testing.T, s ThrottleStore) {
		ctx := t.Context()
		// N concurrent failures of a new key count N: every update sees
		// the one before it, none is lost.
		errs := race(func(i int) error {
			_, err := s.UpdatePasswordThrottle(ctx, "kvnr:A", keepDay, func(c *throttle.Counter) error {
				c.Failures++
				c.LastFailure = t0
				return nil
			})
			return err
		})
		for i, err := range errs {
			must(t, "concurrent UpdatePasswordThrottle "+string(rune('a'+i)), err)
		}
		if c := readCounter(t, s, "kvnr:A"); c.Failures != N {
			t.Fatalf("%d concurrent failures left %d", N, c.Failures)
		}
		// The rule under the race: with Free above N, N concurrent
		// reservations are N failures.
		p := throttle.DefaultPolicy
		p.Free = N
		errs = race(func(int) error {
			_, err := s.UpdatePasswordThrottle(ctx, "kvnr:B", p.Expiry, func(c *throttle.Counter) error {
				a := p.Reserve(*c, t0)
				if !a.Evaluated {
					return errRefused
				}
				*c = a.Next
				return nil
			})
			return err
		})
		for _, err := range errs {
			must(t, "concurrent reservation", err)
		}
		if c := readCounter(t, s, "kvnr:B"); c.Failures != N || !c.NotBefore.IsZero() {
			t.Fatalf("%d concurrent reservations left %+v", N, c)
		}
		// Beyond Free, exactly the reservation that passes Free is
		// admitted; the rest find the delay.
		p.Free = 3
		admitted := 0
		errs = race(func(int) error {
			_, err := s.UpdatePasswordThrottle(ctx, "kvnr:C", p.Expiry, func(c *throttle.Counter) error {
				a := p.Reserve(*c, t0)
				if !a.Evaluated {
					return errRefused
				}
				*c = a.Next
				return nil
			})
			return err
		})
		for _, err := range errs {
			switch {
			case err == nil:
				admitted++
			case errors.Is(err, fault.Locked):
			default:
				t.Fatalf("concurrent reservation: %v", err)
			}
		}
		if c := readCounter(t, s, "kvnr:C"); admitted != p.Free+1 || c.Failures != p.Free+1 {
			t.Fatalf("%d concurrent reservations under Free %d: %d admitted, counter %+v; want %d", N, p.Free, admitted, c, p.Free+1)
		}
	}},
}
