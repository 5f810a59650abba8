package notifytest

import (
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/ports/notify"
)

// Subject is one notifier under test and a view of its far end.
type Subject struct {
	Notifier notify.Notifier
	// Delivered returns the messages that reached the far end so far, in
	// the order they arrived, as the far end reads them: To as the
	// recipient header says it, Subject and Body decoded, line ends in
	// Body as "\n" (a line end after the last line does not count: mail
	// ends every message with one). Kind need not be delivered.
	Delivered func(t *testing.T) []notify.Message
}

// Run runs the suite. open is called once per sub-test and returns a
// fresh notifier whose far end has received nothing yet.
func Run(t *testing.T, open func(t *testing.T) Subject) {
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

// umlauts is a message with everything a member's notification may hold:
// a display name with umlauts, German and English text, a long line.
var umlauts = notify.Message{
	To:      "Jürgen Müller <juergen.mueller@example.org>",
	Subject: "Neues Gerät für Ihr Konto – Straße / New device for your account",
	Body: "Guten Tag Herr Müller,\n\n" +
		"an Ihr Konto wurde ein neues Gerät gebunden: „Pixel 9“.\n" +
		"Waren Sie das nicht? Rufen Sie uns an.\n\n" +
		"A new device was bound to your account. Not you? Call us.\n" +
		strings.Repeat("Eine sehr lange Zeile über Geräte, ", 6) + "Ende.\n",
	Kind: "device.bound",
}

var tests = []struct {
	name string
	run  func(t *testing.T, s Subject)
}{
	{"DeliversUTF8Text", func(t *testing.T, s Subject) {
		if err := s.Notifier.Notify(t.Context(), umlauts); err != nil {
			t.Fatalf("Notify: %v", err)
		}
		got := s.Delivered(t)
		if len(got) != 1 {
			t.Fatalf("%d messages delivered, want 1", len(got))
		}
		same(t, umlauts, got[0])
	}},
	{"PlainAddress", func(t *testing.T, s Subject) {
		m := notify.Message{To: "anna@example.org", Subject: "PIN geändert / PIN changed", Body: "Ihre PIN wurde geändert.", Kind: "pin.set"}
		if err := s.Notifier.Notify(t.Context(), m); err != nil {
			t.Fatalf("Notify: %v", err)
		}
		got := s.Delivered(t)
		if len(got) != 1 {
			t.Fatalf("%d messages delivered, want 1", len(got))
		}
		same(t, m, got[0])
	}},
	{"RefusesBadMessages", func(t *testing.T, s Subject) {
		for name, m := range map[string]notify.Message{
			"CRLF in To":          {To: "a@example.org\r\nBcc: x@evil.example", Subject: "Hallo", Body: "x"},
			"LF in To":            {To: "a@example.org\nBcc: x@evil.example", Subject: "Hallo", Body: "x"},
			"CR in Subject":       {To: "a@example.org", Subject: "Hallo\rBcc: x@evil.example", Body: "x"},
			"LF in Subject":       {To: "a@example.org", Subject: "Hallo\nBcc: x@evil.example", Body: "x"},
			"not an address":      {To: "Müller", Subject: "Hallo", Body: "x"},
			"two addresses":       {To: "a@example.org, b@example.org", Subject: "Hallo", Body: "x"},
			"empty To":            {Subject: "Hallo", Body: "x"},
			"empty Subject":       {To: "a@example.org", Body: "x"},
			"blank Subject":       {To: "a@example.org", Subject: "   ", Body: "x"},
			"Latin-1 in Body":     {To: "a@example.org", Subject: "Hallo", Body: "Ger\xe4t"},
			"NUL in Body":         {To: "a@example.org", Subject: "Hallo", Body: "a\x00b"},
			"Latin-1 in Subject":  {To: "a@example.org", Subject: "Ger\xe4t", Body: "x"},
			"control in Subject":  {To: "a@example.org", Subject: "Hallo\x07", Body: "x"},
			"Latin-1 in the name": {To: "M\xfcller <a@example.org>", Subject: "Hallo", Body: "x"},
		} {
			err := s.Notifier.Notify(t.Context(), m)
			if !errors.Is(err, fault.Invalid) {
				t.Errorf("%s: got %v (kind %v), want Invalid", name, err, fault.KindOf(err))
			}
		}
		if got := s.Delivered(t); len(got) != 0 {
			t.Fatalf("refused messages were delivered: %+v", got)
		}
	}},
	{"Cancelled", func(t *testing.T, s Subject) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := s.Notifier.Notify(ctx, umlauts)
		if !errors.Is(err, fault.Unavailable) {
			t.Fatalf("got %v (kind %v), want Unavailable", err, fault.KindOf(err))
		}
		if got := s.Delivered(t); len(got) != 0 {
			t.Fatalf("delivered with a cancelled context: %+v", got)
		}
	}},
	{"Concurrent", func(t *testing.T, s Subject) {
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				errs[i] = s.Notifier.Notify(t.Context(), notify.Message{
					To: fmt.Sprintf("member-%d@example.org", i), Subject: fmt.Sprintf("Nachricht %d", i), Body: "Grüße",
				})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Notify %d: %v", i, err)
			}
		}
		seen := map[string]int{}
		for _, m := range s.Delivered(t) {
			seen[m.Subject]++
		}
		for i := range n {
			if c := seen[fmt.Sprintf("Nachricht %d", i)]; c != 1 {
				t.Errorf("message %d delivered %d times, want once", i, c)
			}
		}
		if len(seen) != n {
			t.Errorf("delivered %v, want %d messages", seen, n)
		}
	}},
}

// same fails unless got is want as delivered: the same recipient (name and
// address), subject and body.
func same(t *testing.T, want, got notify.Message) {
	t.Helper()
	w, err := netmail.ParseAddress(want.To)
	if err != nil {
		t.Fatalf("suite: %v", err)
	}
	g, err := netmail.ParseAddress(got.To)
	if err != nil || g.Name != w.Name || g.Address != w.Address {
		t.Errorf("To = %q (%v), want %q", got.To, err, want.To)
	}
	if got.Subject != want.Subject {
		t.Errorf("Subject = %q, want %q", got.Subject, want.Subject)
	}
	if strings.TrimSuffix(got.Body, "\n") != strings.TrimSuffix(want.Body, "\n") {
		t.Errorf("Body =\n%q\nwant\n%q", got.Body, want.Body)
	}
}
