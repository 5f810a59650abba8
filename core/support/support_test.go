package support_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/adapters/sqlstore/sqlstoretest"
	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/enrollment"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/lifecycle"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/core/registration"
	"github.com/pforte-id/pforte/core/session"
	"github.com/pforte-id/pforte/core/sso"
	"github.com/pforte-id/pforte/core/support"
	"github.com/pforte-id/pforte/core/throttle"
)

var (
	t0    = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	anna  = coretest.Anna
	carl  = coretest.Carl
	agent = support.Agent{ClientID: "support-tool", Name: "Erika Support"}
)

// bindings records what support asked of device binding (its own
// behaviour is core/binding's, tested there).
type bindings struct {
	unblocked, revoked []string
	fail               error
}

func (b *bindings) UnblockDeviceBy(_ context.Context, id, operator, clientID string) error {
	if b.fail != nil {
		return b.fail
	}
	b.unblocked = append(b.unblocked, id+"/"+operator+"/"+clientID)
	return nil
}

func (b *bindings) RevokeDeviceBy(_ context.Context, accountID, id, operator, clientID string) error {
	b.revoked = append(b.revoked, accountID+"/"+id+"/"+operator+"/"+clientID)
	return nil
}

// letters records the letters support ordered.
type letters struct {
	orders []string
	lost   []registration.LostReport
	err    error
}

func (l *letters) OrderLetter(_ context.Context, k kvnr.KVNR, override bool) (letter.Letter, error) {
	if l.err != nil {
		return letter.Letter{}, l.err
	}
	l.orders = append(l.orders, string(k))
	return letter.Letter{ID: "letter-" + string(k), KVNR: k, State: letter.Requested}, nil
}

// ReportLostByOperator records the report; a member without a letter
// (no "letter-<kvnr>" ordered) is NotFound, as the registration says.
func (l *letters) ReportLostByOperator(_ context.Context, rep registration.LostReport) (registration.LostResult, error) {
	if l.err != nil {
		return registration.LostResult{}, l.err
	}
	if !slices.Contains(l.orders, rep.KVNR) {
		return registration.LostResult{}, fault.New(fault.NotFound, "test", "the member has no letter")
	}
	l.lost = append(l.lost, rep)
	return registration.LostResult{
		Voided:      letter.Letter{ID: "letter-" + rep.KVNR, State: letter.Voided, VoidReason: letter.ReasonLost},
		Replacement: letter.Letter{ID: "replacement-" + rep.KVNR, State: letter.HandedOver},
	}, nil
}

type lockouts map[kvnr.KVNR]throttle.Counter

func (l lockouts) PasswordLockout(_ context.Context, k kvnr.KVNR) (throttle.Counter, error) {
	return l[k], nil
}

// auditHook passes AppendAudit on to the store after before, when set,
// had its say.
type auditHook struct {
	*sqlstore.Store
	before func()
}

func (h *auditHook) AppendAudit(ctx context.Context, e audit.Event) error {
	if h.before != nil {
		h.before()
	}
	return h.Store.AppendAudit(ctx, e)
}

type world struct {
	*sqlstore.Store
	audit   *auditHook
	svc     *support.Service
	clock   *coretest.Clock
	b       *bindings
	l       *letters
	secrets client.SecretHasher
}

func newWorld(t *testing.T, declared ...string) *world {
	t.Helper()
	st := sqlstoretest.Open(t)
	w := &world{Store: st, audit: &auditHook{Store: st}, clock: coretest.NewClock(t0), b: &bindings{}, l: &letters{}}
	var err error
	if w.secrets, err = client.NewSecretHasher([]byte("client-secret-hash-key-of-32-bytes")); err != nil {
		t.Fatal(err)
	}
	end, err := sso.NewEnder(sso.Deps{Sessions: st, Audit: st, Now: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	deleter, err := lifecycle.New(lifecycle.Config{}, lifecycle.Deps{Store: st, Sessions: end, Pseudonyms: coretest.LetterHasher(), Now: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	w.svc, err = support.New(support.Deps{
		Accounts: st, Members: st, Search: st, LatestLetters: st, Devices: st, Families: st, ActiveSessions: st,
		Audit: w.audit, AuditQuery: st, Bindings: w.b, Sessions: end, Letters: w.l, Deleter: deleter,
		Lockouts: lockouts{anna.KVNR: {Failures: 3, NotBefore: t0.Add(time.Minute)}},
		Clients:  st, Secrets: w.secrets, Declared: func(id string) bool { return slices.Contains(declared, id) },
		Now: w.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, m := range []member.Member{anna, carl, coretest.Bodo} {
		if err := st.UpsertMember(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// enroll gives member m an account (active) with devices of the given
// ids, and returns the account id.
func (w *world) enroll(t *testing.T, m member.Member, devices ...string) string {
	t.Helper()
	ctx := t.Context()
	sess := enrollment.Session{ID: "enr-" + string(m.KVNR), TokenHash: "th-" + string(m.KVNR), KVNR: m.KVNR,
		Method: proof.Letter, CreatedAt: t0, ExpiresAt: t0.Add(enrollment.TTL)}
	acc, err := w.StartEnrollment(ctx, sess, account.Account{ID: "acct-" + string(m.KVNR), KVNR: m.KVNR, Status: account.Pending,
		Proofing: loa.Substantial, CreatedAt: t0, UpdatedAt: t0}, proof.Proof{Method: proof.Letter, Level: loa.Substantial, KVNR: m.KVNR, Time: t0})
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range devices {
		if i > 0 {
			sess.ID, sess.TokenHash = sess.ID+id, sess.TokenHash+id
			if _, err := w.StartEnrollment(ctx, sess, acc, proof.Proof{Method: proof.Letter, Level: loa.Substantial, KVNR: m.KVNR, Time: t0}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.BindDevice(ctx, device.Binding{ID: id, AccountID: acc.ID, EnrollmentID: sess.ID, Name: "Phone " + id,
			Platform: device.Android, CredentialID: []byte("cred-" + id), PublicKey: []byte("key-" + id), Status: device.Active,
			CreatedAt: t0}, t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.SetAccountStatus(ctx, acc.ID, account.Active, t0); err != nil {
		t.Fatal(err)
	}
	return acc.ID
}

// events returns the audit events of account id of kind k.
func (w *world) events(t *testing.T, accountID string, k audit.Kind) []audit.Event {
	t.Helper()
	es, err := w.QueryAudit(t.Context(), audit.Query{AccountID: accountID, Kinds: []audit.Kind{k}, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// byAgent checks that e names agent as support's.
func byAgent(t *testing.T, e audit.Event) {
	t.Helper()
	if e.Actor != audit.Operator || e.ClientID != agent.ClientID || e.Detail["operator"] != agent.Name {
		t.Fatalf("event %s: actor %s, client %q, operator %q; want the agent", e.Kind, e.Actor, e.ClientID, e.Detail["operator"])
	}
}

func wantCode(t *testing.T, err error, k fault.Kind, code fault.Code) {
	t.Helper()
	if !errors.Is(err, k) {
		t.Fatalf("err = %v, want kind %v", err, k)
	}
	if c := fault.CodedOf(err); code != "" && (c == nil || c.Code != code) {
		t.Fatalf("err = %v, want code %s", err, code)
	}
}

func TestAgentRequired(t *testing.T) {
	w := newWorld(t)
	w.enroll(t, anna, "d1")
	for _, a := range []support.Agent{{}, {ClientID: "support-tool"}, {Name: "Erika"}, {ClientID: "x", Name: "bad\nname"},
		{ClientID: "x", Name: "   "}} {
		_, err := w.svc.MemberStatus(t.Context(), a, anna.KVNR)
		wantCode(t, err, fault.Invalid, support.CodeAgent)
		_, err = w.svc.Lock(t.Context(), a, anna.KVNR, "fraud")
		wantCode(t, err, fault.Invalid, support.CodeAgent)
	}
	if acc, _ := w.AccountByKVNR(t.Context(), anna.KVNR); acc.Status != account.Active {
		t.Fatal("a call without an agent changed the account")
	}
}

func TestSearchMembers(t *testing.T) {
	w := newWorld(t)
	w.enroll(t, anna)
	twin := anna
	twin.KVNR, twin.GivenName = coretest.KVNR("A22222222"), "Anton"
	if err := w.UpsertMember(t.Context(), twin); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		q    support.Search
		want []kvnr.KVNR
		code fault.Code
	}{
		{"by kvnr", support.Search{KVNR: string(anna.KVNR)}, []kvnr.KVNR{anna.KVNR}, ""},
		{"unknown kvnr", support.Search{KVNR: string(coretest.KVNR("Z99999999"))}, nil, ""},
		{"by name and date", support.Search{FamilyName: "schmidt", BirthDate: anna.BirthDate}, []kvnr.KVNR{anna.KVNR, twin.KVNR}, ""},
		{"narrowed by given name", support.Search{FamilyName: "SCHMIDT", GivenName: "anna", BirthDate: anna.BirthDate}, []kvnr.KVNR{anna.KVNR}, ""},
		{"limit", support.Search{FamilyName: "Schmidt", BirthDate: anna.BirthDate, Limit: 1}, []kvnr.KVNR{anna.KVNR}, ""},
		{"other date", support.Search{FamilyName: "Schmidt", BirthDate: "1984-07-10"}, nil, ""},
		{"part of the family name", support.Search{FamilyName: "Schm", BirthDate: anna.BirthDate}, nil, ""},
		{"malformed kvnr", support.Search{KVNR: "A1"}, nil, support.CodeQuery},
		{"name without date", support.Search{FamilyName: "Schmidt"}, nil, support.CodeQuery},
		{"malformed date", support.Search{FamilyName: "Schmidt", BirthDate: "09.07.1984"}, nil, support.CodeQuery},
		{"nothing", support.Search{}, nil, support.CodeQuery},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := w.svc.SearchMembers(t.Context(), agent, tt.q)
			if tt.code != "" {
				wantCode(t, err, fault.Invalid, tt.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ks []kvnr.KVNR
			for _, f := range got {
				ks = append(ks, f.KVNR)
			}
			if !slices.Equal(ks, tt.want) {
				t.Fatalf("found %v, want %v", ks, tt.want)
			}
			if len(got) > 0 && got[0].KVNR == anna.KVNR && (got[0].Registration != support.Registered || got[0].FamilyName != anna.FamilyName) {
				t.Fatalf("found %+v", got[0])
			}
		})
	}
	es, _ := w.QueryAudit(t.Context(), audit.Query{Kinds: []audit.Kind{audit.SupportRead}, Limit: 100})
	if len(es) != 7 { // every search that ran, none of the malformed ones
		t.Fatalf("%d searches audited, want 7", len(es))
	}
	for _, e := range es {
		byAgent(t, e)
		if e.Detail["what"] != "search" || e.Detail["found"] == "" {
			t.Fatalf("search event %+v", e)
		}
	}
}

func TestMemberStatus(t *testing.T) {
	w := newWorld(t)
	id := w.enroll(t, anna, "d1", "d2")
	if _, err := w.UpdateBinding(t.Context(), "d2", func(b *device.Binding) error {
		b.Status, b.PIN.Failures, b.PIN.Blocked = device.Blocked, 5, true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := w.AppendAudit(t.Context(), audit.Event{ID: "login-1", Time: t0, Kind: audit.AppLogin, Actor: audit.Member,
		AccountID: id, ClientID: "app"}); err != nil {
		t.Fatal(err)
	}
	st, err := w.svc.MemberStatus(t.Context(), agent, anna.KVNR)
	if err != nil {
		t.Fatal(err)
	}
	if st.Registration != support.Registered || st.AccountID != id || len(st.Devices) != 2 || !st.Devices[1].PINBlocked ||
		st.PasswordFailures != 3 || len(st.LastLogins) != 1 || st.Member.FamilyName != anna.FamilyName {
		t.Fatalf("status %+v", st)
	}
	if es := w.events(t, id, audit.SupportRead); len(es) != 1 || es[0].Detail["what"] != "status" {
		t.Fatalf("status read audited as %+v", es)
	} else {
		byAgent(t, es[0])
	}
	st, err = w.svc.MemberStatus(t.Context(), agent, carl.KVNR)
	if err != nil || st.Registration != support.NotRegistered || st.HasAccount {
		t.Fatalf("a member without account: %+v, %v", st, err)
	}
	_, err = w.svc.MemberStatus(t.Context(), agent, coretest.KVNR("Z99999999"))
	wantCode(t, err, fault.NotFound, support.CodeUnknownMember)
}

// TestActionAuditedWhenToolGone: the support tool goes away once the
// account is locked (its request is cancelled then); the lock is audited
// all the same.
func TestActionAuditedWhenToolGone(t *testing.T) {
	w := newWorld(t)
	id := w.enroll(t, anna, "d1")
	gone, leave := context.WithCancel(t.Context())
	defer leave()
	w.audit.before = leave
	changed, _ := w.svc.Lock(gone, agent, anna.KVNR, "Verdacht auf Missbrauch")
	w.audit.before = nil
	if acc, _ := w.AccountByID(t.Context(), id); !changed || acc.Status != account.Blocked {
		t.Fatalf("account after lock: %s, changed %t", acc.Status, changed)
	}
	if es := w.events(t, id, audit.AccountLocked); len(es) != 1 {
		t.Fatalf("lock audited as %+v", es)
	}
}

func TestOrderLetter(t *testing.T) {
	w := newWorld(t)
	id := w.enroll(t, anna)
	if _, err := w.svc.OrderLetter(t.Context(), agent, anna.KVNR, true, ""); err == nil {
		t.Fatal("an override without a reason was accepted")
	} else {
		wantCode(t, err, fault.Invalid, support.CodeReason)
	}
	if len(w.l.orders) != 0 {
		t.Fatal("a refused order reached the registration")
	}
	l, err := w.svc.OrderLetter(t.Context(), agent, anna.KVNR, true, "Brief verloren, Mitglied am Telefon verifiziert")
	if err != nil || l.ID == "" {
		t.Fatal(l, err)
	}
	es := w.events(t, id, audit.SupportLetterOrdered)
	if len(es) != 1 || es[0].Detail["interval_overridden"] != "true" || es[0].Detail["reason"] == "" || es[0].Detail["letter"] != l.ID {
		t.Fatalf("letter order audited as %+v", es)
	}
	byAgent(t, es[0])
	w.l.err = fault.New(fault.NotFound, "test", "")
	_, err = w.svc.OrderLetter(t.Context(), agent, coretest.KVNR("Z99999999"), false, "")
	wantCode(t, err, fault.NotFound, support.CodeUnknownMember)
}

// Support reports a letter lost through the registration, with the agent
// as operator and the reason; it needs a reason; the action is audited
// with the agent, the lost letter and the replacement.
func TestReportLetterLost(t *testing.T) {
	w := newWorld(t)
	id := w.enroll(t, anna)
	_, err := w.svc.ReportLetterLost(t.Context(), agent, anna.KVNR, " ")
	wantCode(t, err, fault.Invalid, support.CodeReason)
	_, err = w.svc.ReportLetterLost(t.Context(), support.Agent{ClientID: agent.ClientID}, anna.KVNR, "Brief nicht angekommen")
	wantCode(t, err, fault.Invalid, support.CodeAgent)
	_, err = w.svc.ReportLetterLost(t.Context(), agent, anna.KVNR, "Brief nicht angekommen")
	if !errors.Is(err, fault.NotFound) || len(w.l.lost) != 0 {
		t.Fatalf("a member without a letter: %v, %d reports", err, len(w.l.lost))
	}
	if es := w.events(t, id, audit.SupportLetterLost); len(es) != 0 {
		t.Fatalf("a refused report audited: %+v", es)
	}
	if _, err := w.svc.OrderLetter(t.Context(), agent, anna.KVNR, false, ""); err != nil {
		t.Fatal(err)
	}
	res, err := w.svc.ReportLetterLost(t.Context(), agent, anna.KVNR, " Brief nicht angekommen ")
	if err != nil || res.Replacement.ID == "" {
		t.Fatal(res, err)
	}
	if len(w.l.lost) != 1 || w.l.lost[0] != (registration.LostReport{KVNR: string(anna.KVNR), Operator: agent.Name, Reason: "Brief nicht angekommen"}) {
		t.Fatalf("reports %+v", w.l.lost)
	}
	es := w.events(t, id, audit.SupportLetterLost)
	if len(es) != 1 || es[0].Detail["letter"] != res.Voided.ID || es[0].Detail["replacement"] != res.Replacement.ID ||
		es[0].Detail["reason"] != "Brief nicht angekommen" {
		t.Fatalf("report audited as %+v", es)
	}
	byAgent(t, es[0])
}

// Support reaches only the devices of the member it names: another
// member's device id is NotFound, as an unknown one, and nothing happens.
func TestDevicesOfTheNamedMemberOnly(t *testing.T) {
	w := newWorld(t)
	w.enroll(t, anna, "anna-1", "anna-2")
	bodoID := w.enroll(t, coretest.Bodo, "bodo-1")
	_, err := w.svc.UnblockDevice(t.Context(), agent, anna.KVNR, "bodo-1")
	wantCode(t, err, fault.NotFound, support.CodeUnknownDevice)
	err = w.svc.RevokeDevice(t.Context(), agent, anna.KVNR, "bodo-1")
	wantCode(t, err, fault.NotFound, support.CodeUnknownDevice)
	err = w.svc.RevokeDevice(t.Context(), agent, anna.KVNR, "nope")
	wantCode(t, err, fault.NotFound, support.CodeUnknownDevice)
	if len(w.b.unblocked)+len(w.b.revoked) != 0 {
		t.Fatalf("a foreign device was acted on: %v %v", w.b.unblocked, w.b.revoked)
	}
	if _, err := w.svc.UnblockDevice(t.Context(), agent, coretest.Bodo.KVNR, "bodo-1"); err != nil {
		t.Fatal(err)
	}
	if err := w.svc.RevokeDevice(t.Context(), agent, coretest.Bodo.KVNR, "bodo-1"); err != nil {
		t.Fatal(err)
	}
	want := []string{bodoID + "/bodo-1/" + agent.Name + "/" + agent.ClientID}
	if !slices.Equal(w.b.unblocked, []string{"bodo-1/" + agent.Name + "/" + agent.ClientID}) || !slices.Equal(w.b.revoked, want) {
		t.Fatalf("unblocked %v, revoked %v", w.b.unblocked, w.b.revoked)
	}
	n, err := w.svc.RevokeAllDevices(t.Context(), agent, anna.KVNR)
	if err != nil || n != 2 {
		t.Fatalf("RevokeAllDevices: %d, %v", n, err)
	}
	_, err = w.svc.RevokeAllDevices(t.Context(), agent, carl.KVNR)
	wantCode(t, err, fault.NotFound, support.CodeNoAccount)
}

func TestLockAndUnlock(t *testing.T) {
	w := newWorld(t)
	id := w.enroll(t, anna, "d1")
	ss := session.Session{ID: "sid-1", SecretHash: "sh-1", AccountID: id, Browser: "Firefox", Level: loa.Substantial,
		AuthTime: t0, CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour), IdleUntil: t0.Add(30 * time.Minute)}
	if err := w.CreateSession(t.Context(), ss); err != nil {
		t.Fatal(err)
	}
	_, err := w.svc.Lock(t.Context(), agent, anna.KVNR, "")
	wantCode(t, err, fault.Invalid, support.CodeReason)
	err = w.svc.Unlock(t.Context(), agent, anna.KVNR, "Rückruf")
	wantCode(t, err, fault.Conflict, support.CodeNotLocked)

	changed, err := w.svc.Lock(t.Context(), agent, anna.KVNR, "Verdacht auf Missbrauch")
	if err != nil || !changed {
		t.Fatalf("Lock: %v, %v", changed, err)
	}
	if acc, _ := w.AccountByID(t.Context(), id); acc.Status != account.Blocked || acc.CanLogIn() {
		t.Fatalf("account after lock: %s", acc.Status)
	}
	if cur, _ := w.SessionByID(t.Context(), "sid-1"); cur.EndedAt.IsZero() || cur.EndReason != session.EndSupport {
		t.Fatalf("session after lock: %+v", cur)
	}
	if changed, err := w.svc.Lock(t.Context(), agent, anna.KVNR, "again"); err != nil || changed {
		t.Fatalf("Lock again: %v, %v", changed, err)
	}
	es := w.events(t, id, audit.AccountLocked)
	if len(es) != 1 || es[0].Detail["reason"] != "Verdacht auf Missbrauch" {
		t.Fatalf("lock audited as %+v", es)
	}
	byAgent(t, es[0])
	if err := w.svc.Unlock(t.Context(), agent, anna.KVNR, "Mitglied verifiziert"); err != nil {
		t.Fatal(err)
	}
	if acc, _ := w.AccountByID(t.Context(), id); acc.Status != account.Active {
		t.Fatalf("account after unlock: %s", acc.Status)
	}
	if es := w.events(t, id, audit.AccountUnlocked); len(es) != 1 {
		t.Fatalf("unlock audited as %+v", es)
	} else {
		byAgent(t, es[0])
	}
	_, err = w.svc.Lock(t.Context(), agent, carl.KVNR, "x")
	wantCode(t, err, fault.NotFound, support.CodeNoAccount)
}

func TestEndSessions(t *testing.T) {
	w := newWorld(t)
	id := w.enroll(t, anna)
	for _, sid := range []string{"s1", "s2"} {
		if err := w.CreateSession(t.Context(), session.Session{ID: sid, SecretHash: "h" + sid, AccountID: id, Level: loa.Substantial,
			AuthTime: t0, CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour), IdleUntil: t0.Add(30 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := w.svc.EndSessions(t.Context(), agent, anna.KVNR)
	if err != nil || n != 2 {
		t.Fatalf("EndSessions: %d, %v", n, err)
	}
	es := w.events(t, id, audit.SupportSessionsEnded)
	if len(es) != 1 || es[0].Detail["sessions"] != "2" {
		t.Fatalf("audited as %+v", es)
	}
	byAgent(t, es[0])
}

func TestAudit(t *testing.T) {
	w := newWorld(t)
	id := w.enroll(t, anna)
	for i, k := range []audit.Kind{audit.AppLogin, audit.WebLogin, audit.PINFailed} {
		if err := w.AppendAudit(t.Context(), audit.Event{ID: string(k), Time: t0.Add(time.Duration(i) * time.Hour), Kind: k,
			Actor: audit.Member, AccountID: id}); err != nil {
			t.Fatal(err)
		}
	}
	es, err := w.svc.Audit(t.Context(), agent, support.AuditQuery{KVNR: string(anna.KVNR), Kinds: []string{"login.app", "login.web"},
		From: t0, To: t0.Add(2 * time.Hour)})
	if err != nil || len(es) != 2 || es[0].Kind != audit.WebLogin {
		t.Fatalf("Audit: %+v, %v", es, err)
	}
	for _, q := range []support.AuditQuery{
		{Kinds: []string{"nope"}},
		{From: t0, To: t0},
		{KVNR: "nope"},
	} {
		_, err := w.svc.Audit(t.Context(), agent, q)
		wantCode(t, err, fault.Invalid, support.CodeQuery)
	}
	if es := w.events(t, id, audit.SupportRead); len(es) != 1 || es[0].Detail["what"] != "audit" {
		t.Fatalf("query audited as %+v", es)
	}
}

func TestClients(t *testing.T) {
	w := newWorld(t, "declared")
	ctx := t.Context()
	for _, c := range []client.Client{
		{ID: "svc", Name: "Backend", Kind: client.Service, AuthMethod: client.AuthSecretPost, SecretHash: w.secrets.Hash("old"),
			GrantTypes: []string{client.GrantClientCredentials}, CreatedAt: t0},
		{ID: "declared", Name: "Formulare", Kind: client.Web, AuthMethod: client.AuthSecretBasic, SecretHash: w.secrets.Hash("x"),
			RedirectURIs: []string{"https://forms.example/cb"}, GrantTypes: []string{client.GrantCode}, CreatedAt: t0},
		{ID: "web", Name: "Web", Kind: client.Web, AuthMethod: client.AuthSecretBasic, SecretHash: w.secrets.Hash("x"),
			RedirectURIs: []string{"https://web.example/cb"}, GrantTypes: []string{client.GrantCode}, CreatedAt: t0},
	} {
		if err := w.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	uris := []string{"https://web.example/new"}
	name := "Neuer Name"
	v, err := w.svc.EditClient(ctx, agent, "web", support.ClientEdit{Name: &name, RedirectURIs: &uris})
	if err != nil || v.Name != name || !slices.Equal(v.RedirectURIs, uris) {
		t.Fatalf("EditClient: %+v, %v", v, err)
	}
	bad := []string{"not a uri"}
	_, err = w.svc.EditClient(ctx, agent, "web", support.ClientEdit{RedirectURIs: &bad})
	wantCode(t, err, fault.Invalid, support.CodeClientInvalid)
	if c, _ := w.ClientByID(ctx, "web"); !slices.Equal(c.RedirectURIs, uris) {
		t.Fatalf("a refused edit changed the client: %v", c.RedirectURIs)
	}
	_, err = w.svc.EditClient(ctx, agent, "declared", support.ClientEdit{Name: &name})
	wantCode(t, err, fault.Conflict, support.CodeClientDeclared)
	_, err = w.svc.EditClient(ctx, agent, "nope", support.ClientEdit{Name: &name})
	wantCode(t, err, fault.NotFound, support.CodeUnknownClient)

	secret, v, err := w.svc.RotateSecret(ctx, agent, "svc", time.Time{}, false)
	if err != nil || len(secret) < client.MinSecretLength || !v.PreviousSecretUntil.Equal(t0.Add(client.DefaultRollover)) {
		t.Fatalf("RotateSecret: %+v, %v", v, err)
	}
	c, _ := w.ClientByID(ctx, "svc")
	if !w.secrets.Verify(secret, c.SecretHash) || !w.secrets.Verify("old", c.PreviousSecretHash) || !c.RolloverOpen(t0) {
		t.Fatal("the rotation did not keep the old secret beside the new one")
	}
	_, _, err = w.svc.RotateSecret(ctx, agent, "svc", t0.Add(client.MaxRollover+time.Hour), false)
	wantCode(t, err, fault.Invalid, "")
	if had, err := w.svc.FinishRollover(ctx, agent, "svc"); err != nil || !had {
		t.Fatalf("FinishRollover: %v, %v", had, err)
	}
	if c, _ := w.ClientByID(ctx, "svc"); c.PreviousSecretHash != "" || !w.secrets.Verify(secret, c.SecretHash) {
		t.Fatal("the rollover did not end")
	}
	if had, err := w.svc.FinishRollover(ctx, agent, "svc"); err != nil || had {
		t.Fatalf("FinishRollover again: %v, %v", had, err)
	}
	es, _ := w.QueryAudit(ctx, audit.Query{Kinds: []audit.Kind{audit.ClientChanged}, Limit: 10})
	if len(es) != 4 {
		t.Fatalf("%d client changes audited, want 4 (edit, rotation, two finishes)", len(es))
	}
	for _, e := range es {
		byAgent(t, e)
		for _, v := range e.Detail {
			if v == secret {
				t.Fatal("the secret is in the audit log")
			}
		}
	}
}
