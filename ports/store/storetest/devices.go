package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/enrollment"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/pin"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/ports/store"
)

// enrolled starts enrollment session id of member i (account acct-i, created
// by the first session of the member) and returns it as stored.
func enrolled(t *testing.T, s store.Enrollments, id string, i int) enrollment.Session {
	t.Helper()
	k := kvnrOf(i)
	sess := newSession(id, k)
	a, err := s.StartEnrollment(t.Context(), sess, pendingAccount(fmt.Sprintf("acct-%d", i), k, loa.Substantial),
		newProof(k, proof.Letter, loa.Substantial, t0))
	must(t, "StartEnrollment", err)
	sess.AccountID = a.ID
	return sess
}

// newBinding is a binding of session sess with every field set. The
// credential id has a NUL and a 0xff byte; the sign counter does not fit
// in 31 bits.
func newBinding(id string, sess enrollment.Session) device.Binding {
	return device.Binding{
		ID:                id,
		AccountID:         sess.AccountID,
		EnrollmentID:      sess.ID,
		Name:              "Pixel 9 von Jürgen",
		Platform:          device.Android,
		CredentialID:      append([]byte{0x00, 0xff, 0x80}, "cred-"+id...),
		PublicKey:         []byte{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x00, 'k', id[len(id)-1]},
		SignCount:         4_000_000_000,
		AAGUID:            []byte{0xb9, 0x3f, 0xd9, 0x61, 0xf2, 0xe6, 0x46, 0x2f, 0xb1, 0x22, 0x82, 0x00, 0x2b, 0xd1, 0x6f, 0x00},
		AttestationFormat: "android-key",
		Status:            device.Active,
		PINHash:           "v1:pin-hash-" + id,
		PIN:               pin.Counter{Failures: 2, NotBefore: t0.Add(90 * time.Second)},
		CreatedAt:         t0.Add(time.Minute),
		LastUsedAt:        t0.Add(2 * time.Minute),
		PINSetAt:          t0.Add(time.Minute + time.Second),
		ConfirmedAt:       t0.Add(time.Minute + 2*time.Second),
	}
}

// freshBinding is a binding as the enrollment stores it: no PIN yet.
func freshBinding(id string, sess enrollment.Session, at time.Time) device.Binding {
	b := newBinding(id, sess)
	b.PINHash, b.PIN, b.PINSetAt, b.LastUsedAt, b.SignCount = "", pin.Counter{}, time.Time{}, time.Time{}, 0
	b.ConfirmedAt = time.Time{}
	b.CreatedAt = at
	return b
}

func bindingByID(t *testing.T, s store.Devices, id string) device.Binding {
	t.Helper()
	b, err := s.BindingByID(t.Context(), id)
	must(t, "BindingByID "+id, err)
	return b
}

func bindingIDs(bs []device.Binding) []string {
	var ids []string
	for _, b := range bs {
		ids = append(ids, b.ID)
	}
	return ids
}

var deviceTests = []test[DeviceStore]{
	{"BindAndRead", func(t *testing.T, s DeviceStore) {
		ctx := t.Context()
		sess := enrolled(t, s, "enr-1", 1)
		b := newBinding("bind-1", sess)
		must(t, "BindDevice", s.BindDevice(ctx, b, t0.Add(time.Minute)))

		equal(t, "BindingByID", b, bindingByID(t, s, b.ID))
		got, err := s.BindingByCredentialID(ctx, bytes.Clone(b.CredentialID))
		must(t, "BindingByCredentialID", err)
		equal(t, "BindingByCredentialID", b, got)
		list, err := s.ListBindings(ctx, sess.AccountID)
		must(t, "ListBindings", err)
		equal(t, "ListBindings", []device.Binding{b}, list)

		_, err = s.BindingByID(ctx, "bind-nope")
		wantKind(t, "BindingByID unknown", err, fault.NotFound)
		_, err = s.BindingByCredentialID(ctx, b.CredentialID[:len(b.CredentialID)-1])
		wantKind(t, "BindingByCredentialID of a prefix", err, fault.NotFound)
		_, err = s.BindingByCredentialID(ctx, nil)
		wantKind(t, "BindingByCredentialID empty", err, fault.NotFound)
		none, err := s.ListBindings(ctx, "acct-nobody")
		must(t, "ListBindings of an unknown account", err)
		if len(none) != 0 {
			t.Errorf("ListBindings of an unknown account: %d", len(none))
		}
	}},
	{"BindAccountFromSession", func(t *testing.T, s DeviceStore) {
		ctx := t.Context()
		sess := enrolled(t, s, "enr-1", 1)
		b := newBinding("bind-1", sess)
		b.AccountID = ""
		must(t, "BindDevice without account", s.BindDevice(ctx, b, t0))
		b.AccountID = sess.AccountID
		equal(t, "binding", b, bindingByID(t, s, b.ID))
	}},
	{"BindRefused", func(t *testing.T, s DeviceStore) {
		ctx := t.Context()
		sess := enrolled(t, s, "enr-1", 1)
		other := enrolled(t, s, "enr-2", 2)
		done := newSession("enr-done", kvnrOf(3))
		done.CompletedAt = t0.Add(time.Minute)
		_, err := s.StartEnrollment(ctx, done, pendingAccount("acct-3", kvnrOf(3), loa.Substantial),
			newProof(kvnrOf(3), proof.Letter, loa.Substantial, t0))
		must(t, "StartEnrollment completed", err)
		done.AccountID = "acct-3"

		wantKind(t, "BindDevice unknown session",
			s.BindDevice(ctx, newBinding("bind-x", enrollment.Session{ID: "enr-nope", AccountID: sess.AccountID}), t0), fault.NotFound)
		wantKind(t, "BindDevice at expiry", s.BindDevice(ctx, newBinding("bind-x", sess), sess.ExpiresAt), fault.Expired)
		wantKind(t, "BindDevice completed session", s.BindDevice(ctx, newBinding("bind-x", done), t0.Add(2*time.Minute)), fault.Expired)
		wrong := newBinding("bind-x", sess)
		wrong.AccountID = other.AccountID
		wantKind(t, "BindDevice for another account", s.BindDevice(ctx, wrong, t0), fault.Invalid)
		noKey := newBinding("bind-x", sess)
		noKey.CredentialID = nil
		wantKind(t, "BindDevice without credential id", s.BindDevice(ctx, noKey, t0), fault.Invalid)

		b := newBinding("bind-1", sess)
		must(t, "BindDevice just before expiry", s.BindDevice(ctx, b, sess.ExpiresAt.Add(-time.Millisecond)))
		second := newBinding("bind-2", sess)
		wantKind(t, "BindDevice second key in one session", s.BindDevice(ctx, second, t0), fault.Conflict)
		taken := newBinding("bind-3", other)
		taken.CredentialID = b.CredentialID
		wantKind(t, "BindDevice credential bound elsewhere", s.BindDevice(ctx, taken, t0), fault.Conflict)
		dupID := newBinding("bind-1", other)
		wantKind(t, "BindDevice duplicate ID", s.BindDevice(ctx, dupID, t0), fault.Conflict)

		for _, acct := range []string{sess.AccountID, other.AccountID, done.AccountID} {
			list, err := s.ListBindings(ctx, acct)
			must(t, "ListBindings", err)
			want := []string(nil)
			if acct == sess.AccountID {
				want = []string{b.ID}
			}
			equal(t, "bindings of "+acct, want, bindingIDs(list))
		}
		// The other session can still bind its own key.
		must(t, "BindDevice other session", s.BindDevice(ctx, newBinding("bind-4", other), t0))
	}},
	{"UpdateBinding", func(t *testing.T, s DeviceStore) {
		ctx := t.Context()
		sess := enrolled(t, s, "enr-1", 1)
		b := freshBinding("bind-1", sess, t0)
		must(t, "BindDevice", s.BindDevice(ctx, b, t0))

		want := b
		want.Name = "Neues Telefon"
		want.SignCount = 7
		want.Status = device.Blocked
		want.PINHash = "v2:new"
		want.PIN = pin.Counter{Failures: 5, NotBefore: t0.Add(time.Hour), Blocked: true}
		want.LastUsedAt = t0.Add(3 * time.Minute)
		want.PINSetAt = t0.Add(2 * time.Minute)
		want.RevokedAt = t0.Add(4 * time.Minute)
		want.ConfirmedAt = t0.Add(5 * time.Minute)
		calls := 0
		got, err := s.UpdateBinding(ctx, b.ID, func(cur *device.Binding) error {
			calls++
			equal(t, "f's argument", b, *cur)
			cur.Name, cur.SignCount, cur.Status, cur.PINHash = want.Name, want.SignCount, want.Status, want.PINHash
			cur.PIN, cur.LastUsedAt, cur.PINSetAt, cur.RevokedAt = want.PIN, want.LastUsedAt, want.PINSetAt, want.RevokedAt
			cur.ConfirmedAt = want.ConfirmedAt
			return nil
		})
		must(t, "UpdateBinding", err)
		if calls < 1 {
			t.Fatalf("f was not called")
		}
		equal(t, "returned binding", want, got)
		equal(t, "stored binding", want, bindingByID(t, s, b.ID))

		// f refuses: nothing is written, and f's error comes back as it
		// is — not translated into a kind of the store's.
		refused := errors.New("refused by the caller")
		got, err = s.UpdateBinding(ctx, b.ID, func(cur *device.Binding) error {
			cur.Name = "nicht gespeichert"
			cur.PIN = pin.Counter{}
			return refused
		})
		if err != refused {
			t.Errorf("UpdateBinding with a refusing f: got %v, want f's error itself", err)
		}
		equal(t, "binding returned by a refusing f", device.Binding{}, got)
		equal(t, "binding after a refusing f", want, bindingByID(t, s, b.ID))
		kind := fault.New(fault.Forbidden, "storetest", "")
		_, err = s.UpdateBinding(ctx, b.ID, func(cur *device.Binding) error {
			cur.Name = "nicht gespeichert"
			return kind
		})
		if err != kind {
			t.Errorf("UpdateBinding with f failing with a kind: got %v, want f's error itself", err)
		}
		equal(t, "binding after an f failing with a kind", want, bindingByID(t, s, b.ID))

		// f changes nothing: the binding is written as it was.
		got, err = s.UpdateBinding(ctx, b.ID, func(*device.Binding) error { return nil })
		must(t, "UpdateBinding without change", err)
		equal(t, "binding returned without change", want, got)

		// Zero times and an empty PIN hash go back to zero.
		want.PIN, want.PINHash, want.RevokedAt, want.LastUsedAt = pin.Counter{}, "", time.Time{}, time.Time{}
		got, err = s.UpdateBinding(ctx, b.ID, func(cur *device.Binding) error {
			cur.PIN, cur.PINHash, cur.RevokedAt, cur.LastUsedAt = pin.Counter{}, "", time.Time{}, time.Time{}
			return nil
		})
		must(t, "UpdateBinding to zero values", err)
		equal(t, "binding with zero values", want, got)
		equal(t, "stored binding with zero values", want, bindingByID(t, s, b.ID))

		_, err = s.UpdateBinding(ctx, "bind-nope", func(*device.Binding) error {
			t.Errorf("f called for an unknown binding")
			return nil
		})
		wantKind(t, "UpdateBinding unknown", err, fault.NotFound)
	}},
	{"UpdateBindingIdentity", func(t *testing.T, s DeviceStore) {
		ctx := t.Context()
		sess := enrolled(t, s, "enr-1", 1)
		b := newBinding("bind-1", sess)
		must(t, "BindDevice", s.BindDevice(ctx, b, t0))
		for name, change := range map[string]func(*device.Binding){
			"ID":                func(c *device.Binding) { c.ID = "bind-2" },
			"AccountID":         func(c *device.Binding) { c.AccountID = "acct-2" },
			"EnrollmentID":      func(c *device.Binding) { c.EnrollmentID = "enr-2" },
			"Platform":          func(c *device.Binding) { c.Platform = device.IOS },
			"CredentialID":      func(c *device.Binding) { c.CredentialID[0] ^= 1 },
			"PublicKey":         func(c *device.Binding) { c.PublicKey = append(c.PublicKey, 0) },
			"AAGUID":            func(c *device.Binding) { c.AAGUID = nil },
			"AttestationFormat": func(c *device.Binding) { c.AttestationFormat = "none" },
			"CreatedAt":         func(c *device.Binding) { c.CreatedAt = c.CreatedAt.Add(time.Hour) },
		} {
			_, err := s.UpdateBinding(ctx, b.ID, func(c *device.Binding) error {
				change(c)
				c.Name = "nicht gespeichert"
				return nil
			})
			wantKind(t, "UpdateBinding changing "+name, err, fault.Invalid)
		}
		equal(t, "binding after refused updates", b, bindingByID(t, s, b.ID))
	}},
	{"RevokeBindings", func(t *testing.T, s DeviceStore) {
		ctx := t.Context()
		var mine []device.Binding
		for i := range 3 {
			sess := enrolled(t, s, fmt.Sprintf("enr-%d", i), 1)
			// Created out of ID order: the list is by creation time.
			b := freshBinding(fmt.Sprintf("bind-%d", 3-i), sess, t0.Add(time.Duration(i)*time.Hour))
			must(t, "BindDevice", s.BindDevice(ctx, b, t0))
			mine = append(mine, b)
		}
		theirs := freshBinding("bind-other", enrolled(t, s, "enr-other", 2), t0)
		must(t, "BindDevice other account", s.BindDevice(ctx, theirs, t0))

		list, err := s.ListBindings(ctx, "acct-1")
		must(t, "ListBindings", err)
		equal(t, "bindings, oldest first", mine, list)

		at := t0.Add(5 * time.Hour)
		n, err := s.RevokeBindings(ctx, "acct-1", mine[1].ID, at)
		must(t, "RevokeBindings keeping one", err)
		if n != 2 {
			t.Errorf("RevokeBindings revoked %d, want 2", n)
		}
		for i := range mine {
			if i != 1 {
				mine[i].Status, mine[i].RevokedAt = device.Revoked, at
			}
		}
		list, err = s.ListBindings(ctx, "acct-1")
		must(t, "ListBindings", err)
		equal(t, "bindings after revoking all others, revoked ones listed", mine, list)
		equal(t, "the other account's binding", theirs, bindingByID(t, s, theirs.ID))

		n, err = s.RevokeBindings(ctx, "acct-1", mine[1].ID, at.Add(time.Hour))
		must(t, "RevokeBindings again", err)
		if n != 0 {
			t.Errorf("RevokeBindings again revoked %d, want 0", n)
		}
		later := at.Add(2 * time.Hour)
		n, err = s.RevokeBindings(ctx, "acct-1", "", later)
		must(t, "RevokeBindings all", err)
		if n != 1 {
			t.Errorf("RevokeBindings all revoked %d, want 1", n)
		}
		mine[1].Status, mine[1].RevokedAt = device.Revoked, later
		list, err = s.ListBindings(ctx, "acct-1")
		must(t, "ListBindings", err)
		equal(t, "bindings after revoking all (first revocation times kept)", mine, list)
		n, err = s.RevokeBindings(ctx, "acct-nobody", "", later)
		must(t, "RevokeBindings unknown account", err)
		if n != 0 {
			t.Errorf("RevokeBindings of an unknown account revoked %d", n)
		}
	}},
}

func newChallenge(id string, created time.Time) device.Challenge {
	return device.Challenge{
		ID:        id,
		Purpose:   device.Registration,
		Subject:   "enr-1",
		Context:   "req-1",
		State:     []byte{0x00, '{', '"', 'c', '"', ':', 0xff, 0xfe, '}'},
		CreatedAt: created,
		ExpiresAt: created.Add(device.ChallengeTTL),
	}
}

var challengeTests = []test[ChallengeStore]{
	{"CreateAndConsume", func(t *testing.T, s ChallengeStore) {
		ctx := t.Context()
		c := newChallenge("ch-1", t0)
		must(t, "CreateChallenge", s.CreateChallenge(ctx, c))
		dup := newChallenge("ch-1", t0.Add(time.Second))
		dup.Purpose = device.Assertion
		wantKind(t, "CreateChallenge duplicate", s.CreateChallenge(ctx, dup), fault.Conflict)
		got, err := s.ConsumeChallenge(ctx, c.ID, c.ExpiresAt.Add(-time.Millisecond))
		must(t, "ConsumeChallenge just before expiry", err)
		equal(t, "challenge", c, got)
		_, err = s.ConsumeChallenge(ctx, c.ID, t0)
		wantKind(t, "ConsumeChallenge again", err, fault.NotFound)
		_, err = s.ConsumeChallenge(ctx, "ch-nope", t0)
		wantKind(t, "ConsumeChallenge unknown", err, fault.NotFound)

		empty := device.Challenge{ID: "ch-2", Purpose: device.Assertion, Subject: "acct-1", ExpiresAt: t0.Add(time.Minute)}
		must(t, "CreateChallenge without state", s.CreateChallenge(ctx, empty))
		got, err = s.ConsumeChallenge(ctx, empty.ID, t0)
		must(t, "ConsumeChallenge without state", err)
		equal(t, "challenge without state", empty, got)
	}},
	{"Expired", func(t *testing.T, s ChallengeStore) {
		ctx := t.Context()
		c := newChallenge("ch-1", t0)
		must(t, "CreateChallenge", s.CreateChallenge(ctx, c))
		_, err := s.ConsumeChallenge(ctx, c.ID, c.ExpiresAt)
		wantKind(t, "ConsumeChallenge at expiry", err, fault.Expired)
		_, err = s.ConsumeChallenge(ctx, c.ID, t0)
		wantKind(t, "ConsumeChallenge after an expired try (it is gone)", err, fault.NotFound)
	}},
	{"DeleteExpired", func(t *testing.T, s ChallengeStore) {
		ctx := t.Context()
		old := newChallenge("ch-old", t0.Add(-time.Hour))
		edge := newChallenge("ch-edge", t0.Add(-device.ChallengeTTL)) // expires exactly at t0
		live := newChallenge("ch-live", t0)
		for _, c := range []device.Challenge{old, edge, live} {
			must(t, "CreateChallenge", s.CreateChallenge(ctx, c))
		}
		n, err := s.DeleteExpired(ctx, t0)
		must(t, "DeleteExpired", err)
		if n != 1 {
			t.Errorf("DeleteExpired removed %d rows, want 1 (the old challenge)", n)
		}
		_, err = s.ConsumeChallenge(ctx, old.ID, t0)
		wantKind(t, "ConsumeChallenge of a deleted challenge", err, fault.NotFound)
		_, err = s.ConsumeChallenge(ctx, edge.ID, t0)
		wantKind(t, "ConsumeChallenge expiring now (kept by DeleteExpired)", err, fault.Expired)
		got, err := s.ConsumeChallenge(ctx, live.ID, t0)
		must(t, "ConsumeChallenge live", err)
		equal(t, "live challenge", live, got)
	}},
}

func newEvent(id, accountID string, at time.Time) audit.Event {
	return audit.Event{
		ID:        id,
		Time:      at,
		Kind:      audit.DeviceBound,
		Actor:     audit.Member,
		AccountID: accountID,
		ClientID:  "app-api",
		IPHash:    "iphash-" + id,
		Detail:    map[string]string{"binding": "bind-1", "name": "Pixel 9 von Jürgen", "quote": `"\<>`},
	}
}

var auditTests = []test[AuditStore]{
	{"AppendAndList", func(t *testing.T, s AuditStore) {
		ctx := t.Context()
		e1 := newEvent("ev-1", "acct-1", t0)
		e2 := newEvent("ev-2", "acct-1", t0.Add(time.Second))
		e2.Kind, e2.Actor, e2.ClientID, e2.IPHash, e2.Detail = audit.PINLocked, audit.System, "", "", nil
		e3 := newEvent("ev-3", "acct-1", t0.Add(2*time.Second))
		e3.Actor = audit.Operator
		other := newEvent("ev-4", "acct-2", t0.Add(time.Hour))
		for _, e := range []audit.Event{e2, e1, e3, other} {
			must(t, "AppendAudit", s.AppendAudit(ctx, e))
		}
		dup := newEvent("ev-1", "acct-2", t0)
		wantKind(t, "AppendAudit duplicate", s.AppendAudit(ctx, dup), fault.Conflict)

		got, err := s.AuditEvents(ctx, "acct-1", 10)
		must(t, "AuditEvents", err)
		equal(t, "events, newest first", []audit.Event{e3, e2, e1}, got)
		got, err = s.AuditEvents(ctx, "acct-1", 2)
		must(t, "AuditEvents limit 2", err)
		equal(t, "two newest events", []audit.Event{e3, e2}, got)
		for _, limit := range []int{0, -1} {
			got, err = s.AuditEvents(ctx, "acct-1", limit)
			must(t, "AuditEvents limit < 1", err)
			if len(got) != 0 {
				t.Errorf("AuditEvents limit %d: %d events", limit, len(got))
			}
		}
		got, err = s.AuditEvents(ctx, "acct-2", 10)
		must(t, "AuditEvents other account", err)
		equal(t, "other account's events", []audit.Event{other}, got)
		got, err = s.AuditEvents(ctx, "acct-nobody", 10)
		must(t, "AuditEvents unknown account", err)
		if len(got) != 0 {
			t.Errorf("AuditEvents of an unknown account: %d", len(got))
		}
		// DeleteExpired never touches the log, however old.
		_, err = s.DeleteExpired(ctx, t0.AddDate(50, 0, 0))
		must(t, "DeleteExpired", err)
		got, err = s.AuditEvents(ctx, "acct-1", 10)
		must(t, "AuditEvents after DeleteExpired", err)
		equal(t, "events after DeleteExpired", []audit.Event{e3, e2, e1}, got)
	}},
}

// readyToComplete returns an enrollment of member 1 with its password set
// and a key bound, whose binding is changed by pinSet (nil: no PIN).
func readyToComplete(t *testing.T, s DeviceStore, password bool, pinSet func(b *device.Binding)) (enrollment.Session, device.Binding) {
	t.Helper()
	ctx := t.Context()
	sess := enrolled(t, s, "enr-1", 1)
	if password {
		must(t, "SetEnrollmentPassword", s.SetEnrollmentPassword(ctx, sess.ID, "$argon2id$pw", t0.Add(time.Minute)))
		sess.PasswordSetAt = t0.Add(time.Minute)
	}
	b := freshBinding("bind-1", sess, t0.Add(2*time.Minute))
	must(t, "BindDevice", s.BindDevice(ctx, b, t0.Add(2*time.Minute)))
	if pinSet != nil {
		var err error
		b, err = s.UpdateBinding(ctx, b.ID, func(c *device.Binding) error { pinSet(c); return nil })
		must(t, "UpdateBinding", err)
	}
	return sess, b
}

func setPIN(b *device.Binding) {
	b.PINHash, b.PINSetAt = "v1:pin", t0.Add(3*time.Minute)
}

// notCompleted fails unless the enrollment of readyToComplete left no
// trace of a completion.
func notCompleted(t *testing.T, s DeviceStore, sess enrollment.Session) {
	t.Helper()
	notCompletedSession(t, s, sess)
	evs, err := s.AuditEvents(t.Context(), sess.AccountID, 10)
	must(t, "AuditEvents", err)
	if len(evs) != 0 {
		t.Errorf("%d audit events after a refused completion", len(evs))
	}
}

// notCompletedSession fails unless the account is still pending and the
// session not completed.
func notCompletedSession(t *testing.T, s DeviceStore, sess enrollment.Session) {
	t.Helper()
	ctx := t.Context()
	a, err := s.AccountByID(ctx, sess.AccountID)
	must(t, "AccountByID", err)
	if a.Status != account.Pending {
		t.Errorf("account status %v after a refused completion, want pending", a.Status)
	}
	got, err := s.EnrollmentByTokenHash(ctx, sess.TokenHash)
	must(t, "EnrollmentByTokenHash", err)
	if !got.CompletedAt.IsZero() {
		t.Errorf("session completed at %v by a refused completion", got.CompletedAt)
	}
}

var completionTests = []test[DeviceStore]{
	{"Complete", func(t *testing.T, s DeviceStore) {
		ctx := t.Context()
		sess, _ := readyToComplete(t, s, true, setPIN)
		at := t0.Add(4 * time.Minute)
		e := newEvent("ev-done", "", at)
		e.Kind = audit.EnrollmentCompleted
		a, err := s.CompleteEnrollment(ctx, sess.ID, e, at)
		must(t, "CompleteEnrollment", err)
		want := pendingAccount(sess.AccountID, sess.KVNR, loa.Substantial)
		want.Status, want.PasswordHash, want.UpdatedAt = account.Active, "$argon2id$pw", at
		equal(t, "returned account", want, a)
		stored, err := s.AccountByID(ctx, sess.AccountID)
		must(t, "AccountByID", err)
		equal(t, "stored account", want, stored)
		gotSess, err := s.EnrollmentByTokenHash(ctx, sess.TokenHash)
		must(t, "EnrollmentByTokenHash", err)
		sess.CompletedAt = at
		equal(t, "completed session", sess, gotSess)
		e.AccountID = sess.AccountID
		evs, err := s.AuditEvents(ctx, sess.AccountID, 10)
		must(t, "AuditEvents", err)
		equal(t, "audit events", []audit.Event{e}, evs)

		_, err = s.CompleteEnrollment(ctx, sess.ID, newEvent("ev-again", "", at), at.Add(time.Second))
		wantKind(t, "CompleteEnrollment again", err, fault.Expired)
		wantKind(t, "BindDevice in a completed session", s.BindDevice(ctx, newBinding("bind-2", sess), at), fault.Expired)
	}},
	{"NoPassword", func(t *testing.T, s DeviceStore) {
		sess, _ := readyToComplete(t, s, false, setPIN)
		_, err := s.CompleteEnrollment(t.Context(), sess.ID, newEvent("ev-1", "", t0), t0.Add(4*time.Minute))
		wantKind(t, "CompleteEnrollment without password", err, fault.Forbidden)
		notCompleted(t, s, sess)
	}},
	{"NoBinding", func(t *testing.T, s DeviceStore) {
		ctx := t.Context()
		sess := enrolled(t, s, "enr-1", 1)
		must(t, "SetEnrollmentPassword", s.SetEnrollmentPassword(ctx, sess.ID, "$argon2id$pw", t0.Add(time.Minute)))
		_, err := s.CompleteEnrollment(ctx, sess.ID, newEvent("ev-1", "", t0), t0.Add(4*time.Minute))
		wantKind(t, "CompleteEnrollment without a binding", err, fault.Forbidden)
		notCompleted(t, s, sess)

		// A binding of another session of the member does not count.
		other := enrolled(t, s, "enr-2", 1)
		must(t, "BindDevice other session", s.BindDevice(ctx, setPINOn(freshBinding("bind-2", other, t0)), t0))
		_, err = s.CompleteEnrollment(ctx, sess.ID, newEvent("ev-1", "", t0), t0.Add(4*time.Minute))
		wantKind(t, "CompleteEnrollment with another session's binding", err, fault.Forbidden)
		notCompleted(t, s, sess)
	}},
	{"NoPIN", func(t *testing.T, s DeviceStore) {
		sess, _ := readyToComplete(t, s, true, nil)
		_, err := s.CompleteEnrollment(t.Context(), sess.ID, newEvent("ev-1", "", t0), t0.Add(4*time.Minute))
		wantKind(t, "CompleteEnrollment without PIN", err, fault.Forbidden)
		notCompleted(t, s, sess)
	}},
	{"BindingBlocked", func(t *testing.T, s DeviceStore) {
		sess, _ := readyToComplete(t, s, true, func(b *device.Binding) {
			setPIN(b)
			b.Status, b.PIN = device.Blocked, pin.Counter{Failures: 5, Blocked: true}
		})
		_, err := s.CompleteEnrollment(t.Context(), sess.ID, newEvent("ev-1", "", t0), t0.Add(4*time.Minute))
		wantKind(t, "CompleteEnrollment with a blocked binding", err, fault.Forbidden)
		notCompleted(t, s, sess)
	}},
	{"BindingSuspect", func(t *testing.T, s DeviceStore) {
		sess, _ := readyToComplete(t, s, true, func(b *device.Binding) { setPIN(b); b.Status = device.Suspect })
		_, err := s.CompleteEnrollment(t.Context(), sess.ID, newEvent("ev-1", "", t0), t0.Add(4*time.Minute))
		wantKind(t, "CompleteEnrollment with a suspect binding", err, fault.Forbidden)
		notCompleted(t, s, sess)
	}},
	{"BindingRevoked", func(t *testing.T, s DeviceStore) {
		sess, _ := readyToComplete(t, s, true, setPIN)
		_, err := s.RevokeBindings(t.Context(), sess.AccountID, "", t0.Add(3*time.Minute))
		must(t, "RevokeBindings", err)
		_, err = s.CompleteEnrollment(t.Context(), sess.ID, newEvent("ev-1", "", t0), t0.Add(4*time.Minute))
		wantKind(t, "CompleteEnrollment with a revoked binding", err, fault.Forbidden)
		notCompleted(t, s, sess)
	}},
	{"ExpiredAndUnknown", func(t *testing.T, s DeviceStore) {
		ctx := t.Context()
		sess, _ := readyToComplete(t, s, true, setPIN)
		_, err := s.CompleteEnrollment(ctx, sess.ID, newEvent("ev-1", "", t0), sess.ExpiresAt)
		wantKind(t, "CompleteEnrollment at expiry", err, fault.Expired)
		notCompleted(t, s, sess)
		_, err = s.CompleteEnrollment(ctx, "enr-nope", newEvent("ev-1", "", t0), t0)
		wantKind(t, "CompleteEnrollment unknown", err, fault.NotFound)
	}},
	{"RollsBack", func(t *testing.T, s DeviceStore) {
		ctx := t.Context()
		sess, _ := readyToComplete(t, s, true, setPIN)
		must(t, "AppendAudit", s.AppendAudit(ctx, newEvent("ev-taken", "acct-2", t0)))
		_, err := s.CompleteEnrollment(ctx, sess.ID, newEvent("ev-taken", "", t0), t0.Add(4*time.Minute))
		wantKind(t, "CompleteEnrollment with a duplicate event ID", err, fault.Conflict)
		notCompleted(t, s, sess)
		_, err = s.CompleteEnrollment(ctx, sess.ID, newEvent("ev-1", "acct-2", t0), t0.Add(4*time.Minute))
		wantKind(t, "CompleteEnrollment with another account's event", err, fault.Invalid)
		notCompleted(t, s, sess)
		_, err = s.CompleteEnrollment(ctx, sess.ID, newEvent("ev-1", "", t0), t0.Add(4*time.Minute))
		must(t, "CompleteEnrollment after the refusals", err)
	}},
}

func setPINOn(b device.Binding) device.Binding { setPIN(&b); return b }

// Races of device binding. Like the others: one winner, the losers get the
// kind the port names, never NotFound, Unavailable or Internal.

// wrongPINs is the number of concurrent wrong PIN entries on one binding.
const wrongPINs = 50

var deviceRaceTests = []test[DeviceStore]{
	{"ConsumeChallenge", func(t *testing.T, s DeviceStore) {
		ctx := t.Context()
		c := newChallenge("ch-race", t0)
		must(t, "CreateChallenge", s.CreateChallenge(ctx, c))
		got := make([]device.Challenge, N)
		errs := race(func(i int) error {
			var err error
			got[i], err = s.ConsumeChallenge(ctx, c.ID, t0)
			return err
		})
		w := oneWinner(t, "ConsumeChallenge", errs, fault.NotFound)
		equal(t, "the winner's challenge", c, got[w])
	}},
	{"BindDevice", func(t *testing.T, s DeviceStore) {
		ctx := t.Context()
		sess := enrolled(t, s, "enr-1", 1)
		const n = 10
		errs := raceN(n, func(i int) error {
			return s.BindDevice(ctx, freshBinding(fmt.Sprintf("bind-%d", i), sess, t0), t0)
		})
		w := oneWinner(t, "BindDevice", errs, fault.Conflict)
		list, err := s.ListBindings(ctx, sess.AccountID)
		must(t, "ListBindings", err)
		equal(t, "bindings", []string{fmt.Sprintf("bind-%d", w)}, bindingIDs(list))
	}},
	{"CompleteEnrollment", func(t *testing.T, s DeviceStore) {
		ctx := t.Context()
		sess, _ := readyToComplete(t, s, true, setPIN)
		errs := race(func(i int) error {
			_, err := s.CompleteEnrollment(ctx, sess.ID, newEvent(fmt.Sprintf("ev-%d", i), "", t0), t0.Add(4*time.Minute))
			return err
		})
		w := oneWinner(t, "CompleteEnrollment", errs, fault.Expired)
		evs, err := s.AuditEvents(ctx, sess.AccountID, N+1)
		must(t, "AuditEvents", err)
		if len(evs) != 1 || evs[0].ID != fmt.Sprintf("ev-%d", w) {
			t.Errorf("audit events %v, want the winner's only", evs)
		}
	}},
	// 50 wrong PINs at once on one binding, under a policy without delays
	// (so only the block stops guessing): the check-and-bump of each entry
	// runs under the row's lock, so the counter ends at exactly
	// MaxFailures, blocked, and exactly MaxFailures guesses were compared
	// in committed updates — each of them on a distinct counter state.
	// f may run more than once per call when the store retries; only the
	// run whose result the store committed (the last one of a successful
	// call) counts, and a guess compared in a rolled-back run was never
	// answered.
	{"WrongPINs", func(t *testing.T, s DeviceStore) {
		ctx := t.Context()
		policy := pin.Policy{MaxFailures: 5, DelayFrom: 3}
		must(t, "Policy", policy.Validate())
		// Open the store's connections before the race, so that the
		// callers are not lined up by connection setup.
		errs := raceN(wrongPINs, func(int) error { _, err := s.ListBindings(ctx, "acct-1"); return err })
		for _, err := range errs {
			must(t, "ListBindings", err)
		}
		for round := range pinRounds {
			sess := enrolled(t, s, fmt.Sprintf("enr-%d", round), 1)
			b := setPINOn(freshBinding(fmt.Sprintf("bind-%d", round), sess, t0))
			must(t, "BindDevice", s.BindDevice(ctx, b, t0))
			wrongPINRace(t, s, policy, b.ID, round)
		}
	}},
}

// pinRounds is how often WrongPINs races, each time on a fresh binding.
const pinRounds = 3

// notEvaluated is what wrongPINRace's f refuses with when the policy did not
// let the guess be compared; seen is the counter it saw.
type notEvaluated struct{ seen pin.Counter }

func (e *notEvaluated) Error() string { return fmt.Sprintf("not evaluated at %+v", e.seen) }

// wrongPINRace enters wrongPINs wrong PINs at once on binding id and checks
// that exactly policy.MaxFailures of them were compared, each on its own
// counter state, and that the binding ends blocked.
func wrongPINRace(t *testing.T, s store.Devices, policy pin.Policy, id string, round int) {
	t.Helper()
	ctx := t.Context()
	var compares, runs atomic.Int64
	type outcome struct {
		attempt  pin.Attempt
		compared int // comparisons in the last (committed) run of f
		stored   device.Binding
	}
	out := make([]outcome, wrongPINs)
	now := t0.Add(time.Minute)
	errs := raceN(wrongPINs, func(i int) error {
		var err error
		out[i].stored, err = s.UpdateBinding(ctx, id, func(cur *device.Binding) error {
			runs.Add(1)
			out[i].compared = 0
			out[i].attempt = policy.Try(cur.PIN, now, func() bool {
				compares.Add(1)
				out[i].compared++
				// Let the other callers run while this one holds the
				// binding: a store that does not hold it loses updates.
				runtime.Gosched()
				return false // the wrong PIN
			})
			if !out[i].attempt.Evaluated {
				return &notEvaluated{seen: cur.PIN}
			}
			cur.PIN = out[i].attempt.Next
			if cur.PIN.Blocked {
				cur.Status = device.Blocked
			}
			return nil
		})
		return err
	})
	evaluated, committed := 0, 0
	seen := map[int]int{}
	for i, err := range errs {
		o := out[i]
		if refused, ok := errors.AsType[*notEvaluated](err); ok {
			if o.attempt.Evaluated || !refused.seen.Blocked || refused.seen.Failures != policy.MaxFailures {
				t.Errorf("round %d: caller %d was not evaluated, yet the binding it saw is %+v (not blocked)", round, i, refused.seen)
			}
			continue
		}
		must(t, fmt.Sprintf("round %d: caller %d: UpdateBinding", round, i), err)
		committed += o.compared
		evaluated++
		if o.stored.PIN != o.attempt.Next {
			t.Errorf("round %d: caller %d: stored counter %+v, want its attempt's %+v", round, i, o.stored.PIN, o.attempt.Next)
		}
		seen[o.stored.PIN.Failures]++
	}
	if evaluated != policy.MaxFailures || committed != policy.MaxFailures {
		t.Errorf("round %d: %d calls evaluated a guess, %d comparisons committed; want %d each",
			round, evaluated, committed, policy.MaxFailures)
	}
	for f := 1; f <= policy.MaxFailures; f++ {
		if seen[f] != 1 {
			t.Errorf("round %d: %d callers left the counter at %d failures, want exactly 1 (each guess on a fresh state)",
				round, seen[f], f)
		}
	}
	got := bindingByID(t, s, id)
	if got.PIN.Failures != policy.MaxFailures || !got.PIN.Blocked || got.Status != device.Blocked {
		t.Errorf("round %d: stored binding: counter %+v, status %v; want %d failures, blocked",
			round, got.PIN, got.Status, policy.MaxFailures)
	}
	if runs.Load() == wrongPINs && compares.Load() != int64(policy.MaxFailures) {
		t.Errorf("round %d: %d comparisons without any retry, want %d", round, compares.Load(), policy.MaxFailures)
	}
	t.Logf("round %d: %d calls, %d runs of f, %d comparisons (%d committed)", round, wrongPINs, runs.Load(), compares.Load(), committed)
}
