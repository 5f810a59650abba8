package e2e

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/catalog"
	"github.com/pforte-id/pforte/core/letter"
)

// reportLost reports the letter of member number k lost, as the app does.
func (in *instance) reportLost(t *testing.T, k, birth string, header map[string]string) result {
	t.Helper()
	return sendJSON(t, http.MethodPost, in.base+"/app/v1/letters/lost",
		map[string]string{"kvnr": k, "birth_date": birth}, header)
}

// TestLetterReportedLost: the member's letter does not arrive; the member
// reports it lost in the app two days later. The answer is the one for
// every report; the letter is voided and a new one produced at once
// (the lost one does not count against the 7 days); the member is told by
// e-mail, in German and English. The lost letter's secrets no longer
// activate, the new one's do. A second report the same week is refused
// with the time from which a new letter is possible, for a number that
// belongs to nobody alike.
func TestLetterReportedLost(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		m := applicant("Hauke", "Janssen", "1961-04-17", w.clock.Now())
		m.Email = "hauke.janssen@example.org"
		relay := startMailRelay(t)
		in, lost := w.letterOrdered(t, eng, m, relay.notifier(t))
		w.clock.Advance(2 * 24 * time.Hour)

		r := in.reportLost(t, m.KVNR.String(), m.BirthDate, nil)
		nobody := in.reportLost(t, randomKVNR().String(), "1970-01-01", nil)
		for _, x := range []result{r, nobody} {
			if x.status != http.StatusAccepted {
				t.Fatalf("report: %d %s", x.status, x.body)
			}
		}
		if !bytes.Equal(r.body, nobody.body) {
			t.Fatalf("the answers differ: %s / %s", r.body, nobody.body)
		}
		if msg := r.json(t)["message"]; msg != catalog.German.Text("registration.lost_accepted") {
			t.Errorf("answer %q", msg)
		}
		in.wantWork(t, 2, 1)
		in.wantOutcome(t, "lost_replaced", 1)
		in.wantOutcome(t, "unknown_member", 1)
		ls := in.letters(t, m.KVNR)
		if len(ls) != 2 || ls[1].ID != lost.letter.ID || ls[1].State != letter.Voided || ls[1].VoidReason != letter.ReasonLost {
			t.Fatalf("letters %+v; want the lost one voided (lost) and a new one", ls)
		}
		fresh := w.readLetter(t, in, m.KVNR)
		msgs := relay.messages()
		if len(msgs) != 1 || msgs[0].to[0] != m.Email ||
			msgs[0].subject != "Ihr Passwortbrief wurde als verloren gemeldet / Your password letter was reported lost" ||
			!strings.Contains(msgs[0].body, letter.Group(lost.letter.ID)) || !strings.Contains(msgs[0].body, "reported lost") {
			t.Fatalf("mails %+v", msgs)
		}

		// A second report within the week: refused, with the time.
		w.clock.Advance(time.Hour)
		detail := wantProblem(t, in.reportLost(t, m.KVNR.String(), m.BirthDate, nil), http.StatusTooManyRequests, "rate_limited")
		if !strings.Contains(detail, "spätestens ab dem") {
			t.Errorf("detail %q: want from when a new letter is possible", detail)
		}
		again := in.reportLost(t, m.KVNR.String(), m.BirthDate, map[string]string{"Accept-Language": "en"})
		if got := wantProblem(t, again, http.StatusTooManyRequests, "rate_limited"); !strings.Contains(got, "at the latest") || again.header.Get("Retry-After") == "" {
			t.Errorf("English detail %q, Retry-After %q", got, again.header.Get("Retry-After"))
		}
		in.wantWork(t, 0, 0)

		// The lost letter's secrets are as good as a guess, should it turn
		// up (in whosever hands).
		wantProblem(t, in.activate(t, m.KVNR.String(), lost.initialPassword, lost.code), http.StatusUnauthorized, "unauthenticated")
		enrollmentToken(t, in.activate(t, m.KVNR.String(), fresh.initialPassword, fresh.code))
	})
}
