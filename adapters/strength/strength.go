package strength

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
	"github.com/trustelem/zxcvbn/match"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/password"
)

var _ password.Estimator = (*Estimator)(nil)

// Codes Weak gives; none has parameters. Their texts in the catalog say
// that the password is too easy to guess, and why.
const (
	ReasonPersonal fault.Code = "password.guessable_personal" // mostly the member's own data
	ReasonWords    fault.Code = "password.guessable_words"    // common words and names
	ReasonDates    fault.Code = "password.guessable_dates"    // years and dates
	ReasonPatterns fault.Code = "password.guessable_patterns" // keyboard patterns, sequences, repeats
	ReasonShort    fault.Code = "password.guessable_short"    // too short for its kind: use several uncommon words
)

// MaxRunes bounds what is estimated: the first MaxRunes runes. zxcvbn's
// work grows steeply with length (a random 125-character password takes
// about 200 ms, 50 characters about 10 ms), and passwords come from
// members before they are logged in, so length must not buy CPU time.
// Appending never makes a password easier to guess, so a strong prefix
// means a strong password; a password whose first 50 characters are weak
// is refused, which costs its owner nothing worth keeping.
const MaxRunes = 50

// Config configures an Estimator.
type Config struct {
	// MinScore is the least zxcvbn score (0..4) of an acceptable password
	// (zero: 3).
	MinScore int
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.MinScore == 0 {
		c.MinScore = 3
	}
	return c
}

// Validate checks c (after WithDefaults). Scores below 3 let passwords
// through that fall to an offline attack on a stolen hash within hours.
// Errors: Invalid.
func (c Config) Validate() error {
	if c.MinScore < 3 || c.MinScore > 4 {
		return fault.New(fault.Invalid, "strength.Config.Validate", "password.min_score must be 3 or 4")
	}
	return nil
}

// Estimator rates passwords with zxcvbn. It keeps no state between calls
// and is safe for concurrent use; it never logs a password.
type Estimator struct {
	minScore int
}

// New returns an Estimator. Errors: Invalid for a bad configuration.
func New(c Config) (*Estimator, error) {
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &Estimator{minScore: c.MinScore}, nil
}

// Weak reports whether pw is too easy to guess for someone who knows
// userInputs (member number, names, date of birth) and, if so, why.
func (e *Estimator) Weak(pw string, userInputs []string) (bool, fault.Code) {
	if !utf8.ValidString(pw) {
		return true, ReasonShort
	}
	if utf8.RuneCountInString(pw) > MaxRunes {
		pw = string([]rune(pw)[:MaxRunes])
	}
	personal := personalWords(userInputs)
	dict := append(slices.Clone(personal), germanWords...)
	r := zxcvbn.PasswordStrength(pw, dict)
	if r.Score < e.minScore {
		return true, reason(r.Sequence, personal)
	}
	// zxcvbn adds a large penalty per piece of a password made of three or
	// more pieces, so "name + name + date of birth" scores 3 although an
	// attacker who knows the member needs a handful of guesses. Personal
	// data adds nothing: the rest must be strong on its own.
	if rest, removed := strip(pw, personal); removed {
		if zxcvbn.PasswordStrength(rest, dict).Score < e.minScore {
			return true, ReasonPersonal
		}
	}
	return false, ""
}

// reason names the weakest kind of piece zxcvbn found, for the member.
func reason(seq []*match.Match, personal []string) fault.Code {
	var words, dates, patterns bool
	for _, m := range seq {
		switch m.Pattern {
		case "dictionary":
			if slices.Contains(personal, m.MatchedWord) {
				return ReasonPersonal
			}
			words = true
		case "date":
			dates = true
		case "regex":
			if m.RegexName == "recent_year" {
				dates = true
			}
		case "spatial", "sequence", "repeat":
			patterns = true
		}
	}
	switch {
	case words:
		return ReasonWords
	case dates:
		return ReasonDates
	case patterns:
		return ReasonPatterns
	}
	return ReasonShort
}

// personalWords turns the member's data into the words an attacker would
// try: each input and each of its words lower case in every umlaut
// spelling, and for a date of birth the usual ways of writing it. Pieces
// shorter than three characters are dropped: they are in every password.
func personalWords(inputs []string) []string {
	var out []string
	add := func(s string) {
		if utf8.RuneCountInString(s) >= 3 && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, in := range inputs {
		in = strings.ToLower(strings.TrimSpace(in))
		if in == "" {
			continue
		}
		if d, ok := parseDate(in); ok {
			for _, s := range dateForms(d) {
				add(s)
			}
			continue
		}
		words := strings.FieldsFunc(in, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
		joined := strings.Join(words, "")
		for _, w := range append(words, joined) {
			for _, v := range variants(w) {
				add(v)
			}
		}
	}
	return out
}

// variants returns w as written, with umlauts as ae/oe/ue, and without
// the dots; ß as ss in the last two.
func variants(w string) []string {
	vs := []string{w}
	for _, v := range []string{umlauts.Replace(w), dotless.Replace(w)} {
		if !slices.Contains(vs, v) {
			vs = append(vs, v)
		}
	}
	return vs
}

var (
	umlauts = strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "ß", "ss")
	dotless = strings.NewReplacer("ä", "a", "ö", "o", "ü", "u", "ß", "ss")
)

func parseDate(s string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02", "02.01.2006", "2.1.2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// dateForms are the ways a date of birth ends up in passwords, longest
// first so that strip removes the whole date before its year.
func dateForms(d time.Time) []string {
	y, m, day := d.Year(), int(d.Month()), d.Day()
	yy := y % 100
	forms := []string{
		fmt.Sprintf("%02d.%02d.%04d", day, m, y),
		fmt.Sprintf("%04d-%02d-%02d", y, m, day),
		fmt.Sprintf("%02d%02d%04d", day, m, y),
		fmt.Sprintf("%04d%02d%02d", y, m, day),
		fmt.Sprintf("%d.%d.%04d", day, m, y),
		fmt.Sprintf("%02d.%02d.%02d", day, m, yy),
		fmt.Sprintf("%02d%02d%02d", day, m, yy),
		fmt.Sprintf("%d%d%04d", day, m, y),
		fmt.Sprintf("%04d", y),
		fmt.Sprintf("%02d%02d", day, m),
	}
	return forms
}

// strip removes every occurrence of the personal words from pw (compared
// in lower case with umlauts as ae/oe/ue/ss, so that "MÜSSIG" and "Müßig"
// are the same), longest first, and reports whether it removed anything.
func strip(pw string, personal []string) (string, bool) {
	rest := umlauts.Replace(strings.ToLower(pw))
	var words []string
	for _, w := range personal {
		if w = umlauts.Replace(w); !slices.Contains(words, w) {
			words = append(words, w)
		}
	}
	slices.SortStableFunc(words, func(a, b string) int { return len(b) - len(a) })
	removed := false
	for _, w := range words {
		if strings.Contains(rest, w) {
			rest = strings.ReplaceAll(rest, w, "")
			removed = true
		}
	}
	return rest, removed
}
