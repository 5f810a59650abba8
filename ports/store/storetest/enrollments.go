package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/enrollment"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/ports/store"
)

func newSession(id string, k kvnr.KVNR) enrollment.Session {
	return enrollment.Session{
		ID:        id,
		TokenHash: "token-hash-" + id,
		KVNR:      k,
		Method:    proof.Letter,
		CreatedAt: t0,
		ExpiresAt: t0.Add(enrollment.TTL),
	}
}

func newProof(k kvnr.KVNR, method proof.Method, level loa.Level, at time.Time) proof.Proof {
	addr := member.Address{Street: "Hauptstraße 1a", PostalCode: "28195", Locality: "Bremen", Country: "DE"}
	return proof.Proof{
		Method: method,
		Level:  level,
		KVNR:   k,
		Attributes: proof.Attributes{
			GivenName:    "Jürgen Karl",
			FamilyName:   "Müller-Lüdenscheidt",
			BirthName:    "Schulze",
			BirthDate:    "1970-01-31",
			PlaceOfBirth: "Bremen",
			Address:      addr,
		},
		Evidence: proof.Evidence{
			Type:        "postal_letter",
			Reference:   "letter-1",
			Issuer:      "https://id.example.de",
			IssuedAt:    at.Add(-72 * time.Hour),
			DeliveredTo: addr,
		},
		Time: at,
	}
}

// pendingAccount is the account a proofing creates for k.
func pendingAccount(id string, k kvnr.KVNR, level loa.Level) account.Account {
	return account.Account{ID: id, KVNR: k, Status: account.Pending, Proofing: level, CreatedAt: t0, UpdatedAt: t0}
}

var enrollmentTests = []test[EnrollmentStore]{
	{"NewAccount", func(t *testing.T, s EnrollmentStore) {
		ctx := t.Context()
		k := kvnrOf(1)
		sess := newSession("enr-1", k)
		a := pendingAccount("acct-1", k, loa.Substantial)
		p := newProof(k, proof.Letter, loa.Substantial, t0)
		got, err := s.StartEnrollment(ctx, sess, a, p)
		must(t, "StartEnrollment", err)
		equal(t, "returned account", a, got)
		stored, err := s.AccountByKVNR(ctx, k)
		must(t, "AccountByKVNR", err)
		equal(t, "stored account", a, stored)

		sess.AccountID = a.ID
		gotSess, err := s.EnrollmentByTokenHash(ctx, sess.TokenHash)
		must(t, "EnrollmentByTokenHash", err)
		equal(t, "session", sess, gotSess)
		proofs, err := s.Proofs(ctx, a.ID)
		must(t, "Proofs", err)
		equal(t, "proofs", []proof.Proof{p}, proofs)
	}},
	{"ExistingAccount", func(t *testing.T, s EnrollmentStore) {
		ctx := t.Context()
		k := kvnrOf(1)
		existing := newAccount(1) // active, substantial, with a password
		existing.Proofing = loa.Low
		must(t, "CreateAccount", s.CreateAccount(ctx, existing))

		// A letter raises the level; ID, status and password stay.
		p1 := newProof(k, proof.Letter, loa.Substantial, t0)
		got, err := s.StartEnrollment(ctx, newSession("enr-1", k), pendingAccount("acct-new", k, loa.Substantial), p1)
		must(t, "StartEnrollment letter", err)
		want := existing
		want.Proofing, want.UpdatedAt = loa.Substantial, t0
		equal(t, "account raised by a letter", want, got)
		stored, err := s.AccountByID(ctx, existing.ID)
		must(t, "AccountByID", err)
		equal(t, "stored account", want, stored)
		_, err = s.AccountByID(ctx, "acct-new")
		wantKind(t, "the account not created", err, fault.NotFound)
		sess, err := s.EnrollmentByTokenHash(ctx, "token-hash-enr-1")
		must(t, "EnrollmentByTokenHash", err)
		if sess.AccountID != existing.ID {
			t.Errorf("session of account %q, want %q", sess.AccountID, existing.ID)
		}

		// A lower level later keeps the higher one.
		p2 := newProof(k, proof.Letter, loa.Low, t0.Add(time.Hour))
		p2.Evidence.Reference = "letter-2"
		sess2 := newSession("enr-2", k)
		sess2.CreatedAt = t0.Add(time.Hour)
		got, err = s.StartEnrollment(ctx, sess2, pendingAccount("acct-new", k, loa.Low), p2)
		must(t, "StartEnrollment low", err)
		equal(t, "account after a lower proof", want, got)

		// eID raises it further.
		p3 := newProof(k, proof.EID, loa.High, t0.Add(2*time.Hour))
		p3.Evidence = proof.Evidence{Type: "electronic_id", Reference: "eid-tx-1", Issuer: "https://eid.example.de", Subject: "restricted-id-1", IssuedAt: t0.Add(2 * time.Hour)}
		sess3 := newSession("enr-3", k)
		sess3.Method, sess3.CreatedAt = proof.EID, t0.Add(2*time.Hour)
		got, err = s.StartEnrollment(ctx, sess3, pendingAccount("acct-new", k, loa.High), p3)
		must(t, "StartEnrollment eID", err)
		want.Proofing, want.UpdatedAt = loa.High, t0.Add(2*time.Hour)
		equal(t, "account raised by eID", want, got)

		proofs, err := s.Proofs(ctx, existing.ID)
		must(t, "Proofs", err)
		equal(t, "proofs, oldest first", []proof.Proof{p1, p2, p3}, proofs)
		none, err := s.Proofs(ctx, "acct-nobody")
		must(t, "Proofs of an unknown account", err)
		if len(none) != 0 {
			t.Errorf("Proofs of an unknown account: %d", len(none))
		}
	}},
	{"ConflictRollsBack", func(t *testing.T, s EnrollmentStore) {
		ctx := t.Context()
		k1, k2 := kvnrOf(1), kvnrOf(2)
		_, err := s.StartEnrollment(ctx, newSession("enr-1", k1), pendingAccount("acct-1", k1, loa.Substantial),
			newProof(k1, proof.Letter, loa.Substantial, t0))
		must(t, "StartEnrollment", err)

		// Same session ID for another member: nothing of it is stored.
		_, err = s.StartEnrollment(ctx, newSession("enr-1", k2), pendingAccount("acct-2", k2, loa.Substantial),
			newProof(k2, proof.Letter, loa.Substantial, t0))
		wantKind(t, "StartEnrollment duplicate session ID", err, fault.Conflict)
		_, err = s.AccountByKVNR(ctx, k2)
		wantKind(t, "account of a failed enrollment", err, fault.NotFound)

		// Same token hash, existing member: the proof is not recorded.
		dup := newSession("enr-2", k1)
		dup.TokenHash = "token-hash-enr-1"
		_, err = s.StartEnrollment(ctx, dup, pendingAccount("acct-x", k1, loa.High), newProof(k1, proof.EID, loa.High, t0))
		wantKind(t, "StartEnrollment duplicate token hash", err, fault.Conflict)
		a, err := s.AccountByKVNR(ctx, k1)
		must(t, "AccountByKVNR", err)
		if a.Proofing != loa.Substantial {
			t.Errorf("a failed enrollment raised the level to %v", a.Proofing)
		}
		proofs, err := s.Proofs(ctx, a.ID)
		must(t, "Proofs", err)
		if len(proofs) != 1 {
			t.Errorf("%d proofs after a failed enrollment, want 1", len(proofs))
		}
	}},
	{"OtherMember", func(t *testing.T, s EnrollmentStore) {
		_, err := s.StartEnrollment(t.Context(), newSession("enr-1", kvnrOf(1)), pendingAccount("acct-1", kvnrOf(2), loa.Substantial),
			newProof(kvnrOf(1), proof.Letter, loa.Substantial, t0))
		wantKind(t, "StartEnrollment with another member's account", err, fault.Invalid)
	}},
	{"SetPassword", func(t *testing.T, s EnrollmentStore) {
		ctx := t.Context()
		k := kvnrOf(1)
		sess := newSession("enr-1", k)
		a, err := s.StartEnrollment(ctx, sess, pendingAccount("acct-1", k, loa.Substantial), newProof(k, proof.Letter, loa.Substantial, t0))
		must(t, "StartEnrollment", err)

		at := t0.Add(10 * time.Minute)
		must(t, "SetEnrollmentPassword", s.SetEnrollmentPassword(ctx, sess.ID, "$argon2id$one", at))
		at2 := sess.ExpiresAt.Add(-time.Millisecond)
		must(t, "SetEnrollmentPassword again", s.SetEnrollmentPassword(ctx, sess.ID, "$argon2id$two", at2))
		a.PasswordHash, a.UpdatedAt = "$argon2id$two", at2
		got, err := s.AccountByID(ctx, a.ID)
		must(t, "AccountByID", err)
		equal(t, "account with password", a, got)
		gotSess, err := s.EnrollmentByTokenHash(ctx, sess.TokenHash)
		must(t, "EnrollmentByTokenHash", err)
		sameInstant(t, "PasswordSetAt", at2, gotSess.PasswordSetAt)

		wantKind(t, "SetEnrollmentPassword at expiry", s.SetEnrollmentPassword(ctx, sess.ID, "$argon2id$late", sess.ExpiresAt), fault.Expired)
		wantKind(t, "SetEnrollmentPassword unknown", s.SetEnrollmentPassword(ctx, "enr-nope", "$argon2id$x", at), fault.NotFound)
		got, err = s.AccountByID(ctx, a.ID)
		must(t, "AccountByID", err)
		equal(t, "account after refused passwords", a, got)
		_, err = s.EnrollmentByTokenHash(ctx, "nope")
		wantKind(t, "EnrollmentByTokenHash unknown", err, fault.NotFound)
	}},
	{"SetPasswordCompleted", func(t *testing.T, s EnrollmentStore) {
		ctx := t.Context()
		k := kvnrOf(1)
		sess := newSession("enr-1", k)
		sess.CompletedAt = t0.Add(time.Minute)
		_, err := s.StartEnrollment(ctx, sess, pendingAccount("acct-1", k, loa.Substantial), newProof(k, proof.Letter, loa.Substantial, t0))
		must(t, "StartEnrollment", err)
		wantKind(t, "SetEnrollmentPassword of a completed session", s.SetEnrollmentPassword(ctx, sess.ID, "$argon2id$x", t0.Add(2*time.Minute)), fault.Expired)
	}},
	{"HolderLinkedOnce", func(t *testing.T, s EnrollmentStore) {
		ctx := t.Context()
		card := func(k kvnr.KVNR, issuer, subject string) proof.Proof {
			p := newProof(k, proof.EID, loa.High, t0)
			p.Evidence = proof.Evidence{Type: "electronic_id", Reference: "eid-1", Issuer: issuer, Subject: subject, IssuedAt: t0}
			return p
		}
		k1, k2 := kvnrOf(1), kvnrOf(2)
		_, err := s.StartEnrollment(ctx, newSession("enr-1", k1), pendingAccount("acct-1", k1, loa.High), card(k1, "https://eid.example", "card-a"))
		must(t, "StartEnrollment", err)
		// The same card for the same member again: fine.
		_, err = s.StartEnrollment(ctx, newSession("enr-2", k1), pendingAccount("acct-x", k1, loa.High), card(k1, "https://eid.example", "card-a"))
		must(t, "StartEnrollment with the same card", err)
		// The same card for another member: refused, and nothing stored.
		_, err = s.StartEnrollment(ctx, newSession("enr-3", k2), pendingAccount("acct-2", k2, loa.High), card(k2, "https://eid.example", "card-a"))
		wantKind(t, "StartEnrollment with another member's card", err, fault.Conflict)
		if !errors.Is(err, store.ErrHolderLinked) {
			t.Fatalf("another member's card: %v, want ErrHolderLinked", err)
		}
		_, err = s.AccountByKVNR(ctx, k2)
		wantKind(t, "the refused member's account", err, fault.NotFound)
		_, err = s.EnrollmentByTokenHash(ctx, "token-hash-enr-3")
		wantKind(t, "the refused session", err, fault.NotFound)
		// The same pseudonym from another service is another holder's; a
		// proof without a pseudonym (a letter) links nothing.
		_, err = s.StartEnrollment(ctx, newSession("enr-4", k2), pendingAccount("acct-2", k2, loa.High), card(k2, "https://other.example", "card-a"))
		must(t, "StartEnrollment with another service's pseudonym", err)
		_, err = s.StartEnrollment(ctx, newSession("enr-5", k2), pendingAccount("acct-2", k2, loa.Substantial), newProof(k2, proof.Letter, loa.Substantial, t0))
		must(t, "StartEnrollment with a letter", err)
	}},
	{"RecordProof", func(t *testing.T, s EnrollmentStore) {
		ctx := t.Context()
		k1, k2 := kvnrOf(1), kvnrOf(2)
		letter := newProof(k1, proof.Letter, loa.Substantial, t0)
		_, err := s.StartEnrollment(ctx, newSession("enr-1", k1), pendingAccount("acct-1", k1, loa.Substantial), letter)
		must(t, "StartEnrollment", err)
		card := newProof(k1, proof.EID, loa.High, t0.Add(time.Hour))
		card.Evidence = proof.Evidence{Type: "electronic_id", Reference: "eid-1", Issuer: "https://eid.example", Subject: "card-a", IssuedAt: t0}
		got, err := s.RecordProof(ctx, "acct-1", card)
		must(t, "RecordProof", err)
		want := pendingAccount("acct-1", k1, loa.High)
		want.UpdatedAt = t0.Add(time.Hour)
		equal(t, "stepped-up account", want, got)
		stored, err := s.AccountByID(ctx, "acct-1")
		must(t, "AccountByID", err)
		equal(t, "stored account", want, stored)
		proofs, err := s.Proofs(ctx, "acct-1")
		must(t, "Proofs", err)
		equal(t, "proofs", []proof.Proof{letter, card}, proofs)
		// A lower proof later keeps the level.
		_, err = s.RecordProof(ctx, "acct-1", newProof(k1, proof.Letter, loa.Substantial, t0.Add(2*time.Hour)))
		must(t, "RecordProof lower", err)
		if a, _ := s.AccountByID(ctx, "acct-1"); a.Proofing != loa.High {
			t.Fatalf("level after a lower proof: %v", a.Proofing)
		}

		_, err = s.RecordProof(ctx, "acct-nope", card)
		wantKind(t, "RecordProof unknown account", err, fault.NotFound)
		_, err = s.RecordProof(ctx, "acct-1", newProof(k2, proof.EID, loa.High, t0))
		wantKind(t, "RecordProof of another member", err, fault.Invalid)
		// Another member's account with the same card: refused, nothing
		// changed.
		_, err = s.StartEnrollment(ctx, newSession("enr-2", k2), pendingAccount("acct-2", k2, loa.Substantial), newProof(k2, proof.Letter, loa.Substantial, t0))
		must(t, "StartEnrollment 2", err)
		other := card
		other.KVNR = k2
		_, err = s.RecordProof(ctx, "acct-2", other)
		if !errors.Is(err, store.ErrHolderLinked) || !errors.Is(err, fault.Conflict) {
			t.Fatalf("RecordProof with another member's card: %v", err)
		}
		if a, _ := s.AccountByID(ctx, "acct-2"); a.Proofing != loa.Substantial {
			t.Fatalf("level after a refused step-up: %v", a.Proofing)
		}
		if ps, _ := s.Proofs(ctx, "acct-2"); len(ps) != 1 {
			t.Fatalf("proofs after a refused step-up: %d", len(ps))
		}
	}},
	{"HolderLinkRace", func(t *testing.T, s EnrollmentStore) {
		// N members register one card at once: exactly one wins.
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				k := kvnrOf(i + 1)
				p := newProof(k, proof.EID, loa.High, t0)
				p.Evidence = proof.Evidence{Type: "electronic_id", Reference: "eid", Issuer: "https://eid.example", Subject: "card-raced"}
				_, errs[i] = s.StartEnrollment(t.Context(), newSession(fmt.Sprintf("enr-%d", i), k),
					pendingAccount(fmt.Sprintf("acct-%d", i), k, loa.High), p)
			})
		}
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrHolderLinked):
				t.Errorf("member %d: %v", i, err)
			}
		}
		if won != 1 {
			t.Fatalf("%d members registered one card, want 1", won)
		}
	}},
}

var rateLimitTests = []test[RateLimitStore]{
	{"SlidingWindow", func(t *testing.T, s RateLimitStore) {
		ctx := t.Context()
		// t0 is 15.123 s into its minute; with a minute's window a bucket is
		// 6 s long, and a hit counts until the eleventh bucket after its own
		// begins.
		for i := 1; i <= 3; i++ {
			ok, _, err := s.Hit(ctx, "kvnr:x", 3, time.Minute, t0.Add(time.Duration(i)*time.Second))
			must(t, "Hit", err)
			if !ok {
				t.Fatalf("hit %d of 3 refused", i)
			}
		}
		now := t0.Add(10 * time.Second) // 25.123 s
		ok, retry, err := s.Hit(ctx, "kvnr:x", 3, time.Minute, now)
		must(t, "Hit", err)
		if ok {
			t.Fatalf("hit 4 of 3 allowed")
		}
		// The hits at 16.123 and 17.123 s are in the bucket from 12 s, which
		// counts until 78 s; then 2 of the 4 remain and a third fits.
		if want := 78*time.Second - 25123*time.Millisecond; retry != want {
			t.Errorf("retryAfter %v, want %v", retry, want)
		}
		ok, _, err = s.Hit(ctx, "kvnr:y", 3, time.Minute, now)
		must(t, "Hit other key", err)
		if !ok {
			t.Errorf("another key is limited")
		}
		ok, _, err = s.Hit(ctx, "kvnr:x", 3, time.Hour, now)
		must(t, "Hit other window length", err)
		if !ok {
			t.Errorf("another window length shares the count")
		}
		// The minute's boundary does not reset the count (a fixed window
		// would let 3 more through at the full minute).
		boundary := t0.Truncate(time.Minute).Add(time.Minute)
		ok, _, err = s.Hit(ctx, "kvnr:x", 3, time.Minute, boundary)
		must(t, "Hit at the boundary", err)
		if ok {
			t.Errorf("the next fixed window is not limited: the count restarted at the boundary")
		}
	}},
	{"SlidingWindowRetryAfter", func(t *testing.T, s RateLimitStore) {
		ctx := t.Context()
		var retry time.Duration
		for i := range 4 {
			ok, r, err := s.Hit(ctx, "kvnr:x", 3, time.Minute, t0.Add(time.Duration(i)*10*time.Second))
			must(t, "Hit", err)
			if ok != (i < 3) {
				t.Fatalf("hit %d: allowed %v", i+1, ok)
			}
			retry = r
		}
		at := t0.Add(30 * time.Second).Add(retry)
		if ok, _, err := s.Hit(ctx, "kvnr:x", 3, time.Minute, at.Add(-time.Millisecond)); err != nil || ok {
			t.Fatalf("allowed before retryAfter (%v, %v)", ok, err)
		}
		// That refused hit counts too, in the last bucket: one more fits
		// when the second hit's bucket is over.
		if ok, _, err := s.Hit(ctx, "kvnr:x", 3, time.Minute, at.Add(10*time.Second)); err != nil || !ok {
			t.Fatalf("refused after retryAfter (%v, %v)", ok, err)
		}
	}},
	{"Release", func(t *testing.T, s RateLimitStore) {
		ctx := t.Context()
		// Three hits reserve the limit; a released one makes room again,
		// in its own bucket only, and a count never goes below zero.
		for i := range 3 {
			if ok, _, err := s.Hit(ctx, "net:r", 3, time.Minute, t0.Add(time.Duration(i)*time.Second)); err != nil || !ok {
				t.Fatalf("hit %d: %v, %v", i+1, ok, err)
			}
		}
		must(t, "Release", s.Release(ctx, "net:r", time.Minute, t0.Add(2*time.Second)))
		if n, _, err := s.Count(ctx, "net:r", 3, time.Minute, t0.Add(3*time.Second)); err != nil || n != 2 {
			t.Fatalf("Count after a release: %d, %v; want 2", n, err)
		}
		for range 3 {
			must(t, "Release", s.Release(ctx, "net:r", time.Minute, t0))
		}
		must(t, "Release of nothing", s.Release(ctx, "net:none", time.Minute, t0))
		if n, _, err := s.Count(ctx, "net:r", 3, time.Minute, t0.Add(3*time.Second)); err != nil || n != 0 {
			t.Fatalf("Count after releasing more than was hit: %d, %v; want 0", n, err)
		}
		if ok, _, err := s.Hit(ctx, "net:r", 1, time.Minute, t0); err != nil || !ok {
			t.Fatalf("a hit after the releases: %v, %v", ok, err)
		}
	}},
	{"Count", func(t *testing.T, s RateLimitStore) {
		ctx := t.Context()
		n, retry, err := s.Count(ctx, "net:a", 3, time.Minute, t0)
		must(t, "Count of an unknown key", err)
		if n != 0 || retry != 0 {
			t.Fatalf("Count of an unknown key: %d, %v; want 0, 0", n, retry)
		}
		for range 3 {
			_, _, err := s.Hit(ctx, "net:a", 10, time.Minute, t0)
			must(t, "Hit", err)
		}
		for range 2 {
			n, retry, err = s.Count(ctx, "net:a", 3, time.Minute, t0.Add(time.Second))
			must(t, "Count", err)
			if n != 3 {
				t.Fatalf("Count = %d after 3 hits, want 3 (and Count counts nothing)", n)
			}
			// The bucket from 12 s counts until 78 s.
			if want := 78*time.Second - 16123*time.Millisecond; retry != want {
				t.Fatalf("Count's retryAfter at the limit = %v, want %v", retry, want)
			}
		}
		if n, retry, err = s.Count(ctx, "net:a", 4, time.Minute, t0.Add(time.Second)); err != nil || n != 3 || retry != 0 {
			t.Errorf("Count below the limit = %d, %v, %v; want 3, 0", n, retry, err)
		}
		if n, _, err = s.Count(ctx, "net:a", 3, time.Hour, t0); err != nil || n != 0 {
			t.Errorf("Count with another window length = %d, %v; want 0", n, err)
		}
		if n, _, err = s.Count(ctx, "net:a", 3, time.Minute, t0.Add(time.Minute)); err != nil || n != 3 {
			t.Errorf("Count a minute later, the bucket still counting = %d, %v; want 3", n, err)
		}
		if n, _, err = s.Count(ctx, "net:a", 3, time.Minute, t0.Add(63*time.Second)); err != nil || n != 0 {
			t.Errorf("Count once the bucket is over = %d, %v; want 0", n, err)
		}
		_, _, err = s.Count(ctx, "net:a", 3, 0, t0)
		wantKind(t, "Count with no window", err, fault.Invalid)
		// N concurrent hits count N.
		errs := race(func(int) error { _, _, err := s.Hit(ctx, "net:b", N, time.Minute, t0); return err })
		for _, err := range errs {
			must(t, "concurrent Hit", err)
		}
		if n, _, err = s.Count(ctx, "net:b", N, time.Minute, t0); err != nil || n != N {
			t.Errorf("Count after %d concurrent hits = %d, %v", N, n, err)
		}
	}},
	{"DeleteExpiredKeepsLiveWindows", func(t *testing.T, s RateLimitStore) {
		ctx := t.Context()
		for range 2 {
			_, _, err := s.Hit(ctx, "ip:a", 2, time.Hour, t0)
			must(t, "Hit", err)
		}
		_, err := s.DeleteExpired(ctx, t0.Add(time.Minute))
		must(t, "DeleteExpired", err)
		ok, _, err := s.Hit(ctx, "ip:a", 2, time.Hour, t0.Add(time.Minute))
		must(t, "Hit", err)
		if ok {
			t.Errorf("DeleteExpired forgot the hits of a running window")
		}
	}},
	{"Invalid", func(t *testing.T, s RateLimitStore) {
		ctx := t.Context()
		_, _, err := s.Hit(ctx, "k", 1, 0, t0)
		wantKind(t, "Hit with no window", err, fault.Invalid)
		_, _, err = s.Hit(ctx, "k", -1, time.Minute, t0)
		wantKind(t, "Hit with a negative limit", err, fault.Invalid)
		ok, _, err := s.Hit(ctx, "k", 0, time.Minute, t0)
		must(t, "Hit with limit 0", err)
		if ok {
			t.Errorf("limit 0 allowed a hit")
		}
	}},
}
