package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/ports/store"
)

// Run runs the conformance suite against the stores open returns. open is
// called once per sub-test and must return a fresh, migrated, empty store
// (and close it in t.Cleanup).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Accounts", accountTests},
		{"Members", memberTests},
		{"Clients", clientTests},
		{"AuthRequests", authRequestTests},
		{"Codes", codeTests},
		{"Tokens", tokenTests},
		{"SigningKeys", signingKeyTests},
		{"Replay", replayTests},
		{"Expiry", expiryTests},
		{"Races", raceTests},
		{"MemberImport", memberImportTests},
		{"Registrations", registrationTests},
		{"Letters", letterTests},
		{"Enrollments", enrollmentTests},
		{"Proofings", proofingTests},
		{"RateLimits", rateLimitTests},
		{"RegistrationRaces", registrationRaceTests},
		{"Devices", deviceTests},
		{"Challenges", challengeTests},
		{"Audit", auditTests},
		{"EnrollmentCompletion", completionTests},
		{"DeviceRaces", deviceRaceTests},
		{"PushedRequests", pushedRequestTests},
		{"BindingFamilies", bindingFamilyTests},
		{"Unavailable", unavailableTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					tc.run(t, open(t))
				})
			}
		})
	}
}

type test struct {
	name string
	run  func(t *testing.T, s store.Store)
}

// zone is deliberately not UTC: every time the suite stores is in it, and
// every time it reads back must be in UTC.
var zone = time.FixedZone("CEST", 2*60*60)

// t0 is the suite's "now". Its sub-millisecond part (0.456789 ms) is below
// half a millisecond, so an adapter that truncates and one that rounds to
// the millisecond both read back the same instant.
var t0 = time.Date(2031, time.May, 17, 10, 30, 15, 123_456_789, zone)

// N is the number of concurrent callers in the race tests.
const N = 20

// wantKind fails unless err is of kind k.
func wantKind(t *testing.T, what string, err error, k fault.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got no error, want %v", what, k)
	}
	if !errors.Is(err, k) {
		t.Fatalf("%s: got %v (kind %v), want kind %v", what, err, fault.KindOf(err), k)
	}
}

// must fails on err.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// equal compares what the store returned with what went in, as the port
// promises it: times in UTC and equal to the millisecond, empty slices and
// nil alike.
func equal(t *testing.T, what string, want, got any) {
	t.Helper()
	if bad := nonUTC(reflect.ValueOf(got), ""); bad != "" {
		t.Errorf("%s: time %s is not in UTC", what, bad)
	}
	w := normalize(reflect.ValueOf(want)).Interface()
	g := normalize(reflect.ValueOf(got)).Interface()
	if !reflect.DeepEqual(w, g) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

var timeType = reflect.TypeFor[time.Time]()

// normalize returns a deep copy of v with every time truncated to the
// millisecond in UTC and every empty slice nil.
func normalize(v reflect.Value) reflect.Value {
	out := reflect.New(v.Type()).Elem()
	switch {
	case v.Type() == timeType:
		tm := v.Interface().(time.Time)
		if !tm.IsZero() {
			tm = time.UnixMilli(tm.UnixMilli()).UTC()
		}
		out.Set(reflect.ValueOf(tm))
	case v.Kind() == reflect.Pointer:
		if !v.IsNil() {
			p := reflect.New(v.Type().Elem())
			p.Elem().Set(normalize(v.Elem()))
			out.Set(p)
		}
	case v.Kind() == reflect.Slice:
		if v.Len() > 0 {
			s := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
			for i := range v.Len() {
				s.Index(i).Set(normalize(v.Index(i)))
			}
			out.Set(s)
		}
	case v.Kind() == reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				out.Field(i).Set(normalize(v.Field(i)))
			}
		}
	default:
		out.Set(v)
	}
	return out
}

// nonUTC returns the path of the first non-zero time in v that is not in UTC.
func nonUTC(v reflect.Value, path string) string {
	switch {
	case !v.IsValid():
	case v.Type() == timeType:
		tm := v.Interface().(time.Time)
		if !tm.IsZero() && tm.Location() != time.UTC {
			return fmt.Sprintf("%s (%v)", path, tm)
		}
	case v.Kind() == reflect.Pointer:
		if !v.IsNil() {
			return nonUTC(v.Elem(), path)
		}
	case v.Kind() == reflect.Slice:
		for i := range v.Len() {
			if bad := nonUTC(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); bad != "" {
				return bad
			}
		}
	case v.Kind() == reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				if bad := nonUTC(v.Field(i), path+"."+v.Type().Field(i).Name); bad != "" {
					return bad
				}
			}
		}
	}
	return ""
}

// sameInstant fails unless got is want in UTC, to the millisecond.
func sameInstant(t *testing.T, what string, want, got time.Time) {
	t.Helper()
	if got.Location() != time.UTC {
		t.Errorf("%s: %v is not in UTC", what, got)
	}
	if d := got.Sub(want); d <= -time.Millisecond || d >= time.Millisecond {
		t.Errorf("%s: got %v, want %v (to the millisecond)", what, got, want)
	}
}

// race runs f(i) for i in [0, N) at once and returns their errors.
func race(f func(i int) error) []error { return raceN(N, f) }

// raceN runs f(i) for i in [0, n) at once and returns their errors.
func raceN(n int, f func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWinner fails unless exactly one error is nil and all others are of kind k.
func oneWinner(t *testing.T, what string, errs []error, k fault.Kind) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("%s: callers %d and %d both won", what, winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, k):
			t.Fatalf("%s: caller %d: got %v (kind %v), want nil or %v", what, i, err, fault.KindOf(err), k)
		}
	}
	if winner < 0 {
		t.Fatalf("%s: nobody won", what)
	}
	return winner
}

// cancelled returns a context that is already cancelled.
func cancelled(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx
}
