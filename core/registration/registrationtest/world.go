package registrationtest

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/enrollment"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/ports/letterprint"
	"github.com/pforte-id/pforte/ports/store"
)

// World is one in-memory fake of every port the registration service and
// the letter proofing method use: the member
// directory, the queues, letters, enrollments, rate limits, the renderer
// and the outbox. It records the calls made to it, and inject lets a test
// fail (or do something) at named points: "<Port>.<Method>:before" and,
// for methods that change something, "<Port>.<Method>:after" — an error
// at an after point is returned after the change was made, like a crash
// between the write and the caller seeing its result.
type World struct {
	mu     sync.Mutex
	now    time.Time
	calls  []string
	inject func(point string) error

	members  map[kvnr.KVNR]member.Member
	requests map[string]lease[letter.Request]
	letters  map[string]*lease[letter.Letter]
	seq      map[string]int // insertion order of letters
	accounts map[kvnr.KVNR]account.Account
	sessions map[string]enrollment.Session
	proofs   map[string][]proof.Proof
	hits     map[string]int
	files    map[string][]byte
}

type lease[T any] struct {
	v     T
	until time.Time
}

var (
	_ store.Members        = (*World)(nil)
	_ store.Registrations  = (*World)(nil)
	_ store.Letters        = (*World)(nil)
	_ store.Enrollments    = (*World)(nil)
	_ store.RateLimits     = (*World)(nil)
	_ letterprint.Renderer = (*World)(nil)
	_ letterprint.Outbox   = (*World)(nil)
)

// NewWorld returns an empty world whose clock stands at now.
func NewWorld(now time.Time) *World {
	return &World{
		now: now, members: map[kvnr.KVNR]member.Member{}, requests: map[string]lease[letter.Request]{},
		letters: map[string]*lease[letter.Letter]{}, seq: map[string]int{}, accounts: map[kvnr.KVNR]account.Account{},
		sessions: map[string]enrollment.Session{}, proofs: map[string][]proof.Proof{}, hits: map[string]int{},
		files: map[string][]byte{},
	}
}

// Clock returns the world's current time; pass it as the service's Now.
func (w *World) Clock() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

// Advance moves the clock forward by d.
func (w *World) Advance(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.now = w.now.Add(d)
}

// SetInject sets the function run at every named point (nil: none). An
// error it returns is returned by the port method at that point.
func (w *World) SetInject(f func(string) error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.inject = f
}

// at records a call and runs the injection for point, outside the lock.
func (w *World) at(point string) error {
	w.mu.Lock()
	if strings.HasSuffix(point, ":before") {
		w.calls = append(w.calls, strings.TrimSuffix(point, ":before"))
	}
	f := w.inject
	w.mu.Unlock()
	if f == nil {
		return nil
	}
	return f(point)
}

// CallLog returns the port calls made so far, as "<Port>.<Method>".
func (w *World) CallLog() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.calls)
}

// ResetCalls empties the call log.
func (w *World) ResetCalls() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = nil
}

func notFound(op string) error { return fault.New(fault.NotFound, "fake."+op, "") }
func conflict(op string) error { return fault.New(fault.Conflict, "fake."+op, "") }

// --- store.Members

func (w *World) UpsertMember(_ context.Context, m member.Member) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.members[m.KVNR] = m
	return nil
}

func (w *World) MemberByKVNR(_ context.Context, k kvnr.KVNR) (member.Member, error) {
	if err := w.at("Members.MemberByKVNR:before"); err != nil {
		return member.Member{}, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	m, ok := w.members[k]
	if !ok {
		return member.Member{}, notFound("MemberByKVNR")
	}
	return m, nil
}

// DeleteMember removes member k from the directory, as when a member
// leaves the insurer.
func (w *World) DeleteMember(k kvnr.KVNR) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.members, k)
}

// --- store.Registrations

func (w *World) EnqueueRegistration(_ context.Context, r letter.Request) error {
	if err := w.at("Registrations.EnqueueRegistration:before"); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, dup := w.requests[r.ID]; dup {
		return conflict("EnqueueRegistration")
	}
	w.requests[r.ID] = lease[letter.Request]{v: r}
	return nil
}

func (w *World) ClaimRegistrations(_ context.Context, n int, now, until time.Time) ([]letter.Request, error) {
	if err := w.at("Registrations.ClaimRegistrations:before"); err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var free []letter.Request
	for _, r := range w.requests {
		if !r.until.After(now) {
			free = append(free, r.v)
		}
	}
	sort.Slice(free, func(i, j int) bool { return free[i].RequestedAt.Before(free[j].RequestedAt) })
	free = free[:min(n, len(free))]
	for _, r := range free {
		w.requests[r.ID] = lease[letter.Request]{v: r, until: until}
	}
	return free, nil
}

func (w *World) DeleteRegistration(_ context.Context, id string) error {
	if err := w.at("Registrations.DeleteRegistration:before"); err != nil {
		return err
	}
	w.mu.Lock()
	delete(w.requests, id)
	w.mu.Unlock()
	return w.at("Registrations.DeleteRegistration:after")
}

// Queued returns the registration requests in the queue, in no order.
func (w *World) Queued() []letter.Request {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []letter.Request
	for _, r := range w.requests {
		out = append(out, r.v)
	}
	return out
}

// --- store.Letters

func (w *World) CreateLetter(_ context.Context, l letter.Letter, notBefore, now time.Time) error {
	if err := w.at("Letters.CreateLetter:before"); err != nil {
		return err
	}
	w.mu.Lock()
	if _, dup := w.letters[l.ID]; dup {
		w.mu.Unlock()
		return conflict("CreateLetter")
	}
	for _, x := range w.letters {
		if x.v.KVNR == l.KVNR && !x.v.CreatedAt.Before(notBefore) {
			w.mu.Unlock()
			return conflict("CreateLetter")
		}
	}
	for _, x := range w.letters {
		if x.v.KVNR == l.KVNR && x.v.State != letter.Activated && x.v.State != letter.Voided {
			x.v.State, x.v.VoidedAt, x.v.VoidReason = letter.Voided, now, letter.ReasonSuperseded
		}
	}
	l.State = letter.Requested
	w.letters[l.ID] = &lease[letter.Letter]{v: l}
	w.seq[l.ID] = len(w.seq)
	w.mu.Unlock()
	return w.at("Letters.CreateLetter:after")
}

func (w *World) LetterByID(_ context.Context, id string) (letter.Letter, error) {
	if err := w.at("Letters.LetterByID:before"); err != nil {
		return letter.Letter{}, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	x, ok := w.letters[id]
	if !ok {
		return letter.Letter{}, notFound("LetterByID")
	}
	return x.v, nil
}

// sorted returns letters newest first (by creation, then insertion).
func (w *World) sorted() []letter.Letter {
	var out []letter.Letter
	for _, x := range w.letters {
		out = append(out, x.v)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return w.seq[out[i].ID] > w.seq[out[j].ID]
	})
	return out
}

func (w *World) LatestLetter(_ context.Context, k kvnr.KVNR) (letter.Letter, error) {
	if err := w.at("Letters.LatestLetter:before"); err != nil {
		return letter.Letter{}, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range w.sorted() {
		if l.KVNR == k {
			return l, nil
		}
	}
	return letter.Letter{}, notFound("LatestLetter")
}

func (w *World) ListLetters(_ context.Context, state letter.State, limit int) ([]letter.Letter, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []letter.Letter
	for _, l := range w.sorted() {
		if (state == "" || l.State == state) && len(out) < limit {
			out = append(out, l)
		}
	}
	return out, nil
}

func (w *World) ClaimLetters(_ context.Context, n int, now, until time.Time) ([]letter.Letter, error) {
	if err := w.at("Letters.ClaimLetters:before"); err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	all := w.sorted()
	slices.Reverse(all)
	var out []letter.Letter
	for _, l := range all {
		x := w.letters[l.ID]
		if (l.State == letter.Requested || l.State == letter.Rendered) && !x.until.After(now) && len(out) < n {
			x.until = until
			out = append(out, l)
		}
	}
	return out, nil
}

func (w *World) MarkRendered(_ context.Context, id, pwHash, codeHash, name string, now time.Time) error {
	if err := w.at("Letters.MarkRendered:before"); err != nil {
		return err
	}
	w.mu.Lock()
	x, ok := w.letters[id]
	switch {
	case !ok:
		w.mu.Unlock()
		return notFound("MarkRendered")
	case x.v.State != letter.Requested && x.v.State != letter.Rendered:
		w.mu.Unlock()
		return conflict("MarkRendered")
	}
	x.v.State, x.v.PasswordHash, x.v.CodeHash, x.v.OutboxName, x.v.RenderedAt = letter.Rendered, pwHash, codeHash, name, now
	w.mu.Unlock()
	return w.at("Letters.MarkRendered:after")
}

func (w *World) MarkHandedOver(_ context.Context, id string, now time.Time) error {
	if err := w.at("Letters.MarkHandedOver:before"); err != nil {
		return err
	}
	w.mu.Lock()
	x, ok := w.letters[id]
	switch {
	case !ok:
		w.mu.Unlock()
		return notFound("MarkHandedOver")
	case x.v.State != letter.Rendered:
		w.mu.Unlock()
		return conflict("MarkHandedOver")
	}
	x.v.State, x.v.HandedOverAt = letter.HandedOver, now
	w.mu.Unlock()
	return w.at("Letters.MarkHandedOver:after")
}

func (w *World) FailActivation(_ context.Context, id string, max int, now time.Time) (int, error) {
	if err := w.at("Letters.FailActivation:before"); err != nil {
		return 0, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	x, ok := w.letters[id]
	switch {
	case !ok:
		return 0, notFound("FailActivation")
	case x.v.State != letter.HandedOver:
		return 0, conflict("FailActivation")
	}
	x.v.FailedAttempts++
	if x.v.FailedAttempts >= max {
		x.v.State, x.v.VoidedAt, x.v.VoidReason = letter.Voided, now, letter.ReasonAttempts
	}
	return x.v.FailedAttempts, nil
}

func (w *World) ActivateLetter(_ context.Context, id string, max int, now time.Time) error {
	if err := w.at("Letters.ActivateLetter:before"); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	x, ok := w.letters[id]
	switch {
	case !ok:
		return notFound("ActivateLetter")
	case x.v.State != letter.HandedOver || x.v.FailedAttempts >= max || !now.Before(x.v.ExpiresAt):
		return conflict("ActivateLetter")
	}
	x.v.State, x.v.ActivatedAt = letter.Activated, now
	return nil
}

// Letter returns the letter id, or the zero letter when there is none.
func (w *World) Letter(id string) letter.Letter {
	w.mu.Lock()
	defer w.mu.Unlock()
	if x, ok := w.letters[id]; ok {
		return x.v
	}
	return letter.Letter{}
}

// LettersOf returns the letters of member k, newest first.
func (w *World) LettersOf(k kvnr.KVNR) []letter.Letter {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []letter.Letter
	for _, l := range w.sorted() {
		if l.KVNR == k {
			out = append(out, l)
		}
	}
	return out
}

// EditLetters runs edit on every stored letter, bypassing the state
// rules of the port.
func (w *World) EditLetters(edit func(*letter.Letter)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, x := range w.letters {
		edit(&x.v)
	}
}

// --- store.Enrollments

func (w *World) StartEnrollment(_ context.Context, s enrollment.Session, a account.Account, p proof.Proof) (account.Account, error) {
	if err := w.at("Enrollments.StartEnrollment:before"); err != nil {
		return account.Account{}, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, x := range w.sessions {
		if x.ID == s.ID || x.TokenHash == s.TokenHash {
			return account.Account{}, conflict("StartEnrollment")
		}
	}
	if cur, ok := w.accounts[p.KVNR]; ok {
		if p.Level > cur.Proofing {
			cur.Proofing = p.Level
		}
		a = cur
	}
	w.accounts[p.KVNR] = a
	w.proofs[a.ID] = append(w.proofs[a.ID], p)
	s.AccountID = a.ID
	w.sessions[s.ID] = s
	return a, nil
}

func (w *World) EnrollmentByTokenHash(_ context.Context, hash string) (enrollment.Session, error) {
	if err := w.at("Enrollments.EnrollmentByTokenHash:before"); err != nil {
		return enrollment.Session{}, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.sessions {
		if s.TokenHash == hash {
			return s, nil
		}
	}
	return enrollment.Session{}, notFound("EnrollmentByTokenHash")
}

func (w *World) SetEnrollmentPassword(_ context.Context, id, hash string, now time.Time) error {
	if err := w.at("Enrollments.SetEnrollmentPassword:before"); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.sessions[id]
	switch {
	case !ok:
		return notFound("SetEnrollmentPassword")
	case !s.Open(now):
		return fault.New(fault.Expired, "fake.SetEnrollmentPassword", "")
	}
	s.PasswordSetAt = now
	w.sessions[id] = s
	a := w.accounts[s.KVNR]
	a.PasswordHash = hash
	w.accounts[s.KVNR] = a
	return nil
}

func (w *World) Proofs(_ context.Context, accountID string) ([]proof.Proof, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.proofs[accountID]), nil
}

// SessionCount returns the number of enrollment sessions started.
func (w *World) SessionCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.sessions)
}

// Account returns the account of member k, if there is one.
func (w *World) Account(k kvnr.KVNR) (account.Account, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	a, ok := w.accounts[k]
	return a, ok
}

// EditSession runs edit on the enrollment session id (the zero session
// when there is none) and stores the result.
func (w *World) EditSession(id string, edit func(*enrollment.Session)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.sessions[id]
	edit(&s)
	w.sessions[id] = s
}

// --- store.RateLimits: fixed windows aligned to the window length.

func (w *World) Hit(_ context.Context, key string, limit int, window time.Duration, now time.Time) (bool, time.Duration, error) {
	if err := w.at("RateLimits.Hit:before"); err != nil {
		return false, 0, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	start := now.Truncate(window)
	k := key + "|" + start.Format(time.RFC3339Nano)
	w.hits[k]++
	if w.hits[k] > limit {
		return false, start.Add(window).Sub(now), nil
	}
	return true, 0, nil
}

// --- letterprint.Renderer: the "PDF" is the document as JSON.

func (w *World) Render(_ context.Context, d letter.Document) ([]byte, error) {
	if err := w.at("Renderer.Render:before"); err != nil {
		return nil, err
	}
	return json.Marshal(d)
}

// --- letterprint.Outbox

func (w *World) Put(_ context.Context, name string, file []byte) error {
	if err := w.at("Outbox.Put:before"); err != nil {
		return err
	}
	w.mu.Lock()
	w.files[name] = slices.Clone(file)
	w.mu.Unlock()
	return w.at("Outbox.Put:after")
}

func (w *World) Exists(_ context.Context, name string) (bool, error) {
	if err := w.at("Outbox.Exists:before"); err != nil {
		return false, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.files[name]
	return ok, nil
}

// Collect removes a file, as the print service does.
func (w *World) Collect(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.files, name)
}

// Outbox returns the documents in the outbox by file name.
func (w *World) Outbox() map[string]letter.Document {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]letter.Document{}
	for name, f := range w.files {
		var d letter.Document
		if err := json.Unmarshal(f, &d); err != nil {
			panic(err)
		}
		out[name] = d
	}
	return out
}

// SecretsOf reads the secrets back from a printed document, as a member
// types them (the grouping removed).
func SecretsOf(d letter.Document) (pw, code string) {
	return strings.ReplaceAll(d.InitialPassword, " ", ""), strings.ReplaceAll(d.ActivationCode, " ", "")
}

// ErrCrash is an error for tests to inject: a crash at that point.
var ErrCrash = errors.New("crash")
