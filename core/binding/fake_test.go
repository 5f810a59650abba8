package binding_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/enrollment"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/ports/devicekey"
	"github.com/pforte-id/pforte/ports/notify"
	"github.com/pforte-id/pforte/ports/store"
)

// world is one in-memory fake of every store port the service uses, and
// of the notifier. Like the real store, UpdateBinding holds the row (here:
// the whole world) while its closure runs, so concurrent updates are
// serialised. inject lets a test fail a method: it is called with
// "<Method>" before the method does anything.
type world struct {
	mu     sync.Mutex
	now    time.Time
	inject func(method string) error

	members    map[kvnr.KVNR]member.Member
	accounts   map[string]account.Account
	sessions   map[string]enrollment.Session
	proofs     map[string][]proof.Proof
	bindings   map[string]device.Binding
	order      []string // binding ids in insertion order
	challenges map[string]device.Challenge
	events     []audit.Event
	messages   []notify.Message

	// updates counts UpdateBinding closure runs, writes those that
	// returned nil.
	updates, writes int
	// ended lists the RevokeFamiliesOfBinding calls, as "binding@time".
	ended []string
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

func newWorld(now time.Time) *world {
	return &world{
		now: now, members: map[kvnr.KVNR]member.Member{}, accounts: map[string]account.Account{},
		sessions: map[string]enrollment.Session{}, proofs: map[string][]proof.Proof{},
		bindings: map[string]device.Binding{}, challenges: map[string]device.Challenge{},
	}
}

func (w *world) clock() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

func (w *world) advance(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.now = w.now.Add(d)
}

func (w *world) setInject(f func(string) error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.inject = f
}

// enter locks the world after running the injection for method.
func (w *world) enter(method string) error {
	w.mu.Lock()
	f := w.inject
	w.mu.Unlock()
	if f != nil {
		if err := f(method); err != nil {
			return err
		}
	}
	w.mu.Lock()
	return nil
}

func notFound(op string) error { return fault.New(fault.NotFound, "fake."+op, "") }
func conflict(op string) error { return fault.New(fault.Conflict, "fake."+op, "") }
func expired(op string) error  { return fault.New(fault.Expired, "fake."+op, "") }

// --- test accessors

func (w *world) binding(id string) device.Binding {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.bindings[id]
}

func (w *world) setBinding(b device.Binding) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.bindings[b.ID] = b
}

func (w *world) account(id string) account.Account {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.accounts[id]
}

func (w *world) sessionByID(id string) enrollment.Session {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sessions[id]
}

func (w *world) auditKinds() []audit.Kind {
	w.mu.Lock()
	defer w.mu.Unlock()
	var ks []audit.Kind
	for _, e := range w.events {
		ks = append(ks, e.Kind)
	}
	return ks
}

func (w *world) auditEvents() []audit.Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.events)
}

func (w *world) sent() []notify.Message {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.messages)
}

func (w *world) endedLogins() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.ended)
}

func (w *world) updateCounts() (updates, writes int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.updates, w.writes
}

// --- store.Members

func (w *world) UpsertMember(_ context.Context, m member.Member) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.members[m.KVNR] = m
	return nil
}

func (w *world) MemberByKVNR(_ context.Context, k kvnr.KVNR) (member.Member, error) {
	if err := w.enter("MemberByKVNR"); err != nil {
		return member.Member{}, err
	}
	defer w.mu.Unlock()
	m, ok := w.members[k]
	if !ok {
		return member.Member{}, notFound("MemberByKVNR")
	}
	return m, nil
}

// --- store.Accounts

func (w *world) CreateAccount(_ context.Context, a account.Account) error {
	if err := w.enter("CreateAccount"); err != nil {
		return err
	}
	defer w.mu.Unlock()
	for _, x := range w.accounts {
		if x.ID == a.ID || x.KVNR == a.KVNR {
			return conflict("CreateAccount")
		}
	}
	w.accounts[a.ID] = a
	return nil
}

func (w *world) AccountByID(_ context.Context, id string) (account.Account, error) {
	if err := w.enter("AccountByID"); err != nil {
		return account.Account{}, err
	}
	defer w.mu.Unlock()
	a, ok := w.accounts[id]
	if !ok {
		return account.Account{}, notFound("AccountByID")
	}
	return a, nil
}

func (w *world) AccountByKVNR(_ context.Context, k kvnr.KVNR) (account.Account, error) {
	if err := w.enter("AccountByKVNR"); err != nil {
		return account.Account{}, err
	}
	defer w.mu.Unlock()
	for _, a := range w.accounts {
		if a.KVNR == k {
			return a, nil
		}
	}
	return account.Account{}, notFound("AccountByKVNR")
}

func (w *world) SetPasswordHash(_ context.Context, id, hash string, now time.Time) error {
	if err := w.enter("SetPasswordHash"); err != nil {
		return err
	}
	defer w.mu.Unlock()
	a, ok := w.accounts[id]
	if !ok {
		return notFound("SetPasswordHash")
	}
	a.PasswordHash, a.UpdatedAt = hash, now
	w.accounts[id] = a
	return nil
}

func (w *world) SetAccountStatus(_ context.Context, id string, s account.Status, now time.Time) error {
	if err := w.enter("SetAccountStatus"); err != nil {
		return err
	}
	defer w.mu.Unlock()
	a, ok := w.accounts[id]
	if !ok {
		return notFound("SetAccountStatus")
	}
	a.Status, a.UpdatedAt = s, now
	w.accounts[id] = a
	return nil
}

// --- store.Enrollments

func (w *world) StartEnrollment(_ context.Context, s enrollment.Session, a account.Account, p proof.Proof) (account.Account, error) {
	if err := w.enter("StartEnrollment"); err != nil {
		return account.Account{}, err
	}
	defer w.mu.Unlock()
	for _, x := range w.sessions {
		if x.ID == s.ID || x.TokenHash == s.TokenHash {
			return account.Account{}, conflict("StartEnrollment")
		}
	}
	stored := a
	found := false
	for _, x := range w.accounts {
		if x.KVNR == p.KVNR {
			stored, found = x, true
			break
		}
	}
	if !found {
		w.accounts[stored.ID] = stored
	}
	s.AccountID = stored.ID
	w.sessions[s.ID] = s
	w.proofs[stored.ID] = append(w.proofs[stored.ID], p)
	return stored, nil
}

func (w *world) EnrollmentByTokenHash(_ context.Context, tokenHash string) (enrollment.Session, error) {
	if err := w.enter("EnrollmentByTokenHash"); err != nil {
		return enrollment.Session{}, err
	}
	defer w.mu.Unlock()
	for _, s := range w.sessions {
		if s.TokenHash == tokenHash {
			return s, nil
		}
	}
	return enrollment.Session{}, notFound("EnrollmentByTokenHash")
}

func (w *world) SetEnrollmentPassword(_ context.Context, sessionID, passwordHash string, now time.Time) error {
	if err := w.enter("SetEnrollmentPassword"); err != nil {
		return err
	}
	defer w.mu.Unlock()
	s, ok := w.sessions[sessionID]
	if !ok {
		return notFound("SetEnrollmentPassword")
	}
	if !s.Open(now) {
		return expired("SetEnrollmentPassword")
	}
	a := w.accounts[s.AccountID]
	a.PasswordHash = passwordHash
	w.accounts[a.ID] = a
	s.PasswordSetAt = now
	w.sessions[s.ID] = s
	return nil
}

func (w *world) Proofs(_ context.Context, accountID string) ([]proof.Proof, error) {
	if err := w.enter("Proofs"); err != nil {
		return nil, err
	}
	defer w.mu.Unlock()
	return slices.Clone(w.proofs[accountID]), nil
}

// --- store.Devices

func (w *world) BindDevice(_ context.Context, b device.Binding, now time.Time) error {
	if err := w.enter("BindDevice"); err != nil {
		return err
	}
	defer w.mu.Unlock()
	s, ok := w.sessions[b.EnrollmentID]
	if !ok {
		return notFound("BindDevice")
	}
	if !s.Open(now) {
		return expired("BindDevice")
	}
	for _, x := range w.bindings {
		if x.EnrollmentID == b.EnrollmentID || bytes.Equal(x.CredentialID, b.CredentialID) || x.ID == b.ID {
			return conflict("BindDevice")
		}
	}
	w.bindings[b.ID] = b
	w.order = append(w.order, b.ID)
	return nil
}

func (w *world) BindingByID(_ context.Context, id string) (device.Binding, error) {
	if err := w.enter("BindingByID"); err != nil {
		return device.Binding{}, err
	}
	defer w.mu.Unlock()
	b, ok := w.bindings[id]
	if !ok {
		return device.Binding{}, notFound("BindingByID")
	}
	return b, nil
}

func (w *world) BindingByCredentialID(_ context.Context, credentialID []byte) (device.Binding, error) {
	if err := w.enter("BindingByCredentialID"); err != nil {
		return device.Binding{}, err
	}
	defer w.mu.Unlock()
	for _, b := range w.bindings {
		if bytes.Equal(b.CredentialID, credentialID) {
			return b, nil
		}
	}
	return device.Binding{}, notFound("BindingByCredentialID")
}

func (w *world) ListBindings(_ context.Context, accountID string) ([]device.Binding, error) {
	if err := w.enter("ListBindings"); err != nil {
		return nil, err
	}
	defer w.mu.Unlock()
	var out []device.Binding
	for _, id := range w.order {
		if b := w.bindings[id]; b.AccountID == accountID {
			out = append(out, b)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

func (w *world) UpdateBinding(_ context.Context, id string, f func(b *device.Binding) error) (device.Binding, error) {
	if err := w.enter("UpdateBinding"); err != nil {
		return device.Binding{}, err
	}
	defer w.mu.Unlock()
	b, ok := w.bindings[id]
	if !ok {
		return device.Binding{}, notFound("UpdateBinding")
	}
	w.updates++
	before := b
	if err := f(&b); err != nil {
		return device.Binding{}, err
	}
	if !sameIdentity(before, b) {
		return device.Binding{}, fault.New(fault.Invalid, "fake.UpdateBinding", "identifying field changed")
	}
	w.writes++
	w.bindings[id] = b
	return b, nil
}

// RevokeFamiliesOfBinding records which binding's app logins were ended
// when; the world holds no token families.
func (w *world) RevokeFamiliesOfBinding(_ context.Context, bindingID string, now time.Time) (int, error) {
	if err := w.enter("RevokeFamiliesOfBinding"); err != nil {
		return 0, err
	}
	defer w.mu.Unlock()
	w.ended = append(w.ended, bindingID+"@"+now.Format(time.RFC3339Nano))
	return 0, nil
}

// sameIdentity reports whether the fields UpdateBinding may not change
// are unchanged.
func sameIdentity(a, b device.Binding) bool {
	return a.ID == b.ID && a.AccountID == b.AccountID && a.EnrollmentID == b.EnrollmentID && a.Platform == b.Platform &&
		bytes.Equal(a.CredentialID, b.CredentialID) && bytes.Equal(a.PublicKey, b.PublicKey) &&
		bytes.Equal(a.AAGUID, b.AAGUID) && a.AttestationFormat == b.AttestationFormat && a.CreatedAt.Equal(b.CreatedAt)
}

func (w *world) RevokeBindings(_ context.Context, accountID, keep string, now time.Time) (int, error) {
	if err := w.enter("RevokeBindings"); err != nil {
		return 0, err
	}
	defer w.mu.Unlock()
	n := 0
	for id, b := range w.bindings {
		if b.AccountID == accountID && id != keep && b.Status != device.Revoked {
			b.Status, b.RevokedAt = device.Revoked, now
			w.bindings[id] = b
			n++
		}
	}
	return n, nil
}

// --- store.Challenges

func (w *world) CreateChallenge(_ context.Context, c device.Challenge) error {
	if err := w.enter("CreateChallenge"); err != nil {
		return err
	}
	defer w.mu.Unlock()
	if _, dup := w.challenges[c.ID]; dup {
		return conflict("CreateChallenge")
	}
	w.challenges[c.ID] = c
	return nil
}

func (w *world) ConsumeChallenge(_ context.Context, id string, now time.Time) (device.Challenge, error) {
	if err := w.enter("ConsumeChallenge"); err != nil {
		return device.Challenge{}, err
	}
	defer w.mu.Unlock()
	c, ok := w.challenges[id]
	if !ok {
		return device.Challenge{}, notFound("ConsumeChallenge")
	}
	delete(w.challenges, id)
	if !now.Before(c.ExpiresAt) {
		return device.Challenge{}, expired("ConsumeChallenge")
	}
	return c, nil
}

// --- store.Audit

func (w *world) AppendAudit(_ context.Context, e audit.Event) error {
	if err := w.enter("AppendAudit"); err != nil {
		return err
	}
	defer w.mu.Unlock()
	return w.appendAuditLocked(e)
}

func (w *world) appendAuditLocked(e audit.Event) error {
	for _, x := range w.events {
		if x.ID == e.ID {
			return conflict("AppendAudit")
		}
	}
	w.events = append(w.events, e)
	return nil
}

func (w *world) AuditEvents(_ context.Context, accountID string, limit int) ([]audit.Event, error) {
	if err := w.enter("AuditEvents"); err != nil {
		return nil, err
	}
	defer w.mu.Unlock()
	var out []audit.Event
	for i := len(w.events) - 1; i >= 0 && len(out) < limit; i-- {
		if w.events[i].AccountID == accountID {
			out = append(out, w.events[i])
		}
	}
	return out, nil
}

// --- store.EnrollmentCompletion

func (w *world) CompleteEnrollment(_ context.Context, sessionID string, e audit.Event, now time.Time) (account.Account, error) {
	if err := w.enter("CompleteEnrollment"); err != nil {
		return account.Account{}, err
	}
	defer w.mu.Unlock()
	s, ok := w.sessions[sessionID]
	if !ok {
		return account.Account{}, notFound("CompleteEnrollment")
	}
	if !s.Open(now) {
		return account.Account{}, expired("CompleteEnrollment")
	}
	withPIN := false
	for _, b := range w.bindings {
		if b.EnrollmentID == sessionID && b.PINHash != "" && b.Status == device.Active {
			withPIN = true
		}
	}
	if s.PasswordSetAt.IsZero() || !withPIN {
		return account.Account{}, fault.New(fault.Forbidden, "fake.CompleteEnrollment", "")
	}
	a := w.accounts[s.AccountID]
	a.Status, a.UpdatedAt = account.Active, now
	w.accounts[a.ID] = a
	s.CompletedAt = now
	w.sessions[s.ID] = s
	if err := w.appendAuditLocked(e); err != nil {
		return account.Account{}, err
	}
	return a, nil
}

// --- notify.Notifier

func (w *world) Notify(_ context.Context, m notify.Message) error {
	if err := w.enter("Notify"); err != nil {
		return err
	}
	defer w.mu.Unlock()
	w.messages = append(w.messages, m)
	return nil
}

// keys is a fake WebAuthn ceremony. A phone's "public key" is a random
// secret that both sides know; its "signature" over a challenge is
// SHA-256(key ‖ challenge ‖ sign count). That is no cryptography, but it
// lets a test answer with another key, another challenge or a forged
// counter, and see core refuse it.
type keys struct{}

var _ devicekey.Ceremony = keys{}

type regOptions struct {
	Challenge []byte   `json:"challenge"`
	Handle    []byte   `json:"handle"`
	Name      string   `json:"name"`
	Exclude   [][]byte `json:"exclude"`
}

type regResponse struct {
	Challenge      []byte `json:"challenge"`
	CredentialID   []byte `json:"credential_id"`
	PublicKey      []byte `json:"public_key"`
	SignCount      uint32 `json:"sign_count"`
	Format         string `json:"format"`
	Self           bool   `json:"self"`
	Trusted        bool   `json:"trusted"`
	BackupEligible bool   `json:"backup_eligible"`
}

type authOptions struct {
	Challenge []byte   `json:"challenge"`
	Allow     [][]byte `json:"allow"`
}

type authResponse struct {
	Challenge    []byte `json:"challenge"`
	CredentialID []byte `json:"credential_id"`
	SignCount    uint32 `json:"sign_count"`
	Signature    []byte `json:"signature"`
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func sign(key, challenge []byte, count uint32) []byte {
	h := sha256.New()
	h.Write(key)
	h.Write(challenge)
	_ = binary.Write(h, binary.BigEndian, count)
	return h.Sum(nil)
}

func (keys) RegistrationOptions(_ context.Context, u devicekey.User, exclude [][]byte) ([]byte, []byte, error) {
	ch := randomBytes(32)
	opts, err := json.Marshal(regOptions{Challenge: ch, Handle: u.Handle, Name: u.Name, Exclude: exclude})
	return opts, ch, err
}

func (keys) VerifyRegistration(_ context.Context, state, response []byte) (devicekey.NewKey, error) {
	var r regResponse
	if err := json.Unmarshal(response, &r); err != nil || len(r.CredentialID) == 0 {
		return devicekey.NewKey{}, fault.New(fault.Invalid, "fake.VerifyRegistration", "")
	}
	if !bytes.Equal(r.Challenge, state) {
		return devicekey.NewKey{}, fault.New(fault.Unauthenticated, "fake.VerifyRegistration", "")
	}
	return devicekey.NewKey{
		CredentialID: r.CredentialID, PublicKey: r.PublicKey, SignCount: r.SignCount,
		Attestation: device.Attestation{
			Format: r.Format, Self: r.Self, Trusted: r.Trusted, BackupEligible: r.BackupEligible,
			AAGUID: []byte("fake-aaguid-0001"),
		},
	}, nil
}

func (keys) AssertionOptions(_ context.Context, allow [][]byte) ([]byte, []byte, error) {
	ch := randomBytes(32)
	opts, err := json.Marshal(authOptions{Challenge: ch, Allow: allow})
	return opts, ch, err
}

func (keys) VerifyAssertion(_ context.Context, state, response []byte, key devicekey.Key) (devicekey.Assertion, error) {
	var r authResponse
	if err := json.Unmarshal(response, &r); err != nil {
		return devicekey.Assertion{}, fault.New(fault.Invalid, "fake.VerifyAssertion", "")
	}
	if !bytes.Equal(r.Challenge, state) || !bytes.Equal(r.Signature, sign(key.PublicKey, r.Challenge, r.SignCount)) {
		return devicekey.Assertion{}, fault.New(fault.Unauthenticated, "fake.VerifyAssertion", "")
	}
	return devicekey.Assertion{CredentialID: r.CredentialID, SignCount: r.SignCount, UserVerified: true}, nil
}

// phone is the app side: one key, its sign counter and the attestation
// it presents. step is how much the counter grows per assertion (0: the
// authenticator does not count).
type phone struct {
	mu     sync.Mutex
	credID []byte
	key    []byte
	count  uint32
	step   uint32
	format string
	self   bool
	backup bool
}

func newPhone() *phone {
	return &phone{credID: randomBytes(16), key: randomBytes(32), step: 1, format: "packed", self: true}
}

// register answers creation options.
func (p *phone) register(options []byte) []byte {
	var o regOptions
	if err := json.Unmarshal(options, &o); err != nil {
		panic(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	b, _ := json.Marshal(regResponse{
		Challenge: o.Challenge, CredentialID: p.credID, PublicKey: p.key, SignCount: p.count,
		Format: p.format, Self: p.self, BackupEligible: p.backup,
	})
	return b
}

// assert answers request options with the phone's key.
func (p *phone) assert(options []byte) []byte {
	var o authOptions
	if err := json.Unmarshal(options, &o); err != nil {
		panic(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.count += p.step
	b, _ := json.Marshal(authResponse{
		Challenge: o.Challenge, CredentialID: p.credID, SignCount: p.count, Signature: sign(p.key, o.Challenge, p.count),
	})
	return b
}

func (p *phone) setCount(n uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.count = n
}
