package password_test

import (
	"context"
	"errors"
	"github.com/pforte-id/pforte/catalog"
	"strings"
	"sync"
	"testing"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/password"
)

func TestHashVerify(t *testing.T) {
	h, err := password.NewHasher(password.DefaultParams, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	enc, err := h.Hash(ctx, "korrekt pferd batterie")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("unexpected encoding %q", enc)
	}
	ok, rehash, err := h.Verify(ctx, "korrekt pferd batterie", enc)
	if err != nil || !ok || rehash {
		t.Fatalf("Verify(right) = %v %v %v", ok, rehash, err)
	}
	ok, _, err = h.Verify(ctx, "korrekt pferd batteriE", enc)
	if err != nil || ok {
		t.Fatalf("Verify(wrong) = %v %v", ok, err)
	}
	if err := h.VerifyDummy(ctx, "x"); err != nil {
		t.Fatal(err)
	}
}

func TestRehashWhenParamsChange(t *testing.T) {
	ctx := context.Background()
	old, _ := password.NewHasher(password.DefaultParams, 1, 0)
	enc, _ := old.Hash(ctx, "korrekt pferd batterie")
	stronger := password.DefaultParams
	stronger.Iterations = 3
	cur, _ := password.NewHasher(stronger, 1, 0)
	ok, rehash, err := cur.Verify(ctx, "korrekt pferd batterie", enc)
	if err != nil || !ok || !rehash {
		t.Fatalf("Verify = %v rehash=%v %v; want ok and rehash", ok, rehash, err)
	}
}

func TestParamsFloor(t *testing.T) {
	if _, err := password.NewHasher(password.Params{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}, 1, 0); !errors.Is(err, fault.Invalid) {
		t.Fatalf("weak params accepted: %v", err)
	}
}

func TestMalformedHash(t *testing.T) {
	h, _ := password.NewHasher(password.DefaultParams, 1, 0)
	for _, enc := range []string{"", "$argon2i$v=19$m=19456,t=2,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=999999999,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=19456,t=2,p=1$!!$AAAA"} {
		if _, _, err := h.Verify(context.Background(), "x", enc); err == nil {
			t.Errorf("Verify accepted malformed hash %q", enc)
		}
	}
}

func TestConcurrencyBounded(t *testing.T) {
	h, _ := password.NewHasher(password.DefaultParams, 2, 0)
	if h.Concurrency() != 2 {
		t.Fatalf("Concurrency = %d", h.Concurrency())
	}
	// A cancelled context while all slots are busy is Unavailable, not a hang.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := h.Hash(ctx, "korrekt pferd batterie")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil && !errors.Is(err, fault.Unavailable) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	}
}

func TestPolicy(t *testing.T) {
	p := password.DefaultPolicy
	for _, tc := range []struct {
		pw string
		ok bool
	}{
		{"kurz", false},
		{"korrekt pferd batterie", true},
		{"Passwort123", false},
		{"aaaaaaaaaaaa", false},
		{"mein A123456780 passwort", false},
		{strings.Repeat("x", 200), false},
		{"Grüße aus Köln 2026", true},
	} {
		err := p.Check(tc.pw, "A123456780")
		if (err == nil) != tc.ok {
			t.Errorf("Check(%q) = %v, want ok=%v", tc.pw, err, tc.ok)
		}
		if err != nil && !errors.Is(err, fault.Invalid) {
			t.Errorf("Check(%q) kind = %v", tc.pw, fault.KindOf(err))
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h, _ := password.NewHasher(password.DefaultParams, 0, 0)
	enc, _ := h.Hash(context.Background(), "korrekt pferd batterie")
	b.ResetTimer()
	for b.Loop() {
		_, _, _ = h.Verify(context.Background(), "korrekt pferd batterie", enc)
	}
}

// weakWords is an Estimator that calls a password weak when it contains
// one of its words or a user input.
type weakWords []string

func (w weakWords) Weak(pw string, inputs []string) (bool, fault.Code) {
	for _, s := range w {
		if s == "" {
			return true, "" // no reason given
		}
		if strings.Contains(strings.ToLower(pw), strings.ToLower(s)) {
			return true, "password.guessable_words"
		}
	}
	for _, s := range inputs {
		if strings.Contains(strings.ToLower(pw), strings.ToLower(s)) {
			return true, "password.guessable_personal"
		}
	}
	return false, ""
}

func TestCheckWith(t *testing.T) {
	p := password.DefaultPolicy
	est := weakWords{"pferd"}
	for _, tc := range []struct {
		name, pw string
		est      password.Estimator
		wantErr  string
	}{
		{"no estimator", "korrekt pferd batterie", nil, ""},
		{"estimator refuses", "korrekt pferd batterie", est, "zu leicht zu erraten. (Bekannte Wörter"},
		{"estimator without a reason", "korrekt pferd batterie", weakWords{""}, "Das Passwort ist zu leicht zu erraten."},
		{"estimator accepts", "Grüße aus Köln 2026", est, ""},
		{"policy first", "kurz", est, "mindestens 10 Zeichen"},
		// "Bo" is too short for Policy's own check; the estimator judges it.
		{"estimator sees personal inputs", "ich heisse Bo, 2026!", weakWords{}, "(Es besteht im Wesentlichen aus Ihren persönlichen Daten.)"},
	} {
		err := p.CheckWith(tc.est, tc.pw, "Bo")
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if !errors.Is(err, fault.Invalid) || !strings.Contains(catalog.German.Error(err), tc.wantErr) {
			t.Errorf("%s: got %v, want Invalid with %q", tc.name, err, tc.wantErr)
		}
	}
}
