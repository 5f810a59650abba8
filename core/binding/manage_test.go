package binding_test

import (
	"errors"
	"github.com/pforte-id/pforte/catalog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/binding"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
)

// twoPhones enrolls anna with two phones and authenticates the first.
func twoPhones(t *testing.T, f *fixture) (me device.Binding, ph2 *phone, b2 device.Binding) {
	t.Helper()
	ph1, b1 := f.enrolled(t, anna, "Erstes Handy")
	f.w.clock.Advance(time.Hour)
	ph2, b2 = f.enrolled(t, anna, "Zweites Handy")
	me, err := f.auth(t, ph1, b1.ID, goodPIN)
	if err != nil {
		t.Fatal(err)
	}
	return me, ph2, b2
}

func TestDeviceViewHasNoSecrets(t *testing.T) {
	for _, field := range reflect.VisibleFields(reflect.TypeFor[binding.Device]()) {
		name := strings.ToLower(field.Name)
		for _, secret := range []string{"key", "hash", "credential", "counter", "count", "aaguid"} {
			if strings.Contains(name, secret) {
				t.Errorf("binding.Device.%s shows a secret or key material", field.Name)
			}
		}
	}
}

func TestListDevices(t *testing.T) {
	f := setup(t)
	me, _, b2 := twoPhones(t, f)
	_, bodoBinding := f.enrolled(t, bodo, "Bodos Phone")
	ds, err := f.svc.ListDevices(ctx, me)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[0].ID != me.ID || ds[1].ID != b2.ID {
		t.Fatalf("devices %+v", ds)
	}
	want := binding.Device{
		ID: me.ID, Name: "Erstes Handy", Platform: device.Android, Status: device.Active, PINSet: true,
		CreatedAt: t0, LastUsedAt: t0.Add(time.Hour), Current: true,
		ReconfirmBy: t0.Add(device.DefaultReconfirmPeriod),
	}
	if ds[0] != want {
		t.Fatalf("device %+v, want %+v", ds[0], want)
	}
	if ds[1].Current || ds[1].ID == bodoBinding.ID {
		t.Fatalf("second device %+v", ds[1])
	}
	// Revoked devices are gone from the member's list.
	if err := f.svc.RevokeDevice(ctx, me, b2.ID, clientIP); err != nil {
		t.Fatal(err)
	}
	if ds, _ := f.svc.ListDevices(ctx, me); len(ds) != 1 {
		t.Fatalf("after revoking: %+v", ds)
	}
}

func TestManagementNeedsAnActiveBinding(t *testing.T) {
	f := setup(t)
	me, _, b2 := twoPhones(t, f)
	for name, b := range map[string]device.Binding{
		"zero binding":        {},
		"forged account id":   {ID: me.ID, AccountID: "someone-else"},
		"binding without PIN": f.w.binding(f.bind(t, first(f.session(t, anna, true)), newPhone(), "Half").ID),
	} {
		_, err := f.svc.ListDevices(ctx, b)
		wantKind(t, name, err, fault.Forbidden)
		wantKind(t, name, f.svc.RenameDevice(ctx, b, b2.ID, "X", clientIP), fault.Forbidden)
		wantKind(t, name, f.svc.RevokeDevice(ctx, b, b2.ID, clientIP), fault.Forbidden)
		_, err = f.svc.RevokeOtherDevices(ctx, b, clientIP)
		wantKind(t, name, err, fault.Forbidden)
	}
	// A binding that was blocked after it authenticated can no longer act.
	x := f.w.binding(me.ID)
	x.Status = device.Blocked
	f.w.setBinding(x)
	_, err := f.svc.ListDevices(ctx, me)
	wantKind(t, "blocked meanwhile", err, fault.Forbidden)
}

func first[A, B any](a A, _ B) A { return a }

func TestRenameDevice(t *testing.T) {
	f := setup(t)
	me, _, b2 := twoPhones(t, f)
	_, bodoBinding := f.enrolled(t, bodo, "Bodos Phone")
	before := len(f.w.sent())
	if err := f.svc.RenameDevice(ctx, me, b2.ID, " Tablet ", clientIP); err != nil {
		t.Fatal(err)
	}
	if got := f.w.binding(b2.ID).Name; got != "Tablet" {
		t.Fatalf("name %q", got)
	}
	events := f.w.auditEvents()
	e := events[len(events)-1]
	if e.Kind != audit.DeviceRenamed || e.Detail["old_name"] != "Zweites Handy" || e.Detail["name"] != "Tablet" ||
		e.Detail["by_binding"] != me.ID || e.IPHash == "" {
		t.Fatalf("audit %+v", e)
	}
	msgs := f.w.sent()[before:]
	if len(msgs) != 1 || !strings.Contains(msgs[0].Body, "„Zweites Handy“ heißt seit") || msgs[0].To != anna.Email {
		t.Fatalf("notifications %+v", msgs)
	}
	// The same name again changes nothing.
	n := len(f.w.auditEvents())
	if err := f.svc.RenameDevice(ctx, me, b2.ID, "Tablet", clientIP); err != nil || len(f.w.auditEvents()) != n {
		t.Fatalf("same name: %v, %d events", err, len(f.w.auditEvents())-n)
	}

	wantKind(t, "bad name", f.svc.RenameDevice(ctx, me, b2.ID, "a\nb", clientIP), fault.Invalid)
	err := f.svc.RenameDevice(ctx, me, bodoBinding.ID, "Mine now", clientIP)
	wantKind(t, "another member's device", err, fault.NotFound)
	if f.w.binding(bodoBinding.ID).Name != "Bodos Phone" {
		t.Fatal("another member's device renamed")
	}
	wantKind(t, "unknown device", f.svc.RenameDevice(ctx, me, "no-such", "X", clientIP), fault.NotFound)
	if err := f.svc.RevokeDevice(ctx, me, b2.ID, clientIP); err != nil {
		t.Fatal(err)
	}
	wantKind(t, "revoked device", f.svc.RenameDevice(ctx, me, b2.ID, "Old", clientIP), fault.Conflict)
}

func TestRevokeDevice(t *testing.T) {
	f := setup(t)
	me, ph2, b2 := twoPhones(t, f)
	_, bodoBinding := f.enrolled(t, bodo, "Bodos Phone")
	login, mine, bodos := f.w.appLogin(t, b2), f.w.appLogin(t, me), f.w.appLogin(t, bodoBinding)
	f.w.clock.Advance(time.Minute)
	before := len(f.w.sent())
	if err := f.svc.RevokeDevice(ctx, me, b2.ID, clientIP); err != nil {
		t.Fatal(err)
	}
	got := f.w.binding(b2.ID)
	if got.Status != device.Revoked || !got.RevokedAt.Equal(f.w.clock.Now()) {
		t.Fatalf("after revoking: %s %v", got.Status, got.RevokedAt)
	}
	events := f.w.auditEvents()
	if e := events[len(events)-1]; e.Kind != audit.DeviceRevoked || e.Detail["binding"] != b2.ID || e.IPHash == "" {
		t.Fatalf("audit %+v", e)
	}
	msgs := f.w.sent()[before:]
	if len(msgs) != 1 || msgs[0].Kind != string(audit.DeviceRevoked) || !strings.Contains(msgs[0].Body, "„Zweites Handy“ wurde am") {
		t.Fatalf("notifications %+v", msgs)
	}
	// Its app logins end, at the service's clock; no other's do.
	if got := f.w.loginEndedAt(t, login); !got.Equal(f.w.clock.Now()) {
		t.Fatalf("app login of the revoked device ended at %v, want %v", got, f.w.clock.Now())
	}
	if !f.w.loginEndedAt(t, mine).IsZero() || !f.w.loginEndedAt(t, bodos).IsZero() {
		t.Fatal("the app logins of other devices ended")
	}
	// Effective at once: the revoked phone cannot start a login.
	_, _, err := f.svc.BeginDeviceAuth(ctx, b2.ID)
	wantKind(t, "revoked phone", err, fault.Forbidden)
	_ = ph2
	// Idempotent, and not recorded twice.
	n := len(f.w.auditEvents())
	if err := f.svc.RevokeDevice(ctx, me, b2.ID, clientIP); err != nil || len(f.w.auditEvents()) != n {
		t.Fatalf("second revoke: %v", err)
	}
	wantKind(t, "another member's device", f.svc.RevokeDevice(ctx, me, bodoBinding.ID, clientIP), fault.NotFound)
	if f.w.binding(bodoBinding.ID).Status != device.Active {
		t.Fatal("another member's device revoked")
	}
	// The current device may revoke itself; then it can do nothing more.
	if err := f.svc.RevokeDevice(ctx, me, me.ID, clientIP); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.ListDevices(ctx, me)
	wantKind(t, "after revoking itself", err, fault.Forbidden)
}

// When the app logins cannot be ended, the binding is revoked all the same
// (recorded and told) and RevokeDevice says Unavailable; calling it again
// ends them.
func TestRevokeDeviceEndsLoginsOnRetry(t *testing.T) {
	f := setup(t)
	me, _, b2 := twoPhones(t, f)
	login := f.w.appLogin(t, b2)
	f.w.setInject(func(m string) error {
		if m == "RevokeFamiliesOfBinding" {
			return fault.New(fault.Unavailable, "fake", "")
		}
		return nil
	})
	err := f.svc.RevokeDevice(ctx, me, b2.ID, clientIP)
	f.w.setInject(nil)
	wantKind(t, "revoke while the token store is down", err, fault.Unavailable)
	if got := f.w.binding(b2.ID); got.Status != device.Revoked {
		t.Fatalf("binding after a failed ending of its logins: %s", got.Status)
	}
	if k := f.w.auditKinds(); k[len(k)-1] != audit.DeviceRevoked {
		t.Fatalf("audit %v", k)
	}
	if got := f.w.loginEndedAt(t, login); !got.IsZero() {
		t.Fatalf("app login ended at %v", got)
	}
	f.w.clock.Advance(time.Minute)
	if err := f.svc.RevokeDevice(ctx, me, b2.ID, clientIP); err != nil {
		t.Fatalf("second revoke: %v", err)
	}
	if got := f.w.loginEndedAt(t, login); !got.Equal(f.w.clock.Now()) {
		t.Fatalf("app login ended at %v, want %v", got, f.w.clock.Now())
	}
}

func TestRevokeOtherDevices(t *testing.T) {
	f := setup(t)
	me, _, b2 := twoPhones(t, f)
	_, b3 := f.enrolled(t, anna, "Drittes Handy")
	_, bodoBinding := f.enrolled(t, bodo, "Bodos Phone")
	before := len(f.w.sent())
	n, err := f.svc.RevokeOtherDevices(ctx, me, clientIP)
	if err != nil || n != 2 {
		t.Fatalf("RevokeOtherDevices: %d, %v", n, err)
	}
	for _, id := range []string{b2.ID, b3.ID} {
		if f.w.binding(id).Status != device.Revoked {
			t.Fatalf("%s not revoked", id)
		}
	}
	if f.w.binding(me.ID).Status != device.Active || f.w.binding(bodoBinding.ID).Status != device.Active {
		t.Fatal("revoked too much")
	}
	events := f.w.auditEvents()
	if e := events[len(events)-1]; e.Kind != audit.DeviceRevoked || e.Detail["count"] != "2" || e.Detail["kept_binding"] != me.ID ||
		e.IPHash == "" {
		t.Fatalf("audit %+v", e)
	}
	if msgs := f.w.sent()[before:]; len(msgs) != 1 || !strings.Contains(msgs[0].Body, "2 Geräte") {
		t.Fatalf("notifications %+v", msgs)
	}
	// Nothing left to revoke: nothing recorded or sent.
	k, m := len(f.w.auditEvents()), len(f.w.sent())
	if n, err := f.svc.RevokeOtherDevices(ctx, me, clientIP); err != nil || n != 0 || len(f.w.auditEvents()) != k || len(f.w.sent()) != m {
		t.Fatalf("second time: %d, %v", n, err)
	}
}

func TestUnblockDevice(t *testing.T) {
	f := setup(t)
	ph, b := f.enrolled(t, anna, "Phone")
	for range 5 {
		_, _ = f.auth(t, ph, b.ID, otherPIN)
	}
	wantKind(t, "no operator", f.svc.UnblockDevice(ctx, b.ID, " "), fault.Invalid)
	wantKind(t, "unknown binding", f.svc.UnblockDevice(ctx, "no-such", operatorName), fault.NotFound)
	if err := f.svc.UnblockDevice(ctx, b.ID, operatorName); err != nil {
		t.Fatal(err)
	}
	got := f.w.binding(b.ID)
	if got.Status != device.Active || got.PIN.Failures != 0 || got.PIN.Blocked {
		t.Fatalf("after unblock: %s %+v", got.Status, got.PIN)
	}
	events := f.w.auditEvents()
	e := events[len(events)-1]
	if e.Kind != audit.DeviceUnblocked || e.Actor != audit.Operator || e.Detail["operator"] != operatorName ||
		e.ClientID != binding.OperatorClientID {
		t.Fatalf("audit %+v", e)
	}
	msgs := f.w.sent()
	if m := msgs[len(msgs)-1]; m.Kind != string(audit.DeviceUnblocked) || !strings.Contains(m.Body, "Kundenservice") {
		t.Fatalf("notification %+v", m)
	}
	if _, err := f.auth(t, ph, b.ID, goodPIN); err != nil {
		t.Fatalf("after unblock: %v", err)
	}
	// Nothing to do: nothing recorded.
	n := len(f.w.auditEvents())
	if err := f.svc.UnblockDevice(ctx, b.ID, operatorName); err != nil || len(f.w.auditEvents()) != n {
		t.Fatalf("unblocking an active binding: %v", err)
	}
	// A suspect binding stays suspect.
	x := f.w.binding(b.ID)
	x.Status = device.Suspect
	f.w.setBinding(x)
	wantKind(t, "suspect", f.svc.UnblockDevice(ctx, b.ID, operatorName), fault.Conflict)
}

func TestOperatorViews(t *testing.T) {
	f := setup(t)
	me, _, b2 := twoPhones(t, f)
	// Later than the events of the enrollments: the log is ordered by time.
	f.w.clock.Advance(time.Minute)
	if err := f.svc.RevokeDevice(ctx, me, b2.ID, clientIP); err != nil {
		t.Fatal(err)
	}
	ds, err := f.svc.AccountDevices(ctx, me.AccountID)
	if err != nil || len(ds) != 2 || ds[1].Status != device.Revoked || ds[1].RevokedAt.IsZero() || ds[0].Current {
		t.Fatalf("AccountDevices: %+v, %v", ds, err)
	}
	_, err = f.svc.AccountDevices(ctx, "")
	wantKind(t, "no account", err, fault.Invalid)

	all, err := f.svc.AuditLog(ctx, me.AccountID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 7 || all[0].Kind != audit.DeviceRevoked {
		t.Fatalf("audit log %v, newest first", kinds(all))
	}
	two, _ := f.svc.AuditLog(ctx, me.AccountID, 2)
	if !slices.Equal(kinds(two), kinds(all[:2])) {
		t.Fatalf("limit 2: %v", kinds(two))
	}
	for _, e := range all {
		if e.AccountID != me.AccountID {
			t.Fatalf("another account's event %+v", e)
		}
	}
	_, err = f.svc.AuditLog(ctx, "", 10)
	wantKind(t, "no account", err, fault.Invalid)
}

func kinds(es []audit.Event) []audit.Kind {
	var out []audit.Kind
	for _, e := range es {
		out = append(out, e.Kind)
	}
	return out
}

func TestAuditIPHash(t *testing.T) {
	f := setup(t)
	ph, b := f.enrolled(t, anna, "Phone")
	for _, ip := range []string{"203.0.113.7", "::ffff:203.0.113.7", "203.0.113.7:4711", "198.51.100.1"} {
		id, resp := f.challenge(t, ph, b.ID)
		_, _ = f.svc.AuthenticateDevice(ctx, id, resp, otherPIN, ip)
	}
	var hashes []string
	for _, e := range f.w.auditEvents() {
		if e.Kind == audit.PINFailed {
			hashes = append(hashes, e.IPHash)
		}
	}
	if len(hashes) != 4 || hashes[0] != hashes[1] || hashes[0] != hashes[2] || hashes[0] == hashes[3] {
		t.Fatalf("IP hashes %v: one address must hash alike in every spelling", hashes)
	}
	for _, h := range hashes {
		if strings.Contains(h, "203.0") || len(h) < 20 {
			t.Fatalf("IP hash %q", h)
		}
	}
	// Another key gives other hashes: they are keyed.
	cfg := f.cfg
	cfg.IPKey = []byte(strings.Repeat("another-ip-key-", 3))
	svc, err := binding.New(cfg, f.deps)
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	_, _ = f.auth(t, ph, b.ID, otherPIN)
	es := f.w.auditEvents()
	if last := es[len(es)-1]; last.IPHash == hashes[0] || last.IPHash == "" {
		t.Fatalf("hash %q under another key", last.IPHash)
	}
}

// TestNotificationsNeverContainThePIN walks through every notification
// and checks the text: German first, English after it, no PIN, no
// password, no token.
func TestNotificationsNeverContainThePIN(t *testing.T) {
	f := setup(t)
	token, _ := f.session(t, anna, true)
	ph := newPhone()
	b := f.bind(t, token, ph, "Annas Pixel")
	if _, err := f.svc.SetPIN(ctx, token, goodPIN, clientIP); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		_, _ = f.auth(t, ph, b.ID, otherPIN)
	}
	id, resp := f.challenge(t, ph, b.ID)
	if err := f.svc.ResetPIN(ctx, id, resp, userPassword, thirdPIN, clientIP); err != nil {
		t.Fatal(err)
	}
	me, err := f.auth(t, ph, b.ID, thirdPIN)
	if err != nil {
		t.Fatal(err)
	}
	_ = f.svc.RenameDevice(ctx, me, me.ID, "Annas Telefon", clientIP)
	// A request in English gets its notification in English.
	_ = f.svc.RenameDevice(catalog.WithPrinter(ctx, catalog.English), me, me.ID, "Annas Phone", clientIP)
	ph2, b2 := f.enrolled(t, anna, "Zweites")
	_, _ = ph2, b2
	_, _ = f.svc.RevokeOtherDevices(ctx, me, clientIP)
	_ = f.svc.RevokeDevice(ctx, me, me.ID, clientIP)

	msgs := f.w.sent()
	var got []string
	for _, m := range msgs {
		got = append(got, m.Kind)
		if m.Subject == "Device renamed" {
			if !strings.Contains(m.Body, "“Annas Telefon” has been called “Annas Phone” since 02.03.2026 at 11:00 (German time)") ||
				!strings.Contains(m.Body, "If this was not you") || strings.Contains(m.Body, "Sie") {
				t.Errorf("%s: not English: %q", m.Kind, m.Body)
			}
		} else if !strings.Contains(m.Body, "Sie") || strings.Contains(m.Body, "you") || strings.Contains(m.Subject, " / ") {
			t.Errorf("%s: not German alone: %q / %q", m.Kind, m.Subject, m.Body)
		}
		for _, secret := range []string{goodPIN, otherPIN, thirdPIN, userPassword, token} {
			if strings.Contains(m.Subject+m.Body, secret) {
				t.Errorf("%s contains a secret", m.Kind)
			}
		}
		if m.To != anna.Email {
			t.Errorf("%s to %q", m.Kind, m.To)
		}
	}
	for _, k := range []audit.Kind{audit.DeviceBound, audit.EnrollmentCompleted, audit.PINLocked, audit.PINSet,
		audit.DeviceRenamed, audit.DeviceRevoked} {
		if !slices.Contains(got, string(k)) {
			t.Errorf("no notification of kind %s in %v", k, got)
		}
	}
}

func TestNoNotificationWithoutAddressOrNotifier(t *testing.T) {
	f := setup(t)
	f.enrolled(t, bodo, "Bodos Phone") // no e-mail on file
	if msgs := f.w.sent(); len(msgs) != 0 {
		t.Fatalf("sent %+v", msgs)
	}
	g := setup(t, func(_ *binding.Config, d *binding.Deps) { d.Notifier = nil })
	g.enrolled(t, anna, "Phone")
	if msgs := g.w.sent(); len(msgs) != 0 {
		t.Fatalf("sent without a notifier: %+v", msgs)
	}
}

func TestFailuresAfterTheChangeDoNotFailTheMember(t *testing.T) {
	f := setup(t)
	f.w.setInject(func(m string) error {
		if m == "Notify" || m == "AppendAudit" {
			return fault.New(fault.Unavailable, "fake", "")
		}
		return nil
	})
	ph, b := f.enrolled(t, anna, "Phone")
	if _, err := f.auth(t, ph, b.ID, goodPIN); err != nil {
		t.Fatal(err)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "audit event lost") || !strings.Contains(logs, "notification not sent") {
		t.Fatalf("losses not logged: %s", logs)
	}
	// The completion's own event is part of its transaction.
	if !slices.Contains(f.w.auditKinds(), audit.EnrollmentCompleted) {
		t.Fatal("completion event missing")
	}
}

func TestStoreOutagesSurface(t *testing.T) {
	f := setup(t)
	ph, b := f.enrolled(t, anna, "Phone")
	down := fault.New(fault.Unavailable, "fake", "")
	for _, m := range []string{"ConsumeChallenge", "BindingByID", "UpdateBinding", "AccountByID"} {
		id, resp := f.challenge(t, ph, b.ID)
		f.w.setInject(func(x string) error {
			if x == m {
				return down
			}
			return nil
		})
		_, err := f.svc.AuthenticateDevice(ctx, id, resp, otherPIN, clientIP)
		f.w.setInject(nil)
		if !errors.Is(err, fault.Unavailable) {
			t.Errorf("%s down: %v", m, err)
		}
	}
	if got := f.w.binding(b.ID).PIN.Failures; got != 0 {
		t.Fatalf("an outage counted %d PIN failures", got)
	}
}

// The account page's variants: the member logged in with two factors in a
// browser names the account; the device must be that account's, and the
// audit names the account page's client instead of a binding.
func TestMemberDeviceManagement(t *testing.T) {
	f := setup(t)
	me, _, b2 := twoPhones(t, f)
	_, bodoBinding := f.enrolled(t, bodo, "Bodos Phone")
	login := f.w.appLogin(t, b2)
	const page = "pforte-account"

	ds, err := f.svc.MemberDevices(ctx, me.AccountID)
	if err != nil || len(ds) != 2 || ds[0].Current || ds[1].Current || ds[1].ID != b2.ID {
		t.Fatalf("MemberDevices: %+v, %v", ds, err)
	}
	before := len(f.w.sent())
	if err := f.svc.RenameMemberDevice(ctx, me.AccountID, b2.ID, "Tablet", clientIP, page); err != nil {
		t.Fatal(err)
	}
	events := f.w.auditEvents()
	if e := events[len(events)-1]; e.Kind != audit.DeviceRenamed || e.ClientID != page || e.Actor != audit.Member ||
		e.Detail["by_binding"] != "" || e.Detail["name"] != "Tablet" || e.IPHash == "" {
		t.Fatalf("audit %+v", e)
	}
	for name, err := range map[string]error{
		"rename another member's device": f.svc.RenameMemberDevice(ctx, me.AccountID, bodoBinding.ID, "Mine", clientIP, page),
		"revoke another member's device": f.svc.RevokeMemberDevice(ctx, me.AccountID, bodoBinding.ID, clientIP, page),
		"no account":                     f.svc.RevokeMemberDevice(ctx, "", bodoBinding.ID, clientIP, page),
		"unknown device":                 f.svc.RevokeMemberDevice(ctx, me.AccountID, "no-such", clientIP, page),
	} {
		wantKind(t, name, err, fault.NotFound)
	}
	if b := f.w.binding(bodoBinding.ID); b.Status != device.Active || b.Name != "Bodos Phone" {
		t.Fatalf("another member's device changed: %+v", b)
	}
	wantKind(t, "bad name", f.svc.RenameMemberDevice(ctx, me.AccountID, b2.ID, "a\nb", clientIP, page), fault.Invalid)

	if err := f.svc.RevokeMemberDevice(ctx, me.AccountID, b2.ID, clientIP, page); err != nil {
		t.Fatal(err)
	}
	if f.w.binding(b2.ID).Status != device.Revoked || f.w.loginEndedAt(t, login).IsZero() {
		t.Fatal("the revoked device or its app login lives on")
	}
	events = f.w.auditEvents()
	if e := events[len(events)-1]; e.Kind != audit.DeviceRevoked || e.ClientID != page || e.Detail["binding"] != b2.ID {
		t.Fatalf("audit %+v", e)
	}
	if msgs := f.w.sent()[before:]; len(msgs) != 2 || msgs[1].Kind != string(audit.DeviceRevoked) {
		t.Fatalf("notifications %+v", msgs)
	}
	if ds, _ := f.svc.MemberDevices(ctx, me.AccountID); len(ds) != 1 || ds[0].ID != me.ID {
		t.Fatalf("after revoking: %+v", ds)
	}
}

// Support revokes a member's lost phone: it cannot log in any more, the
// event names the operator and the client, the member is told, and
// another member's device is out of reach.
func TestRevokeDeviceBy(t *testing.T) {
	f := setup(t)
	_, b := f.enrolled(t, anna, "Phone")
	_, other := f.enrolled(t, bodo, "Bodo's phone")
	wantKind(t, "no operator", f.svc.RevokeDeviceBy(ctx, b.AccountID, b.ID, "", "support-tool"), fault.Invalid)
	wantKind(t, "another member's device", f.svc.RevokeDeviceBy(ctx, b.AccountID, other.ID, operatorName, "support-tool"), fault.NotFound)
	if got := f.w.binding(other.ID); got.Status != device.Active {
		t.Fatalf("another member's device is %s", got.Status)
	}
	if err := f.svc.RevokeDeviceBy(ctx, b.AccountID, b.ID, operatorName, "support-tool"); err != nil {
		t.Fatal(err)
	}
	if got := f.w.binding(b.ID); got.Status != device.Revoked {
		t.Fatalf("after revoke: %s", got.Status)
	}
	events := f.w.auditEvents()
	e := events[len(events)-1]
	if e.Kind != audit.DeviceRevoked || e.Actor != audit.Operator || e.Detail["operator"] != operatorName || e.ClientID != "support-tool" {
		t.Fatalf("audit %+v", e)
	}
	if _, _, err := f.svc.BeginDeviceAuth(ctx, b.ID); err == nil {
		t.Fatal("a revoked device may begin to authenticate")
	}
	n := len(f.w.auditEvents())
	if err := f.svc.RevokeDeviceBy(ctx, b.AccountID, b.ID, operatorName, "support-tool"); err != nil || len(f.w.auditEvents()) != n {
		t.Fatalf("revoking again: %v, %d events more", err, len(f.w.auditEvents())-n)
	}
}
