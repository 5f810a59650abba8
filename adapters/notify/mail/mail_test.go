package mail_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	netmail "net/mail"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/pforte-id/pforte/adapters/notify/mail"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/ports/notify"
)

const (
	testUser     = "pforte-relay"
	testPassword = "Rel@y-Geheimnis-7fQ2"
)

// config points at r without TLS (r listens on loopback).
func config(r *relay) mail.Config {
	return mail.Config{
		Host:     r.host,
		Port:     r.port,
		From:     "Meine Krankenkasse <no-reply@kasse.example>",
		StartTLS: mail.StartTLSNone,
	}
}

func newNotifier(t *testing.T, c mail.Config) *mail.Notifier {
	t.Helper()
	n, err := mail.New(c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return n
}

var umlautMessage = notify.Message{
	To:      "Jürgen Müller <juergen.mueller@example.org>",
	Subject: "Neues Gerät für Ihr Konto – Straße / New device for your account",
	Body: "Guten Tag Herr Müller,\n\n" +
		"an Ihr Konto wurde ein neues Gerät gebunden: „Pixel 9“.\n" +
		"Waren Sie das nicht? Rufen Sie uns an; die Straße ist egal, das ß auch.\n\n" +
		"A new device was bound to your account. Not you? Call us.\n" +
		strings.Repeat("Eine sehr lange Zeile über Geräte, ", 6) + "Ende.\n",
	Kind: "device.bound",
}

func TestNotifySendsUTF8PlainText(t *testing.T) {
	r := startRelay(t)
	n := newNotifier(t, config(r))
	date := time.Date(2026, 3, 14, 9, 26, 53, 0, time.FixedZone("CET", 3600))
	mail.SetNow(n, func() time.Time { return date })

	if err := n.Notify(context.Background(), umlautMessage); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	msgs := r.Messages()
	if len(msgs) != 1 {
		t.Fatalf("relay received %d messages, want 1", len(msgs))
	}
	got := msgs[0]
	if got.From != "no-reply@kasse.example" {
		t.Errorf("MAIL FROM = %q", got.From)
	}
	if len(got.To) != 1 || got.To[0] != "juergen.mueller@example.org" {
		t.Errorf("RCPT TO = %q", got.To)
	}
	for i, b := range got.Data {
		if b >= 0x80 {
			t.Fatalf("raw message has a non-ASCII byte at %d: not 7-bit clean", i)
		}
	}

	msg, err := netmail.ReadMessage(bytes.NewReader(got.Data))
	if err != nil {
		t.Fatalf("parse received message: %v\n%s", err, got.Data)
	}
	h := msg.Header
	var dec mime.WordDecoder
	decode := func(name string) string {
		t.Helper()
		s, err := dec.DecodeHeader(h.Get(name))
		if err != nil {
			t.Fatalf("decode %s: %v", name, err)
		}
		return s
	}

	if raw := h.Get("Subject"); !strings.Contains(strings.ToLower(raw), "=?utf-8?q?") {
		t.Errorf("Subject is not an RFC 2047 encoded word: %q", raw)
	}
	if s := decode("Subject"); s != umlautMessage.Subject {
		t.Errorf("Subject = %q, want %q", s, umlautMessage.Subject)
	}
	from, err := h.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != "Meine Krankenkasse" || from[0].Address != "no-reply@kasse.example" {
		t.Errorf("From = %v (%v), raw %q", from, err, h.Get("From"))
	}
	to, err := h.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Name != "Jürgen Müller" || to[0].Address != "juergen.mueller@example.org" {
		t.Errorf("To = %v (%v), raw %q", to, err, h.Get("To"))
	}
	if d, err := h.Date(); err != nil || !d.Equal(date) {
		t.Errorf("Date = %v (%v), want %v", d, err, date)
	}
	if id := h.Get("Message-Id"); !regexp.MustCompile(`^<[A-Za-z0-9]{20,}@kasse\.example>$`).MatchString(id) {
		t.Errorf("Message-ID = %q", id)
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "text/plain" || !strings.EqualFold(params["charset"], "utf-8") {
		t.Errorf("Content-Type = %q", h.Get("Content-Type"))
	}
	for name, want := range map[string]string{
		"Content-Transfer-Encoding": "quoted-printable",
		"Auto-Submitted":            "auto-generated",
		"X-Auto-Response-Suppress":  "All",
		"Mime-Version":              "1.0",
		"User-Agent":                "",
		"X-Mailer":                  "",
		"Bcc":                       "",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}

	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatalf("decode body: %v", err)
	}
	want := strings.ReplaceAll(umlautMessage.Body, "\n", "\r\n")
	if string(body) != want {
		t.Errorf("body =\n%q\nwant\n%q", body, want)
	}
	for _, line := range strings.Split(string(got.Data), "\r\n") {
		if len(line) > 78 && !strings.HasPrefix(line, "Message-ID:") {
			t.Errorf("line longer than 78 octets: %q", line)
		}
	}
}

func TestNotifyAuthenticates(t *testing.T) {
	for _, auth := range []mail.Auth{mail.AuthPlain, mail.AuthLogin} {
		t.Run(string(auth), func(t *testing.T) {
			r := startRelay(t, withAuth(map[string]string{testUser: testPassword}))
			c := config(r)
			c.Username, c.Password, c.Auth = testUser, testPassword, auth
			n := newNotifier(t, c)

			if err := n.Notify(context.Background(), umlautMessage); err != nil {
				t.Fatalf("Notify: %v", err)
			}
			msgs := r.Messages()
			if len(msgs) != 1 || msgs[0].User != testUser {
				t.Fatalf("messages = %+v", msgs)
			}
			auths := r.Auths()
			if len(auths) != 1 || auths[0].Mech != strings.ToUpper(string(auth)) || auths[0].Pass != testPassword {
				t.Fatalf("AUTH attempts = %+v", auths)
			}
		})
	}
}

func TestNotifyWithoutCredentialsIsRefusedByAnAuthRelay(t *testing.T) {
	r := startRelay(t, withAuth(map[string]string{testUser: testPassword}))
	err := newNotifier(t, config(r)).Notify(context.Background(), umlautMessage)
	wantKind(t, err, fault.Unavailable)
	if len(r.Messages()) != 0 {
		t.Fatal("relay accepted a message without AUTH")
	}
}

// A relay that quotes the credentials in its refusal must not get them
// into Pforte's errors or logs, raw or in the base64 that AUTH sent.
func TestWrongPasswordNeverShowsThePassword(t *testing.T) {
	for _, auth := range []mail.Auth{mail.AuthPlain, mail.AuthLogin} {
		t.Run(string(auth), func(t *testing.T) {
			r := startRelay(t, withAuth(map[string]string{testUser: "something else"}))
			r.authFail = func(user, pass string) error {
				return &smtp.SMTPError{
					Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8},
					Message: "no user " + user + " with password " + pass + " (" +
						base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pass)) + " / " +
						base64.StdEncoding.EncodeToString([]byte(pass)) + ")",
				}
			}
			c := config(r)
			c.Username, c.Password, c.Auth = testUser, testPassword, auth

			var logs bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&logs, nil))
			logger.Info("mail config", "config", c)
			fmt.Fprintf(&logs, "%v %+v %#v %s\n", c, c, c, c.Password)

			err := newNotifier(t, c).Notify(context.Background(), umlautMessage)
			wantKind(t, err, fault.Unavailable)
			if !strings.Contains(err.Error(), "no user "+testUser+" with password [redacted]") {
				t.Errorf("the relay's reply is not kept (scrubbed) for the log: %v", err)
			}
			logger.Error("notify failed", "err", err)
			fmt.Fprintf(&logs, "%v %+v %s\n", err, err, fault.PublicOf(err))

			assertNoPassword(t, logs.String())
			if len(r.Messages()) != 0 {
				t.Fatal("relay accepted a message after failed AUTH")
			}
		})
	}
}

func assertNoPassword(t *testing.T, s string) {
	t.Helper()
	for _, form := range []string{
		testPassword,
		base64.StdEncoding.EncodeToString([]byte(testPassword)),
		base64.StdEncoding.EncodeToString([]byte("\x00" + testUser + "\x00" + testPassword)),
	} {
		if strings.Contains(s, form) {
			t.Fatalf("password (as %q) appears in:\n%s", form, s)
		}
	}
	if !strings.Contains(s, "[redacted]") {
		t.Fatalf("expected [redacted] in:\n%s", s)
	}
}

func TestNotifyRelayDownIsUnavailable(t *testing.T) {
	n := newNotifier(t, mail.Config{
		Host: "127.0.0.1", Port: closedPort(t),
		Username: testUser, Password: testPassword,
		From: "no-reply@kasse.example", StartTLS: mail.StartTLSNone,
	})
	err := n.Notify(context.Background(), umlautMessage)
	wantKind(t, err, fault.Unavailable)
	assertNoPassword(t, err.Error()+" [redacted]")
	if pub := fault.PublicOf(err); pub != "" {
		t.Errorf("public text = %q", pub)
	}
}

func TestNotifyRefusesHeaderInjection(t *testing.T) {
	r := startRelay(t)
	n := newNotifier(t, config(r))
	for name, m := range map[string]notify.Message{
		"CRLF in To":            {To: "a@example.org\r\nBcc: attacker@evil.example", Subject: "Hallo"},
		"LF in To":              {To: "a@example.org\nBcc: attacker@evil.example", Subject: "Hallo"},
		"CR in To":              {To: "a@example.org\rBcc: attacker@evil.example", Subject: "Hallo"},
		"CRLF in Subject":       {To: "a@example.org", Subject: "Hallo\r\nBcc: attacker@evil.example"},
		"LF in Subject":         {To: "a@example.org", Subject: "Hallo\nBcc: attacker@evil.example"},
		"blank line in Subject": {To: "a@example.org", Subject: "Hallo\r\n\r\nfake body"},
		"NUL in Subject":        {To: "a@example.org", Subject: "Hallo\x00"},
		"folded To":             {To: "a@example.org\r\n b@example.org", Subject: "Hallo"},
		"invalid UTF-8":         {To: "a@example.org", Subject: "Ger\xe4t"},
		"newline in name":       {To: "\"Evil\nBcc: x@evil.example\" <a@example.org>", Subject: "Hallo"},
		"DEL in Subject":        {To: "a@example.org", Subject: "Hallo\x7f"},
	} {
		t.Run(name, func(t *testing.T) {
			m.Body = "Text"
			wantKind(t, n.Notify(context.Background(), m), fault.Invalid)
		})
	}
	if s := r.Sessions(); s != 0 {
		t.Fatalf("relay saw %d connections; refused messages must not connect", s)
	}
}

func TestNotifyRefusesBadMessages(t *testing.T) {
	r := startRelay(t)
	n := newNotifier(t, config(r))
	for name, m := range map[string]notify.Message{
		"empty To":        {To: "", Subject: "Hallo", Body: "x"},
		"not an address":  {To: "Müller", Subject: "Hallo", Body: "x"},
		"no domain":       {To: "mueller@", Subject: "Hallo", Body: "x"},
		"two addresses":   {To: "a@example.org, b@example.org", Subject: "Hallo", Body: "x"},
		"empty Subject":   {To: "a@example.org", Subject: " ", Body: "x"},
		"long Subject":    {To: "a@example.org", Subject: strings.Repeat("ä", mail.MaxSubjectRunes+1), Body: "x"},
		"long Body":       {To: "a@example.org", Subject: "Hallo", Body: strings.Repeat("x", mail.MaxBodyBytes+1)},
		"NUL in Body":     {To: "a@example.org", Subject: "Hallo", Body: "x\x00y"},
		"Latin-1 in Body": {To: "a@example.org", Subject: "Hallo", Body: "Ger\xe4t"},
	} {
		t.Run(name, func(t *testing.T) {
			wantKind(t, n.Notify(context.Background(), m), fault.Invalid)
		})
	}
	if s := r.Sessions(); s != 0 {
		t.Fatalf("relay saw %d connections", s)
	}
}

func TestNotifyRecipientRefusedByRelay(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  *smtp.SMTPError
		want fault.Kind
	}{
		{"unknown mailbox", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}, fault.Invalid},
		{"bad syntax", &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "Bad address syntax"}, fault.Invalid},
		{"relaying denied", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Relaying denied"}, fault.Unavailable},
		{"mailbox full", &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 2, 2}, Message: "Mailbox full"}, fault.Unavailable},
		{"greylisted", &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "Try again later"}, fault.Unavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startRelay(t)
			r.rcptErr = tc.err
			err := newNotifier(t, config(r)).Notify(context.Background(), umlautMessage)
			wantKind(t, err, tc.want)
			if tc.want == fault.Invalid && fault.PublicOf(err) != "The e-mail address was refused." {
				t.Errorf("public text = %q", fault.PublicOf(err))
			}
			if len(r.Messages()) != 0 {
				t.Fatal("message delivered")
			}
		})
	}
}

func TestNotifyStartTLSRequired(t *testing.T) {
	cert, roots := selfSigned(t)
	r := startRelay(t, withTLS(cert), withAuth(map[string]string{testUser: testPassword}))
	c := config(r)
	c.StartTLS = mail.StartTLSRequired
	c.RootCAs = roots
	c.Username, c.Password = testUser, testPassword

	if err := newNotifier(t, c).Notify(context.Background(), umlautMessage); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	msgs := r.Messages()
	if len(msgs) != 1 || !msgs[0].TLS || msgs[0].User != testUser {
		t.Fatalf("messages = %+v", msgs)
	}
	if a := r.Auths(); len(a) != 1 || !a[0].TLS {
		t.Fatalf("AUTH attempts = %+v, want one over TLS", a)
	}
}

func TestNotifyStartTLSRequiredRefusesWithoutTLS(t *testing.T) {
	cert, _ := selfSigned(t)
	for _, tc := range []struct {
		name  string
		opts  []relayOption
		roots bool
	}{
		{"relay offers no STARTTLS", []relayOption{withAuth(map[string]string{testUser: testPassword})}, true},
		{"untrusted certificate", []relayOption{withTLS(cert), withAuth(map[string]string{testUser: testPassword})}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startRelay(t, tc.opts...)
			c := config(r)
			c.StartTLS = mail.StartTLSRequired
			c.Username, c.Password = testUser, testPassword
			if tc.roots {
				_, c.RootCAs = selfSigned(t)
			}
			err := newNotifier(t, c).Notify(context.Background(), umlautMessage)
			wantKind(t, err, fault.Unavailable)
			if a := r.Auths(); len(a) != 0 {
				t.Fatalf("credentials sent without TLS: %+v", a)
			}
			if len(r.Messages()) != 0 {
				t.Fatal("message delivered without TLS")
			}
		})
	}
}

func TestNotifyOpportunistic(t *testing.T) {
	cert, roots := selfSigned(t)
	t.Run("uses STARTTLS when offered", func(t *testing.T) {
		r := startRelay(t, withTLS(cert))
		c := config(r)
		c.StartTLS, c.RootCAs = mail.StartTLSOpportunistic, roots
		if err := newNotifier(t, c).Notify(context.Background(), umlautMessage); err != nil {
			t.Fatalf("Notify: %v", err)
		}
		if m := r.Messages(); len(m) != 1 || !m[0].TLS {
			t.Fatalf("messages = %+v, want one over TLS", m)
		}
	})
	t.Run("plain when not offered", func(t *testing.T) {
		r := startRelay(t)
		c := config(r)
		c.StartTLS = mail.StartTLSOpportunistic
		if err := newNotifier(t, c).Notify(context.Background(), umlautMessage); err != nil {
			t.Fatalf("Notify: %v", err)
		}
		if m := r.Messages(); len(m) != 1 || m[0].TLS {
			t.Fatalf("messages = %+v, want one in plain", m)
		}
	})
	// A relay that is not "localhost" and offers no STARTTLS (a network
	// attacker stripped it) gets no credentials in clear text. 127.0.0.2
	// stands for a remote host: the mechanisms only trust localhost,
	// 127.0.0.1 and ::1 without TLS.
	t.Run("no credentials in clear text", func(t *testing.T) {
		r := startRelayOn(t, "127.0.0.2", withAuth(map[string]string{testUser: testPassword}))
		c := config(r)
		c.StartTLS = mail.StartTLSOpportunistic
		c.Username, c.Password = testUser, testPassword
		err := newNotifier(t, c).Notify(context.Background(), umlautMessage)
		wantKind(t, err, fault.Unavailable)
		if a := r.Auths(); len(a) != 0 {
			t.Fatalf("credentials sent in clear text: %+v", a)
		}
	})
}

func TestNotifyCancelled(t *testing.T) {
	t.Run("before sending", func(t *testing.T) {
		r := startRelay(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := newNotifier(t, config(r)).Notify(ctx, umlautMessage)
		wantKind(t, err, fault.Unavailable)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("errors.Is(err, context.Canceled) = false: %v", err)
		}
	})
	// A relay that stops answering in the middle of DATA: cancelling the
	// context ends the session at once instead of after the command
	// timeout.
	t.Run("during DATA", func(t *testing.T) {
		r := startRelay(t)
		entered, release := make(chan struct{}), make(chan struct{})
		r.inData = func() {
			close(entered)
			<-release
		}
		defer close(release)
		c := config(r)
		c.Timeout = time.Hour
		n := newNotifier(t, c)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- n.Notify(ctx, umlautMessage) }()
		<-entered
		cancel()
		err := <-done
		wantKind(t, err, fault.Unavailable)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("errors.Is(err, context.Canceled) = false: %v", err)
		}
	})
}

func TestNotifyConcurrent(t *testing.T) {
	r := startRelay(t)
	n := newNotifier(t, config(r))
	const count = 8
	errs := make(chan error, count)
	for i := range count {
		go func() {
			m := umlautMessage
			m.To = "member" + itoa(i) + "@example.org"
			errs <- n.Notify(context.Background(), m)
		}()
	}
	for range count {
		if err := <-errs; err != nil {
			t.Fatalf("Notify: %v", err)
		}
	}
	msgs := r.Messages()
	if len(msgs) != count {
		t.Fatalf("relay received %d messages, want %d", len(msgs), count)
	}
	ids := map[string]bool{}
	for _, m := range msgs {
		pm, err := netmail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		ids[pm.Header.Get("Message-Id")] = true
	}
	if len(ids) != count {
		t.Fatalf("%d distinct Message-IDs for %d messages", len(ids), count)
	}
}

func wantKind(t *testing.T, err error, want fault.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %v", want)
	}
	if got := fault.KindOf(err); got != want {
		t.Fatalf("kind = %v, want %v (%v)", got, want, err)
	}
}
