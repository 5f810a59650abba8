package registration_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/pforte-id/pforte/catalog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/sqlstore/sqlstoretest"
	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/registration"
	"github.com/pforte-id/pforte/core/registration/registrationtest"
	"github.com/pforte-id/pforte/ports/notify"
)

func TestConfigValidate(t *testing.T) {
	ok := registration.Config{Issuer: issuer, Sender: sender}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*registration.Config){
		"no issuer":                    func(c *registration.Config) { c.Issuer = "" },
		"relative issuer":              func(c *registration.Config) { c.Issuer = "/pforte" },
		"plain http":                   func(c *registration.Config) { c.Issuer = "http://id.beispiel-bkk.de" },
		"issuer with query":            func(c *registration.Config) { c.Issuer = issuer + "?x=1" },
		"no sender":                    func(c *registration.Config) { c.Sender = " " },
		"two-line sender":              func(c *registration.Config) { c.Sender = "a\nb" },
		"zero IP limit":                func(c *registration.Config) { c.PerIP = registration.Limit{Max: 0, Window: time.Hour} },
		"tiny KVNR window":             func(c *registration.Config) { c.PerKVNR = registration.Limit{Max: 3, Window: time.Millisecond} },
		"short lease":                  func(c *registration.Config) { c.LetterLease = time.Second },
		"long lease":                   func(c *registration.Config) { c.RegistrationLease = 2 * time.Hour },
		"bad letter policy":            func(c *registration.Config) { c.Letter.Validity, c.Letter.MaxAttempts = time.Hour, 0 },
		"negative window":              func(c *registration.Config) { c.Eligibility = &member.Eligibility{Ahead: -time.Hour} },
		"issuer with anchor":           func(c *registration.Config) { c.Issuer = issuer + "#x" },
		"contact phone with letters":   func(c *registration.Config) { c.ContactPhone = "call 0421" },
		"contact phone of two digits":  func(c *registration.Config) { c.ContactPhone = "04" },
		"contact address on two lines": func(c *registration.Config) { c.ContactAddress = "Martinistraße 26\n28195 Bremen" },
		"issuer with user":             func(c *registration.Config) { c.Issuer = "https://u:p@id.beispiel-bkk.de" },
		"app link over http":           func(c *registration.Config) { c.AppStoreURL = "http://www.beispiel-bkk.de/app" },
		"app link without host":        func(c *registration.Config) { c.AppStoreURL = "https:///app" },
		"app link with user":           func(c *registration.Config) { c.AppStoreURL = "https://www.beispiel-bkk.de@evil.example/app" },
		"app link with fragment":       func(c *registration.Config) { c.AppStoreURL = "https://www.beispiel-bkk.de/app#x" },
		"app link with a space":        func(c *registration.Config) { c.AppStoreURL = "https://www.beispiel-bkk.de/service app" },
		"app link with umlaut":         func(c *registration.Config) { c.AppStoreURL = "https://www.beispiel-bkk.de/über" },
		"app link too long":            func(c *registration.Config) { c.AppStoreURL = "https://www.beispiel-bkk.de/" + strings.Repeat("a", 40) },
		"app link relative":            func(c *registration.Config) { c.AppStoreURL = "/app" },
	} {
		c := ok
		edit(&c)
		if err := c.Validate(); !errors.Is(err, fault.Invalid) {
			t.Errorf("%s: Validate = %v", name, err)
		}
	}
	// The issuer's rule is the authorization server's (issuer.Check): any
	// loopback address may use http, as authz.Config accepts it.
	for _, app := range []string{"", "https://www.beispiel-bkk.de/app", "https://bkk.example/a?src=brief"} {
		c := ok
		c.AppStoreURL = app
		if err := c.Validate(); err != nil {
			t.Errorf("app link %q: %v", app, err)
		}
	}
	for _, good := range []string{"http://localhost:8080", "http://127.0.0.1:9000/pforte", "http://127.0.0.2:9000", issuer + "/"} {
		c := ok
		c.Issuer = good
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", good, err)
		}
	}
	f := setup(t)
	c := f.svc.Config()
	if c.PerIP != registration.DefaultPerIP || c.PerIP.Max != 10 || c.PerIP.Window != time.Hour ||
		c.PerKVNR.Max != 3 || c.PerKVNR.Window != 24*time.Hour || c.Letter != letter.DefaultPolicy {
		t.Fatalf("defaults not applied: %+v", c)
	}
}

func TestNewRequiresDependencies(t *testing.T) {
	w := registrationtest.NewWorld(t0, sqlstoretest.Open(t))
	full := registration.Deps{
		Members: w, Registrations: w, Letters: w, Enrollments: w, RateLimits: w, Renderer: w, Outbox: w,
		LetterHasher: letterHasher, Passwords: coretest.Passwords(),
	}
	cfg := registration.Config{Issuer: issuer, Sender: sender}
	if _, err := registration.New(cfg, full); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*registration.Deps){
		"members":     func(d *registration.Deps) { d.Members = nil },
		"queue":       func(d *registration.Deps) { d.Registrations = nil },
		"letters":     func(d *registration.Deps) { d.Letters = nil },
		"enrollments": func(d *registration.Deps) { d.Enrollments = nil },
		"limits":      func(d *registration.Deps) { d.RateLimits = nil },
		"renderer":    func(d *registration.Deps) { d.Renderer = nil },
		"outbox":      func(d *registration.Deps) { d.Outbox = nil },
		"letter key":  func(d *registration.Deps) { d.LetterHasher = letter.Hasher{} },
		"passwords":   func(d *registration.Deps) { d.Passwords = nil },
		"nil method":  func(d *registration.Deps) { d.Methods = append(d.Methods, nil) },
		"method without a capability": func(d *registration.Deps) {
			d.Methods = append(d.Methods, nameOnly("fax"))
		},
		"two methods with one name": func(d *registration.Deps) {
			d.Methods = append(d.Methods, &fakeMethod{name: "letter"}, &fakeMethod{name: "letter"})
		},
	} {
		d := full
		edit(&d)
		if _, err := registration.New(cfg, d); !errors.Is(err, fault.Invalid) {
			t.Errorf("without %s: New = %v", name, err)
		}
	}
}

func TestRequestRefusesMalformedInputBeforeAnythingElse(t *testing.T) {
	good := request(anna.KVNR, anna.BirthDate)
	wrongCheck := string(anna.KVNR[:9]) + string('0'+(anna.KVNR[9]-'0'+1)%10)
	for _, tc := range []struct {
		name string
		edit func(*registration.RequestInput)
		kind fault.Kind
		text string
	}{
		{"wrong check digit", func(in *registration.RequestInput) { in.KVNR = wrongCheck }, fault.Invalid, "Versichertennummer ist ungültig"},
		{"too short", func(in *registration.RequestInput) { in.KVNR = "A1234" }, fault.Invalid, "member number is invalid"},
		{"empty number", func(in *registration.RequestInput) { in.KVNR = "" }, fault.Invalid, "Versichertennummer"},
		{"birth date malformed", func(in *registration.RequestInput) { in.BirthDate = "9.7.1984" }, fault.Invalid, "Geburtsdatum"},
		{"birth date impossible", func(in *registration.RequestInput) { in.BirthDate = "1984-02-30" }, fault.Invalid, "date of birth"},
		{"birth date in the future", func(in *registration.RequestInput) { in.BirthDate = "2030-01-01" }, fault.Invalid, "date of birth"},
		{"birth date before 1900", func(in *registration.RequestInput) { in.BirthDate = "1899-12-31" }, fault.Invalid, "date of birth"},
		{"no method", func(in *registration.RequestInput) { in.Method = "" }, fault.Invalid, "method"},
		{"eID is not requested by post", func(in *registration.RequestInput) { in.Method = "eid" }, fault.Invalid, "method"},
		{"unknown method", func(in *registration.RequestInput) { in.Method = "fax" }, fault.Invalid, "method"},
		{"no client address (wiring bug)", func(in *registration.RequestInput) { in.ClientIP = "" }, fault.Internal, ""},
	} {
		f := setup(t)
		in := good
		tc.edit(&in)
		err := f.svc.Request(ctx, in)
		if fault.KindOf(err) != tc.kind || !strings.Contains(bothTexts(err), tc.text) {
			t.Errorf("%s: Request = %v (%q), want %v with %q", tc.name, err, bothTexts(err), tc.kind, tc.text)
		}
		if calls := f.w.CallLog(); len(calls) != 0 {
			t.Errorf("%s: the store was called: %v", tc.name, calls)
		}
	}
	// Accepted spellings.
	f := setup(t)
	for i, in := range []registration.RequestInput{
		{KVNR: " " + strings.ToLower(string(anna.KVNR)) + " ", BirthDate: "09.07.1984", Method: "letter", ClientIP: "192.0.2.1"},
		{KVNR: string(anna.KVNR), BirthDate: "1984-07-09", Method: "letter", ClientIP: "192.0.2.1:4711"},
	} {
		if err := f.svc.Request(ctx, in); err != nil {
			t.Errorf("spelling %d: %v", i, err)
		}
	}
	for _, r := range f.w.Queued() {
		if r.KVNR != anna.KVNR || r.BirthDate != "1984-07-09" || r.ID == "" || !r.RequestedAt.Equal(t0) {
			t.Errorf("queued %+v", r)
		}
	}
}

// TestRequestSameForEveryone: the anonymous request must not tell an
// attacker who is a member (member enumeration). Whatever the case, the
// answer is nil and the store sees exactly the same calls; only the
// worker decides.
func TestRequestSameForEveryone(t *testing.T) {
	type tc struct {
		name       string
		kvnr       string
		birth      string
		prepare    func(*fixture)
		wantLetter bool
		outcome    string
	}
	cases := []tc{
		{"valid member", string(anna.KVNR), "09.07.1984", nil, true, "letter_created"},
		{"unknown member", string(nobody), "1984-07-09", nil, false, "unknown_member"},
		{"wrong birth date", string(anna.KVNR), "1984-07-10", nil, false, "birthdate_mismatch"},
		{"ineligible member", string(bodo.KVNR), bodo.BirthDate, nil, false, "ineligible"},
		{"no address on file", string(carl.KVNR), carl.BirthDate, nil, false, "no_address"},
		{"letter sent recently", string(anna.KVNR), anna.BirthDate, func(f *fixture) {
			f.letterFor(t, anna)
			f.w.Advance(6 * 24 * time.Hour) // past the rate limit window, within 7 days
		}, false, "too_soon"},
	}
	var reference []string
	for _, c := range cases {
		f := setup(t)
		if c.prepare != nil {
			c.prepare(f)
		}
		before := len(f.w.LettersOf(anna.KVNR)) + len(f.w.LettersOf(bodo.KVNR)) + len(f.w.LettersOf(carl.KVNR))
		f.w.ResetCalls()
		err := f.svc.Request(ctx, registration.RequestInput{KVNR: c.kvnr, BirthDate: c.birth, Method: "letter", ClientIP: "198.51.100.7"})
		if err != nil {
			t.Fatalf("%s: Request = %v", c.name, err)
		}
		calls := f.w.CallLog()
		if reference == nil {
			reference = calls
		} else if !slices.Equal(calls, reference) {
			t.Errorf("%s: store calls %v, want %v as for the valid member", c.name, calls, reference)
		}
		if q := f.w.Queued(); len(q) != 1 || q[0].ID == "" || q[0].BirthDate == "" {
			t.Errorf("%s: queued %+v", c.name, q)
		}
		if n, err := f.svc.ProcessRegistrations(ctx, 10); err != nil || n != 1 {
			t.Errorf("%s: ProcessRegistrations = %d, %v", c.name, n, err)
		}
		after := len(f.w.LettersOf(anna.KVNR)) + len(f.w.LettersOf(bodo.KVNR)) + len(f.w.LettersOf(carl.KVNR))
		if got := after > before; got != c.wantLetter {
			t.Errorf("%s: letter created = %v, want %v", c.name, got, c.wantLetter)
		}
		if len(f.w.Queued()) != 0 {
			t.Errorf("%s: the request was not deleted", c.name)
		}
		logs := f.logs.String()
		if !strings.Contains(logs, "outcome="+c.outcome) {
			t.Errorf("%s: outcome %q not logged:\n%s", c.name, c.outcome, logs)
		}
		for _, secret := range []string{c.birth, c.kvnr, "1984-07-09", "09.07.1984", string(anna.KVNR), string(bodo.KVNR)} {
			if strings.Contains(logs, secret) {
				t.Errorf("%s: the log holds %q:\n%s", c.name, secret, logs)
			}
		}
	}
	if !slices.Equal(reference, []string{"RateLimits.Hit", "RateLimits.Hit", "Registrations.EnqueueRegistration"}) {
		t.Fatalf("Request does %v", reference)
	}
}

func TestRequestRateLimits(t *testing.T) {
	t.Run("per client address", func(t *testing.T) {
		f := setup(t)
		for i := range 10 {
			in := request(coretest.KVNR(fmt.Sprintf("D%08d", i)), "1980-01-01")
			if err := f.svc.Request(ctx, in); err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
		}
		err := f.svc.Request(ctx, request(anna.KVNR, anna.BirthDate))
		if !errors.Is(err, fault.RateLimited) || fault.CodedOf(err) == nil || fault.CodedOf(err).Code != registration.CodeRateLimited {
			t.Fatalf("11th request: %v", err)
		}
		// The window slides in tenths: the tenth that began at t0 counts
		// until ten more have begun, 66 minutes later.
		if d, ok := retryAfter(err); !ok || d != 66*time.Minute {
			t.Fatalf("RetryAfter = %v %v, want 66m (the first tenth of the window began at t0)", d, ok)
		}
		if len(f.w.Queued()) != 10 {
			t.Fatalf("a refused request was queued: %d", len(f.w.Queued()))
		}
		other := request(anna.KVNR, anna.BirthDate)
		other.ClientIP = "192.0.2.11"
		if err := f.svc.Request(ctx, other); err != nil {
			t.Fatalf("another address was limited: %v", err)
		}
		// An hour later the window is not over: a fixed window would
		// restart here and let ten more through at once.
		f.w.Advance(time.Hour)
		if err := f.svc.Request(ctx, request(bodo.KVNR, bodo.BirthDate)); !errors.Is(err, fault.RateLimited) {
			t.Fatalf("an hour later, the first tenth still counting: %v", err)
		}
		f.w.Advance(6 * time.Minute)
		if err := f.svc.Request(ctx, request(bodo.KVNR, bodo.BirthDate)); err != nil {
			t.Fatalf("once the first tenth is over: %v", err)
		}
	})
	t.Run("IPv6 per /64", func(t *testing.T) {
		f := setup(t)
		for i := range 10 {
			in := request(coretest.KVNR(fmt.Sprintf("E%08d", i)), "1980-01-01")
			in.ClientIP = fmt.Sprintf("[2001:db8:1:2::%x]:443", i+1)
			if err := f.svc.Request(ctx, in); err != nil {
				t.Fatal(err)
			}
		}
		in := request(anna.KVNR, anna.BirthDate)
		in.ClientIP = "2001:db8:1:2:ffff::1"
		if err := f.svc.Request(ctx, in); !errors.Is(err, fault.RateLimited) {
			t.Fatalf("same /64: %v", err)
		}
		in.ClientIP = "2001:db8:1:3::1"
		if err := f.svc.Request(ctx, in); err != nil {
			t.Fatalf("other /64: %v", err)
		}
	})
	t.Run("per member number, for members and strangers alike", func(t *testing.T) {
		for _, k := range []string{string(anna.KVNR), string(nobody)} {
			f := setup(t)
			for i := range 3 {
				in := request(anna.KVNR, anna.BirthDate)
				in.KVNR, in.ClientIP = k, fmt.Sprintf("203.0.113.%d", i)
				if err := f.svc.Request(ctx, in); err != nil {
					t.Fatalf("%s request %d: %v", k, i, err)
				}
			}
			in := request(anna.KVNR, anna.BirthDate)
			in.KVNR, in.ClientIP = k, "203.0.113.99"
			f.w.Advance(90 * time.Minute)
			err := f.svc.Request(ctx, in)
			// The tenths of a day are 2 h 24 min long; t0 (10:00) is in the
			// one from 9:36, which counts until 12:00 the next day.
			if d, ok := retryAfter(err); !errors.Is(err, fault.RateLimited) || !ok || d != 24*time.Hour+30*time.Minute {
				t.Fatalf("%s 4th request: %v, retry after %v", k, err, d)
			}
			f.w.Advance(24*time.Hour + 30*time.Minute)
			if err := f.svc.Request(ctx, in); err != nil {
				t.Fatalf("%s next day: %v", k, err)
			}
		}
	})
	t.Run("store outage", func(t *testing.T) {
		f := setup(t)
		down := fault.New(fault.Unavailable, "fake", "")
		f.w.SetInject(func(p string) error {
			if p == "RateLimits.Hit:before" {
				return down
			}
			return nil
		})
		if err := f.svc.Request(ctx, request(anna.KVNR, anna.BirthDate)); !errors.Is(err, fault.Unavailable) {
			t.Fatalf("Request = %v", err)
		}
		if len(f.w.Queued()) != 0 {
			t.Fatal("queued without a counted hit")
		}
	})
	if _, ok := retryAfter(fault.New(fault.RateLimited, "x", "")); ok {
		t.Fatal("RetryAfter of a plain error")
	}
}

func TestRetryAfterRounding(t *testing.T) {
	f := setup(t)
	f.w.Advance(1500 * time.Millisecond) // the first tenth (from t0) counts for 1h5m58.5s more
	for range 10 {
		_ = f.svc.Request(ctx, request(nobody, "1980-01-01"))
	}
	in := request(anna.KVNR, anna.BirthDate)
	err := f.svc.Request(ctx, in)
	if d, _ := retryAfter(err); d != 66*time.Minute-time.Second {
		t.Fatalf("RetryAfter = %v", d)
	}
	if rl := fault.RetryOf(err); rl == nil || rl.RetryAfter != 66*time.Minute-1500*time.Millisecond || fault.KindOf(err) != fault.RateLimited {
		t.Fatalf("error %#v", err)
	}
}

func TestProcessRegistrations(t *testing.T) {
	t.Run("the letter goes to the name and address on file", func(t *testing.T) {
		f := setup(t)
		l, _, _ := f.letterFor(t, anna)
		if l.Recipient.Name != "Anna-Lena Schmidt" || l.Recipient.Address != anna.Address || l.KVNR != anna.KVNR {
			t.Fatalf("recipient %+v", l.Recipient)
		}
		if !l.CreatedAt.Equal(t0) || !l.ExpiresAt.Equal(t0.Add(60*24*time.Hour)) {
			t.Fatalf("times %v %v", l.CreatedAt, l.ExpiresAt)
		}
	})
	t.Run("birth date mismatch produces no letter", func(t *testing.T) {
		f := setup(t)
		for i, b := range []string{"1984-09-07", "10.07.1984", "1985-07-09"} {
			in := request(anna.KVNR, b)
			in.ClientIP = fmt.Sprintf("192.0.2.%d", i)
			if err := f.svc.Request(ctx, in); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := f.svc.ProcessRegistrations(ctx, 10); err != nil || n != 3 {
			t.Fatalf("ProcessRegistrations = %d %v", n, err)
		}
		if ls := f.w.LettersOf(anna.KVNR); len(ls) != 0 {
			t.Fatalf("letters %+v", ls)
		}
	})
	t.Run("a new letter voids the previous one", func(t *testing.T) {
		f := setup(t)
		first, pw, code := f.letterFor(t, anna)
		f.w.Advance(7*24*time.Hour + time.Second)
		second, _, _ := f.letterFor(t, anna)
		if second.ID == first.ID {
			t.Fatal("no new letter")
		}
		old := f.w.Letter(first.ID)
		if old.State != letter.Voided || old.VoidReason != letter.ReasonSuperseded {
			t.Fatalf("old letter %s/%s", old.State, old.VoidReason)
		}
		if letterHasher.Matches(second, pw, code) {
			t.Fatal("the old secrets match the new letter")
		}
	})
	t.Run("at most one letter per 7 days", func(t *testing.T) {
		f := setup(t)
		f.letterFor(t, anna)
		// Spread so that no three requests fall within a day (the member
		// number's limit).
		for _, d := range []time.Duration{24 * time.Hour, 4 * 24 * time.Hour, 2*24*time.Hour - time.Second} {
			f.w.Advance(d)
			if err := f.svc.Request(ctx, request(anna.KVNR, anna.BirthDate)); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.ProcessRegistrations(ctx, 10); err != nil {
				t.Fatal(err)
			}
			if n := len(f.w.LettersOf(anna.KVNR)); n != 1 {
				t.Fatalf("after %v: %d letters", d, n)
			}
		}
		if !strings.Contains(f.logs.String(), "outcome=too_soon") {
			t.Fatal("too_soon not logged")
		}
		f.w.Advance(time.Second) // exactly 7 days after the first letter: still too soon
		if err := f.svc.Request(ctx, request(anna.KVNR, anna.BirthDate)); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.ProcessRegistrations(ctx, 10); err != nil || len(f.w.LettersOf(anna.KVNR)) != 1 {
			t.Fatalf("exactly 7 days: %v, %d letters", err, len(f.w.LettersOf(anna.KVNR)))
		}
		f.w.Advance(time.Millisecond)
		f.letterFor(t, anna)
		if n := len(f.w.LettersOf(anna.KVNR)); n != 2 {
			t.Fatalf("after 7 days: %d letters", n)
		}
	})
	t.Run("a crash before the request is deleted creates no second letter", func(t *testing.T) {
		f := setup(t)
		if err := f.svc.Request(ctx, request(anna.KVNR, anna.BirthDate)); err != nil {
			t.Fatal(err)
		}
		crashed := false
		f.w.SetInject(func(p string) error {
			if p == "Registrations.DeleteRegistration:before" && !crashed {
				crashed = true
				return registrationtest.ErrCrash
			}
			return nil
		})
		if n, err := f.svc.ProcessRegistrations(ctx, 10); !errors.Is(err, registrationtest.ErrCrash) || n != 0 {
			t.Fatalf("first run = %d %v", n, err)
		}
		if n, _ := f.svc.ProcessRegistrations(ctx, 10); n != 0 {
			t.Fatal("a leased request was claimed again")
		}
		f.w.Advance(registration.DefaultRegistrationLease)
		if n, err := f.svc.ProcessRegistrations(ctx, 10); err != nil || n != 1 {
			t.Fatalf("second run = %d %v", n, err)
		}
		if n := len(f.w.LettersOf(anna.KVNR)); n != 1 || len(f.w.Queued()) != 0 {
			t.Fatalf("%d letters, %d queued", n, len(f.w.Queued()))
		}
	})
	t.Run("a directory outage keeps the request and decides the others", func(t *testing.T) {
		f := setup(t)
		for i, m := range []string{string(anna.KVNR), string(nobody)} {
			in := request(anna.KVNR, anna.BirthDate)
			in.KVNR, in.ClientIP = m, fmt.Sprintf("192.0.2.%d", i)
			if err := f.svc.Request(ctx, in); err != nil {
				t.Fatal(err)
			}
			f.w.Advance(time.Second)
		}
		down := fault.New(fault.Unavailable, "fake", "")
		first := true
		f.w.SetInject(func(p string) error {
			if p == "Members.MemberByKVNR:before" && first {
				first = false
				return down
			}
			return nil
		})
		n, err := f.svc.ProcessRegistrations(ctx, 10)
		if n != 1 || !errors.Is(err, fault.Unavailable) || len(f.w.Queued()) != 1 {
			t.Fatalf("ProcessRegistrations = %d %v, %d queued", n, err, len(f.w.Queued()))
		}
		if !strings.Contains(f.logs.String(), "outcome=error_retry") {
			t.Fatal("failure not logged")
		}
	})
}

// retryAfter is the wait a rate-limited error asks for, rounded up to
// whole seconds and at least one, as the app API's Retry-After says it.
func retryAfter(err error) (time.Duration, bool) {
	e := fault.RetryOf(err)
	if e == nil {
		return 0, false
	}
	d := (e.RetryAfter + time.Second - 1) / time.Second * time.Second
	return max(d, time.Second), true
}

// bothTexts is what the catalog says about err in German, then English;
// the error must have a code.
func bothTexts(err error) string {
	if fault.CodedOf(err) == nil {
		return ""
	}
	return catalog.German.Error(err) + " / " + catalog.English.Error(err)
}

// Both eligibility windows 0 is a setting of its own, never replaced by
// the defaults: only members insured today may register.
func TestZeroEligibilityWindowsAdmitOnlyTheInsured(t *testing.T) {
	tomorrow := member.Member{InsuredFrom: t0.Add(24 * time.Hour)}
	endedYesterday := member.Member{InsuredFrom: t0.AddDate(-1, 0, 0), InsuredUntil: t0.Add(-24 * time.Hour)}
	insured := member.Member{InsuredFrom: t0.AddDate(-1, 0, 0)}

	f := setup(t, func(c *registration.Config, _ *registration.Deps) { c.Eligibility = &member.Eligibility{} })
	e := f.svc.Config().Eligibility
	if e == nil || *e != (member.Eligibility{}) {
		t.Fatalf("Eligibility = %+v, want both windows 0", e)
	}
	if e.Eligible(tomorrow, t0) || e.Eligible(endedYesterday, t0) || !e.Eligible(insured, t0) {
		t.Errorf("windows 0 must admit only the insured")
	}

	// nil takes the defaults, and the service keeps its own copy.
	f = setup(t)
	if e := f.svc.Config().Eligibility; e == nil || *e != member.DefaultEligibility {
		t.Fatalf("Eligibility = %+v, want the default", e)
	}
	*f.svc.Config().Eligibility = member.Eligibility{}
	if e := f.svc.Config().Eligibility; *e != member.DefaultEligibility {
		t.Fatalf("the service's eligibility changed through Config: %+v", e)
	}
}

// sentMail is one notification the fake notifier received, with the
// params it was worded from.
type sentMail struct {
	msg    notify.Message
	params []any
}

// mailbox is a notifier (a function field per port without state) that
// keeps what it is sent; fail makes the next deliveries fail.
type mailbox struct {
	mu     sync.Mutex
	sent   []sentMail
	params []any
	fail   error
}

func (b *mailbox) Notify(_ context.Context, m notify.Message) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail != nil {
		return b.fail
	}
	b.sent = append(b.sent, sentMail{msg: m, params: b.params})
	return nil
}

func withMailbox(b *mailbox) option {
	return func(_ *registration.Config, d *registration.Deps) {
		d.Notifier = b
		d.Mail = func(_ context.Context, code fault.Code, params ...any) (string, string) {
			b.mu.Lock()
			b.params = params
			b.mu.Unlock()
			return string(code), fmt.Sprint(params...)
		}
	}
}

// A request refused for the interval is answered like any other (that
// cannot change: member enumeration), so the member is told privately,
// at the address on file, when the next letter is possible; a letter that
// is produced, a re-decided request and a member without an address get
// no mail.
func TestTooSoonTellsTheMember(t *testing.T) {
	t.Run("refused for the interval", func(t *testing.T) {
		b := &mailbox{}
		f := setup(t, withMailbox(b))
		f.letterFor(t, anna)
		first := f.w.LettersOf(anna.KVNR)[0]
		if len(b.sent) != 0 {
			t.Fatalf("mail for a letter produced: %+v", b.sent)
		}
		f.w.Advance(2 * 24 * time.Hour)
		requested := f.w.Now().UTC()
		if err := f.svc.Request(ctx, request(anna.KVNR, anna.BirthDate)); err != nil {
			t.Fatal(err)
		}
		if n, err := f.svc.ProcessRegistrations(ctx, 10); err != nil || n != 1 {
			t.Fatalf("ProcessRegistrations = %d %v", n, err)
		}
		if len(b.sent) != 1 {
			t.Fatalf("%d mails, want 1", len(b.sent))
		}
		got := b.sent[0]
		next := first.CreatedAt.Add(letter.DefaultPolicy.MinInterval)
		if got.msg.To != anna.Email || got.msg.Kind != "mail.letter_too_soon" || len(got.params) != 3 ||
			!got.params[0].(time.Time).Equal(requested) || !got.params[1].(time.Time).Equal(first.CreatedAt) ||
			!got.params[2].(time.Time).Equal(next) {
			t.Fatalf("mail %+v; want to %s, next letter from %s", got, anna.Email, next)
		}
		if !strings.Contains(f.logs.String(), "outcome=too_soon_told") {
			t.Error("too_soon_told not logged")
		}
	})
	t.Run("no address on file", func(t *testing.T) {
		b := &mailbox{}
		f := setup(t, withMailbox(b))
		m := anna
		m.Email = ""
		_ = f.w.UpsertMember(ctx, m)
		f.letterFor(t, m)
		f.w.Advance(time.Hour)
		if err := f.svc.Request(ctx, request(m.KVNR, m.BirthDate)); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.ProcessRegistrations(ctx, 10); err != nil || len(b.sent) != 0 {
			t.Fatalf("%v, %d mails", err, len(b.sent))
		}
	})
	t.Run("delivery fails", func(t *testing.T) {
		b := &mailbox{}
		f := setup(t, withMailbox(b))
		f.letterFor(t, anna)
		b.fail = fault.New(fault.Unavailable, "mail", "relay down")
		f.w.Advance(time.Hour)
		if err := f.svc.Request(ctx, request(anna.KVNR, anna.BirthDate)); err != nil {
			t.Fatal(err)
		}
		// Decided all the same: a retry would repeat the mail to whoever
		// got it.
		if n, err := f.svc.ProcessRegistrations(ctx, 10); err != nil || n != 1 || len(f.w.Queued()) != 0 {
			t.Fatalf("ProcessRegistrations = %d %v, %d queued", n, err, len(f.w.Queued()))
		}
		if !strings.Contains(f.logs.String(), "notification not sent") || !strings.Contains(f.logs.String(), "outcome=too_soon") {
			t.Errorf("logs %s", f.logs.String())
		}
	})
	t.Run("a request decided again after a crash", func(t *testing.T) {
		b := &mailbox{}
		f := setup(t, withMailbox(b))
		if err := f.svc.Request(ctx, request(anna.KVNR, anna.BirthDate)); err != nil {
			t.Fatal(err)
		}
		crashed := false
		f.w.SetInject(func(p string) error {
			if p == "Registrations.DeleteRegistration:before" && !crashed {
				crashed = true
				return registrationtest.ErrCrash
			}
			return nil
		})
		_, _ = f.svc.ProcessRegistrations(ctx, 10)
		f.w.Advance(registration.DefaultRegistrationLease)
		if n, err := f.svc.ProcessRegistrations(ctx, 10); err != nil || n != 1 {
			t.Fatalf("second run = %d %v", n, err)
		}
		if len(b.sent) != 0 || strings.Contains(f.logs.String(), "outcome=too_soon") {
			t.Fatalf("its own letter taken for the interval: %d mails, logs %s", len(b.sent), f.logs.String())
		}
	})
	t.Run("a notifier needs words", func(t *testing.T) {
		w := registrationtest.NewWorld(t0, sqlstoretest.Open(t))
		_, err := registration.New(registration.Config{Issuer: issuer, Sender: sender}, registration.Deps{
			Members: w, Registrations: w, Letters: w, Enrollments: w, RateLimits: w, Renderer: w, Outbox: w,
			LetterHasher: letterHasher, Passwords: coretest.Passwords(), Notifier: &mailbox{},
		})
		if !errors.Is(err, fault.Invalid) {
			t.Fatalf("New = %v", err)
		}
	})
}
