package login_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pforte-id/pforte/catalog"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/login"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/password"
	"github.com/pforte-id/pforte/core/throttle"
	"github.com/pforte-id/pforte/ports/notify"
	"github.com/pforte-id/pforte/ports/store"
)

// web is where the tests' password checks come from.
var web = login.Origin{IP: "2001:db8:1:2::7", ClientID: "forms", Via: login.ViaWebLogin}

// testStore is what a login service's tests run on: sqlstore over SQLite,
// possibly behind a wrapper.
type testStore interface {
	store.Accounts
	store.Members
	store.PasswordThrottles
	store.RateLimits
	store.Audit
}

// countingHasher counts the Argon2id verifications, which is the work a
// password check costs: the paths must not differ in it.
type countingHasher struct {
	*password.Hasher
	verifications atomic.Int64
}

func (c *countingHasher) Verify(ctx context.Context, pw, encoded string) (bool, bool, error) {
	c.verifications.Add(1)
	return c.Hasher.Verify(ctx, pw, encoded)
}

func (c *countingHasher) VerifyDummy(ctx context.Context, pw string) error {
	c.verifications.Add(1)
	return c.Hasher.VerifyDummy(ctx, pw)
}

// outbox collects notifications.
type outbox struct {
	mu   sync.Mutex
	sent []notify.Message
}

func (o *outbox) Notify(_ context.Context, m notify.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent = append(o.sent, m)
	return nil
}

func (o *outbox) messages() []notify.Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]notify.Message(nil), o.sent...)
}

// fixture is one login service with its clock, hasher, outbox and log.
type fixture struct {
	svc    *login.Service
	st     testStore
	hasher *countingHasher
	out    *outbox
	logs   *coretest.Log
	mu     sync.Mutex
	clock  time.Time
}

func (f *fixture) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.clock
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clock = f.clock.Add(d)
}

// newFixture builds a login service on st with h; policies, when given,
// replace throttle.DefaultPolicy.
func newFixture(t *testing.T, st testStore, h *password.Hasher, policies ...throttle.Policy) *fixture {
	t.Helper()
	f := &fixture{st: st, hasher: &countingHasher{Hasher: h}, out: &outbox{}, logs: &coretest.Log{}, clock: now}
	cfg := login.Config{IPKey: []byte(strings.Repeat("audit-ip-key-", 3))}
	if len(policies) > 0 {
		cfg.Throttle = policies[0]
	}
	svc, err := login.New(cfg, login.Deps{
		Accounts: st, Members: st, Throttles: st, RateLimits: st, Audit: st, Passwords: f.hasher,
		Notifier: f.out, Mail: func(ctx context.Context, code fault.Code, params ...any) (string, string) {
			return catalog.From(ctx).Mail(code, params...)
		},
		Now: f.now, Logger: f.logs.JSON(),
	})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	return f
}

// throttled sets up Anna's accounts with a fixture under p.
func throttled(t *testing.T, p throttle.Policy) *fixture {
	t.Helper()
	_, st := setup(t)
	h := coretest.Passwords()
	f := newFixture(t, st, h, p)
	// The store keeps milliseconds: a clock at that precision makes the
	// waits exact.
	f.clock = now.Truncate(time.Millisecond)
	return f
}

// try checks pw for k and returns the error (nil: logged in).
func (f *fixture) try(k, pw string) error {
	_, err := f.svc.Password(context.Background(), k, pw, web)
	return err
}

// wantWait fails unless err is the delay answer with wait d.
func wantWait(t *testing.T, what string, err error, d time.Duration, at time.Time) {
	t.Helper()
	var fe *fault.Error
	if !errors.As(err, &fe) || fe.Kind != fault.RateLimited || fe.Code != login.CodeWait {
		t.Fatalf("%s: %v, want RateLimited %s", what, err, login.CodeWait)
	}
	e := fault.RetryOf(err)
	if e == nil || e.RetryAfter != d || !e.RetryAt.Equal(at) {
		t.Fatalf("%s: retry %+v, want after %v at %v", what, e, d, at)
	}
	if shown := (d + time.Second - 1).Truncate(time.Second); len(fe.Params) != 1 || fe.Params[0] != shown {
		t.Fatalf("%s: params %v, want the wait %v", what, fe.Params, d)
	}
}

// TestDelaysGrow plays a guessing series against Anna: three free
// failures, then 1 s, 2 s, 4 s; during a delay even the right password is
// refused with the wait and not checked; after it the right password
// logs in and the count starts again.
func TestDelaysGrow(t *testing.T) {
	f := throttled(t, throttle.DefaultPolicy)
	anna := annaKVNR.String()
	for i := 1; i <= 3; i++ {
		wantKind(t, f.try(anna, fmt.Sprintf("wrong-%d", i)), fault.Unauthenticated)
	}
	for _, d := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		wantKind(t, f.try(anna, "wrong-again"), fault.Unauthenticated)
		at := f.now().Add(d)
		wantWait(t, "right password during the delay", f.try(anna, annaPassword), d, at)
		f.advance(d - time.Millisecond)
		wantWait(t, "right password just before the end", f.try(anna, annaPassword), time.Second, at)
		f.advance(time.Millisecond)
	}
	if err := f.try(anna, annaPassword); err != nil {
		t.Fatalf("the right password after the delay: %v", err)
	}
	for i := 1; i <= 3; i++ {
		wantKind(t, f.try(anna, "wrong"), fault.Unauthenticated)
	}
	wantKind(t, f.try(anna, "wrong"), fault.Unauthenticated)
	wantWait(t, "after a success the count starts from zero", f.try(anna, "wrong"), time.Second, f.now().Add(time.Second))
}

// TestWaitIsWorded: the delay answer tells the member, in their language,
// how long to wait.
func TestWaitIsWorded(t *testing.T) {
	p := throttle.DefaultPolicy
	p.Free, p.First = 0, 40*time.Second
	f := throttled(t, p)
	wantKind(t, f.try(annaKVNR.String(), "wrong"), fault.Unauthenticated)
	err := f.try(annaKVNR.String(), annaPassword)
	if got := catalog.German.Error(err); got != "Zu viele Fehlversuche. Bitte warten Sie 40 Sekunden und versuchen Sie es dann erneut." {
		t.Errorf("German: %q", got)
	}
	if got := catalog.English.Error(err); got != "Too many failed attempts. Please wait 40 seconds and then try again." {
		t.Errorf("English: %q", got)
	}
}

// TestConstantWork: every path of a password check costs exactly one
// Argon2id verification — a wrong password, an unknown member number, an
// account without a password or not active, a delayed check and a check
// over the network's budget — so the time of the answer tells nothing.
func TestConstantWork(t *testing.T) {
	p := throttle.DefaultPolicy
	p.Free, p.NetworkBudget = 0, 4
	f := throttled(t, p)
	cases := []struct {
		name     string
		kvnr, pw string
		want     fault.Kind
	}{
		{"right password", annaKVNR.String(), annaPassword, 0},
		{"wrong password", annaKVNR.String(), "wrong", fault.Unauthenticated},
		{"delayed", annaKVNR.String(), annaPassword, fault.RateLimited},
		{"unknown member number", nobody.String(), annaPassword, fault.Unauthenticated},
		{"no password yet", dinaKVNR.String(), annaPassword, fault.Unauthenticated},
		{"blocked account", bodoKVNR.String(), annaPassword, fault.Unauthenticated},
		// The network has had 4 failures now: over its budget.
		{"over the network's budget", carlKVNR.String(), annaPassword, fault.RateLimited},
	}
	for _, tc := range cases {
		before := f.hasher.verifications.Load()
		err := f.try(tc.kvnr, tc.pw)
		switch {
		case tc.want == 0 && err != nil:
			t.Fatalf("%s: %v", tc.name, err)
		case tc.want != 0:
			wantKind(t, err, tc.want)
		}
		if n := f.hasher.verifications.Load() - before; n != 1 {
			t.Errorf("%s: %d Argon2id verifications, want 1", tc.name, n)
		}
	}
}

// TestUnknownMemberDelayedAlike: an unknown member number is counted and
// delayed exactly like a member's, so the delays do not tell who is a
// member.
func TestUnknownMemberDelayedAlike(t *testing.T) {
	p := throttle.DefaultPolicy
	for _, k := range []string{annaKVNR.String(), nobody.String()} {
		f := throttled(t, p)
		for range p.Free + 1 {
			wantKind(t, f.try(k, "wrong"), fault.Unauthenticated)
		}
		wantWait(t, k, f.try(k, "wrong"), p.First, f.now().Add(p.First))
	}
}

// TestParallelWrongPasswords: N wrong passwords at once count N failures
// (none is lost, none runs against a stale count); beyond Free, only the
// checks the count admits are evaluated, the rest are delayed.
func TestParallelWrongPasswords(t *testing.T) {
	const n = 8
	p := throttle.DefaultPolicy
	p.Free = throttle.MaxFree
	f := throttled(t, p)
	errs := parallel(n, func(int) error { return f.try(annaKVNR.String(), "wrong") })
	for _, err := range errs {
		wantKind(t, err, fault.Unauthenticated)
	}
	c := counter(t, f, annaKVNR.String())
	if c.Failures != n {
		t.Fatalf("%d parallel wrong passwords left %d failures", n, c.Failures)
	}

	g := throttled(t, throttle.DefaultPolicy)
	errs = parallel(n, func(int) error { return g.try(annaKVNR.String(), "wrong") })
	evaluated := 0
	for _, err := range errs {
		switch fault.KindOf(err) {
		case fault.Unauthenticated:
			evaluated++
		case fault.RateLimited:
		default:
			t.Fatalf("parallel guess: %v", err)
		}
	}
	if want := throttle.DefaultPolicy.Free + 1; evaluated != want || counter(t, g, annaKVNR.String()).Failures != want {
		t.Fatalf("%d parallel guesses: %d evaluated, counter %+v; want %d", n, evaluated, counter(t, g, annaKVNR.String()), want)
	}
}

// TestSecondReplicaSeesTheDelay: two services on one database (two
// replicas) apply one count and one delay.
func TestSecondReplicaSeesTheDelay(t *testing.T) {
	a := throttled(t, throttle.DefaultPolicy)
	h := coretest.Passwords()
	b := newFixture(t, a.st, h)
	for i := range throttle.DefaultPolicy.Free + 1 {
		r := a
		if i%2 == 1 {
			r = b
		}
		wantKind(t, r.try(annaKVNR.String(), "wrong"), fault.Unauthenticated)
	}
	b.clock = a.now()
	wantWait(t, "the other replica", b.try(annaKVNR.String(), annaPassword), time.Second, a.now().Add(time.Second))
}

// TestNetworkBudget: one client network (an IPv6 /64) may cause a budget
// of failures across all member numbers; then its checks wait until the
// oldest failures leave the sliding window, while other networks and the members themselves elsewhere
// are not affected.
func TestNetworkBudget(t *testing.T) {
	p := throttle.DefaultPolicy
	p.NetworkBudget = 3
	f := throttled(t, p)
	ctx := context.Background()
	spray := []string{annaKVNR.String(), bodoKVNR.String(), nobody.String()}
	for i, k := range spray {
		o := web
		o.IP = fmt.Sprintf("2001:db8:1:2::%x", i+1) // other addresses, one /64
		_, err := f.svc.Password(ctx, k, "Sommer2026!", o)
		wantKind(t, err, fault.Unauthenticated)
	}
	o := web
	o.IP = "2001:db8:1:2:ffff::9"
	_, err := f.svc.Password(ctx, annaKVNR.String(), annaPassword, o)
	// The hour slides in tenths: the failures at 09:00:00.123 UTC are in
	// the tenth from 09:00, which counts until 10:06 UTC.
	end := time.Date(2026, 3, 2, 10, 6, 0, 0, time.UTC)
	wantWait(t, "the same /64 over its budget", err, end.Sub(f.now()), end)
	o.IP = "2001:db8:1:3::1"
	if _, err := f.svc.Password(ctx, annaKVNR.String(), annaPassword, o); err != nil {
		t.Fatalf("another /64: %v", err)
	}
}

// TestNetworkBudgetParallel: guesses over many member numbers sent at
// once from one network are counted before they are checked, so exactly
// the budget of them is evaluated and the member's right password from
// that network then waits; checks that do not fail use none of it.
func TestNetworkBudgetParallel(t *testing.T) {
	p := throttle.DefaultPolicy
	p.NetworkBudget = 3
	f := throttled(t, p)
	ctx := context.Background()
	errs := parallel(20, func(i int) error {
		_, err := f.svc.Password(ctx, coretest.KVNR(fmt.Sprintf("Y%08d", i)).String(), "Sommer2026!", web)
		return err
	})
	evaluated := 0
	for _, err := range errs {
		switch fault.KindOf(err) {
		case fault.Unauthenticated:
			evaluated++
		case fault.RateLimited:
		default:
			t.Fatalf("parallel guess: %v", err)
		}
	}
	if evaluated != p.NetworkBudget {
		t.Fatalf("%d of 20 parallel guesses from one network evaluated, want the budget of %d", evaluated, p.NetworkBudget)
	}
	_, err := f.svc.Password(ctx, annaKVNR.String(), annaPassword, web)
	wantKind(t, err, fault.RateLimited)

	g := throttled(t, p)
	for range 2 * p.NetworkBudget {
		if _, err := g.svc.Password(ctx, annaKVNR.String(), annaPassword, web); err != nil {
			t.Fatalf("right password: %v", err)
		}
	}
	for i := range p.NetworkBudget + 1 {
		_, err := g.svc.Password(ctx, bodoKVNR.String(), "Sommer2026!", web)
		if i < p.NetworkBudget {
			wantKind(t, err, fault.Unauthenticated)
		} else {
			wantKind(t, err, fault.RateLimited)
		}
	}
}

// TestFailuresAreAuditedAndTold: each failed check is an audit event with
// its reason and a log line; at NotifyAt failures the member is told once.
func TestFailuresAreAuditedAndTold(t *testing.T) {
	p := throttle.DefaultPolicy
	p.Free, p.NotifyAt = 10, 3
	f := throttled(t, p)
	if err := f.st.UpsertMember(context.Background(), memberWithMail(annaKVNR)); err != nil {
		t.Fatal(err)
	}
	ctx := catalog.WithPrinter(context.Background(), catalog.English)
	for range 4 {
		_, err := f.svc.Password(ctx, annaKVNR.String(), "wrong", web)
		wantKind(t, err, fault.Unauthenticated)
		f.advance(time.Second) // the audit log lists newest first
	}
	_, err := f.svc.Password(ctx, bodoKVNR.String(), annaPassword, web)
	wantKind(t, err, fault.Unauthenticated)

	evs, err := f.st.AuditEvents(context.Background(), "acc-anna", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 4 {
		t.Fatalf("%d audit events for 4 failures: %+v", len(evs), evs)
	}
	for i, e := range evs {
		if e.Kind != audit.LoginFailed || e.Detail["reason"] != login.ReasonWrongPassword || e.Detail["via"] != login.ViaWebLogin ||
			e.Detail["failures"] != fmt.Sprint(4-i) || e.ClientID != "forms" || e.IPHash == "" {
			t.Errorf("event %d: %+v", i, e)
		}
	}
	evs, _ = f.st.AuditEvents(context.Background(), "acc-bodo", 10)
	if len(evs) != 1 || evs[0].Detail["reason"] != login.ReasonInactive {
		t.Errorf("a blocked account's failure: %+v", evs)
	}
	if n := strings.Count(f.logs.String(), `"msg":"password check failed"`); n != 5 {
		t.Errorf("%d log lines for 5 failures:\n%s", n, f.logs)
	}
	if strings.Contains(f.logs.String(), annaKVNR.String()) || strings.Contains(f.logs.String(), `"wrong"`) {
		t.Errorf("the log holds a member number or a password:\n%s", f.logs)
	}
	sent := f.out.messages()
	if len(sent) != 1 || sent[0].To != "anna@example.org" || sent[0].Kind != string(audit.LoginFailed) ||
		sent[0].Subject != "Failed login attempts" || !strings.Contains(sent[0].Body, "3 times in a row") {
		t.Fatalf("notifications: %+v", sent)
	}
}

// parallel runs f(i) for i in [0, n) at once and returns their errors.
func parallel(n int, f func(i int) error) []error {
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

// counter reads the throttle counter of member number k as stored (the
// service keys it "password:<KVNR>").
func counter(t *testing.T, f *fixture, k string) throttle.Counter {
	t.Helper()
	c, err := f.st.UpdatePasswordThrottle(context.Background(), "password:"+k, throttle.DefaultPolicy.Expiry,
		func(*throttle.Counter) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func memberWithMail(k kvnr.KVNR) member.Member {
	return member.Member{
		KVNR: k, GivenName: "Anna", FamilyName: "Berg", BirthDate: "1980-01-01", Email: "anna@example.org",
		InsuredFrom: time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC), UpdatedAt: now,
	}
}

// Support reads the counter without changing it.
func TestPasswordLockoutReadsOnly(t *testing.T) {
	svc, _ := setup(t)
	ctx := context.Background()
	c, err := svc.PasswordLockout(ctx, annaKVNR)
	if err != nil || c.Failures != 0 {
		t.Fatalf("no failures yet: %+v, %v", c, err)
	}
	for range 2 {
		_, _ = svc.Password(ctx, annaKVNR.String(), "wrong-password", web)
	}
	for range 2 {
		c, err = svc.PasswordLockout(ctx, annaKVNR)
		if err != nil || c.Failures != 2 {
			t.Fatalf("after two failures: %+v, %v", c, err)
		}
	}
}

// cancellingHasher cancels the request's context as the password is
// checked: the client went away while its guess was evaluated.
type cancellingHasher struct {
	*countingHasher
	cancel context.CancelFunc
}

func (c *cancellingHasher) Verify(ctx context.Context, pw, encoded string) (bool, bool, error) {
	ok, rehash, err := c.countingHasher.Verify(ctx, pw, encoded)
	c.cancel()
	return ok, rehash, err
}

// TestFailureAuditedWhenTheClientGoesAway: a guesser that closes the
// connection while its password is checked still leaves the failure in
// the audit log and the member's notice; a client's cancellation does not
// take the record of its attempt along.
func TestFailureAuditedWhenTheClientGoesAway(t *testing.T) {
	p := throttle.DefaultPolicy
	p.Free, p.NotifyAt = 10, 1
	f := throttled(t, p)
	if err := f.st.UpsertMember(context.Background(), memberWithMail(annaKVNR)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc, err := login.New(login.Config{IPKey: []byte(strings.Repeat("audit-ip-key-", 3)), Throttle: p}, login.Deps{
		Accounts: f.st, Members: f.st, Throttles: f.st, RateLimits: f.st, Audit: f.st,
		Passwords: &cancellingHasher{countingHasher: f.hasher, cancel: cancel},
		Notifier:  f.out, Mail: func(ctx context.Context, code fault.Code, params ...any) (string, string) {
			return catalog.From(ctx).Mail(code, params...)
		},
		Now: f.now, Logger: f.logs.JSON(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Password(ctx, annaKVNR.String(), "wrong", web); err == nil {
		t.Fatal("a wrong password logged in")
	}
	evs, err := f.st.AuditEvents(context.Background(), "acc-anna", 10)
	if err != nil || len(evs) != 1 || evs[0].Kind != audit.LoginFailed {
		t.Fatalf("audit after the client went away: %+v, %v", evs, err)
	}
	if msgs := f.out.messages(); len(msgs) != 1 {
		t.Fatalf("notices after the client went away: %+v", msgs)
	}
}
