package mail_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/notify/mail"
	"github.com/pforte-id/pforte/core/fault"
)

func TestConfigDefaults(t *testing.T) {
	c := mail.Config{Host: "relay.kasse.example", From: "no-reply@kasse.example"}.WithDefaults()
	if c.Port != 587 || c.StartTLS != mail.StartTLSRequired || c.Timeout != 30*time.Second || c.Auth != "" {
		t.Fatalf("defaults = %+v", c)
	}
	c = mail.Config{Username: "u"}.WithDefaults()
	if c.Auth != mail.AuthPlain {
		t.Fatalf("Auth default with a username = %q", c.Auth)
	}
	set := mail.Config{Port: 25, StartTLS: mail.StartTLSOpportunistic, Timeout: time.Second, Username: "u", Auth: mail.AuthLogin}
	if got := set.WithDefaults(); got != set {
		t.Fatalf("WithDefaults changed set values: %+v", got)
	}
}

func TestConfigValidate(t *testing.T) {
	valid := mail.Config{
		Host: "relay.kasse.example", From: "Meine Kasse <no-reply@kasse.example>",
		Username: "pforte", Password: "secret",
	}
	for _, tc := range []struct {
		name   string
		change func(*mail.Config)
		ok     bool
	}{
		{"valid", func(*mail.Config) {}, true},
		{"no auth", func(c *mail.Config) { c.Username, c.Password = "", "" }, true},
		{"login", func(c *mail.Config) { c.Auth = mail.AuthLogin }, true},
		{"opportunistic remote", func(c *mail.Config) { c.StartTLS = mail.StartTLSOpportunistic }, true},
		{"none on 127.0.0.1", func(c *mail.Config) { c.Host, c.StartTLS = "127.0.0.1", mail.StartTLSNone }, true},
		{"none on ::1", func(c *mail.Config) { c.Host, c.StartTLS = "::1", mail.StartTLSNone }, true},
		{"none on localhost", func(c *mail.Config) { c.Host, c.StartTLS = "localhost", mail.StartTLSNone }, true},
		{"IPv6 relay", func(c *mail.Config) { c.Host = "2001:db8::25" }, true},
		{"bare From", func(c *mail.Config) { c.From = "no-reply@kasse.example" }, true},

		{"none on a remote host", func(c *mail.Config) { c.StartTLS = mail.StartTLSNone }, false},
		{"none on a private address", func(c *mail.Config) { c.Host, c.StartTLS = "10.0.0.25", mail.StartTLSNone }, false},
		{"none on a name that merely contains localhost", func(c *mail.Config) { c.Host, c.StartTLS = "localhost.evil.example", mail.StartTLSNone }, false},
		{"unknown starttls", func(c *mail.Config) { c.StartTLS = "always" }, false},
		{"no host", func(c *mail.Config) { c.Host = "" }, false},
		{"host with port", func(c *mail.Config) { c.Host = "relay.kasse.example:587" }, false},
		{"host with space", func(c *mail.Config) { c.Host = "relay kasse" }, false},
		{"bracketed host", func(c *mail.Config) { c.Host = "[::1]" }, false},
		{"port too big", func(c *mail.Config) { c.Port = 70000 }, false},
		{"negative port", func(c *mail.Config) { c.Port = -1 }, false},
		{"no From", func(c *mail.Config) { c.From = "" }, false},
		{"From not an address", func(c *mail.Config) { c.From = "Meine Kasse" }, false},
		{"From with CRLF", func(c *mail.Config) { c.From = "no-reply@kasse.example\r\nBcc: x@evil.example" }, false},
		{"From non-ASCII", func(c *mail.Config) { c.From = "kein-rückkanal@kasse.example" }, false},
		{"two From", func(c *mail.Config) { c.From = "a@kasse.example, b@kasse.example" }, false},
		{"password without username", func(c *mail.Config) { c.Username = "" }, false},
		{"username without password", func(c *mail.Config) { c.Password = "" }, false},
		{"username with CRLF", func(c *mail.Config) { c.Username = "pforte\r\nRSET" }, false},
		{"password with NUL", func(c *mail.Config) { c.Password = "sec\x00ret" }, false},
		{"unknown auth", func(c *mail.Config) { c.Auth = "cram-md5" }, false},
		{"negative timeout", func(c *mail.Config) { c.Timeout = -time.Second }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid
			tc.change(&c)
			err := c.Validate()
			if tc.ok {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if _, err := mail.New(c); err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if fault.KindOf(orNil(err)) != fault.Invalid {
				t.Fatalf("Validate = %v, want Invalid", err)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("error shows the password: %v", err)
			}
			if _, err := mail.New(c); fault.KindOf(orNil(err)) != fault.Invalid {
				t.Fatalf("New = %v, want Invalid", err)
			}
		})
	}
}

func orNil(err error) error {
	if err == nil {
		return fault.New(fault.Internal, "test", "no error")
	}
	return err
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST": true, "127.0.0.1": true, "127.1.2.3": true, "::1": true,
		"10.0.0.1": false, "relay.example": false, "localhost.example": false, "": false,
	} {
		if got := mail.IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v", host, got)
		}
	}
}

// The relay password never reaches a log: through fmt, slog (text and
// JSON) or encoding/json, alone or inside a Config.
func TestPasswordRedacted(t *testing.T) {
	c := mail.Config{Host: "relay.kasse.example", Username: "pforte", Password: testPassword, From: "no-reply@kasse.example"}
	var out bytes.Buffer
	fmt.Fprintf(&out, "%v|%+v|%#v|%s|%q|%v|%#v\n", c, c, c, c.Password, c.Password, c.Password, c.Password)
	slog.New(slog.NewTextHandler(&out, nil)).Info("text", "config", c, "password", c.Password)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("json", "config", c, "password", c.Password)
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(b)
	assertNoPassword(t, out.String())

	if c.Password.Reveal() != testPassword {
		t.Fatal("Reveal does not return the value")
	}
	if mail.Secret("").String() != "" {
		t.Fatal("an empty secret should print empty, so that a log shows it is missing")
	}
}
