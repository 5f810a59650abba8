package logsink_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/pforte-id/pforte/adapters/notify/logsink"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/ports/notify"
	"github.com/pforte-id/pforte/ports/notify/notifytest"
)

func TestNotifyLogsTheMessage(t *testing.T) {
	var buf bytes.Buffer
	s := logsink.New(slog.New(slog.NewJSONHandler(&buf, nil)))
	m := notify.Message{
		To:      "Jürgen Müller <juergen.mueller@example.org>",
		Subject: "Neues Gerät / New device",
		Body:    "Guten Tag Herr Müller,\nein neues Gerät wurde gebunden (Straße, ß).\n\nA new device was bound.",
		Kind:    "device.bound",
	}
	if err := s.Notify(context.Background(), m); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("log line %q: %v", buf.String(), err)
	}
	for k, want := range map[string]string{
		"level": "INFO", "msg": "notification",
		"to": m.To, "subject": m.Subject, "kind": m.Kind, "body": m.Body,
	} {
		if rec[k] != want {
			t.Errorf("%s = %q, want %q", k, rec[k], want)
		}
	}
}

func TestNotifyRefusesWhatSMTPWould(t *testing.T) {
	var buf bytes.Buffer
	s := logsink.New(slog.New(slog.NewTextHandler(&buf, nil)))
	for name, m := range map[string]notify.Message{
		"CRLF in To":      {To: "a@example.org\r\nBcc: x@evil.example", Subject: "Hallo"},
		"LF in Subject":   {To: "a@example.org", Subject: "Hallo\nBcc: x@evil.example"},
		"not an address":  {To: "Müller", Subject: "Hallo"},
		"two addresses":   {To: "a@example.org, b@example.org", Subject: "Hallo"},
		"empty Subject":   {To: "a@example.org"},
		"Latin-1 in Body": {To: "a@example.org", Subject: "Hallo", Body: "Ger\xe4t"},
	} {
		t.Run(name, func(t *testing.T) {
			err := s.Notify(context.Background(), m)
			if err == nil || fault.KindOf(err) != fault.Invalid {
				t.Fatalf("err = %v, want Invalid", err)
			}
		})
	}
	if buf.Len() != 0 {
		t.Fatalf("refused messages were logged:\n%s", buf.String())
	}
}

func TestNotifyCancelled(t *testing.T) {
	var buf bytes.Buffer
	s := logsink.New(slog.New(slog.NewTextHandler(&buf, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Notify(ctx, notify.Message{To: "a@example.org", Subject: "Hallo"})
	if err == nil || fault.KindOf(err) != fault.Unavailable {
		t.Fatalf("err = %v, want Unavailable", err)
	}
}

func TestNewNilUsesDefault(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	t.Cleanup(func() { slog.SetDefault(old) })
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	if err := logsink.New(nil).Notify(context.Background(), notify.Message{To: "a@example.org", Subject: "Hallo", Kind: "pin.changed"}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), []byte("kind=pin.changed")) {
		t.Fatalf("default logger got %q", buf.String())
	}
}

// The sink passes the suite of the notification port; its far end is the
// log.
func TestConformance(t *testing.T) {
	notifytest.Run(t, func(t *testing.T) notifytest.Subject {
		var buf bytes.Buffer
		s := logsink.New(slog.New(slog.NewJSONHandler(&buf, nil)))
		return notifytest.Subject{Notifier: s, Delivered: func(t *testing.T) []notify.Message {
			var out []notify.Message
			dec := json.NewDecoder(bytes.NewReader(buf.Bytes()))
			for dec.More() {
				var rec struct {
					Msg                     string `json:"msg"`
					To, Subject, Body, Kind string
				}
				if err := dec.Decode(&rec); err != nil {
					t.Fatalf("log line: %v", err)
				}
				if rec.Msg == "notification" {
					out = append(out, notify.Message{To: rec.To, Subject: rec.Subject, Body: rec.Body, Kind: rec.Kind})
				}
			}
			return out
		}}
	})
}
