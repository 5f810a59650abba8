package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/ratelimit"
)

// Attacks on the password letter: a third party who knows a member's
// number (and perhaps the birth date) guesses at the letter, replays its
// secrets, floods the post, or reports it lost.

func init() {
	addAttacks(
		attack{id: "LETTER-01", name: "A third party guesses the initial password until the letter is voided", source: "Pforte: letter proofing (core/letterproof)", run: attackLetterGuessedFiveTimes},
		attack{id: "LETTER-02", name: "Guesses after a voiding aim at the member's next letter", source: "Pforte: letter proofing, guard window", run: attackLetterGuessesAfterVoiding},
		attack{id: "LETTER-03", name: "Guessing many members' letters from one address", source: "Pforte: activations per client address", run: attackLetterGuessesFromOneAddress},
		attack{id: "LETTER-04", name: "Replay of an activated letter's secrets", source: "Pforte: letter proofing, one activation per letter", run: attackLetterReplayUsed},
		attack{id: "LETTER-05", name: "Replay of a superseded letter's secrets", source: "Pforte: a new letter voids the old one", run: attackLetterReplaySuperseded},
		attack{id: "LETTER-06", name: "Letter flooding from one address", source: "Pforte: letter requests per client address", run: attackLetterFloodFromOneAddress},
		attack{id: "LETTER-07", name: "Letter flooding of one member from many addresses", source: "Pforte: letter requests per member number", run: attackLetterFloodOneMember},
		attack{id: "LETTER-08", name: "A third party without the birth date reports the letter lost", source: "Pforte: lost letter report (core/registration)", run: attackLetterLostWrongBirthDate},
		attack{id: "LETTER-09", name: "A third party reports the letter lost again and again", source: "Pforte: lost letter report, one per interval", run: attackLetterLostRepeated},
		attack{id: "LETTER-10", name: "A lost letter report that names the attacker's address", source: "Pforte: letters go to the address on file", run: attackLetterLostOtherAddress},
		attack{id: "LETTER-11", name: "Activation with an expired letter", source: "Pforte: letters are valid 60 days", run: attackLetterExpired},
	)
}

// wrongSecret is a well-formed initial password that is not p's: its
// last character changed.
func wrongSecret(p printed) string {
	right := letter.Normalize(p.initialPassword)
	return right[:11] + string(letter.Alphabet[(strings.IndexByte(letter.Alphabet, right[11])+1)%32])
}

// activateFrom presents secrets for member number k from client address ip
// (believed through the trusted loopback proxy).
func (in *instance) activateFrom(t *testing.T, ip, k, initialPassword, code string) result {
	t.Helper()
	return sendJSON(t, http.MethodPost, in.base+"/app/v1/activations",
		map[string]string{"kvnr": k, "initial_password": initialPassword, "activation_code": code},
		map[string]string{"X-Forwarded-For": ip})
}

// sameAnswer fails unless a and b are the same answer: status, body byte
// for byte, and every header but Date.
func sameAnswer(t *testing.T, what string, a, b result) {
	t.Helper()
	ha, hb := a.header.Clone(), b.header.Clone()
	ha.Del("Date")
	hb.Del("Date")
	if a.status != b.status || !bytes.Equal(a.body, b.body) || fmt.Sprint(ha) != fmt.Sprint(hb) {
		t.Fatalf("%s: the answers differ:\n%d %v %s\n%d %v %s", what, a.status, ha, a.body, b.status, hb, b.body)
	}
}

// newLetterAt has the member ask for a letter again and returns it: the
// member's own path after an attack.
func (w *world) newLetterAt(t *testing.T, in *instance, m member.Member) printed {
	t.Helper()
	accepted(t, in.requestLetter(t, m.KVNR.String(), m.BirthDate, nil))
	in.wantWork(t, 1, 1)
	return w.readLetter(t, in, m.KVNR)
}

func attackLetterGuessedFiveTimes(t *testing.T) {
	w := newWorld(t)
	m := applicant("Enno", "Albers", "1955-06-21", w.clock.Now())
	in, p := w.letterOrdered(t, sqliteEngine, m)
	none := in.activate(t, randomKVNR().String(), wrongSecret(p), p.code)
	wantProblem(t, none, http.StatusUnauthorized, "unauthenticated")
	before := in.fingerprint(t)
	for i := range 5 {
		sameAnswer(t, fmt.Sprintf("guess %d and a guess without letter", i+1), in.activate(t, m.KVNR.String(), wrongSecret(p), p.code), none)
	}
	// The fifth guess voided the letter; nothing else changed.
	in.unchanged(t, before, "letters", "audit_events", "rate_windows")
	if l := in.letters(t, m.KVNR)[0]; l.State != letter.Voided || l.VoidReason != letter.ReasonAttempts {
		t.Fatalf("letter %s (%s) after five guesses", l.State, l.VoidReason)
	}
	wantProblem(t, in.activate(t, m.KVNR.String(), p.initialPassword, p.code), http.StatusLocked, "locked")
	// The member's new letter comes at once and activates.
	w.clock.Advance(time.Hour)
	next := w.newLetterAt(t, in, m)
	enrollmentToken(t, in.activate(t, m.KVNR.String(), next.initialPassword, next.code))
}

func attackLetterGuessesAfterVoiding(t *testing.T) {
	w := newWorld(t)
	m := applicant("Tjark", "Hinrichs", "1979-09-17", w.clock.Now())
	in, p := w.letterOrdered(t, sqliteEngine, m, trustLoopback)
	k := m.KVNR.String()
	for i := range 5 {
		wantProblem(t, in.activateFrom(t, fmt.Sprintf("198.51.100.%d", i+1), k, wrongSecret(p), p.code), http.StatusUnauthorized, "unauthenticated")
	}
	w.clock.Advance(time.Hour)
	next := w.newLetterAt(t, in, m)
	before := in.fingerprint(t)
	// Within the guard window the guesses void nothing; beyond the per
	// number cap (10 a day) they are throttled, whatever the address.
	for i := range 5 {
		wantProblem(t, in.activateFrom(t, fmt.Sprintf("198.51.101.%d", i+1), k, wrongSecret(next), next.code), http.StatusUnauthorized, "unauthenticated")
	}
	wantRetryAfter(t, in.activateFrom(t, "198.51.102.1", k, wrongSecret(next), next.code), 24*time.Hour)
	in.unchanged(t, before, "rate_windows")
	if l := in.letters(t, m.KVNR)[0]; l.ID != next.letter.ID || l.State != letter.HandedOver || l.FailedAttempts != 0 {
		t.Fatalf("next letter %s with %d counted attempts; want untouched", l.State, l.FailedAttempts)
	}
	// While the number is throttled, the right secrets work.
	enrollmentToken(t, in.activate(t, k, next.initialPassword, next.code))
}

func attackLetterGuessesFromOneAddress(t *testing.T) {
	w := newWorld(t)
	m := applicant("Greta", "Bruns", "1966-08-14", w.clock.Now())
	in, p := w.letterOrdered(t, sqliteEngine, m)
	before := in.fingerprint(t)
	// One address tries the letters of many numbers: 20 an hour.
	for range 20 {
		wantProblem(t, in.activate(t, randomKVNR().String(), wrongSecret(p), p.code), http.StatusUnauthorized, "unauthenticated")
	}
	wantRetryAfter(t, in.activate(t, m.KVNR.String(), wrongSecret(p), p.code), time.Hour)
	// The refused guess did not reach the member's letter.
	in.unchanged(t, before, "rate_windows")
	if l := in.letters(t, m.KVNR)[0]; l.FailedAttempts != 0 {
		t.Fatalf("the member's letter counts %d attempts", l.FailedAttempts)
	}
	w.clock.Advance(time.Hour + time.Hour/ratelimit.Buckets)
	enrollmentToken(t, in.activate(t, m.KVNR.String(), p.initialPassword, p.code))
}

func attackLetterReplayUsed(t *testing.T) {
	w := newWorld(t)
	m := applicant("Heike", "Gerdes", "1988-11-30", w.clock.Now())
	in, p := w.letterOrdered(t, sqliteEngine, m)
	token := enrollmentToken(t, in.activate(t, m.KVNR.String(), p.initialPassword, p.code))
	before := in.fingerprint(t)
	// Whoever finds the letter in the waste paper replays it.
	wantProblem(t, in.activate(t, m.KVNR.String(), p.initialPassword, p.code), http.StatusConflict, "conflict")
	in.unchanged(t, before, "rate_windows")
	// The member's enrollment goes on.
	in.passwordSet(t, token)
}

func attackLetterReplaySuperseded(t *testing.T) {
	w := newWorld(t)
	m := applicant("Wiebke", "Onken", "1992-03-08", w.clock.Now())
	in, old := w.letterOrdered(t, sqliteEngine, m)
	w.clock.Advance(8 * 24 * time.Hour)
	fresh := w.newLetterAt(t, in, m)
	none := in.activate(t, randomKVNR().String(), old.initialPassword, old.code)
	before := in.fingerprint(t)
	// The old letter's secrets are as good as a guess, and count as one
	// against the member's live letter.
	sameAnswer(t, "the superseded letter and a guess", in.activate(t, m.KVNR.String(), old.initialPassword, old.code), none)
	in.unchanged(t, before, "letters", "rate_windows")
	if l := in.letters(t, m.KVNR)[0]; l.ID != fresh.letter.ID || l.State != letter.HandedOver || l.FailedAttempts != 1 {
		t.Fatalf("live letter %s with %d counted attempts; want one", l.State, l.FailedAttempts)
	}
	enrollmentToken(t, in.activate(t, m.KVNR.String(), fresh.initialPassword, fresh.code))
}

func attackLetterFloodFromOneAddress(t *testing.T) {
	w := newWorld(t)
	m := applicant("Okke", "Petersen", "1969-09-09", w.clock.Now())
	in := w.start(t, sqliteEngine.storage(t))
	in.importMembers(t, m)
	for range 10 {
		accepted(t, in.requestLetter(t, randomKVNR().String(), "1970-01-01", nil))
	}
	before := in.fingerprint(t)
	// The eleventh request in the hour, for a real member, is refused and
	// queued nowhere; the spoofed X-Forwarded-For is not believed.
	wantRetryAfter(t, in.requestLetter(t, m.KVNR.String(), m.BirthDate, nil), time.Hour)
	wantRetryAfter(t, in.requestLetter(t, m.KVNR.String(), m.BirthDate, map[string]string{"X-Forwarded-For": "203.0.113.9"}), time.Hour)
	in.unchanged(t, before, "rate_windows")
	in.wantWork(t, 10, 0)
	w.clock.Advance(time.Hour + time.Hour/ratelimit.Buckets)
	w.newLetterAt(t, in, m)
}

func attackLetterFloodOneMember(t *testing.T) {
	w := newWorld(t)
	m := applicant("Frauke", "Hinrichs", "1977-12-01", w.clock.Now())
	in, p := w.letterOrdered(t, sqliteEngine, m, trustLoopback)
	from := func(i int) map[string]string {
		return map[string]string{"X-Forwarded-For": fmt.Sprintf("198.51.100.%d", i)}
	}
	// The member's own request counts: two more a day are taken, and
	// within 7 days of the letter they mail no new one.
	for i := range 2 {
		accepted(t, in.requestLetter(t, m.KVNR.String(), m.BirthDate, from(i+1)))
	}
	before := in.fingerprint(t)
	wantRetryAfter(t, in.requestLetter(t, m.KVNR.String(), m.BirthDate, from(77)), 24*time.Hour)
	in.unchanged(t, before, "rate_windows")
	in.wantWork(t, 2, 0)
	in.wantOutcome(t, "too_soon", 2)
	if ls := in.letters(t, m.KVNR); len(ls) != 1 || ls[0].State != letter.HandedOver {
		t.Fatalf("letters after the flood: %+v", ls)
	}
	enrollmentToken(t, in.activate(t, m.KVNR.String(), p.initialPassword, p.code))
}

func attackLetterLostWrongBirthDate(t *testing.T) {
	w := newWorld(t)
	m := applicant("Hauke", "Janssen", "1961-04-17", w.clock.Now())
	in, p := w.letterOrdered(t, sqliteEngine, m)
	before := in.fingerprint(t)
	// The report is answered like any other, and voids nothing.
	r := in.reportLost(t, m.KVNR.String(), "1961-04-18", nil)
	if r.status != http.StatusAccepted {
		t.Fatalf("report: %d %s", r.status, r.body)
	}
	in.wantWork(t, 1, 0)
	in.wantOutcome(t, "birthdate_mismatch", 1)
	in.unchanged(t, before, "registrations", "rate_windows")
	enrollmentToken(t, in.activate(t, m.KVNR.String(), p.initialPassword, p.code))
}

func attackLetterLostRepeated(t *testing.T) {
	w := newWorld(t)
	m := applicant("Imke", "Rademacher", "1981-02-02", w.clock.Now())
	in, lost := w.letterOrdered(t, sqliteEngine, m, trustLoopback)
	w.clock.Advance(24 * time.Hour)
	// What a third party with number and birth date may do: have the
	// letter replaced, at the address on file.
	first := in.reportLost(t, m.KVNR.String(), m.BirthDate, map[string]string{"X-Forwarded-For": "198.51.100.1"})
	if first.status != http.StatusAccepted {
		t.Fatalf("report: %d %s", first.status, first.body)
	}
	in.wantWork(t, 1, 1)
	fresh := w.readLetter(t, in, m.KVNR)
	before := in.fingerprint(t)
	// What it may not: have letter after letter mailed, from anywhere.
	w.clock.Advance(time.Hour)
	r := in.reportLost(t, m.KVNR.String(), m.BirthDate, map[string]string{"X-Forwarded-For": "198.51.100.2"})
	wantProblem(t, r, http.StatusTooManyRequests, "rate_limited")
	if r.json(t)["code"] != "registration.lost_too_soon" || r.header.Get("Retry-After") == "" {
		t.Fatalf("second report: %s, Retry-After %q", r.body, r.header.Get("Retry-After"))
	}
	in.wantWork(t, 0, 0)
	in.unchanged(t, before, "rate_windows")
	if fresh.letter.Recipient.Address != m.Address {
		t.Fatalf("the new letter goes to %+v", fresh.letter.Recipient.Address)
	}
	wantProblem(t, in.activate(t, m.KVNR.String(), lost.initialPassword, lost.code), http.StatusUnauthorized, "unauthenticated")
	enrollmentToken(t, in.activate(t, m.KVNR.String(), fresh.initialPassword, fresh.code))
}

func attackLetterLostOtherAddress(t *testing.T) {
	w := newWorld(t)
	m := applicant("Gerd", "Oltmanns", "1961-10-10", w.clock.Now())
	in, p := w.letterOrdered(t, sqliteEngine, m)
	before := in.fingerprint(t)
	body := `{"kvnr":"` + m.KVNR.String() + `","birth_date":"` + m.BirthDate + `","address":"Am Hafen 1, 26506 Norden"}`
	wantProblem(t, sendJSON(t, http.MethodPost, in.base+"/app/v1/letters/lost", body, nil), http.StatusBadRequest, "invalid")
	in.wantWork(t, 0, 0)
	in.unchanged(t, before)
	enrollmentToken(t, in.activate(t, m.KVNR.String(), p.initialPassword, p.code))
}

func attackLetterExpired(t *testing.T) {
	w := newWorld(t)
	m := applicant("Ubbo", "Harms", "1979-01-15", w.clock.Now())
	in, p := w.letterOrdered(t, sqliteEngine, m)
	w.clock.Advance(61 * 24 * time.Hour)
	before := in.fingerprint(t)
	wantProblem(t, in.activate(t, m.KVNR.String(), p.initialPassword, p.code), http.StatusGone, "expired")
	in.unchanged(t, before, "rate_windows")
	// A new letter replaces it.
	next := w.newLetterAt(t, in, m)
	enrollmentToken(t, in.activate(t, m.KVNR.String(), next.initialPassword, next.code))
}
