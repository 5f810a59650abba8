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

// Run runs the whole conformance suite, every Run* below, against the
// full stores open returns. open is called once per sub-test and must
// return a fresh, migrated, empty store (and close it in t.Cleanup).
func Run[S store.Store](t *testing.T, open func(t *testing.T) S) {
	t.Run("Accounts", func(t *testing.T) { RunAccounts(t, open) })
	t.Run("Members", func(t *testing.T) { RunMembers(t, open) })
	t.Run("Clients", func(t *testing.T) { RunClients(t, open) })
	t.Run("AuthRequests", func(t *testing.T) { RunAuthRequests(t, open) })
	t.Run("Tokens", func(t *testing.T) { RunTokens(t, open) })
	t.Run("SigningKeys", func(t *testing.T) { RunSigningKeys(t, open) })
	t.Run("Replay", func(t *testing.T) { RunReplay(t, open) })
	t.Run("Expiry", func(t *testing.T) { RunExpiry(t, open) })
	t.Run("Registrations", func(t *testing.T) { RunRegistrations(t, open) })
	t.Run("Letters", func(t *testing.T) { RunLetters(t, open) })
	t.Run("Enrollments", func(t *testing.T) { RunEnrollments(t, open) })
	t.Run("Proofings", func(t *testing.T) { RunProofings(t, open) })
	t.Run("RateLimits", func(t *testing.T) { RunRateLimits(t, open) })
	t.Run("PasswordThrottles", func(t *testing.T) { RunPasswordThrottles(t, open) })
	t.Run("Devices", func(t *testing.T) { RunDevices(t, open) })
	t.Run("Challenges", func(t *testing.T) { RunChallenges(t, open) })
	t.Run("Audit", func(t *testing.T) { RunAudit(t, open) })
	t.Run("EnrollmentCompletion", func(t *testing.T) { RunEnrollmentCompletion(t, open) })
	t.Run("Approvals", func(t *testing.T) { RunApprovals(t, open) })
	t.Run("Sessions", func(t *testing.T) { RunSessions(t, open) })
	t.Run("Consents", func(t *testing.T) { RunConsents(t, open) })
	t.Run("LogoutJobs", func(t *testing.T) { RunLogoutJobs(t, open) })
	t.Run("Support", func(t *testing.T) { RunSupport(t, open) })
	t.Run("Leases", func(t *testing.T) { RunLeases(t, open) })
	t.Run("Cleanup", func(t *testing.T) { RunCleanup(t, open) })
	t.Run("Transfers", func(t *testing.T) { RunTransfers(t, open) })
	t.Run("MemberLifecycle", func(t *testing.T) { RunMemberLifecycle(t, open) })
	t.Run("Unavailable", func(t *testing.T) { RunUnavailable(t, open) })
}

// Each Run* checks one sub-port of the store. Its type parameter names what
// it needs: the sub-port under test and the ports its fixtures are made
// with (a device binding needs an enrollment session, a token family of a
// device login a binding). open is as for Run.

// MemberStore is what RunMembers needs.
type MemberStore interface {
	store.Members
	store.MemberImport
}

// TokenStore is what RunTokens needs: codes are redeemed before their
// families are created, and a family of a device login needs its binding.
type TokenStore interface {
	store.Tokens
	store.AuthRequests
	store.Devices
	store.Enrollments
}

// ExpiryStore is what RunExpiry needs: one DeleteExpired clears what
// expired of all of these.
type ExpiryStore interface {
	store.AuthRequests
	store.Tokens
	store.Replay
}

// EnrollmentStore is what RunEnrollments needs.
type EnrollmentStore interface {
	store.Enrollments
	store.Accounts
}

// ProofingStore is what RunProofings needs: expired proofings go with
// DeleteExpired.
type ProofingStore interface {
	store.Proofings
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)
}

// RateLimitStore is what RunRateLimits needs: windows that are over go
// with DeleteExpired.
type RateLimitStore interface {
	store.RateLimits
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)
}

// DeviceStore is what RunDevices and RunEnrollmentCompletion need.
type DeviceStore interface {
	store.Devices
	store.Challenges
	store.Enrollments
	store.Accounts
	store.Audit
	store.EnrollmentCompletion
}

// ChallengeStore is what RunChallenges needs: expired challenges go with
// DeleteExpired.
type ChallengeStore interface {
	store.Challenges
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)
}

// AuditStore is what RunAudit needs: DeleteExpired never touches the log.
type AuditStore interface {
	store.Audit
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)
}

// RunAccounts checks store.Accounts.
func RunAccounts[S store.Accounts](t *testing.T, open func(t *testing.T) S) {
	runTests(t, func(t *testing.T) store.Accounts { return open(t) }, accountTests)
}

// RunMembers checks store.Members and store.MemberImport.
func RunMembers[S MemberStore](t *testing.T, open func(t *testing.T) S) {
	runTests(t, func(t *testing.T) MemberStore { return open(t) }, memberTests)
	t.Run("Import", func(t *testing.T) { runTests(t, func(t *testing.T) MemberStore { return open(t) }, memberImportTests) })
}

// RunClients checks store.Clients.
func RunClients[S store.Clients](t *testing.T, open func(t *testing.T) S) {
	runTests(t, func(t *testing.T) store.Clients { return open(t) }, clientTests)
}

// RunAuthRequests checks store.AuthRequests: requests, codes, pushed
// requests and the races on them.
func RunAuthRequests[S store.AuthRequests](t *testing.T, open func(t *testing.T) S) {
	runTests(t, func(t *testing.T) store.AuthRequests { return open(t) }, authRequestTests)
	t.Run("Codes", func(t *testing.T) { runTests(t, func(t *testing.T) store.AuthRequests { return open(t) }, codeTests) })
	t.Run("PushedRequests", func(t *testing.T) {
		runTests(t, func(t *testing.T) store.AuthRequests { return open(t) }, pushedRequestTests)
	})
	t.Run("Races", func(t *testing.T) {
		runTests(t, func(t *testing.T) store.AuthRequests { return open(t) }, authRequestRaceTests)
	})
}

// RunTokens checks store.Tokens, the families of device logins among them,
// and the races on them.
func RunTokens[S TokenStore](t *testing.T, open func(t *testing.T) S) {
	runTests(t, func(t *testing.T) TokenStore { return open(t) }, tokenTests)
	t.Run("BindingFamilies", func(t *testing.T) { runTests(t, func(t *testing.T) TokenStore { return open(t) }, bindingFamilyTests) })
	t.Run("Races", func(t *testing.T) { runTests(t, func(t *testing.T) TokenStore { return open(t) }, tokenRaceTests) })
}

// RunSigningKeys checks store.SigningKeys.
func RunSigningKeys[S store.SigningKeys](t *testing.T, open func(t *testing.T) S) {
	runTests(t, func(t *testing.T) store.SigningKeys { return open(t) }, signingKeyTests)
	t.Run("Races", func(t *testing.T) {
		runTests(t, func(t *testing.T) store.SigningKeys { return open(t) }, signingKeyRaceTests)
	})
}

// RunReplay checks store.Replay.
func RunReplay[S store.Replay](t *testing.T, open func(t *testing.T) S) {
	runTests(t, func(t *testing.T) store.Replay { return open(t) }, replayTests)
	t.Run("Races", func(t *testing.T) { runTests(t, func(t *testing.T) store.Replay { return open(t) }, replayRaceTests) })
}

// RunExpiry checks DeleteExpired across requests, codes, tokens and
// replay entries.
func RunExpiry[S ExpiryStore](t *testing.T, open func(t *testing.T) S) {
	runTests(t, func(t *testing.T) ExpiryStore { return open(t) }, expiryTests)
}

// RunRegistrations checks store.Registrations, the queue of letter
// requests.
func RunRegistrations[S store.Registrations](t *testing.T, open func(t *testing.T) S) {
	runTests(t, func(t *testing.T) store.Registrations { return open(t) }, registrationTests)
	t.Run("Races", func(t *testing.T) {
		runTests(t, func(t *testing.T) store.Registrations { return open(t) }, registrationRaceTests)
	})
}

// RunLetters checks store.Letters.
func RunLetters[S store.Letters](t *testing.T, open func(t *testing.T) S) {
	runTests(t, func(t *testing.T) store.Letters { return open(t) }, letterTests)
	t.Run("Races", func(t *testing.T) { runTests(t, func(t *testing.T) store.Letters { return open(t) }, letterRaceTests) })
}

// RunEnrollments checks store.Enrollments.
func RunEnrollments[S EnrollmentStore](t *testing.T, open func(t *testing.T) S) {
	runTests(t, func(t *testing.T) EnrollmentStore { return open(t) }, enrollmentTests)
}

// RunProofings checks store.Proofings, the proofings waiting for a
// method's callback.
func RunProofings[S ProofingStore](t *testing.T, open func(t *testing.T) S) {
	runTests(t, func(t *testing.T) ProofingStore { return open(t) }, proofingTests)
}

// RunRateLimits checks store.RateLimits.
func RunRateLimits[S RateLimitStore](t *testing.T, open func(t *testing.T) S) {
	runTests(t, func(t *testing.T) RateLimitStore { return open(t) }, rateLimitTests)
	t.Run("Races", func(t *testing.T) {
		runTests(t, func(t *testing.T) RateLimitStore { return open(t) }, rateLimitRaceTests)
	})
}

// RunDevices checks store.Devices, the wrong-PIN race among them.
func RunDevices[S DeviceStore](t *testing.T, open func(t *testing.T) S) {
	runTests(t, func(t *testing.T) DeviceStore { return open(t) }, deviceTests)
	t.Run("Races", func(t *testing.T) { runTests(t, func(t *testing.T) DeviceStore { return open(t) }, deviceRaceTests) })
}

// RunChallenges checks store.Challenges.
func RunChallenges[S ChallengeStore](t *testing.T, open func(t *testing.T) S) {
	runTests(t, func(t *testing.T) ChallengeStore { return open(t) }, challengeTests)
}

// RunAudit checks store.Audit.
func RunAudit[S AuditStore](t *testing.T, open func(t *testing.T) S) {
	runTests(t, func(t *testing.T) AuditStore { return open(t) }, auditTests)
}

// RunEnrollmentCompletion checks store.EnrollmentCompletion.
func RunEnrollmentCompletion[S DeviceStore](t *testing.T, open func(t *testing.T) S) {
	runTests(t, func(t *testing.T) DeviceStore { return open(t) }, completionTests)
}

// RunUnavailable checks that every method of a full store answers a
// cancelled context with Unavailable.
func RunUnavailable[S store.Store](t *testing.T, open func(t *testing.T) S) {
	runTests(t, func(t *testing.T) store.Store { return open(t) }, unavailableTests)
}

// test is one sub-test on a fresh store of type P.
type test[P any] struct {
	name string
	run  func(t *testing.T, s P)
}

// runTests runs each of tests as a sub-test on a fresh store from open.
func runTests[P any](t *testing.T, open func(t *testing.T) P, tests []test[P]) {
	for _, tc := range tests {
		// Each test has a fresh store of its own, so the tests of a group
		// run in parallel: on PostgreSQL most of a test's time is the new
		// schema's migration, spent waiting on the server.
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, open(t))
		})
	}
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
