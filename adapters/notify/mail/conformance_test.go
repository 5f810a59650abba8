package mail_test

import (
	"bytes"
	"io"
	"mime"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
	"testing"

	"github.com/pforte-id/pforte/ports/notify"
	"github.com/pforte-id/pforte/ports/notify/notifytest"
)

// The notifier passes the suite of the notification port; its far end is
// an SMTP server in the test, and a message is what a mail reader makes of
// what that server received.
func TestConformance(t *testing.T) {
	notifytest.Run(t, func(t *testing.T) notifytest.Subject {
		r := startRelay(t)
		return notifytest.Subject{Notifier: newNotifier(t, config(r)), Delivered: func(t *testing.T) []notify.Message {
			var out []notify.Message
			for _, got := range r.Messages() {
				out = append(out, readMessage(t, got.Data))
			}
			return out
		}}
	})
}

// readMessage decodes a received message as a mail reader shows it.
func readMessage(t *testing.T, data []byte) notify.Message {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse received message: %v\n%s", err, data)
	}
	var dec mime.WordDecoder
	header := func(name string) string {
		s, err := dec.DecodeHeader(msg.Header.Get(name))
		if err != nil {
			t.Fatalf("decode %s: %v", name, err)
		}
		return s
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatalf("decode body: %v", err)
	}
	return notify.Message{To: header("To"), Subject: header("Subject"), Body: strings.ReplaceAll(string(body), "\r\n", "\n")}
}
