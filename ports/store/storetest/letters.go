package storetest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/ports/store"
)

// Fixtures of registration, with every field set.

func newRequest(id string, k kvnr.KVNR, at time.Time) letter.Request {
	return letter.Request{ID: id, KVNR: k, BirthDate: "1970-01-31", RequestedAt: at}
}

// newLetter is a letter of k created at created, as CreateLetter takes it.
func newLetter(id string, k kvnr.KVNR, created time.Time) letter.Letter {
	return letter.Letter{
		ID:   id,
		KVNR: k,
		Recipient: letter.Recipient{
			Name: "Jürgen Müller-Lüdenscheidt",
			Address: member.Address{
				Street:     "Hauptstraße 1a",
				PostalCode: "28195",
				Locality:   "Bremen",
				Country:    "DE",
			},
		},
		State:     letter.Requested,
		CreatedAt: created,
		ExpiresAt: created.Add(60 * 24 * time.Hour),
	}
}

// week is the least time between two letters in the tests.
const week = 7 * 24 * time.Hour

// createLetter stores a fresh letter of k at created, allowed because the
// previous one (if any) is older than a week.
func createLetter(t *testing.T, s store.Letters, id string, k kvnr.KVNR, created time.Time) letter.Letter {
	t.Helper()
	l := newLetter(id, k, created)
	must(t, "CreateLetter "+id, s.CreateLetter(t.Context(), l, created.Add(-week), created))
	return l
}

// handedOver stores a letter of k and takes it to HandedOver; the returned
// value is the letter as stored.
func handedOver(t *testing.T, s store.Letters, id string, k kvnr.KVNR) letter.Letter {
	t.Helper()
	ctx := t.Context()
	l := createLetter(t, s, id, k, t0)
	must(t, "MarkRendered", s.MarkRendered(ctx, id, "pw-hash-"+id, "code-hash-"+id, id+".pdf", t0.Add(time.Second)))
	must(t, "MarkHandedOver", s.MarkHandedOver(ctx, id, t0.Add(2*time.Second)))
	l.State, l.PasswordHash, l.CodeHash, l.OutboxName = letter.HandedOver, "pw-hash-"+id, "code-hash-"+id, id+".pdf"
	l.RenderedAt, l.HandedOverAt = t0.Add(time.Second), t0.Add(2*time.Second)
	return l
}

func letterByID(t *testing.T, s store.Letters, id string) letter.Letter {
	t.Helper()
	l, err := s.LetterByID(t.Context(), id)
	must(t, "LetterByID "+id, err)
	return l
}

func letterIDs(ls []letter.Letter) []string {
	ids := make([]string, 0, len(ls))
	for _, l := range ls {
		ids = append(ids, l.ID)
	}
	return ids
}

func requestIDs(rs []letter.Request) []string {
	ids := make([]string, 0, len(rs))
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	return ids
}

var memberImportTests = []test[MemberStore]{
	{"UpsertMembersManyStatements", func(t *testing.T, s MemberStore) {
		ctx := t.Context()
		// More rows than fit in one statement of any adapter, and a
		// partial last statement.
		const n = 2503
		ms := make([]member.Member, n)
		for i := range ms {
			ms[i] = newMember(1000 + i)
			ms[i].GivenName = fmt.Sprintf("Vorname %d", i)
			if i%2 == 1 {
				ms[i].Email = ""
				ms[i].InsuredUntil = time.Date(2032, 3, 31, 0, 0, 0, 0, time.UTC)
			}
		}
		// Not in KVNR order: the store must not rely on its input's order.
		slices.Reverse(ms)
		must(t, "UpsertMembers", s.UpsertMembers(ctx, ms))
		for _, i := range []int{0, 1, 999, 1000, 1001, 1999, 2000, 2500, n - 1} {
			got, err := s.MemberByKVNR(ctx, ms[i].KVNR)
			must(t, "MemberByKVNR", err)
			equal(t, fmt.Sprintf("member %d", i), ms[i], got)
		}
		must(t, "UpsertMembers nothing", s.UpsertMembers(ctx, nil))
	}},
	{"UpsertMembersReplaces", func(t *testing.T, s MemberStore) {
		ctx := t.Context()
		ms := []member.Member{newMember(1), newMember(2), newMember(3)}
		must(t, "UpsertMembers", s.UpsertMembers(ctx, ms))

		// The same data again, stamped later: nothing changes, UpdatedAt
		// included, so an import run twice leaves no trace.
		again := slices.Clone(ms)
		for i := range again {
			again[i].UpdatedAt = t0.Add(time.Hour)
		}
		// Member 2 moved and member 3's insurance ended; member 4 is new.
		again[1].Address = member.Address{Street: "Am Wall 2", PostalCode: "28195", Locality: "Bremen", Country: "DE"}
		again[2].InsuredUntil = time.Date(2031, 6, 30, 0, 0, 0, 0, time.UTC)
		again[2].Email = ""
		again = append(again, newMember(4))
		again[3].UpdatedAt = t0.Add(time.Hour)
		must(t, "UpsertMembers again", s.UpsertMembers(ctx, again))

		want := []member.Member{ms[0], again[1], again[2], again[3]}
		for _, m := range want {
			got, err := s.MemberByKVNR(ctx, m.KVNR)
			must(t, "MemberByKVNR", err)
			equal(t, "member "+string(m.KVNR), m, got)
		}
		// An open end can come back too.
		again[2].InsuredUntil = time.Time{}
		again[2].UpdatedAt = t0.Add(2 * time.Hour)
		must(t, "UpsertMembers reopened", s.UpsertMembers(ctx, again[2:3]))
		got, err := s.MemberByKVNR(ctx, again[2].KVNR)
		must(t, "MemberByKVNR", err)
		equal(t, "reopened member", again[2], got)
	}},
	{"UpsertMembersDuplicate", func(t *testing.T, s MemberStore) {
		ctx := t.Context()
		ms := []member.Member{newMember(1), newMember(2), newMember(1)}
		ms[2].GivenName = "Doppelt"
		wantKind(t, "UpsertMembers with a KVNR twice", s.UpsertMembers(ctx, ms), fault.Invalid)
		// All or nothing.
		for _, m := range ms {
			_, err := s.MemberByKVNR(ctx, m.KVNR)
			wantKind(t, "MemberByKVNR after a refused import", err, fault.NotFound)
		}
	}},
}

var registrationTests = []test[store.Registrations]{
	{"QueueOldestFirst", func(t *testing.T, s store.Registrations) {
		ctx := t.Context()
		reqs := []letter.Request{
			newRequest("reg-c", kvnrOf(3), t0.Add(2*time.Second)),
			newRequest("reg-a", kvnrOf(1), t0),
			newRequest("reg-b", kvnrOf(2), t0.Add(time.Second)),
		}
		for _, r := range reqs {
			must(t, "EnqueueRegistration", s.EnqueueRegistration(ctx, r))
		}
		now, lease := t0.Add(time.Minute), t0.Add(2*time.Minute)
		got, err := s.ClaimRegistrations(ctx, 2, now, lease)
		must(t, "ClaimRegistrations", err)
		equal(t, "claimed, oldest first", []letter.Request{reqs[1], reqs[2]}, got)

		got, err = s.ClaimRegistrations(ctx, 5, now, lease)
		must(t, "ClaimRegistrations", err)
		equal(t, "claimed while the others are leased", []letter.Request{reqs[0]}, got)
		got, err = s.ClaimRegistrations(ctx, 5, lease.Add(-time.Millisecond), lease.Add(time.Minute))
		must(t, "ClaimRegistrations", err)
		if len(got) != 0 {
			t.Errorf("claimed %v before the leases ran out", requestIDs(got))
		}

		must(t, "DeleteRegistration", s.DeleteRegistration(ctx, "reg-a"))
		must(t, "DeleteRegistration again", s.DeleteRegistration(ctx, "reg-a"))
		must(t, "DeleteRegistration unknown", s.DeleteRegistration(ctx, "reg-nope"))
		// At the end of the lease the requests are free again.
		got, err = s.ClaimRegistrations(ctx, 5, lease, lease.Add(time.Minute))
		must(t, "ClaimRegistrations after the lease", err)
		equal(t, "claimed after the lease", []letter.Request{reqs[2], reqs[0]}, got)

		got, err = s.ClaimRegistrations(ctx, 0, lease.Add(time.Hour), lease.Add(2*time.Hour))
		must(t, "ClaimRegistrations 0", err)
		if len(got) != 0 {
			t.Errorf("ClaimRegistrations(0) returned %d", len(got))
		}
	}},
	{"LostReport", func(t *testing.T, s store.Registrations) {
		ctx := t.Context()
		lost := newRequest("reg-lost", kvnrOf(1), t0)
		lost.Lost = true
		plain := newRequest("reg-plain", kvnrOf(2), t0.Add(time.Second))
		must(t, "EnqueueRegistration", s.EnqueueRegistration(ctx, lost))
		must(t, "EnqueueRegistration", s.EnqueueRegistration(ctx, plain))
		got, err := s.ClaimRegistrations(ctx, 5, t0.Add(time.Minute), t0.Add(2*time.Minute))
		must(t, "ClaimRegistrations", err)
		equal(t, "a report of a lost letter and a request", []letter.Request{lost, plain}, got)
	}},
	{"Conflict", func(t *testing.T, s store.Registrations) {
		ctx := t.Context()
		r := newRequest("reg-1", kvnrOf(1), t0)
		must(t, "EnqueueRegistration", s.EnqueueRegistration(ctx, r))
		other := newRequest("reg-1", kvnrOf(2), t0.Add(time.Second))
		wantKind(t, "EnqueueRegistration duplicate", s.EnqueueRegistration(ctx, other), fault.Conflict)
		got, err := s.ClaimRegistrations(ctx, 5, t0, t0.Add(time.Minute))
		must(t, "ClaimRegistrations", err)
		equal(t, "queue after a conflict", []letter.Request{r}, got)
	}},
}

var letterTests = []test[store.Letters]{
	{"RoundTrip", func(t *testing.T, s store.Letters) {
		ctx := t.Context()
		l := createLetter(t, s, "letter-1", kvnrOf(1), t0)
		equal(t, "LetterByID", l, letterByID(t, s, l.ID))
		got, err := s.LatestLetter(ctx, l.KVNR)
		must(t, "LatestLetter", err)
		equal(t, "LatestLetter", l, got)
	}},
	{"Lifecycle", func(t *testing.T, s store.Letters) {
		ctx := t.Context()
		l := createLetter(t, s, "letter-1", kvnrOf(1), t0)
		wantKind(t, "MarkHandedOver before rendering", s.MarkHandedOver(ctx, l.ID, t0), fault.Conflict)
		wantKind(t, "ActivateLetter before rendering", s.ActivateLetter(ctx, l.ID, 5, t0), fault.Conflict)
		_, err := s.FailActivation(ctx, l.ID, 5, t0)
		wantKind(t, "FailActivation before rendering", err, fault.Conflict)

		must(t, "MarkRendered", s.MarkRendered(ctx, l.ID, "pw-1", "code-1", "a.pdf", t0.Add(time.Second)))
		// A crash after rendering: the worker renders again with new
		// secrets.
		must(t, "MarkRendered again", s.MarkRendered(ctx, l.ID, "pw-2", "code-2", "b.pdf", t0.Add(2*time.Second)))
		l.State, l.PasswordHash, l.CodeHash, l.OutboxName, l.RenderedAt = letter.Rendered, "pw-2", "code-2", "b.pdf", t0.Add(2*time.Second)
		equal(t, "rendered letter", l, letterByID(t, s, l.ID))
		wantKind(t, "ActivateLetter before handing over", s.ActivateLetter(ctx, l.ID, 5, t0), fault.Conflict)

		must(t, "MarkHandedOver", s.MarkHandedOver(ctx, l.ID, t0.Add(3*time.Second)))
		l.State, l.HandedOverAt = letter.HandedOver, t0.Add(3*time.Second)
		equal(t, "handed over letter", l, letterByID(t, s, l.ID))
		wantKind(t, "MarkHandedOver again", s.MarkHandedOver(ctx, l.ID, t0), fault.Conflict)
		wantKind(t, "MarkRendered after handing over", s.MarkRendered(ctx, l.ID, "pw-3", "code-3", "c.pdf", t0), fault.Conflict)

		n, err := s.FailActivation(ctx, l.ID, 5, t0.Add(time.Hour))
		must(t, "FailActivation", err)
		if n != 1 {
			t.Errorf("FailActivation = %d, want 1", n)
		}
		at := t0.Add(2 * time.Hour)
		must(t, "ActivateLetter", s.ActivateLetter(ctx, l.ID, 5, at))
		l.State, l.FailedAttempts, l.ActivatedAt = letter.Activated, 1, at
		equal(t, "activated letter", l, letterByID(t, s, l.ID))
		wantKind(t, "ActivateLetter again", s.ActivateLetter(ctx, l.ID, 5, at), fault.Conflict)
		_, err = s.FailActivation(ctx, l.ID, 5, at)
		wantKind(t, "FailActivation after activation", err, fault.Conflict)
		wantKind(t, "MarkRendered after activation", s.MarkRendered(ctx, l.ID, "pw", "code", "d.pdf", at), fault.Conflict)
		equal(t, "letter after refused changes", l, letterByID(t, s, l.ID))
	}},
	{"NotFound", func(t *testing.T, s store.Letters) {
		ctx := t.Context()
		_, err := s.LetterByID(ctx, "nope")
		wantKind(t, "LetterByID", err, fault.NotFound)
		_, err = s.LatestLetter(ctx, kvnrOf(1))
		wantKind(t, "LatestLetter", err, fault.NotFound)
		wantKind(t, "MarkRendered", s.MarkRendered(ctx, "nope", "pw", "code", "x.pdf", t0), fault.NotFound)
		wantKind(t, "MarkHandedOver", s.MarkHandedOver(ctx, "nope", t0), fault.NotFound)
		_, err = s.FailActivation(ctx, "nope", 5, t0)
		wantKind(t, "FailActivation", err, fault.NotFound)
		wantKind(t, "ActivateLetter", s.ActivateLetter(ctx, "nope", 5, t0), fault.NotFound)
	}},
	{"TooSoonAndSupersede", func(t *testing.T, s store.Letters) {
		ctx := t.Context()
		k := kvnrOf(1)
		first := createLetter(t, s, "letter-1", k, t0)

		// A letter created exactly at notBefore is too recent.
		second := newLetter("letter-2", k, t0.Add(week))
		wantKind(t, "CreateLetter too soon", s.CreateLetter(ctx, second, t0, t0.Add(week)), fault.Conflict)
		equal(t, "first letter after a refused one", first, letterByID(t, s, first.ID))
		_, err := s.LetterByID(ctx, second.ID)
		wantKind(t, "refused letter", err, fault.NotFound)

		// Another member's letter does not count.
		createLetter(t, s, "letter-other", kvnrOf(2), t0.Add(week))

		now := t0.Add(week + time.Second)
		must(t, "CreateLetter", s.CreateLetter(ctx, second, t0.Add(time.Millisecond), now))
		first.State, first.VoidReason, first.VoidedAt = letter.Voided, letter.ReasonSuperseded, now
		equal(t, "superseded letter", first, letterByID(t, s, first.ID))
		equal(t, "new letter", second, letterByID(t, s, second.ID))
		got, err := s.LatestLetter(ctx, k)
		must(t, "LatestLetter", err)
		equal(t, "latest letter", second, got)
		other, err := s.LatestLetter(ctx, kvnrOf(2))
		must(t, "LatestLetter of the other member", err)
		if other.State != letter.Requested {
			t.Errorf("the other member's letter is %s", other.State)
		}
	}},
	{"LatestLetterOfTheSameMillisecond", func(t *testing.T, s store.Letters) {
		// A letter superseded by one created at the same time (a clock of
		// coarse resolution, a report of loss right after production): the
		// live one is the latest, whatever the ids' order.
		ctx := t.Context()
		k := kvnrOf(1)
		createLetter(t, s, "letter-z", k, t0)
		second := newLetter("letter-a", k, t0)
		must(t, "CreateLetter", s.CreateLetter(ctx, second, t0.Add(time.Millisecond), t0))
		got, err := s.LatestLetter(ctx, k)
		must(t, "LatestLetter", err)
		if got.ID != second.ID || got.State == letter.Voided {
			t.Fatalf("LatestLetter = %s (%s), want the live letter %s", got.ID, got.State, second.ID)
		}
	}},
	{"SupersedeSparesFinalLetters", func(t *testing.T, s store.Letters) {
		ctx := t.Context()
		k := kvnrOf(1)
		used := handedOver(t, s, "letter-used", k)
		must(t, "ActivateLetter", s.ActivateLetter(ctx, used.ID, 5, t0.Add(time.Minute)))
		used = letterByID(t, s, used.ID)
		rendered := createLetter(t, s, "letter-rendered", k, t0.Add(2*week))
		must(t, "MarkRendered", s.MarkRendered(ctx, rendered.ID, "pw", "code", "r.pdf", t0.Add(2*week)))
		handed := createLetter(t, s, "letter-handed", k, t0.Add(4*week))
		must(t, "MarkRendered", s.MarkRendered(ctx, handed.ID, "pw", "code", "h.pdf", t0.Add(4*week)))
		must(t, "MarkHandedOver", s.MarkHandedOver(ctx, handed.ID, t0.Add(4*week)))
		rendered = letterByID(t, s, rendered.ID)
		if rendered.State != letter.Voided || rendered.VoidReason != letter.ReasonSuperseded {
			t.Errorf("rendered letter after a newer one: %s (%s), want voided (superseded)", rendered.State, rendered.VoidReason)
		}

		createLetter(t, s, "letter-new", k, t0.Add(6*week))
		equal(t, "activated letter after a newer one", used, letterByID(t, s, used.ID))
		equal(t, "letter voided before", rendered, letterByID(t, s, rendered.ID))
		h := letterByID(t, s, handed.ID)
		if h.State != letter.Voided || h.VoidReason != letter.ReasonSuperseded {
			t.Errorf("handed over letter after a newer one: %s (%s), want voided (superseded)", h.State, h.VoidReason)
		}
		wantKind(t, "ActivateLetter of a superseded letter", s.ActivateLetter(ctx, handed.ID, 5, t0.Add(6*week)), fault.Conflict)
	}},
	{"DuplicateIDRollsBack", func(t *testing.T, s store.Letters) {
		ctx := t.Context()
		createLetter(t, s, "letter-x", kvnrOf(2), t0)
		first := createLetter(t, s, "letter-1", kvnrOf(1), t0)
		// The insert fails after the earlier letter was voided in the same
		// transaction: the voiding must be rolled back with it.
		dup := newLetter("letter-x", kvnrOf(1), t0.Add(week))
		wantKind(t, "CreateLetter duplicate ID", s.CreateLetter(ctx, dup, t0.Add(time.Second), t0.Add(week)), fault.Conflict)
		equal(t, "earlier letter after a failed CreateLetter", first, letterByID(t, s, first.ID))
	}},
	{"Expiry", func(t *testing.T, s store.Letters) {
		ctx := t.Context()
		l := handedOver(t, s, "letter-1", kvnrOf(1))
		wantKind(t, "ActivateLetter at expiry", s.ActivateLetter(ctx, l.ID, 5, l.ExpiresAt), fault.Conflict)
		must(t, "ActivateLetter just before expiry", s.ActivateLetter(ctx, l.ID, 5, l.ExpiresAt.Add(-time.Millisecond)))
	}},
	{"AttemptsVoid", func(t *testing.T, s store.Letters) {
		ctx := t.Context()
		l := handedOver(t, s, "letter-1", kvnrOf(1))
		for want := 1; want <= 3; want++ {
			n, err := s.FailActivation(ctx, l.ID, 3, t0.Add(time.Duration(want)*time.Minute))
			must(t, "FailActivation", err)
			if n != want {
				t.Errorf("FailActivation = %d, want %d", n, want)
			}
		}
		l.State, l.FailedAttempts, l.VoidReason, l.VoidedAt = letter.Voided, 3, letter.ReasonAttempts, t0.Add(3*time.Minute)
		equal(t, "letter after max attempts", l, letterByID(t, s, l.ID))
		_, err := s.FailActivation(ctx, l.ID, 3, t0.Add(time.Hour))
		wantKind(t, "FailActivation of a voided letter", err, fault.Conflict)
		wantKind(t, "ActivateLetter of a voided letter", s.ActivateLetter(ctx, l.ID, 3, t0.Add(time.Hour)), fault.Conflict)
		equal(t, "voided letter after refused changes", l, letterByID(t, s, l.ID))
	}},
	{"VoidedByAttemptsDoesNotCountAsRecent", func(t *testing.T, s store.Letters) {
		ctx := t.Context()
		k := kvnrOf(1)
		l := handedOver(t, s, "letter-1", k)
		for i := range 3 {
			_, err := s.FailActivation(ctx, l.ID, 3, t0.Add(time.Duration(i+1)*time.Minute))
			must(t, "FailActivation", err)
		}
		// The interval guards against mass mailing, not against the
		// member: a letter voided by wrong attempts leaves room for the
		// next one at once.
		now := t0.Add(time.Hour)
		next := newLetter("letter-2", k, now)
		must(t, "CreateLetter after a letter voided by attempts", s.CreateLetter(ctx, next, now.Add(-week), now))
		l.State, l.FailedAttempts, l.VoidReason, l.VoidedAt = letter.Voided, 3, letter.ReasonAttempts, t0.Add(3*time.Minute)
		equal(t, "voided letter keeps its reason", l, letterByID(t, s, l.ID))
		// The new letter counts again: a third one must wait.
		third := newLetter("letter-3", k, now.Add(time.Minute))
		wantKind(t, "CreateLetter within the interval of a live letter", s.CreateLetter(ctx, third, now.Add(-week), now.Add(time.Minute)), fault.Conflict)
	}},
	{"VoidLost", func(t *testing.T, s store.Letters) {
		ctx := t.Context()
		k := kvnrOf(1)
		requested := createLetter(t, s, "letter-requested", kvnrOf(2), t0)
		l := handedOver(t, s, "letter-1", k)
		at := t0.Add(time.Hour)
		must(t, "VoidLetter of a handed-over letter", s.VoidLetter(ctx, l.ID, letter.ReasonLost, at))
		l.State, l.VoidReason, l.VoidedAt = letter.Voided, letter.ReasonLost, at
		equal(t, "letter reported lost", l, letterByID(t, s, l.ID))
		wantKind(t, "VoidLetter again", s.VoidLetter(ctx, l.ID, letter.ReasonLost, at.Add(time.Minute)), fault.Conflict)
		wantKind(t, "ActivateLetter of a lost letter", s.ActivateLetter(ctx, l.ID, 5, at), fault.Conflict)
		_, err := s.FailActivation(ctx, l.ID, 5, at)
		wantKind(t, "FailActivation of a lost letter", err, fault.Conflict)
		equal(t, "lost letter after refused changes", l, letterByID(t, s, l.ID))
		wantKind(t, "VoidLetter of no letter", s.VoidLetter(ctx, "nope", letter.ReasonLost, at), fault.NotFound)

		// A letter not yet rendered can be reported lost as well.
		must(t, "VoidLetter of a requested letter", s.VoidLetter(ctx, requested.ID, letter.ReasonLost, at))
		requested.State, requested.VoidReason, requested.VoidedAt = letter.Voided, letter.ReasonLost, at
		equal(t, "requested letter reported lost", requested, letterByID(t, s, requested.ID))

		used := handedOver(t, s, "letter-used", kvnrOf(3))
		must(t, "ActivateLetter", s.ActivateLetter(ctx, used.ID, 5, at))
		used = letterByID(t, s, used.ID)
		wantKind(t, "VoidLetter of an activated letter", s.VoidLetter(ctx, used.ID, letter.ReasonLost, at), fault.Conflict)
		equal(t, "activated letter after a refused voiding", used, letterByID(t, s, used.ID))

		// A lost letter counts as created (unlike one voided by
		// attempts): its replacement is made with a notBefore after it.
		next := newLetter("letter-2", k, at)
		wantKind(t, "CreateLetter within the interval of a lost letter", s.CreateLetter(ctx, next, at.Add(-week), at), fault.Conflict)
		must(t, "CreateLetter of the replacement", s.CreateLetter(ctx, next, l.CreatedAt.Add(time.Millisecond), at))
		equal(t, "lost letter keeps its reason", l, letterByID(t, s, l.ID))
		third := newLetter("letter-3", k, at.Add(time.Minute))
		wantKind(t, "CreateLetter within the interval of the replacement", s.CreateLetter(ctx, third, at.Add(-week), at.Add(time.Minute)), fault.Conflict)
	}},
	{"ActivateCountsAttempts", func(t *testing.T, s store.Letters) {
		ctx := t.Context()
		l := handedOver(t, s, "letter-1", kvnrOf(1))
		for range 2 {
			_, err := s.FailActivation(ctx, l.ID, 5, t0)
			must(t, "FailActivation", err)
		}
		// A stricter policy than the one the attempts were counted under.
		wantKind(t, "ActivateLetter with max reached", s.ActivateLetter(ctx, l.ID, 2, t0.Add(time.Minute)), fault.Conflict)
		must(t, "ActivateLetter below max", s.ActivateLetter(ctx, l.ID, 3, t0.Add(time.Minute)))
	}},
	{"List", func(t *testing.T, s store.Letters) {
		ctx := t.Context()
		a := createLetter(t, s, "letter-a", kvnrOf(1), t0)
		b := handedOver(t, s, "letter-b", kvnrOf(2)) // created at t0 too
		c := createLetter(t, s, "letter-c", kvnrOf(3), t0.Add(time.Minute))
		all, err := s.ListLetters(ctx, "", 10)
		must(t, "ListLetters", err)
		equal(t, "all letters, newest first", []letter.Letter{c, b, a}, all)
		requested, err := s.ListLetters(ctx, letter.Requested, 10)
		must(t, "ListLetters requested", err)
		equal(t, "requested letters", []string{c.ID, a.ID}, letterIDs(requested))
		one, err := s.ListLetters(ctx, "", 1)
		must(t, "ListLetters 1", err)
		equal(t, "newest letter", []string{c.ID}, letterIDs(one))
		none, err := s.ListLetters(ctx, letter.Activated, 10)
		must(t, "ListLetters activated", err)
		if len(none) != 0 {
			t.Errorf("ListLetters(activated) = %v", letterIDs(none))
		}
		none, err = s.ListLetters(ctx, "", 0)
		must(t, "ListLetters 0", err)
		if len(none) != 0 {
			t.Errorf("ListLetters(limit 0) = %v", letterIDs(none))
		}
	}},
	{"Claim", func(t *testing.T, s store.Letters) {
		ctx := t.Context()
		handedOver(t, s, "letter-handed", kvnrOf(1))
		a := createLetter(t, s, "letter-a", kvnrOf(2), t0.Add(time.Second))
		b := createLetter(t, s, "letter-b", kvnrOf(3), t0.Add(2*time.Second))
		must(t, "MarkRendered", s.MarkRendered(ctx, b.ID, "pw", "code", "b.pdf", t0.Add(3*time.Second)))
		b = letterByID(t, s, b.ID)
		c := createLetter(t, s, "letter-c", kvnrOf(4), t0.Add(4*time.Second))

		now, lease := t0.Add(time.Minute), t0.Add(2*time.Minute)
		got, err := s.ClaimLetters(ctx, 2, now, lease)
		must(t, "ClaimLetters", err)
		equal(t, "claimed, oldest first", []letter.Letter{a, b}, got)
		got, err = s.ClaimLetters(ctx, 5, now, lease)
		must(t, "ClaimLetters", err)
		equal(t, "claimed while the others are leased", []letter.Letter{c}, got)

		// a is handed over meanwhile; b stays rendered, its lease runs out.
		must(t, "MarkRendered", s.MarkRendered(ctx, a.ID, "pw", "code", "a.pdf", now))
		must(t, "MarkHandedOver", s.MarkHandedOver(ctx, a.ID, now))
		got, err = s.ClaimLetters(ctx, 5, lease.Add(-time.Millisecond), lease.Add(time.Minute))
		must(t, "ClaimLetters", err)
		if len(got) != 0 {
			t.Errorf("claimed %v before the leases ran out", letterIDs(got))
		}
		got, err = s.ClaimLetters(ctx, 5, lease, lease.Add(time.Minute))
		must(t, "ClaimLetters after the lease", err)
		equal(t, "claimed after the lease", []string{b.ID, c.ID}, letterIDs(got))
		got, err = s.ClaimLetters(ctx, 0, lease.Add(time.Hour), lease.Add(2*time.Hour))
		must(t, "ClaimLetters 0", err)
		if len(got) != 0 {
			t.Errorf("ClaimLetters(0) returned %d", len(got))
		}
	}},
}

// claimRace enqueues items with enqueue(i) for i in [0, items), lets N
// claimers take up to per items each at once, then claims what is left,
// and checks that every item went to exactly one claimer.
func claimRace(t *testing.T, items, per int, enqueue func(i int) string, claim func(ctx context.Context, n int, now, lease time.Time) ([]string, error)) {
	t.Helper()
	ctx := t.Context()
	want := make([]string, items)
	for i := range items {
		want[i] = enqueue(i)
	}
	now, lease := t0.Add(time.Hour), t0.Add(2*time.Hour)
	var mu sync.Mutex
	owner := map[string]int{}
	var all []string
	take := func(who int, ids []string) error {
		mu.Lock()
		defer mu.Unlock()
		for _, id := range ids {
			if prev, dup := owner[id]; dup {
				return fmt.Errorf("%s claimed by claimers %d and %d while its lease runs", id, prev, who)
			}
			owner[id] = who
			all = append(all, id)
		}
		return nil
	}
	errs := race(func(i int) error {
		ids, err := claim(ctx, per, now, lease)
		if err != nil {
			return err
		}
		return take(i, ids)
	})
	for i, err := range errs {
		must(t, fmt.Sprintf("claimer %d", i), err)
	}
	// Claimers that skipped rows locked by others may have taken fewer
	// than they could; the rest is still free.
	rest, err := claim(ctx, items, now, lease)
	must(t, "claim the rest", err)
	must(t, "claim the rest", take(N, rest))
	sort.Strings(all)
	sort.Strings(want)
	equal(t, "claimed items", want, all)
}

var registrationRaceTests = []test[store.Registrations]{
	{"ClaimRegistrations", func(t *testing.T, s store.Registrations) {
		claimRace(t, 40, 3, func(i int) string {
			r := newRequest(fmt.Sprintf("reg-%02d", i), kvnrOf(i), t0.Add(time.Duration(i)*time.Second))
			must(t, "EnqueueRegistration", s.EnqueueRegistration(t.Context(), r))
			return r.ID
		}, func(ctx context.Context, n int, now, lease time.Time) ([]string, error) {
			rs, err := s.ClaimRegistrations(ctx, n, now, lease)
			return requestIDs(rs), err
		})
	}},
}

var rateLimitRaceTests = []test[RateLimitStore]{
	{"RateLimit", func(t *testing.T, s RateLimitStore) {
		ctx := t.Context()
		const hits, limit = 50, 10
		allowed := make([]bool, hits)
		errs := raceN(hits, func(i int) error {
			var err error
			allowed[i], _, err = s.Hit(ctx, "ip:192.0.2.1", limit, time.Minute, t0)
			return err
		})
		n := 0
		for i, err := range errs {
			must(t, fmt.Sprintf("hit %d", i), err)
			if allowed[i] {
				n++
			}
		}
		if n != limit {
			t.Errorf("%d of %d concurrent hits allowed, want %d", n, hits, limit)
		}
	}},
}

var letterRaceTests = []test[store.Letters]{
	{"CreateLetter", func(t *testing.T, s store.Letters) {
		ctx := t.Context()
		// Several rounds, each on a member of its own: a missing lock
		// does not lose every time.
		for round := range 10 {
			k := kvnrOf(round)
			old := createLetter(t, s, fmt.Sprintf("letter-%d-old", round), k, t0.Add(-2*week))
			errs := race(func(i int) error {
				l := newLetter(fmt.Sprintf("letter-%d-%d", round, i), k, t0.Add(time.Duration(i)*time.Millisecond))
				return s.CreateLetter(ctx, l, t0.Add(-week), t0)
			})
			w := oneWinner(t, fmt.Sprintf("round %d: CreateLetter", round), errs, fault.Conflict)
			latest, err := s.LatestLetter(ctx, k)
			must(t, "LatestLetter", err)
			if want := fmt.Sprintf("letter-%d-%d", round, w); latest.ID != want {
				t.Errorf("round %d: latest letter %s, want the winner's %s", round, latest.ID, want)
			}
			if got := letterByID(t, s, old.ID); got.State != letter.Voided {
				t.Errorf("round %d: the old letter is %s, want voided", round, got.State)
			}
		}
		all, err := s.ListLetters(ctx, "", 1000)
		must(t, "ListLetters", err)
		if len(all) != 20 {
			t.Errorf("%d letters after 10 rounds, want 20", len(all))
		}
	}},
	{"VoidLetterOneWinner", func(t *testing.T, s store.Letters) {
		ctx := t.Context()
		l := handedOver(t, s, "letter-1", kvnrOf(1))
		errs := race(func(i int) error {
			return s.VoidLetter(ctx, l.ID, letter.ReasonLost, t0.Add(time.Duration(i)*time.Millisecond))
		})
		w := oneWinner(t, "VoidLetter", errs, fault.Conflict)
		got := letterByID(t, s, l.ID)
		if got.State != letter.Voided || got.VoidReason != letter.ReasonLost || got.VoidedAt.Sub(t0.Add(time.Duration(w)*time.Millisecond)).Abs() >= time.Millisecond {
			t.Errorf("letter after concurrent voidings: %+v; want voided (lost) by caller %d", got, w)
		}
	}},
	{"FailActivationCounts", func(t *testing.T, s store.Letters) {
		ctx := t.Context()
		l := handedOver(t, s, "letter-1", kvnrOf(1))
		counts := make([]int, N)
		errs := race(func(i int) error {
			var err error
			counts[i], err = s.FailActivation(ctx, l.ID, 1000, t0)
			return err
		})
		for i, err := range errs {
			must(t, fmt.Sprintf("caller %d", i), err)
		}
		slices.Sort(counts)
		for i, c := range counts {
			if c != i+1 {
				t.Fatalf("counts returned %v, want 1..%d each once", counts, N)
			}
		}
		if got := letterByID(t, s, l.ID); got.FailedAttempts != N || got.State != letter.HandedOver {
			t.Errorf("after %d wrong attempts: %d counted, state %s", N, got.FailedAttempts, got.State)
		}
	}},
	{"FailActivationVoids", func(t *testing.T, s store.Letters) {
		ctx := t.Context()
		const max = 5
		l := handedOver(t, s, "letter-1", kvnrOf(1))
		counts := make([]int, N)
		errs := race(func(i int) error {
			var err error
			counts[i], err = s.FailActivation(ctx, l.ID, max, t0)
			return err
		})
		var ok []int
		for i, err := range errs {
			switch {
			case err == nil:
				ok = append(ok, counts[i])
			default:
				wantKind(t, fmt.Sprintf("caller %d", i), err, fault.Conflict)
			}
		}
		slices.Sort(ok)
		equal(t, "counts of the callers that were counted", []int{1, 2, 3, 4, 5}, ok)
		got := letterByID(t, s, l.ID)
		if got.FailedAttempts != max || got.State != letter.Voided || got.VoidReason != letter.ReasonAttempts {
			t.Errorf("after %d wrong attempts: %d counted, state %s (%s), want %d, voided (attempts)",
				N, got.FailedAttempts, got.State, got.VoidReason, max)
		}
	}},
	{"ActivateLetter", func(t *testing.T, s store.Letters) {
		ctx := t.Context()
		l := handedOver(t, s, "letter-1", kvnrOf(1))
		errs := race(func(i int) error {
			return s.ActivateLetter(ctx, l.ID, 5, t0.Add(time.Minute))
		})
		oneWinner(t, "ActivateLetter", errs, fault.Conflict)
		if got := letterByID(t, s, l.ID); got.State != letter.Activated {
			t.Errorf("state %s after the race, want activated", got.State)
		}
	}},
	{"ActivateAgainstAttempts", func(t *testing.T, s store.Letters) {
		ctx := t.Context()
		// Wrong guesses and the right one at once: the letter ends either
		// activated or voided, never both, and never counted past max.
		const max = 5
		l := handedOver(t, s, "letter-1", kvnrOf(1))
		errs := race(func(i int) error {
			if i == N/2 {
				return s.ActivateLetter(ctx, l.ID, max, t0.Add(time.Minute))
			}
			_, err := s.FailActivation(ctx, l.ID, max, t0.Add(time.Minute))
			return err
		})
		for i, err := range errs {
			if err != nil {
				wantKind(t, fmt.Sprintf("caller %d", i), err, fault.Conflict)
			}
		}
		got := letterByID(t, s, l.ID)
		switch {
		case errs[N/2] == nil && got.State == letter.Activated && got.FailedAttempts < max:
		case errs[N/2] != nil && got.State == letter.Voided && got.FailedAttempts == max:
		default:
			t.Errorf("activation %v, letter %s with %d attempts", errs[N/2], got.State, got.FailedAttempts)
		}
	}},
	{"ClaimLetters", func(t *testing.T, s store.Letters) {
		claimRace(t, 40, 3, func(i int) string {
			return createLetter(t, s, fmt.Sprintf("letter-%02d", i), kvnrOf(i), t0.Add(time.Duration(i)*time.Second)).ID
		}, func(ctx context.Context, n int, now, lease time.Time) ([]string, error) {
			ls, err := s.ClaimLetters(ctx, n, now, lease)
			return letterIDs(ls), err
		})
	}},
}
