package registrationtest

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/enrollment"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/ports/letterprint"
	"github.com/pforte-id/pforte/ports/store"
)

// Store is what World passes the store calls on to: the real store of the
// test (sqlstore on a fresh SQLite database, adapters/sqlstore/sqlstoretest),
// whose behaviour the conformance suite checks.
type Store interface {
	store.Members
	store.Registrations
	store.Letters
	store.Enrollments
	store.RateLimits
	store.Accounts
}

// World is every port the registration service and the letter proofing
// method use, for their tests: the store ports passed on to a real store,
// a renderer whose "PDF" is the document as JSON, an outbox in memory, and
// a clock the test moves. It adds no behaviour to the store. It records
// the calls made to it, and inject lets a test fail (or do something) at
// named points: "<Port>.<Method>:before" and, for methods that change
// something, "<Port>.<Method>:after" — an error at an after point is
// returned after the change was made, like a crash between the write and
// the caller seeing its result. It notes what the store's ports cannot
// list (the queued requests, the sessions started), and it can make a
// member disappear from the directory (DeleteMember).
type World struct {
	// Clock is the world's clock; pass its Now as the service's Now.
	*coretest.Clock

	st Store

	mu     sync.Mutex
	calls  []string
	inject func(point string) error

	gone     map[kvnr.KVNR]bool
	queued   map[string]letter.Request
	sessions int
	files    map[string][]byte
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

// NewWorld returns a world over st, an empty store, whose clock stands at
// now.
func NewWorld(now time.Time, st Store) *World {
	return &World{Clock: coretest.NewClock(now), st: st, gone: map[kvnr.KVNR]bool{}, queued: map[string]letter.Request{},
		files: map[string][]byte{}}
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

// --- store.Members

func (w *World) UpsertMember(ctx context.Context, m member.Member) error {
	return w.st.UpsertMember(ctx, m)
}

func (w *World) MemberByKVNR(ctx context.Context, k kvnr.KVNR) (member.Member, error) {
	if err := w.at("Members.MemberByKVNR:before"); err != nil {
		return member.Member{}, err
	}
	w.mu.Lock()
	gone := w.gone[k]
	w.mu.Unlock()
	if gone {
		return member.Member{}, fault.New(fault.NotFound, "registrationtest.MemberByKVNR", "")
	}
	return w.st.MemberByKVNR(ctx, k)
}

// DeleteMember removes member k from the directory, as when a member
// leaves the insurer: from now on MemberByKVNR does not find k.
func (w *World) DeleteMember(k kvnr.KVNR) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gone[k] = true
}

// --- store.Registrations

func (w *World) EnqueueRegistration(ctx context.Context, r letter.Request) error {
	if err := w.at("Registrations.EnqueueRegistration:before"); err != nil {
		return err
	}
	if err := w.st.EnqueueRegistration(ctx, r); err != nil {
		return err
	}
	w.mu.Lock()
	w.queued[r.ID] = r
	w.mu.Unlock()
	return nil
}

func (w *World) ClaimRegistrations(ctx context.Context, n int, now, until time.Time) ([]letter.Request, error) {
	if err := w.at("Registrations.ClaimRegistrations:before"); err != nil {
		return nil, err
	}
	return w.st.ClaimRegistrations(ctx, n, now, until)
}

func (w *World) DeleteRegistration(ctx context.Context, id string) error {
	if err := w.at("Registrations.DeleteRegistration:before"); err != nil {
		return err
	}
	if err := w.st.DeleteRegistration(ctx, id); err != nil {
		return err
	}
	w.mu.Lock()
	delete(w.queued, id)
	w.mu.Unlock()
	return w.at("Registrations.DeleteRegistration:after")
}

// Queued returns the registration requests in the queue (enqueued and not
// deleted), in no order.
func (w *World) Queued() []letter.Request {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []letter.Request
	for _, r := range w.queued {
		out = append(out, r)
	}
	return out
}

// --- store.Letters

func (w *World) CreateLetter(ctx context.Context, l letter.Letter, notBefore, now time.Time) error {
	if err := w.at("Letters.CreateLetter:before"); err != nil {
		return err
	}
	if err := w.st.CreateLetter(ctx, l, notBefore, now); err != nil {
		return err
	}
	return w.at("Letters.CreateLetter:after")
}

func (w *World) LetterByID(ctx context.Context, id string) (letter.Letter, error) {
	if err := w.at("Letters.LetterByID:before"); err != nil {
		return letter.Letter{}, err
	}
	return w.st.LetterByID(ctx, id)
}

func (w *World) LatestLetter(ctx context.Context, k kvnr.KVNR) (letter.Letter, error) {
	if err := w.at("Letters.LatestLetter:before"); err != nil {
		return letter.Letter{}, err
	}
	return w.st.LatestLetter(ctx, k)
}

func (w *World) ListLetters(ctx context.Context, state letter.State, limit int) ([]letter.Letter, error) {
	return w.st.ListLetters(ctx, state, limit)
}

func (w *World) ClaimLetters(ctx context.Context, n int, now, until time.Time) ([]letter.Letter, error) {
	if err := w.at("Letters.ClaimLetters:before"); err != nil {
		return nil, err
	}
	return w.st.ClaimLetters(ctx, n, now, until)
}

func (w *World) MarkRendered(ctx context.Context, id, pwHash, codeHash, name string, now time.Time) error {
	if err := w.at("Letters.MarkRendered:before"); err != nil {
		return err
	}
	if err := w.st.MarkRendered(ctx, id, pwHash, codeHash, name, now); err != nil {
		return err
	}
	return w.at("Letters.MarkRendered:after")
}

func (w *World) MarkHandedOver(ctx context.Context, id string, now time.Time) error {
	if err := w.at("Letters.MarkHandedOver:before"); err != nil {
		return err
	}
	if err := w.st.MarkHandedOver(ctx, id, now); err != nil {
		return err
	}
	return w.at("Letters.MarkHandedOver:after")
}

func (w *World) FailActivation(ctx context.Context, id string, max int, now time.Time) (int, error) {
	if err := w.at("Letters.FailActivation:before"); err != nil {
		return 0, err
	}
	return w.st.FailActivation(ctx, id, max, now)
}

func (w *World) ActivateLetter(ctx context.Context, id string, max int, now time.Time) error {
	if err := w.at("Letters.ActivateLetter:before"); err != nil {
		return err
	}
	return w.st.ActivateLetter(ctx, id, max, now)
}

func (w *World) VoidLetter(ctx context.Context, id, reason string, now time.Time) error {
	if err := w.at("Letters.VoidLetter:before"); err != nil {
		return err
	}
	if err := w.st.VoidLetter(ctx, id, reason, now); err != nil {
		return err
	}
	return w.at("Letters.VoidLetter:after")
}

// Letter returns the letter id, or the zero letter when there is none.
func (w *World) Letter(id string) letter.Letter {
	l, _ := w.st.LetterByID(context.Background(), id)
	return l
}

// LettersOf returns the letters of member k, newest first.
func (w *World) LettersOf(k kvnr.KVNR) []letter.Letter {
	all, err := w.st.ListLetters(context.Background(), "", 100_000)
	if err != nil {
		panic(err)
	}
	var out []letter.Letter
	for _, l := range all {
		if l.KVNR == k {
			out = append(out, l)
		}
	}
	return out
}

// --- store.Enrollments

func (w *World) StartEnrollment(ctx context.Context, s enrollment.Session, a account.Account, p proof.Proof) (account.Account, error) {
	if err := w.at("Enrollments.StartEnrollment:before"); err != nil {
		return account.Account{}, err
	}
	stored, err := w.st.StartEnrollment(ctx, s, a, p)
	if err == nil {
		w.mu.Lock()
		w.sessions++
		w.mu.Unlock()
	}
	return stored, err
}

func (w *World) RecordProof(ctx context.Context, accountID string, p proof.Proof) (account.Account, error) {
	if err := w.at("Enrollments.RecordProof:before"); err != nil {
		return account.Account{}, err
	}
	return w.st.RecordProof(ctx, accountID, p)
}

func (w *World) EnrollmentByTokenHash(ctx context.Context, hash string) (enrollment.Session, error) {
	if err := w.at("Enrollments.EnrollmentByTokenHash:before"); err != nil {
		return enrollment.Session{}, err
	}
	return w.st.EnrollmentByTokenHash(ctx, hash)
}

func (w *World) SetEnrollmentPassword(ctx context.Context, id, hash string, now time.Time) error {
	if err := w.at("Enrollments.SetEnrollmentPassword:before"); err != nil {
		return err
	}
	return w.st.SetEnrollmentPassword(ctx, id, hash, now)
}

func (w *World) Proofs(ctx context.Context, accountID string) ([]proof.Proof, error) {
	return w.st.Proofs(ctx, accountID)
}

// SessionCount returns the number of enrollment sessions started.
func (w *World) SessionCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sessions
}

// Account returns the account of member k, if there is one.
func (w *World) Account(k kvnr.KVNR) (account.Account, bool) {
	a, err := w.st.AccountByKVNR(context.Background(), k)
	return a, err == nil
}

// --- store.RateLimits

func (w *World) Hit(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (bool, time.Duration, error) {
	if err := w.at("RateLimits.Hit:before"); err != nil {
		return false, 0, err
	}
	return w.st.Hit(ctx, key, limit, window, now)
}

func (w *World) Count(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (int, time.Duration, error) {
	if err := w.at("RateLimits.Count:before"); err != nil {
		return 0, 0, err
	}
	return w.st.Count(ctx, key, limit, window, now)
}

func (w *World) Release(ctx context.Context, key string, window time.Duration, now time.Time) error {
	if err := w.at("RateLimits.Release:before"); err != nil {
		return err
	}
	return w.st.Release(ctx, key, window, now)
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
