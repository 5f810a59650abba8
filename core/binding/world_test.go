package binding_test

import (
	"context"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/adapters/sqlstore/sqlstoretest"
	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/enrollment"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/ports/notify"
	"github.com/pforte-id/pforte/ports/store"
)

// world is what the service runs on in these tests: the real store
// (sqlstore on a fresh SQLite database, which the conformance suite
// checks), a clock the test moves, and a notifier that keeps what it was
// given. It adds no behaviour of its own to the store: it passes every
// call on, after inject (when set) had its say — inject is called with the
// method's name and the error it returns is returned instead, an outage of
// that method — and it notes what the test reads back and the store
// cannot list (the order events were appended in, the token hash of a
// session, how often UpdateBinding ran its function).
type world struct {
	*sqlstore.Store

	clock *coretest.Clock

	mu     sync.Mutex
	inject func(method string) error

	messages []notify.Message
	// accounts lists the accounts with audit events; seq orders their
	// events by when they were appended (the store orders by time, and
	// the test clock stands still).
	accounts []string
	seq      map[string]int
	// tokens maps a session ID to its token hash.
	tokens map[string]string
	// challenges are those CreateChallenge stored, by ID, as they went in.
	challenges map[string]device.Challenge
	// updates counts the runs of UpdateBinding's function, writes those
	// that returned nil.
	updates, writes int
}

var (
	_ store.Enrollments          = (*world)(nil)
	_ store.Devices              = (*world)(nil)
	_ store.BindingFamilies      = (*world)(nil)
	_ store.Challenges           = (*world)(nil)
	_ store.Audit                = (*world)(nil)
	_ store.EnrollmentCompletion = (*world)(nil)
	_ store.Accounts             = (*world)(nil)
	_ store.Members              = (*world)(nil)
	_ notify.Notifier            = (*world)(nil)
)

func newWorld(t *testing.T, now time.Time) *world {
	return &world{Store: sqlstoretest.Open(t), clock: coretest.NewClock(now), seq: map[string]int{}, tokens: map[string]string{},
		challenges: map[string]device.Challenge{}}
}

func (w *world) setInject(f func(string) error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.inject = f
}

// at runs the injection for method.
func (w *world) at(method string) error {
	w.mu.Lock()
	f := w.inject
	w.mu.Unlock()
	if f == nil {
		return nil
	}
	return f(method)
}

// appended notes that e was stored.
func (w *world) appended(e audit.Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !slices.Contains(w.accounts, e.AccountID) {
		w.accounts = append(w.accounts, e.AccountID)
	}
	w.seq[e.ID] = len(w.seq)
}

// --- what the test reads back, from the store

func (w *world) binding(id string) device.Binding {
	b, _ := w.Store.BindingByID(context.Background(), id)
	return b
}

// setBinding stores the changeable fields of b, as a support tool
// editing the database would.
func (w *world) setBinding(b device.Binding) {
	if _, err := w.Store.UpdateBinding(context.Background(), b.ID, func(cur *device.Binding) error {
		cur.Name, cur.SignCount, cur.Status, cur.PINHash, cur.PIN = b.Name, b.SignCount, b.Status, b.PINHash, b.PIN
		cur.LastUsedAt, cur.PINSetAt, cur.RevokedAt = b.LastUsedAt, b.PINSetAt, b.RevokedAt
		return nil
	}); err != nil {
		panic(err)
	}
}

func (w *world) account(id string) account.Account {
	a, _ := w.Store.AccountByID(context.Background(), id)
	return a
}

func (w *world) sessionByID(id string) enrollment.Session {
	w.mu.Lock()
	hash := w.tokens[id]
	w.mu.Unlock()
	s, _ := w.Store.EnrollmentByTokenHash(context.Background(), hash)
	return s
}

// auditEvents returns the stored events of every account, in the order
// they were appended.
func (w *world) auditEvents() []audit.Event {
	w.mu.Lock()
	accounts := slices.Clone(w.accounts)
	w.mu.Unlock()
	var out []audit.Event
	for _, a := range accounts {
		es, err := w.Store.AuditEvents(context.Background(), a, 10_000)
		if err != nil {
			panic(err)
		}
		out = append(out, es...)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool { return w.seq[out[i].ID] < w.seq[out[j].ID] })
	return out
}

func (w *world) auditKinds() []audit.Kind {
	var ks []audit.Kind
	for _, e := range w.auditEvents() {
		ks = append(ks, e.Kind)
	}
	return ks
}

func (w *world) sent() []notify.Message {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.messages)
}

func (w *world) updateCounts() (updates, writes int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.updates, w.writes
}

// appLogin stores a token family of an app login made with binding id
// and returns the JTI of its access token.
func (w *world) appLogin(t *testing.T, b device.Binding) string {
	t.Helper()
	now := w.clock.Now()
	f := grant.Family{ID: grant.NewID(), ClientID: "service-app", Subject: b.AccountID, BindingID: b.ID,
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	rt := grant.RefreshToken{Hash: grant.NewID(), FamilyID: f.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	at := grant.AccessToken{JTI: grant.NewID(), FamilyID: f.ID, ClientID: f.ClientID, Subject: f.Subject,
		IssuedAt: now, ExpiresAt: now.Add(5 * time.Minute)}
	if err := w.Store.CreateFamily(context.Background(), f, &rt, at); err != nil {
		t.Fatalf("CreateFamily: %v", err)
	}
	return at.JTI
}

// loginEndedAt returns when the app login with access token jti was
// revoked (zero: it was not).
func (w *world) loginEndedAt(t *testing.T, jti string) time.Time {
	t.Helper()
	at, err := w.Store.AccessToken(context.Background(), jti)
	if err != nil {
		t.Fatalf("AccessToken: %v", err)
	}
	return at.RevokedAt
}

// --- the ports, passed on after the injection

func (w *world) MemberByKVNR(ctx context.Context, k kvnr.KVNR) (member.Member, error) {
	if err := w.at("MemberByKVNR"); err != nil {
		return member.Member{}, err
	}
	return w.Store.MemberByKVNR(ctx, k)
}

func (w *world) AccountByID(ctx context.Context, id string) (account.Account, error) {
	if err := w.at("AccountByID"); err != nil {
		return account.Account{}, err
	}
	return w.Store.AccountByID(ctx, id)
}

func (w *world) AccountByKVNR(ctx context.Context, k kvnr.KVNR) (account.Account, error) {
	if err := w.at("AccountByKVNR"); err != nil {
		return account.Account{}, err
	}
	return w.Store.AccountByKVNR(ctx, k)
}

func (w *world) StartEnrollment(ctx context.Context, s enrollment.Session, a account.Account, p proof.Proof) (account.Account, error) {
	if err := w.at("StartEnrollment"); err != nil {
		return account.Account{}, err
	}
	stored, err := w.Store.StartEnrollment(ctx, s, a, p)
	if err == nil {
		w.mu.Lock()
		w.tokens[s.ID] = s.TokenHash
		w.mu.Unlock()
	}
	return stored, err
}

func (w *world) EnrollmentByTokenHash(ctx context.Context, tokenHash string) (enrollment.Session, error) {
	if err := w.at("EnrollmentByTokenHash"); err != nil {
		return enrollment.Session{}, err
	}
	return w.Store.EnrollmentByTokenHash(ctx, tokenHash)
}

func (w *world) SetEnrollmentPassword(ctx context.Context, sessionID, passwordHash string, now time.Time) error {
	if err := w.at("SetEnrollmentPassword"); err != nil {
		return err
	}
	return w.Store.SetEnrollmentPassword(ctx, sessionID, passwordHash, now)
}

func (w *world) BindDevice(ctx context.Context, b device.Binding, now time.Time) error {
	if err := w.at("BindDevice"); err != nil {
		return err
	}
	return w.Store.BindDevice(ctx, b, now)
}

func (w *world) BindingByID(ctx context.Context, id string) (device.Binding, error) {
	if err := w.at("BindingByID"); err != nil {
		return device.Binding{}, err
	}
	return w.Store.BindingByID(ctx, id)
}

func (w *world) BindingByCredentialID(ctx context.Context, credentialID []byte) (device.Binding, error) {
	if err := w.at("BindingByCredentialID"); err != nil {
		return device.Binding{}, err
	}
	return w.Store.BindingByCredentialID(ctx, credentialID)
}

func (w *world) ListBindings(ctx context.Context, accountID string) ([]device.Binding, error) {
	if err := w.at("ListBindings"); err != nil {
		return nil, err
	}
	return w.Store.ListBindings(ctx, accountID)
}

func (w *world) UpdateBinding(ctx context.Context, id string, f func(b *device.Binding) error) (device.Binding, error) {
	if err := w.at("UpdateBinding"); err != nil {
		return device.Binding{}, err
	}
	var last error
	b, err := w.Store.UpdateBinding(ctx, id, func(b *device.Binding) error {
		w.mu.Lock()
		w.updates++
		w.mu.Unlock()
		last = f(b)
		return last
	})
	if err == nil && last == nil {
		w.mu.Lock()
		w.writes++
		w.mu.Unlock()
	}
	return b, err
}

func (w *world) RevokeBindings(ctx context.Context, accountID, keep string, now time.Time) (int, error) {
	if err := w.at("RevokeBindings"); err != nil {
		return 0, err
	}
	return w.Store.RevokeBindings(ctx, accountID, keep, now)
}

func (w *world) RevokeFamiliesOfBinding(ctx context.Context, bindingID string, now time.Time) (int, error) {
	if err := w.at("RevokeFamiliesOfBinding"); err != nil {
		return 0, err
	}
	return w.Store.RevokeFamiliesOfBinding(ctx, bindingID, now)
}

func (w *world) CreateChallenge(ctx context.Context, c device.Challenge) error {
	if err := w.at("CreateChallenge"); err != nil {
		return err
	}
	err := w.Store.CreateChallenge(ctx, c)
	if err == nil {
		w.mu.Lock()
		w.challenges[c.ID] = c
		w.mu.Unlock()
	}
	return err
}

// challenge returns challenge id as the service stored it.
func (w *world) challenge(id string) (device.Challenge, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.challenges[id]
	return c, ok
}

func (w *world) ConsumeChallenge(ctx context.Context, id string, now time.Time) (device.Challenge, error) {
	if err := w.at("ConsumeChallenge"); err != nil {
		return device.Challenge{}, err
	}
	return w.Store.ConsumeChallenge(ctx, id, now)
}

func (w *world) AppendAudit(ctx context.Context, e audit.Event) error {
	if err := w.at("AppendAudit"); err != nil {
		return err
	}
	err := w.Store.AppendAudit(ctx, e)
	if err == nil {
		w.appended(e)
	}
	return err
}

func (w *world) AuditEvents(ctx context.Context, accountID string, limit int) ([]audit.Event, error) {
	if err := w.at("AuditEvents"); err != nil {
		return nil, err
	}
	return w.Store.AuditEvents(ctx, accountID, limit)
}

func (w *world) CompleteEnrollment(ctx context.Context, sessionID string, e audit.Event, now time.Time) (account.Account, error) {
	if err := w.at("CompleteEnrollment"); err != nil {
		return account.Account{}, err
	}
	a, err := w.Store.CompleteEnrollment(ctx, sessionID, e, now)
	if err == nil {
		e.AccountID = a.ID
		w.appended(e)
	}
	return a, err
}

// --- notify.Notifier

func (w *world) Notify(_ context.Context, m notify.Message) error {
	if err := w.at("Notify"); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.messages = append(w.messages, m)
	return nil
}
