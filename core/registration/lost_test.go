package registration_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/registration"
	"github.com/pforte-id/pforte/core/registration/registrationtest"
)

// reportLost reports member m's letter lost in the app and lets the
// worker decide it.
func (f *fixture) reportLost(t *testing.T, k kvnr.KVNR, birth string) error {
	t.Helper()
	err := f.svc.ReportLost(ctx, request(k, birth))
	if err != nil {
		return err
	}
	if _, err := f.svc.ProcessRegistrations(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ProcessLetters(ctx, 10); err != nil {
		t.Fatal(err)
	}
	return nil
}

// A lost letter is voided, and the replacement comes at once although
// the interval since the lost one has not passed; the member is told by
// e-mail. The replacement counts against the interval: a request after
// it gets no third letter.
func TestLostLetterIsReplacedAtOnce(t *testing.T) {
	b := &mailbox{}
	f := setup(t, withMailbox(b))
	first, _, _ := f.letterFor(t, anna)
	f.w.Advance(3 * 24 * time.Hour)
	reported := f.w.Now().UTC()
	if err := f.reportLost(t, anna.KVNR, anna.BirthDate); err != nil {
		t.Fatal(err)
	}
	ls := f.w.LettersOf(anna.KVNR)
	if len(ls) != 2 {
		t.Fatalf("letters %+v, want the lost one and its replacement", ls)
	}
	lost, repl := f.w.Letter(first.ID), ls[0]
	if lost.State != letter.Voided || lost.VoidReason != letter.ReasonLost || !lost.VoidedAt.Equal(reported) {
		t.Fatalf("lost letter %+v", lost)
	}
	if repl.ID == first.ID || repl.State != letter.HandedOver || !repl.CreatedAt.Equal(reported) {
		t.Fatalf("replacement %+v", repl)
	}
	if len(b.sent) != 1 || b.sent[0].msg.Kind != "mail.letter_lost" || b.sent[0].msg.To != anna.Email ||
		!b.sent[0].params[0].(time.Time).Equal(reported) || b.sent[0].params[1] != letter.Group(first.ID) {
		t.Fatalf("mails %+v", b.sent)
	}
	if !strings.Contains(f.logs.String(), "outcome=lost_replaced") {
		t.Errorf("logs %s", f.logs.String())
	}
	// Audited: the voiding by the member, reason lost, and the new order.
	want := []string{
		"letter.ordered " + first.ID, "letter.rendered " + first.ID, "letter.handed_over " + first.ID,
		"letter.voided " + first.ID + " " + letter.ReasonLost,
		"letter.ordered " + repl.ID, "letter.rendered " + repl.ID, "letter.handed_over " + repl.ID,
	}
	slices.Sort(want)
	if got := f.letterEvents(t); !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	es, err := f.st.AuditEvents(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Kind == audit.LetterVoided && e.Actor != audit.Member {
			t.Errorf("voiding recorded with actor %s, want member", e.Actor)
		}
	}

	// The replacement counts: a request now is too soon.
	f.w.Advance(time.Hour)
	if err := f.svc.Request(ctx, request(anna.KVNR, anna.BirthDate)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ProcessRegistrations(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if ls := f.w.LettersOf(anna.KVNR); len(ls) != 2 || ls[0].ID != repl.ID || ls[0].State != letter.HandedOver {
		t.Fatalf("after a request within the interval of the replacement: %+v", ls)
	}
}

// The guard against mass mailing: one report per member number within
// the interval (sliding window), for every well-formed
// number alike, answered with the time from which the next is taken;
// a refused report changes nothing.
func TestLostReportsAreGuarded(t *testing.T) {
	f := setup(t)
	first, _, _ := f.letterFor(t, anna)
	f.w.Advance(time.Hour)
	if err := f.reportLost(t, anna.KVNR, anna.BirthDate); err != nil {
		t.Fatal(err)
	}
	repl := f.w.LettersOf(anna.KVNR)[0]
	if repl.ID == first.ID {
		t.Fatal("no replacement")
	}
	f.w.Advance(time.Hour)
	err := f.svc.ReportLost(ctx, request(anna.KVNR, anna.BirthDate))
	var fe *fault.Error
	if !errors.Is(err, fault.RateLimited) || !errors.As(err, &fe) || fe.Code != registration.CodeLostTooSoon ||
		len(fe.Params) != 1 || !fe.Params[0].(time.Time).Equal(fe.RetryAt) {
		t.Fatalf("second report = %v", err)
	}
	// A sliding window of the interval, rounded up: the next report is
	// taken between one and two intervals on.
	week := letter.DefaultPolicy.MinInterval
	if wait := fe.RetryAt.Sub(f.w.Now()); wait <= week-2*time.Hour || wait > 2*week {
		t.Fatalf("next report in %s", wait)
	}
	if q := f.w.Queued(); len(q) != 0 {
		t.Fatalf("a refused report was queued: %+v", q)
	}
	if got := f.w.Letter(repl.ID); got.State != letter.HandedOver {
		t.Fatalf("a refused report changed the replacement: %+v", got)
	}
	// Just before that time still refused, then taken.
	f.w.Advance(fe.RetryAt.Add(-time.Second).Sub(f.w.Now()))
	if err := f.svc.ReportLost(ctx, request(anna.KVNR, anna.BirthDate)); !errors.Is(err, fault.RateLimited) {
		t.Fatalf("report a second early = %v", err)
	}
	f.w.Advance(time.Second)
	if err := f.reportLost(t, anna.KVNR, anna.BirthDate); err != nil {
		t.Fatalf("report when the guard ended = %v", err)
	}
	if ls := f.w.LettersOf(anna.KVNR); len(ls) != 3 || f.w.Letter(repl.ID).VoidReason != letter.ReasonLost {
		t.Fatalf("letters %+v", ls)
	}

	// A number that belongs to nobody is counted and answered alike.
	if err := f.svc.ReportLost(ctx, request(nobody, "1970-01-01")); err != nil {
		t.Fatal(err)
	}
	err = f.svc.ReportLost(ctx, request(nobody, "1970-01-01"))
	if !errors.As(err, &fe) || fe.Code != registration.CodeLostTooSoon {
		t.Fatalf("second report for nobody = %v", err)
	}
}

// A report is refused like a request for malformed input and by the same
// limits (the request's counters: a report does not add to them twice).
func TestLostReportRefusals(t *testing.T) {
	f := setup(t)
	for name, in := range map[string]registration.RequestInput{
		"malformed number": {KVNR: "A12345678", BirthDate: anna.BirthDate, Method: "letter", ClientIP: "192.0.2.1"},
		"bad birth date":   {KVNR: string(anna.KVNR), BirthDate: "31.02.1985", Method: "letter", ClientIP: "192.0.2.1"},
		"future birth":     {KVNR: string(anna.KVNR), BirthDate: "2999-01-01", Method: "letter", ClientIP: "192.0.2.1"},
		"eID":              {KVNR: string(anna.KVNR), BirthDate: anna.BirthDate, Method: "eid", ClientIP: "192.0.2.1"},
	} {
		if err := f.svc.ReportLost(ctx, in); !errors.Is(err, fault.Invalid) {
			t.Errorf("%s: ReportLost = %v, want Invalid", name, err)
		}
	}
	// The per-number limit of requests applies to reports too.
	for i := range registration.DefaultPerKVNR.Max {
		if err := f.svc.Request(ctx, request(bodo.KVNR, bodo.BirthDate)); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	err := f.svc.ReportLost(ctx, request(bodo.KVNR, bodo.BirthDate))
	var fe *fault.Error
	if !errors.As(err, &fe) || fe.Code != registration.CodeRateLimited {
		t.Fatalf("report beyond the per-number limit = %v", err)
	}
	if len(f.w.Queued()) != registration.DefaultPerKVNR.Max {
		t.Fatalf("%d queued", len(f.w.Queued()))
	}
}

// What the worker does with a report that does not fit: an unknown
// number or a wrong birth date voids nothing; a member without a letter
// gets what a request gets; a used letter is not voided.
func TestLostReportDecisions(t *testing.T) {
	t.Run("wrong birth date", func(t *testing.T) {
		f := setup(t)
		first, _, _ := f.letterFor(t, anna)
		if err := f.reportLost(t, anna.KVNR, "1990-01-01"); err != nil {
			t.Fatal(err)
		}
		if got := f.w.Letter(first.ID); got.State != letter.HandedOver || len(f.w.LettersOf(anna.KVNR)) != 1 {
			t.Fatalf("letter after a report with a wrong birth date: %+v", got)
		}
	})
	t.Run("no letter yet", func(t *testing.T) {
		f := setup(t)
		if err := f.reportLost(t, anna.KVNR, anna.BirthDate); err != nil {
			t.Fatal(err)
		}
		if ls := f.w.LettersOf(anna.KVNR); len(ls) != 1 || ls[0].State != letter.HandedOver {
			t.Fatalf("letters %+v, want one, as for a request", ls)
		}
	})
	t.Run("letter used", func(t *testing.T) {
		f := setup(t)
		first, _, _ := f.letterFor(t, anna)
		if err := f.w.ActivateLetter(ctx, first.ID, 5, f.w.Now()); err != nil {
			t.Fatal(err)
		}
		f.w.Advance(time.Hour)
		if err := f.reportLost(t, anna.KVNR, anna.BirthDate); err != nil {
			t.Fatal(err)
		}
		if got := f.w.Letter(first.ID); got.State != letter.Activated {
			t.Fatalf("a used letter after a report: %+v", got)
		}
		// Within the interval of the used letter: no new one.
		if ls := f.w.LettersOf(anna.KVNR); len(ls) != 1 {
			t.Fatalf("letters %+v", ls)
		}
	})
	t.Run("member no longer eligible", func(t *testing.T) {
		f := setup(t)
		first, _, _ := f.letterFor(t, anna)
		m := anna
		m.InsuredUntil = f.w.Now().Add(-365 * 24 * time.Hour)
		_ = f.w.UpsertMember(ctx, m)
		if err := f.reportLost(t, anna.KVNR, anna.BirthDate); err != nil {
			t.Fatal(err)
		}
		// Voided all the same: it may be in other hands.
		if got := f.w.Letter(first.ID); got.State != letter.Voided || got.VoidReason != letter.ReasonLost || len(f.w.LettersOf(anna.KVNR)) != 1 {
			t.Fatalf("letters %+v", f.w.LettersOf(anna.KVNR))
		}
	})
	t.Run("crash after voiding", func(t *testing.T) {
		f := setup(t)
		first, _, _ := f.letterFor(t, anna)
		if err := f.svc.ReportLost(ctx, request(anna.KVNR, anna.BirthDate)); err != nil {
			t.Fatal(err)
		}
		crashed := false
		f.w.SetInject(func(p string) error {
			if p == "Letters.VoidLetter:after" && !crashed {
				crashed = true
				return registrationtest.ErrCrash
			}
			return nil
		})
		if _, err := f.svc.ProcessRegistrations(ctx, 10); err == nil {
			t.Fatal("no error from the crash")
		}
		f.w.Advance(registration.DefaultRegistrationLease)
		if n, err := f.svc.ProcessRegistrations(ctx, 10); err != nil || n != 1 {
			t.Fatalf("second run = %d %v", n, err)
		}
		ls := f.w.LettersOf(anna.KVNR)
		if len(ls) != 2 || ls[0].State != letter.Requested || f.w.Letter(first.ID).VoidReason != letter.ReasonLost {
			t.Fatalf("letters after a crash and a retry: %+v", ls)
		}
	})
}

// Concurrent reports: one is taken, the others refused; one letter is
// voided and one replacement made.
func TestConcurrentLostReports(t *testing.T) {
	f := setup(t)
	first, _, _ := f.letterFor(t, anna)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			in := request(anna.KVNR, anna.BirthDate)
			in.ClientIP = "192.0.2." + string(rune('1'+i))
			errs[i] = f.svc.ReportLost(ctx, in)
		})
	}
	wg.Wait()
	taken := 0
	for _, err := range errs {
		switch {
		case err == nil:
			taken++
		case !errors.Is(err, fault.RateLimited):
			t.Fatalf("ReportLost = %v", err)
		}
	}
	if taken != 1 {
		t.Fatalf("%d of %d concurrent reports taken, want 1", taken, n)
	}
	if _, err := f.svc.ProcessRegistrations(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if ls := f.w.LettersOf(anna.KVNR); len(ls) != 2 || f.w.Letter(first.ID).VoidReason != letter.ReasonLost {
		t.Fatalf("letters %+v", ls)
	}
}

// Support reports a letter lost: by its number or by the member's number;
// the replacement is rendered and handed over at once; the voiding is
// recorded with the operator and the reason; the same guard applies.
func TestReportLostByOperator(t *testing.T) {
	f := setup(t)
	first, _, _ := f.letterFor(t, anna)
	f.w.Advance(24 * time.Hour)
	res, err := f.svc.ReportLostByOperator(ctx, registration.LostReport{LetterID: first.ID, Operator: "Erika Muster", Reason: "Brief nicht angekommen (Anruf 07.12.)"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Voided.ID != first.ID || res.Voided.State != letter.Voided || res.Voided.VoidReason != letter.ReasonLost ||
		res.Voided.PasswordHash != "" || res.Replacement.State != letter.HandedOver || res.Replacement.PasswordHash != "" ||
		res.Refused != "" || !res.NextPossible.IsZero() {
		t.Fatalf("result %+v", res)
	}
	if _, ok := f.w.Outbox()[res.Replacement.OutboxName]; !ok {
		t.Fatal("the replacement is not in the outbox")
	}
	es, err := f.st.AuditEvents(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range es {
		if e.Kind == audit.LetterVoided && e.Detail["letter"] == first.ID {
			found = e.Actor == audit.Operator && e.Detail["reason"] == letter.ReasonLost &&
				e.Detail["operator"] == "Erika Muster" && e.Detail["note"] == "Brief nicht angekommen (Anruf 07.12.)"
		}
	}
	if !found {
		t.Fatalf("no voiding by the operator in %+v", es)
	}

	// The replacement lost too, the same week, by member number: voided,
	// but the guard holds back the next letter.
	f.w.Advance(time.Hour)
	res2, err := f.svc.ReportLostByOperator(ctx, registration.LostReport{KVNR: string(anna.KVNR), Operator: "Erika Muster", Reason: "wieder nicht angekommen"})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Voided.ID != res.Replacement.ID || res2.Voided.State != letter.Voided || res2.Replacement.ID != "" ||
		res2.NextPossible.Before(f.w.Now().Add(letter.DefaultPolicy.MinInterval-2*24*time.Hour)) {
		t.Fatalf("second result %+v", res2)
	}
	// The member's app report is held back by the same count.
	if err := f.svc.ReportLost(ctx, request(anna.KVNR, anna.BirthDate)); !errors.Is(err, fault.RateLimited) {
		t.Fatalf("app report after support's = %v", err)
	}

	// Refusals.
	for name, rep := range map[string]registration.LostReport{
		"neither":         {Operator: "x", Reason: "y"},
		"both":            {LetterID: first.ID, KVNR: string(anna.KVNR), Operator: "x", Reason: "y"},
		"no operator":     {LetterID: first.ID, Operator: " ", Reason: "y"},
		"no reason":       {LetterID: first.ID, Operator: "x"},
		"two-line reason": {LetterID: first.ID, Operator: "x", Reason: "a\nb"},
		"long reason":     {LetterID: first.ID, Operator: "x", Reason: strings.Repeat("a", 201)},
		"malformed kvnr":  {KVNR: "A1", Operator: "x", Reason: "y"},
	} {
		if _, err := f.svc.ReportLostByOperator(ctx, rep); !errors.Is(err, fault.Invalid) {
			t.Errorf("%s: %v, want Invalid", name, err)
		}
	}
	if _, err := f.svc.ReportLostByOperator(ctx, registration.LostReport{LetterID: "NOPE", Operator: "x", Reason: "y"}); !errors.Is(err, fault.NotFound) {
		t.Errorf("unknown letter: %v", err)
	}
	if _, err := f.svc.ReportLostByOperator(ctx, registration.LostReport{KVNR: string(carl.KVNR), Operator: "x", Reason: "y"}); !errors.Is(err, fault.NotFound) {
		t.Errorf("member without a letter: %v", err)
	}
	if _, err := f.svc.ReportLostByOperator(ctx, registration.LostReport{LetterID: first.ID, Operator: "x", Reason: "y"}); !errors.Is(err, fault.Conflict) {
		t.Errorf("voided letter: %v", err)
	}
}

// A worker renders support's new letter at the same moment: the report
// still succeeds, with the new letter as the worker leaves it; one
// render of it is valid.
func TestReportLostByOperatorWhileAWorkerRenders(t *testing.T) {
	f := setup(t)
	first, _, _ := f.letterFor(t, anna)
	f.w.Advance(time.Hour)
	once := false
	f.w.SetInject(func(at string) error {
		if at == "Outbox.Put:before" && !once {
			once = true
			if n, err := f.svc.ProcessLetters(ctx, 10); err != nil || n != 1 {
				t.Errorf("worker: %d %v", n, err)
			}
		}
		return nil
	})
	res, err := f.svc.ReportLostByOperator(ctx, registration.LostReport{LetterID: first.ID, Operator: "Erika Muster", Reason: "nicht angekommen"})
	if err != nil || !once || res.Replacement.ID == "" || res.Replacement.State != letter.HandedOver {
		t.Fatalf("report while a worker renders: %+v %v", res, err)
	}
	f.w.SetInject(nil)
	checkOneValidLetter(t, f, anna, nil)
}
