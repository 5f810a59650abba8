package registration_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/registration"
	"github.com/pforte-id/pforte/core/registration/registrationtest"
)

func TestListLetters(t *testing.T) {
	f := setup(t)
	f.letterFor(t, anna)
	f.w.Advance(time.Minute)
	dina := anna
	dina.KVNR, dina.GivenName = coretest.KVNR("D12121212"), "Dina"
	_ = f.w.UpsertMember(ctx, dina)
	f.requested(t, dina)

	all, err := f.svc.ListLetters(ctx, "", 0)
	if err != nil || len(all) != 2 || all[0].KVNR != dina.KVNR {
		t.Fatalf("ListLetters = %+v %v", all, err)
	}
	for _, l := range all {
		if l.PasswordHash != "" || l.CodeHash != "" {
			t.Fatal("hashes listed")
		}
	}
	if ls, _ := f.svc.ListLetters(ctx, letter.HandedOver, 10); len(ls) != 1 || ls[0].KVNR != anna.KVNR {
		t.Fatalf("handed over: %+v", ls)
	}
	if ls, _ := f.svc.ListLetters(ctx, "", registration.MaxListLimit*10); len(ls) != 2 {
		t.Fatalf("large limit: %d", len(ls))
	}
	if ls, _ := f.svc.ListLetters(ctx, "", 1); len(ls) != 1 {
		t.Fatalf("limit: %d", len(ls))
	}
	if _, err := f.svc.ListLetters(ctx, "lost", 10); !errors.Is(err, fault.Invalid) {
		t.Fatalf("unknown state: %v", err)
	}
}

func TestRenderLetter(t *testing.T) {
	f := setup(t)
	l := f.requested(t, anna)
	got, err := f.svc.RenderLetter(ctx, l.ID)
	if err != nil || got.State != letter.HandedOver || got.PasswordHash != "" {
		t.Fatalf("RenderLetter = %+v %v", got, err)
	}
	checkOneValidLetter(t, f, anna, nil)
	if _, err := f.svc.RenderLetter(ctx, l.ID); !errors.Is(err, fault.Conflict) || !strings.Contains(fault.PublicOf(err), "handed_over") {
		t.Fatalf("again: %v", err)
	}
	if _, err := f.svc.RenderLetter(ctx, "nope"); !errors.Is(err, fault.NotFound) {
		t.Fatalf("unknown: %v", err)
	}
	if n, _ := f.svc.ProcessLetters(ctx, 10); n != 0 {
		t.Fatal("the worker rendered it again")
	}
}

// TestRetryLetter covers the operator's retry in every state. Decision: a
// handed-over letter is never rendered again (its secrets may be in the
// mail); when its file is gone, retry replaces it by a new letter, which
// voids it in the same step.
func TestRetryLetter(t *testing.T) {
	t.Run("stuck in requested or rendered: produced now", func(t *testing.T) {
		for _, crashAt := range []string{"", "Outbox.Put:before"} {
			f := setup(t)
			l := f.requested(t, anna)
			if crashAt != "" {
				f.w.SetInject(func(at string) error {
					if at == crashAt {
						return registrationtest.ErrCrash
					}
					return nil
				})
				_, _ = f.svc.ProcessLetters(ctx, 10)
				f.w.SetInject(nil)
				if f.w.Letter(l.ID).State != letter.Rendered {
					t.Fatal("not stuck")
				}
			}
			got, err := f.svc.RetryLetter(ctx, l.ID)
			if err != nil || got.ID != l.ID || got.State != letter.HandedOver {
				t.Fatalf("RetryLetter = %+v %v", got, err)
			}
			checkOneValidLetter(t, f, anna, nil)
		}
	})
	t.Run("handed over, still in the outbox: nothing to do", func(t *testing.T) {
		f := setup(t)
		l, _, _ := f.letterFor(t, anna)
		if _, err := f.svc.RetryLetter(ctx, l.ID); !errors.Is(err, fault.Conflict) || !strings.Contains(fault.PublicOf(err), "outbox") {
			t.Fatalf("RetryLetter = %v", err)
		}
		if n := len(f.w.LettersOf(anna.KVNR)); n != 1 {
			t.Fatalf("%d letters", n)
		}
	})
	t.Run("handed over, file gone: replaced, old one voided", func(t *testing.T) {
		f := setup(t)
		old, pw, code := f.letterFor(t, anna)
		printed := f.w.Outbox()
		f.w.Collect(old.OutboxName)
		f.w.Advance(time.Hour) // well within the 7 days: an operator may
		got, err := f.svc.RetryLetter(ctx, old.ID)
		if err != nil || got.ID == old.ID || got.State != letter.HandedOver || got.Recipient != old.Recipient {
			t.Fatalf("RetryLetter = %+v %v", got, err)
		}
		if o := f.w.Letter(old.ID); o.State != letter.Voided || o.VoidReason != letter.ReasonSuperseded {
			t.Fatalf("old letter %s", o.State)
		}
		checkOneValidLetter(t, f, anna, printed)
		if letterHasher.Matches(f.w.Letter(got.ID), pw, code) {
			t.Fatal("the lost letter's secrets match the replacement")
		}
		if !strings.Contains(f.logs.String(), "letter replaced by operator") {
			t.Fatal("replacement not logged")
		}
	})
	t.Run("handed over, file gone, member no longer eligible or gone", func(t *testing.T) {
		for name, edit := range map[string]func(*fixture){
			"ineligible": func(f *fixture) {
				m := anna
				m.InsuredUntil = t0.Add(-40 * 24 * time.Hour)
				_ = f.w.UpsertMember(ctx, m)
			},
			"no address": func(f *fixture) {
				m := anna
				m.Address = member.Address{}
				_ = f.w.UpsertMember(ctx, m)
			},
			"gone": func(f *fixture) {
				f.w.DeleteMember(anna.KVNR)
			},
		} {
			f := setup(t)
			l, _, _ := f.letterFor(t, anna)
			f.w.Collect(l.OutboxName)
			edit(f)
			if _, err := f.svc.RetryLetter(ctx, l.ID); !errors.Is(err, fault.Forbidden) {
				t.Errorf("%s: RetryLetter = %v", name, err)
			}
			if f.w.Letter(l.ID).State != letter.HandedOver || len(f.w.LettersOf(anna.KVNR)) != 1 {
				t.Errorf("%s: the letter changed", name)
			}
		}
	})
	t.Run("activated or voided: the member requests a new letter", func(t *testing.T) {
		f := setup(t)
		l, _, _ := f.letterFor(t, anna)
		if err := f.w.ActivateLetter(ctx, l.ID, 5, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.RetryLetter(ctx, l.ID); !errors.Is(err, fault.Conflict) || !strings.Contains(fault.PublicOf(err), "used") {
			t.Fatalf("activated: %v", err)
		}
		f.w.Advance(8 * 24 * time.Hour)
		second, _, _ := f.letterFor(t, anna)
		for range 5 {
			_, _ = f.w.FailActivation(ctx, second.ID, 5, f.w.Now())
		}
		if _, err := f.svc.RetryLetter(ctx, second.ID); !errors.Is(err, fault.Conflict) || !strings.Contains(fault.PublicOf(err), "attempts") {
			t.Fatalf("voided: %v", err)
		}
		if _, err := f.svc.RetryLetter(ctx, "nope"); !errors.Is(err, fault.NotFound) {
			t.Fatalf("unknown: %v", err)
		}
	})
	t.Run("a newer request wins over the replacement", func(t *testing.T) {
		f := setup(t)
		l, _, _ := f.letterFor(t, anna)
		f.w.Collect(l.OutboxName)
		newer := l
		newer.ID, newer.CreatedAt = "newer", t0.Add(time.Hour)
		if err := f.w.CreateLetter(ctx, newer, t0.Add(time.Hour), t0); err != nil {
			t.Fatal(err)
		}
		// The old letter is voided now.
		if _, err := f.svc.RetryLetter(ctx, l.ID); !errors.Is(err, fault.Conflict) {
			t.Fatalf("RetryLetter = %v", err)
		}
	})
}
