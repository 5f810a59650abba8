package strength_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/pforte-id/pforte/adapters/strength"
	"github.com/pforte-id/pforte/core/fault"
)

// member is what core passes as user inputs: member number, names, date
// of birth.
var member = []string{"X123456788", "Jürgen", "Müßig", "1975-04-03"}

func estimator(t testing.TB) *strength.Estimator {
	t.Helper()
	e, err := strength.New(strength.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestWeak(t *testing.T) {
	e := estimator(t)
	for _, tc := range []struct {
		pw     string
		inputs []string
		weak   bool
		reason fault.Code // checked when not empty
	}{
		{pw: "passwort123", weak: true, reason: strength.ReasonWords},
		{pw: "Sommer2026!", weak: true, reason: strength.ReasonWords},
		{pw: "Winter2025", weak: true},
		{pw: "qwertzuiop123", weak: true},
		{pw: "Schalke04Schalke04", weak: true, reason: strength.ReasonPatterns},
		{pw: "aaaaaaaaaaaa", weak: true, reason: strength.ReasonPatterns},
		{pw: "Ichliebedich1", weak: true},
		{pw: "Fußball2000", weak: true},
		{pw: "Fussball2000", weak: true},
		// The member's name and year of birth, in the spellings people type.
		{pw: "Jürgen1975", inputs: member, weak: true, reason: strength.ReasonPersonal},
		{pw: "Muessig1975!", inputs: member, weak: true, reason: strength.ReasonPersonal},
		{pw: "MUSSIG1975", inputs: member, weak: true, reason: strength.ReasonPersonal},
		{pw: "Müßig.Jürgen.03.04.1975", inputs: member, weak: true, reason: strength.ReasonPersonal},
		{pw: "JuergenMuessig1975", inputs: member, weak: true, reason: strength.ReasonPersonal},
		{pw: "X123456788juergen", inputs: member, weak: true, reason: strength.ReasonPersonal},
		{pw: "korrekt Pferd Batterie Heftklammer", weak: false},
		{pw: "korrekt Pferd Batterie Heftklammer", inputs: member, weak: false},
		{pw: "vT7#qLp2!xZr9w", inputs: member, weak: false},
		{pw: "Tomate-Wolke-Gießkanne-17", inputs: member, weak: false},
		// Personal data in a password does not make the rest weak.
		{pw: "Jürgen fährt mit dem Lastenrad zur Ostsee", inputs: member, weak: false},
		{pw: "bad\xffutf8 but long enough", weak: true},
	} {
		weak, reason := e.Weak(tc.pw, tc.inputs)
		if weak != tc.weak {
			t.Errorf("Weak(%q, %q) = %v, want %v", tc.pw, tc.inputs, weak, tc.weak)
			continue
		}
		if weak && reason == "" {
			t.Errorf("Weak(%q) gives no reason", tc.pw)
		}
		if !weak && reason != "" {
			t.Errorf("Weak(%q) = false with reason %q", tc.pw, reason)
		}
		if tc.reason != "" && reason != tc.reason {
			t.Errorf("Weak(%q) reason = %q, want %q", tc.pw, reason, tc.reason)
		}
	}
}

// A password that is strong for a stranger is weak for someone who knows
// the member: the user inputs count.
func TestUserInputsAreUsed(t *testing.T) {
	e := estimator(t)
	for _, pw := range []string{"MuessigJuergen03041975", "Jürgen-Müßig-030475", "19750403MuessigJuergen"} {
		if weak, reason := e.Weak(pw, nil); weak {
			t.Fatalf("Weak(%q) without user inputs = true (%s); the test needs a password strong in general", pw, reason)
		}
		if weak, reason := e.Weak(pw, member); !weak || reason != strength.ReasonPersonal {
			t.Errorf("Weak(%q, member) = %v, %q; want weak for personal data", pw, weak, reason)
		}
	}
	// Birth dates come as YYYY-MM-DD or DD.MM.YYYY.
	if weak, _ := e.Weak("MuessigJuergen03041975", []string{"Jürgen", "Müßig", "03.04.1975"}); !weak {
		t.Error("German date format not used")
	}
}

func TestReasonsAreCodes(t *testing.T) {
	seen := map[fault.Code]bool{}
	for _, r := range []fault.Code{strength.ReasonPersonal, strength.ReasonWords, strength.ReasonDates, strength.ReasonPatterns, strength.ReasonShort} {
		if !strings.HasPrefix(string(r), "password.guessable_") || seen[r] {
			t.Errorf("reason %q is not a distinct password.guessable_ code", r)
		}
		seen[r] = true
	}
}

func TestConfig(t *testing.T) {
	for _, score := range []int{-1, 1, 2, 5} {
		if _, err := strength.New(strength.Config{MinScore: score}); !errors.Is(err, fault.Invalid) {
			t.Errorf("MinScore %d: %v, want Invalid", score, err)
		}
	}
	strict, err := strength.New(strength.Config{MinScore: 4})
	if err != nil {
		t.Fatal(err)
	}
	// zxcvbn scores "Gartenzwerg" 3: fine by default, too weak at 4.
	pw := "Gartenzwerg"
	if weak, _ := estimator(t).Weak(pw, nil); weak {
		t.Skipf("%q is weak already at the default score", pw)
	}
	if weak, _ := strict.Weak(pw, nil); !weak {
		t.Errorf("%q passes MinScore 4", pw)
	}
}

func TestOnlyAPrefixIsEstimated(t *testing.T) {
	e := estimator(t)
	weakHead := strings.Repeat("a", strength.MaxRunes)
	if weak, _ := e.Weak(weakHead+"vT7#qLp2!xZr9w", nil); !weak {
		t.Error("a weak prefix passed")
	}
	if weak, _ := e.Weak("vT7#qLp2!xZr9w"+weakHead+weakHead, nil); weak {
		t.Error("a strong prefix failed")
	}
}

func TestConcurrentUse(t *testing.T) {
	e := estimator(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if weak, _ := e.Weak("Sommer2026!", member); !weak {
				t.Error("Sommer2026! not weak")
			}
			if weak, _ := e.Weak("korrekt Pferd Batterie Heftklammer", member); weak {
				t.Error("passphrase weak")
			}
		})
	}
	wg.Wait()
}

func BenchmarkWeak(b *testing.B) {
	e := estimator(b)
	for _, pw := range []string{"Sommer2026!", "korrekt Pferd Batterie Heftklammer", strings.Repeat("Zq9!", 32), "vT7#qLp2!xZr9wK3$mNp8@bRt5^hJw2&dFs6*gLz4%cVx9!qWe7#rTy3$uIo1@pAs5^dFg8&hJk2*lZx6%cVb4!nMq9#wEr7$tYu3@iOp5^aSd8&fGh2*jKl6%zXc"} {
		b.Run(fmt.Sprintf("len%d", len(pw)), func(b *testing.B) {
			for b.Loop() {
				e.Weak(pw, member)
			}
		})
	}
}
