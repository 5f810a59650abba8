package registration_test

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/registration"
	"github.com/pforte-id/pforte/core/registration/registrationtest"
)

// requested queues and decides a request for m, leaving its letter
// Requested.
func (f *fixture) requested(t *testing.T, m member.Member) letter.Letter {
	t.Helper()
	in := request(m.KVNR, m.BirthDate)
	in.ClientIP = "198.51.100.1"
	if err := f.svc.Request(ctx, in); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ProcessRegistrations(ctx, 10); err != nil {
		t.Fatal(err)
	}
	ls := f.w.LettersOf(m.KVNR)
	if len(ls) == 0 || ls[0].State != letter.Requested {
		t.Fatalf("no requested letter: %+v", ls)
	}
	return ls[0]
}

var fileNameRE = regexp.MustCompile(`^pforte-letter-[A-Za-z0-9_-]+-[0-9a-f]{12}\.pdf$`)

func TestProcessLettersHandsOver(t *testing.T) {
	f := setup(t)
	l := f.requested(t, anna)
	n, err := f.svc.ProcessLetters(ctx, 10)
	if err != nil || n != 1 {
		t.Fatalf("ProcessLetters = %d %v", n, err)
	}
	got := f.w.Letter(l.ID)
	if got.State != letter.HandedOver || !got.HandedOverAt.Equal(t0) || !got.RenderedAt.Equal(t0) {
		t.Fatalf("letter %+v", got)
	}
	if !fileNameRE.MatchString(got.OutboxName) || !strings.Contains(got.OutboxName, l.ID) {
		t.Fatalf("outbox name %q", got.OutboxName)
	}
	out := f.w.Outbox()
	d, ok := out[got.OutboxName]
	if !ok || len(out) != 1 {
		t.Fatalf("outbox %v", out)
	}
	pw, code := registrationtest.SecretsOf(d)
	if !letterHasher.Matches(got, pw, code) {
		t.Fatal("the printed secrets do not match the stored hashes")
	}
	if !letter.WellFormed(pw, letter.PasswordLength) || !letter.WellFormed(code, letter.CodeLength) ||
		d.InitialPassword != letter.Group(pw) {
		t.Fatalf("secrets %q %q", d.InitialPassword, d.ActivationCode)
	}
	if d.ActivationURL != issuer+"/app/activate#"+code || d.Sender != sender || d.LetterID != l.ID ||
		d.Recipient != l.Recipient || !d.ValidUntil.Equal(l.ExpiresAt) || !d.Date.Equal(t0) {
		t.Fatalf("document %+v", d)
	}
	if logs := f.logs.String(); strings.Contains(logs, pw) || strings.Contains(logs, code) || !strings.Contains(logs, "outcome=handed_over") {
		t.Fatalf("logs:\n%s", logs)
	}
	if n, _ := f.svc.ProcessLetters(ctx, 10); n != 0 {
		t.Fatal("a handed-over letter was processed again")
	}
}

// TestLetterCarriesTheConfiguredContactAndAppLink: the document the
// renderer gets carries the contact and the link to the app as
// configured, and none of them when they are not.
func TestLetterCarriesTheConfiguredContactAndAppLink(t *testing.T) {
	for _, tc := range []struct{ phone, address, app string }{
		{"", "", ""},
		{"0421 3655-0", "Beispiel-BKK, Martinistraße 26, 28195 Bremen", "https://www.beispiel-bkk.de/app"},
	} {
		f := setup(t, func(c *registration.Config, _ *registration.Deps) {
			c.ContactPhone, c.ContactAddress, c.AppStoreURL = tc.phone, tc.address, tc.app
		})
		_, _, _ = f.letterFor(t, anna)
		for _, d := range f.w.Outbox() {
			if d.ContactPhone != tc.phone || d.ContactAddress != tc.address || d.AppStoreURL != tc.app {
				t.Errorf("document %+v, want contact %q %q and app link %q", d, tc.phone, tc.address, tc.app)
			}
		}
	}
}

// checkOneValidLetter is the invariant of letter production: the member
// has exactly one HandedOver letter (the others are voided), and of all the
// files ever printed — those in the outbox and those the print service
// collected before (printed) — exactly one matches it: the one its row
// names.
func checkOneValidLetter(t *testing.T, f *fixture, m member.Member, printed map[string]letter.Document) {
	t.Helper()
	var handed []letter.Letter
	for _, l := range f.w.LettersOf(m.KVNR) {
		if l.State == letter.HandedOver {
			handed = append(handed, l)
		}
		if l.State != letter.HandedOver && l.State != letter.Voided {
			t.Errorf("letter left %s", l.State)
		}
	}
	if len(handed) != 1 {
		t.Fatalf("%d handed-over letters", len(handed))
	}
	l := handed[0]
	all := map[string]letter.Document{}
	for name, d := range printed {
		all[name] = d
	}
	for name, d := range f.w.Outbox() {
		all[name] = d
	}
	matching := 0
	for name, d := range all {
		pw, code := registrationtest.SecretsOf(d)
		if letterHasher.Matches(l, pw, code) {
			matching++
			if name != l.OutboxName {
				t.Errorf("file %s matches the row, which names %s", name, l.OutboxName)
			}
		}
	}
	if matching != 1 {
		t.Fatalf("%d of %d printed files match the letter", matching, len(all))
	}
}

// TestProcessLettersCrashSafety fails the worker at every point between
// the steps, lets the print service collect the outbox or not, and then
// lets a restarted worker (after the lease) finish: exactly one letter is
// valid and exactly one print matches it.
func TestProcessLettersCrashSafety(t *testing.T) {
	points := []string{
		"Letters.ClaimLetters:before",
		"Letters.MarkRendered:before",
		"Letters.MarkRendered:after",
		"Renderer.Render:before",
		"Outbox.Put:before",
		"Outbox.Put:after",
		"Letters.LetterByID:before",
		"Letters.MarkHandedOver:before",
		"Letters.MarkHandedOver:after",
		"Outbox.Exists:before",
	}
	for _, p := range points {
		for _, collect := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s collected=%v", p, collect), func(t *testing.T) {
				f := setup(t)
				f.requested(t, anna)
				crashes, putCrashed := 0, false
				f.w.SetInject(func(at string) error {
					if at == p && crashes < 2 {
						crashes++
						return registrationtest.ErrCrash
					}
					// Exists is asked only after a crash that left a
					// rendered letter behind.
					if p == "Outbox.Exists:before" && at == "Outbox.Put:after" && !putCrashed {
						putCrashed = true
						return registrationtest.ErrCrash
					}
					return nil
				})
				printed := map[string]letter.Document{}
				for run := 0; run < 4; run++ {
					_, _ = f.svc.ProcessLetters(ctx, 10)
					if collect {
						for name, d := range f.w.Outbox() {
							printed[name] = d
							f.w.Collect(name)
						}
					}
					f.w.Advance(registration.DefaultLetterLease)
				}
				if crashes == 0 {
					t.Fatal("the crash point was never reached")
				}
				checkOneValidLetter(t, f, anna, printed)
			})
		}
	}
}

// TestProcessLettersRepeatedCrashes crashes the worker twice, at the k-th
// and the 2k-th step overall (every call and every write counts), for
// every k, lets restarted workers finish, and checks the invariant. Every
// file ever put is kept (as if collected and printed) to prove that only
// the last render activates.
func TestProcessLettersRepeatedCrashes(t *testing.T) {
	for k := 1; k <= 14; k++ {
		for _, collect := range []bool{false, true} {
			t.Run(fmt.Sprintf("crash at steps %d and %d collected=%v", k, 2*k, collect), func(t *testing.T) {
				f := setup(t)
				l := f.requested(t, anna)
				printed := map[string]letter.Document{}
				step := 0
				f.w.SetInject(func(at string) error {
					step++
					if step == k || step == 2*k {
						return registrationtest.ErrCrash
					}
					return nil
				})
				for run := 0; f.w.Letter(l.ID).State != letter.HandedOver; run++ {
					if run > 10 {
						t.Fatal("never handed over")
					}
					_, _ = f.svc.ProcessLetters(ctx, 10)
					for name, d := range f.w.Outbox() {
						printed[name] = d
						if collect {
							f.w.Collect(name)
						}
					}
					f.w.Advance(registration.DefaultLetterLease)
				}
				f.w.SetInject(nil)
				checkOneValidLetter(t, f, anna, printed)
			})
		}
	}
}

func TestProcessLettersSkipsVoidedLetters(t *testing.T) {
	for _, p := range []string{"Letters.MarkRendered:before", "Outbox.Put:before", "Letters.MarkHandedOver:before"} {
		t.Run(p, func(t *testing.T) {
			f := setup(t)
			old := f.requested(t, anna)
			// A newer letter supersedes the old one while it is processed.
			newer := old
			newer.ID, newer.CreatedAt = "newer", t0.Add(time.Second)
			once := false
			f.w.SetInject(func(at string) error {
				if at == p && !once {
					once = true
					return f.w.CreateLetter(ctx, newer, t0.Add(time.Second), t0)
				}
				return nil
			})
			n, err := f.svc.ProcessLetters(ctx, 1)
			if err != nil || n != 0 {
				t.Fatalf("ProcessLetters = %d %v", n, err)
			}
			if got := f.w.Letter(old.ID); got.State != letter.Voided {
				t.Fatalf("old letter %s", got.State)
			}
			if !strings.Contains(f.logs.String(), "outcome=voided") {
				t.Fatalf("logs:\n%s", f.logs.String())
			}
			f.w.SetInject(nil)
			if n, err := f.svc.ProcessLetters(ctx, 10); err != nil || n != 1 {
				t.Fatalf("newer letter: %d %v", n, err)
			}
			checkOneValidLetter(t, f, anna, nil)
		})
	}
}

// TestConcurrentRenders: an operator renders a letter while a worker is
// between MarkRendered and Put. Only one render stays valid, and the
// worker does not hand over a row that is no longer its own.
func TestConcurrentRenders(t *testing.T) {
	f := setup(t)
	l := f.requested(t, anna)
	once := false
	f.w.SetInject(func(at string) error {
		if at == "Outbox.Put:before" && !once {
			once = true
			got, err := f.svc.RenderLetter(ctx, l.ID)
			if err != nil || got.State != letter.HandedOver {
				t.Errorf("operator render: %+v %v", got, err)
			}
		}
		return nil
	})
	n, err := f.svc.ProcessLetters(ctx, 10)
	if err != nil || n != 0 {
		t.Fatalf("worker = %d %v", n, err)
	}
	if !strings.Contains(f.logs.String(), "outcome=overtaken") {
		t.Fatalf("logs:\n%s", f.logs.String())
	}
	if len(f.w.Outbox()) != 2 {
		t.Fatalf("outbox %d", len(f.w.Outbox()))
	}
	checkOneValidLetter(t, f, anna, nil)
}

func TestProcessLettersGivesUpWhenTheLeaseRunsOut(t *testing.T) {
	f := setup(t)
	l := f.requested(t, anna)
	once := false
	f.w.SetInject(func(at string) error {
		if at == "Renderer.Render:before" && !once {
			once = true
			f.w.Advance(registration.DefaultLetterLease) // a long pause
		}
		return nil
	})
	if n, err := f.svc.ProcessLetters(ctx, 10); err != nil || n != 0 {
		t.Fatalf("ProcessLetters = %d %v", n, err)
	}
	if len(f.w.Outbox()) != 0 || f.w.Letter(l.ID).State != letter.Rendered {
		t.Fatal("a worker without a lease wrote a file")
	}
	if n, err := f.svc.ProcessLetters(ctx, 10); err != nil || n != 1 {
		t.Fatalf("next worker = %d %v", n, err)
	}
	checkOneValidLetter(t, f, anna, nil)
}

func TestProcessLettersRendererRefusal(t *testing.T) {
	f := setup(t)
	l := f.requested(t, anna)
	bad := fault.New(fault.Invalid, "fake.Render", "address too long")
	f.w.SetInject(func(at string) error {
		if at == "Renderer.Render:before" {
			return bad
		}
		return nil
	})
	if _, err := f.svc.ProcessLetters(ctx, 10); !errors.Is(err, fault.Invalid) {
		t.Fatalf("ProcessLetters = %v", err)
	}
	if got := f.w.Letter(l.ID); got.State != letter.Rendered || len(f.w.Outbox()) != 0 {
		t.Fatalf("state %s, outbox %d", got.State, len(f.w.Outbox()))
	}
	if !strings.Contains(f.logs.String(), "level=ERROR") {
		t.Fatal("failure not logged as an error")
	}
}
