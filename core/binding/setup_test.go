package binding_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/catalog"
	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/binding"
	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/enrollment"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/login"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/password"
	"github.com/pforte-id/pforte/core/pin"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/core/session"
)

var (
	t0   = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	ctx  = context.Background()
	anna = coretest.Anna
	// bodo has no e-mail address on file.
	bodo = coretest.Bodo
)

const (
	goodPIN      = "583920"
	otherPIN     = "904417"
	thirdPIN     = "271836"
	userPassword = coretest.Password
	clientIP     = "203.0.113.7"
	operatorName = "Erika Support"
)

// noDelays blocks after five failures without waiting in between.
var noDelays = pin.Policy{MaxFailures: 5, DelayFrom: 3}

var pepper1 = pin.Pepper{Version: 1, Key: []byte(strings.Repeat("pepper-one-", 4))}

func pinHasher(t *testing.T, current int, peppers ...pin.Pepper) *pin.Hasher {
	t.Helper()
	h, err := pin.NewHasher(current, peppers...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

type fixture struct {
	w    *world
	svc  *binding.Service
	cfg  binding.Config
	deps binding.Deps
	logs *coretest.Log
}

type option func(*binding.Config, *binding.Deps)

func withPIN(p pin.Policy) option {
	return func(c *binding.Config, _ *binding.Deps) { c.PIN = p }
}

func withDevicePolicy(p device.Policy) option {
	return func(c *binding.Config, _ *binding.Deps) { c.Device = p }
}

func devConfig() binding.Config {
	return binding.Config{
		Device: device.Policy{AllowUnattested: true}, PIN: noDelays,
		IPKey: []byte(strings.Repeat("audit-ip-key-", 3)),
	}
}

func setup(t *testing.T, opts ...option) *fixture {
	t.Helper()
	w := newWorld(t, t0)
	for _, m := range []member.Member{anna, bodo} {
		_ = w.UpsertMember(ctx, m)
	}
	logs := &coretest.Log{}
	cfg := devConfig()
	checker, err := login.New(login.Config{IPKey: cfg.IPKey}, login.Deps{
		Accounts: w, Members: w, Throttles: w, RateLimits: w, Audit: w, Passwords: coretest.Passwords(),
		Notifier: w, Mail: mailText, Now: w.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	deps := binding.Deps{
		Enrollments: w, Devices: w, Families: w, Challenges: w, Audit: w, Completion: w, Accounts: w, Members: w,
		Transfers: w, RateLimits: w, Ceremony: keys{}, Notifier: w, Mail: mailText, PINs: pinHasher(t, 1, pepper1),
		Passwords: checker, Rules: rules{w}, Hasher: coretest.Passwords(), Sessions: &endings{}, Now: w.clock.Now,
		Logger: logs.JSON(),
	}
	for _, o := range opts {
		o(&cfg, &deps)
	}
	svc, err := binding.New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{w: w, svc: svc, cfg: cfg, deps: deps, logs: logs}
}

// session opens an enrollment session for m, as registration.Activate
// does, creating m's account (Pending) the first time; with password the
// member has set their own password in it.
func (f *fixture) session(t *testing.T, m member.Member, withPassword bool) (string, enrollment.Session) {
	t.Helper()
	now := f.w.clock.Now()
	token := grant.NewSecret()
	s := enrollment.Session{
		ID: grant.NewID(), TokenHash: grant.Hash(token), KVNR: m.KVNR, Method: proof.Letter,
		CreatedAt: now, ExpiresAt: now.Add(enrollment.TTL),
	}
	a := account.Account{ID: grant.NewID(), KVNR: m.KVNR, Status: account.Pending, Proofing: loa.Substantial, CreatedAt: now}
	p := proof.Proof{Method: proof.Letter, Level: loa.Substantial, KVNR: m.KVNR, Time: now,
		Attributes: proof.Attributes{GivenName: m.GivenName, FamilyName: m.FamilyName, BirthDate: m.BirthDate}}
	stored, err := f.w.StartEnrollment(ctx, s, a, p)
	if err != nil {
		t.Fatal(err)
	}
	s.AccountID = stored.ID
	if withPassword {
		if err := f.w.SetEnrollmentPassword(ctx, s.ID, coretest.PasswordHash(), now); err != nil {
			t.Fatal(err)
		}
		s = f.w.sessionByID(s.ID)
	}
	return token, s
}

// bind runs BeginBinding and FinishBinding for ph.
func (f *fixture) bind(t *testing.T, token string, ph *phone, name string) device.Binding {
	t.Helper()
	id, opts, err := f.svc.BeginBinding(ctx, token)
	if err != nil {
		t.Fatalf("BeginBinding: %v", err)
	}
	b, err := f.svc.FinishBinding(ctx, token, id, ph.register(opts), name, device.Android, clientIP)
	if err != nil {
		t.Fatalf("FinishBinding: %v", err)
	}
	return b
}

// enrolled walks a member through the whole enrollment with a new phone
// and goodPIN, and returns the phone and its binding as stored.
func (f *fixture) enrolled(t *testing.T, m member.Member, name string) (*phone, device.Binding) {
	t.Helper()
	token, _ := f.session(t, m, true)
	ph := newPhone()
	b := f.bind(t, token, ph, name)
	if _, err := f.svc.SetPIN(ctx, token, goodPIN, clientIP); err != nil {
		t.Fatalf("SetPIN: %v", err)
	}
	return ph, f.w.binding(b.ID)
}

// challenge runs BeginDeviceAuth and lets ph answer it.
func (f *fixture) challenge(t *testing.T, ph *phone, bindingID string) (string, []byte) {
	t.Helper()
	id, opts, err := f.svc.BeginDeviceAuth(ctx, bindingID)
	if err != nil {
		t.Fatalf("BeginDeviceAuth: %v", err)
	}
	return id, ph.assert(opts)
}

// auth authenticates ph's binding with p.
func (f *fixture) auth(t *testing.T, ph *phone, bindingID, p string) (device.Binding, error) {
	t.Helper()
	id, resp := f.challenge(t, ph, bindingID)
	return f.svc.AuthenticateDevice(ctx, id, resp, p, clientIP)
}

// wantKind fails unless err is of kind k.
func wantKind(t *testing.T, what string, err error, k fault.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %v", what, k)
	}
	if !errors.Is(err, k) {
		t.Fatalf("%s: %v (kind %v), want %v", what, err, fault.KindOf(err), k)
	}
}

// wantPublic fails unless err has a code whose German text in the
// catalog, which the member reads, contains part.
func wantPublic(t *testing.T, what string, err error, part string) {
	t.Helper()
	if part == "" {
		return // an error of a port, passed through
	}
	if fault.CodedOf(err) == nil {
		t.Fatalf("%s: %v has no code", what, err)
	}
	if !strings.Contains(catalog.German.Error(err), part) {
		t.Fatalf("%s: client text %q lacks %q", what, catalog.German.Error(err), part)
	}
}

// mailText words notifications with the message catalog, as the server
// does, in the language the context carries (German by default).
func mailText(ctx context.Context, code fault.Code, params ...any) (subject, body string) {
	return catalog.From(ctx).Mail(code, params...)
}

// rules is the rule of a member's own password with the member number and
// the names on file as personal inputs, as core/registration applies it
// (which adds the names of proofs and the date of birth).
type rules struct{ w *world }

func (r rules) CheckPassword(ctx context.Context, k kvnr.KVNR, _ string, pw string) error {
	personal := []string{string(k)}
	if m, err := r.w.MemberByKVNR(ctx, k); err == nil {
		personal = append(personal, m.GivenName, m.FamilyName)
		personal = append(personal, strings.FieldsFunc(m.GivenName, func(r rune) bool { return r == '-' })...)
	}
	return password.DefaultPolicy.Check(pw, personal...)
}

// endings notes which accounts' browser sessions the service ended, and
// why; core/sso, which ends them, has its own tests, and test/e2e runs
// both together.
type endings struct {
	mu      sync.Mutex
	all     []string
	reasons []session.EndReason
}

func (e *endings) EndOfBinding(context.Context, string) (int, error) { return 0, nil }

func (e *endings) EndAll(_ context.Context, accountID string, reason session.EndReason) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, accountID)
	e.reasons = append(e.reasons, reason)
	return 1, nil
}

func (e *endings) ended() ([]string, []session.EndReason) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.all), slices.Clone(e.reasons)
}
