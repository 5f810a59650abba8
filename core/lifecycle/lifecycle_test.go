package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/adapters/sqlstore/sqlstoretest"
	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/dpop"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/lifecycle"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/session"
	"github.com/pforte-id/pforte/core/sso"
	"github.com/pforte-id/pforte/ports/notify"
	"github.com/pforte-id/pforte/ports/store"
)

const issuer = "https://id.kasse.example"

var portal = client.Client{ID: "portal", Kind: client.Portal, RedirectURIs: []string{"https://portal.example/cb"},
	SectorIdentifier: "portal.example", MinACR: loa.Low}

// queue records the back-channel logouts the sessions' end queued.
type queue struct {
	mu     sync.Mutex
	queued map[string][]string // client ids by session
}

func (q *queue) EnqueueSession(_ context.Context, sid, _ string, clientIDs []string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.queued[sid] = append(q.queued[sid], clientIDs...)
	return nil
}

type keysUnused struct{}

func (keysUnused) Sign(context.Context, string, any) (string, error) { return "", errors.New("unused") }
func (keysUnused) Verify(context.Context, string, string, any) error { return errors.New("unused") }
func (keysUnused) VerifyAssertion(context.Context, string, []byte, any) error {
	return errors.New("unused")
}

type world struct {
	*sqlstore.Store
	clock *coretest.Clock
	sso   *sso.Service
	svc   *lifecycle.Service
	q     *queue
}

var t0 = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)

func newWorld(t *testing.T, cfg lifecycle.Config) *world {
	t.Helper()
	cfg.IPKey = []byte("audit-ip-key-of-thirty-two-bytes")
	w := &world{Store: sqlstoretest.Open(t), clock: coretest.NewClock(t0), q: &queue{queued: map[string][]string{}}}
	secrets, err := client.NewSecretHasher([]byte("client-secret-hash-key-of-32-bytes"))
	if err != nil {
		t.Fatal(err)
	}
	az, err := authz.New(authz.Config{
		Issuer:      issuer,
		DPoPNonces:  dpop.NonceSource{Key: []byte("dpop-nonce-key-of-thirty-two-b!!")},
		PairwiseKey: []byte("pairwise-sub-key-of-32-bytes-ok!"),
	}, authz.Stores{Consents: w, Clients: w, Requests: w, Tokens: w, Accounts: w, Members: w, Replay: w},
		keysUnused{}, keysUnused{}, secrets, w.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	w.sso, err = sso.New(sso.Config{}, sso.Deps{Sessions: w, Accounts: w, Audit: w, Authz: az, BackChannel: w.q, Now: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.PutClient(t.Context(), portal); err != nil {
		t.Fatal(err)
	}
	w.svc, err = lifecycle.New(cfg, lifecycle.Deps{Store: w, Sessions: w.sso, Pseudonyms: coretest.LetterHasher(), Now: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// account stores an active account of m.
func (w *world) account(t *testing.T, id string, m member.Member) account.Account {
	t.Helper()
	if err := w.UpsertMember(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	a := account.Account{ID: id, KVNR: m.KVNR, Status: account.Active, Proofing: loa.Substantial,
		PasswordHash: coretest.PasswordHash(), CreatedAt: w.clock.Now()}
	if err := w.CreateAccount(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	return a
}

// session begins a browser session of account a that served portal.
func (w *world) session(t *testing.T, a account.Account) session.Session {
	t.Helper()
	auth := loa.Authentication{Subject: a.ID, Proofing: loa.Substantial, Time: w.clock.Now(), BindingID: "bind-1",
		AMR: []string{loa.AMRPassword, loa.AMRHardware, loa.AMRPIN}}
	_, ss, err := w.sso.Begin(t.Context(), auth, "Firefox, Linux", "")
	if err != nil {
		t.Fatal(err)
	}
	ss, err = w.UpdateSession(t.Context(), ss.ID, func(s *session.Session) error {
		s.Clients = []string{portal.ID}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// population is n insured members M00000000 … .
func population(n int) []member.Member {
	out := make([]member.Member, n)
	for i := range out {
		m := coretest.Anna
		m.KVNR = coretest.KVNR(fmt.Sprintf("M%08d", i))
		out[i] = m
	}
	return out
}

func wantCode(t *testing.T, what string, err error, kind fault.Kind, code fault.Code) {
	t.Helper()
	got, _ := fault.CodeOf(err)
	if err == nil || !errors.Is(err, kind) || got != code {
		t.Fatalf("%s: got %v (code %q), want %v with code %q", what, err, got, kind, code)
	}
}

func TestSyncLimit(t *testing.T) {
	for _, tc := range []struct {
		name    string
		keep    int // of 40 present members, the file has the first keep
		opts    lifecycle.SyncOptions
		kind    fault.Kind
		code    fault.Code
		removed int
	}{
		{name: "drops 5 %", keep: 38, removed: 2},
		{name: "drops 7.5 %", keep: 37, kind: fault.Conflict, code: lifecycle.CodeSyncTooMany},
		{name: "drops all but one", keep: 1, kind: fault.Conflict, code: lifecycle.CodeSyncTooMany},
		{name: "empty file", keep: 0, kind: fault.Invalid, code: lifecycle.CodeSyncEmpty},
		{name: "empty file, forced", keep: 0, opts: lifecycle.SyncOptions{Force: true, Reason: "x"}, kind: fault.Invalid, code: lifecycle.CodeSyncEmpty},
		{name: "forced without a reason", keep: 10, opts: lifecycle.SyncOptions{Force: true, Reason: "  "}, kind: fault.Invalid, code: lifecycle.CodeForceReason},
		{name: "forced with a reason", keep: 10, opts: lifecycle.SyncOptions{Force: true, Reason: "Kassenfusion", Operator: "ops"}, removed: 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, lifecycle.Config{})
			all := population(40)
			if _, err := w.svc.Sync(t.Context(), all, lifecycle.SyncOptions{}); err != nil {
				t.Fatalf("first sync into an empty directory: %v", err)
			}
			w.clock.Advance(24 * time.Hour)
			got, err := w.svc.Sync(t.Context(), all[:tc.keep], tc.opts)
			if tc.code != "" {
				wantCode(t, "Sync", err, tc.kind, tc.code)
			} else if err != nil {
				t.Fatal(err)
			} else if got.Removing != tc.removed || got.Present != 40 {
				t.Fatalf("Sync = %+v, want %d of 40 removed", got, tc.removed)
			}
			removed := 0
			for _, m := range all {
				cur, err := w.MemberByKVNR(t.Context(), m.KVNR)
				if err != nil {
					t.Fatal(err)
				}
				if !cur.RemovedAt.IsZero() {
					removed++
				}
			}
			if removed != tc.removed {
				t.Fatalf("%d members marked removed, want %d", removed, tc.removed)
			}
		})
	}
}

func TestSyncIdempotentAndResume(t *testing.T) {
	w := newWorld(t, lifecycle.Config{})
	all := population(20)
	ctx := t.Context()
	if _, err := w.svc.Sync(ctx, all, lifecycle.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(24 * time.Hour)
	first, err := w.svc.Sync(ctx, all[1:], lifecycle.SyncOptions{})
	if err != nil || first.Removing != 1 {
		t.Fatalf("Sync without one member = %+v, %v", first, err)
	}
	gone, _ := w.MemberByKVNR(ctx, all[0].KVNR)
	w.clock.Advance(24 * time.Hour)
	again, err := w.svc.Sync(ctx, all[1:], lifecycle.SyncOptions{})
	if err != nil || again != (store.SyncCount{Present: 19}) {
		t.Fatalf("the same sync again = %+v, %v; want nothing to do", again, err)
	}
	if cur, _ := w.MemberByKVNR(ctx, all[0].KVNR); !cur.RemovedAt.Equal(gone.RemovedAt) || !cur.EndedOn().Equal(t0.Add(24*time.Hour).Truncate(24*time.Hour)) {
		t.Fatalf("the removed member after the second sync: %+v, want the first mark", cur)
	}
	back, err := w.svc.Sync(ctx, all, lifecycle.SyncOptions{})
	if err != nil || back.Resuming != 1 {
		t.Fatalf("Sync with the member back = %+v, %v", back, err)
	}
	if cur, _ := w.MemberByKVNR(ctx, all[0].KVNR); !cur.EndedOn().IsZero() {
		t.Fatalf("the member is back in the file but still ended: %+v", cur)
	}
}

func TestDeleteAccount(t *testing.T) {
	w := newWorld(t, lifecycle.Config{})
	ctx := t.Context()
	a := w.account(t, "acct-anna", coretest.Anna)
	ss := w.session(t, a)
	got, err := w.svc.DeleteAccount(ctx, lifecycle.Deletion{AccountID: a.ID, Actor: audit.Member, ClientID: "app-api", IP: "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != a.ID || got.PasswordHash != "" {
		t.Fatalf("DeleteAccount returned %+v", got)
	}
	if _, err := w.AccountByID(ctx, a.ID); !errors.Is(err, fault.NotFound) {
		t.Fatalf("the account after the deletion: %v", err)
	}
	if q := w.q.queued[ss.ID]; len(q) != 1 || q[0] != portal.ID {
		t.Fatalf("back-channel logouts queued: %v, want the portal for the session", w.q.queued)
	}
	if _, err := w.MemberByKVNR(ctx, coretest.Anna.KVNR); err != nil {
		t.Fatalf("the directory record went with the account: %v", err)
	}
	evs, err := w.AuditEvents(ctx, a.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	var deleted *audit.Event
	for i, e := range evs {
		if e.Kind == audit.AccountDeleted {
			deleted = &evs[i]
		}
		for k, v := range e.Detail {
			if strings.Contains(v, string(coretest.Anna.KVNR)) || strings.Contains(v, coretest.Anna.FamilyName) {
				t.Fatalf("audit event %s names the member in %s=%q", e.Kind, k, v)
			}
		}
	}
	if deleted == nil || deleted.Detail["member"] != coretest.LetterHasher().Pseudonym(coretest.Anna.KVNR) ||
		deleted.Detail["reason"] != "request" || deleted.Actor != audit.Member || deleted.ClientID != "app-api" ||
		deleted.IPHash == "" || strings.Contains(deleted.IPHash, "192.0.2.7") {
		t.Fatalf("the deletion's audit event: %+v", deleted)
	}

	// A second deletion says so and changes nothing.
	_, err = w.svc.DeleteAccount(ctx, lifecycle.Deletion{AccountID: a.ID, Actor: audit.Member})
	wantCode(t, "DeleteAccount again", err, fault.NotFound, lifecycle.CodeAlreadyDeleted)
	if again, _ := w.AuditEvents(ctx, a.ID, 10); len(again) != len(evs) {
		t.Fatalf("the second deletion recorded something: %d events, were %d", len(again), len(evs))
	}
	_, err = w.svc.DeleteAccount(ctx, lifecycle.Deletion{AccountID: "acct-nobody", Actor: audit.Operator})
	wantCode(t, "DeleteAccount of no account", err, fault.NotFound, lifecycle.CodeNoAccount)

	// The member may register again: the member number is free.
	if err := w.CreateAccount(ctx, account.Account{ID: "acct-anna-2", KVNR: coretest.Anna.KVNR, Status: account.Pending,
		Proofing: loa.Substantial, CreatedAt: w.clock.Now()}); err != nil {
		t.Fatalf("a new account of the member: %v", err)
	}
}

func TestDeleteAccountConcurrently(t *testing.T) {
	w := newWorld(t, lifecycle.Config{})
	a := w.account(t, "acct-anna", coretest.Anna)
	w.session(t, a)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = w.svc.DeleteAccount(t.Context(), lifecycle.Deletion{AccountID: a.ID, Actor: audit.Member})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		wantCode(t, "a concurrent deletion", err, fault.NotFound, lifecycle.CodeAlreadyDeleted)
	}
	evs, err := w.AuditEvents(t.Context(), a.ID, 50)
	if err != nil {
		t.Fatal(err)
	}
	deletions := 0
	for _, e := range evs {
		if e.Kind == audit.AccountDeleted {
			deletions++
		}
	}
	if won != 1 || deletions != 1 {
		t.Fatalf("%d deletions succeeded, %d recorded; want exactly one", won, deletions)
	}
}

func TestPurgeExpired(t *testing.T) {
	w := newWorld(t, lifecycle.Config{Retention: 2 * 365 * 24 * time.Hour})
	ctx := t.Context()
	long := coretest.Bodo // ended 2025-06-30: more than two years before now + 2 years
	withAccount := coretest.Carl
	withAccount.InsuredUntil = t0.AddDate(-3, 0, 0).Truncate(24 * time.Hour)
	recent := coretest.Anna
	recent.InsuredUntil = t0.AddDate(0, -6, 0).Truncate(24 * time.Hour)
	for _, m := range []member.Member{long, recent} {
		if err := w.UpsertMember(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	a := w.account(t, "acct-carl", withAccount)

	w.clock.Advance(365 * 24 * time.Hour) // Bodo's end is now 2.4 years ago
	ss := w.session(t, a)
	n, err := w.svc.PurgeExpired(ctx, w.clock.Now())
	if err != nil || n != 2 {
		t.Fatalf("PurgeExpired = %d, %v; want 2 members removed", n, err)
	}
	for _, k := range []kvnr.KVNR{long.KVNR, withAccount.KVNR} {
		if _, err := w.MemberByKVNR(ctx, k); !errors.Is(err, fault.NotFound) {
			t.Fatalf("member %s after the purge: %v", k, err)
		}
	}
	if _, err := w.AccountByID(ctx, a.ID); !errors.Is(err, fault.NotFound) {
		t.Fatalf("account after the purge: %v", err)
	}
	if len(w.q.queued[ss.ID]) != 1 {
		t.Fatalf("the purged account's session was not logged out: %v", w.q.queued)
	}
	if _, err := w.MemberByKVNR(ctx, recent.KVNR); err != nil {
		t.Fatalf("a member within the retention period was removed: %v", err)
	}
	evs, _ := w.AuditEvents(ctx, a.ID, 10)
	if d := deletionOf(evs); d == nil || d.Detail["reason"] != "retention" || d.Actor != audit.System {
		t.Fatalf("the purged account's audit trail: %+v", evs)
	}
	if n, err := w.svc.PurgeExpired(ctx, w.clock.Now()); err != nil || n != 0 {
		t.Fatalf("a second purge = %d, %v; want nothing", n, err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg   lifecycle.Config
		field string
	}{
		{lifecycle.Config{}, ""},
		{lifecycle.Config{SyncMaxDrop: 1}, ""},
		{lifecycle.Config{SyncMaxDrop: -0.1}, "SyncMaxDrop"},
		{lifecycle.Config{SyncMaxDrop: 1.5}, "SyncMaxDrop"},
		{lifecycle.Config{Retention: 24 * time.Hour}, "Retention"},
		{lifecycle.Config{Retention: 31 * 365 * 24 * time.Hour}, "Retention"},
	} {
		err := tc.cfg.Validate()
		if tc.field == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.cfg, err)
			}
			continue
		}
		var fe *fault.Error
		if !errors.As(err, &fe) || fe.Op != "lifecycle.Config."+tc.field {
			t.Errorf("%+v: %v, want an error of %s", tc.cfg, err, tc.field)
		}
	}
	if d := (lifecycle.Config{}).WithDefaults(); d.SyncMaxDrop != lifecycle.DefaultSyncMaxDrop || d.Retention != lifecycle.DefaultRetention {
		t.Errorf("defaults: %+v", d)
	}
}

// deletionOf returns the account.deleted entry of evs (nil: none). The
// entries of one instant have no order among them.
func deletionOf(evs []audit.Event) *audit.Event {
	for i := range evs {
		if evs[i].Kind == audit.AccountDeleted {
			return &evs[i]
		}
	}
	return nil
}

// A member whose membership has ended and who deletes the account leaves
// no directory record behind; a member still insured keeps it.
func TestDeleteAccountOfAnEndedMembership(t *testing.T) {
	w := newWorld(t, lifecycle.Config{})
	ctx := t.Context()
	ended := coretest.Carl
	ended.InsuredUntil = t0.AddDate(0, 0, -10).Truncate(24 * time.Hour) // within the grace period
	a := w.account(t, "acct-carl", ended)
	if _, err := w.svc.DeleteAccount(ctx, lifecycle.Deletion{AccountID: a.ID, Actor: audit.Member}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.MemberByKVNR(ctx, ended.KVNR); !errors.Is(err, fault.NotFound) {
		t.Fatalf("the ended member's record after the deletion: %v", err)
	}
	ending := coretest.Anna
	ending.InsuredUntil = t0.AddDate(0, 1, 0).Truncate(24 * time.Hour) // ends next month
	b := w.account(t, "acct-anna", ending)
	if _, err := w.svc.DeleteAccount(ctx, lifecycle.Deletion{AccountID: b.ID, Actor: audit.Member}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.MemberByKVNR(ctx, ending.KVNR); err != nil {
		t.Fatalf("an insured member's record went with the account: %v", err)
	}
}

// mailbox records the notices sent; fail makes every send fail.
type mailbox struct {
	mu   sync.Mutex
	sent []notify.Message
	fail bool
}

func (m *mailbox) Notify(_ context.Context, msg notify.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return fault.New(fault.Unavailable, "mailbox", "down")
	}
	m.sent = append(m.sent, msg)
	return nil
}

func (m *mailbox) messages() []notify.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]notify.Message(nil), m.sent...)
}

// withMailbox replaces w's service by one that notifies box.
func (w *world) withMailbox(t *testing.T, cfg lifecycle.Config, box *mailbox) {
	t.Helper()
	cfg.IPKey = []byte("audit-ip-key-of-thirty-two-bytes")
	mail := func(_ context.Context, code fault.Code, params ...any) (string, string) {
		return string(code), fmt.Sprint(params...)
	}
	var err error
	w.svc, err = lifecycle.New(cfg, lifecycle.Deps{Store: w, Sessions: w.sso, Pseudonyms: coretest.LetterHasher(),
		Notifier: box, Mail: mail, Now: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDeletionNotice: a deletion by the member or by support is told to the
// member's address on file (an attacker with the phone and the PIN could
// delete the account; the member learns of it), also when the directory
// record of an ended membership goes with the account; the purge of ended
// memberships tells nobody; a failed send does not undo the deletion.
func TestDeletionNotice(t *testing.T) {
	ctx := t.Context()
	t.Run("by the member and by support", func(t *testing.T) {
		w := newWorld(t, lifecycle.Config{})
		box := &mailbox{}
		w.withMailbox(t, lifecycle.Config{}, box)
		a := w.account(t, "acct-anna", coretest.Anna)
		if _, err := w.svc.DeleteAccount(ctx, lifecycle.Deletion{AccountID: a.ID, Actor: audit.Member}); err != nil {
			t.Fatal(err)
		}
		ended := coretest.Carl
		ended.Email = "carl@example.de"
		ended.InsuredUntil = t0.AddDate(0, 0, -10).Truncate(24 * time.Hour)
		c := w.account(t, "acct-carl", ended)
		if _, err := w.svc.DeleteAccount(ctx, lifecycle.Deletion{AccountID: c.ID, Actor: audit.Operator, Operator: "M. Muster"}); err != nil {
			t.Fatal(err)
		}
		got := box.messages()
		if len(got) != 2 || got[0].To != coretest.Anna.Email || got[1].To != "carl@example.de" ||
			got[0].Subject != "mail.account_deleted" || got[0].Kind != string(audit.AccountDeleted) {
			t.Fatalf("notices: %+v", got)
		}
		// A second deletion deletes nothing and tells nobody.
		_, err := w.svc.DeleteAccount(ctx, lifecycle.Deletion{AccountID: a.ID, Actor: audit.Member})
		wantCode(t, "DeleteAccount again", err, fault.NotFound, lifecycle.CodeAlreadyDeleted)
		if n := len(box.messages()); n != 2 {
			t.Fatalf("%d notices after the second deletion", n)
		}
	})
	t.Run("the purge tells nobody", func(t *testing.T) {
		cfg := lifecycle.Config{Retention: 2 * 365 * 24 * time.Hour}
		w := newWorld(t, cfg)
		box := &mailbox{}
		w.withMailbox(t, cfg, box)
		old := coretest.Anna
		old.InsuredUntil = t0.AddDate(-3, 0, 0).Truncate(24 * time.Hour)
		w.account(t, "acct-anna", old)
		if n, err := w.svc.PurgeExpired(ctx, w.clock.Now()); err != nil || n != 1 {
			t.Fatalf("PurgeExpired = %d, %v", n, err)
		}
		if got := box.messages(); len(got) != 0 {
			t.Fatalf("the purge sent %+v", got)
		}
	})
	t.Run("a failed send", func(t *testing.T) {
		w := newWorld(t, lifecycle.Config{})
		w.withMailbox(t, lifecycle.Config{}, &mailbox{fail: true})
		a := w.account(t, "acct-anna", coretest.Anna)
		if _, err := w.svc.DeleteAccount(ctx, lifecycle.Deletion{AccountID: a.ID, Actor: audit.Member}); err != nil {
			t.Fatalf("the deletion failed with the mail: %v", err)
		}
		if _, err := w.AccountByID(ctx, a.ID); !errors.Is(err, fault.NotFound) {
			t.Fatalf("the account after the deletion: %v", err)
		}
	})
	t.Run("a notifier without texts", func(t *testing.T) {
		_, err := lifecycle.New(lifecycle.Config{IPKey: []byte("audit-ip-key-of-thirty-two-bytes")},
			lifecycle.Deps{Store: newWorld(t, lifecycle.Config{}), Notifier: &mailbox{}})
		wantCode(t, "New", err, fault.Invalid, "")
	})
}
