package proof

import (
	"strings"
	"unicode"

	"github.com/pforte-id/pforte/core/member"
)

// Matches reports whether attributes a, which a proofing service verified
// (an ID card's), are those of member m as the insurer's record holds
// them: the same date of birth, the same family name, and every given name
// on record among the verified given names (a record often holds only the
// first). Names are compared without case, with ä, ö, ü and ß as ae, oe,
// ue and ss (as machine-readable ID zones write them), hyphens as spaces
// and accents dropped. The address is not compared: a member who moved
// still has their ID card; the verified address is kept with the proof.
//
// The rule errs on the side of a mismatch: a false mismatch only sends the
// member to the password letter, a false match would hand a member's
// account to someone else. A record without a family name or date of
// birth matches nothing.
func Matches(m member.Member, a Attributes) bool {
	if m.BirthDate == "" || m.BirthDate != a.BirthDate {
		return false
	}
	family := foldName(m.FamilyName)
	if family == "" || family != foldName(a.FamilyName) {
		return false
	}
	verified := strings.Fields(foldName(a.GivenName))
	for _, g := range strings.Fields(foldName(m.GivenName)) {
		found := false
		for _, v := range verified {
			found = found || g == v
		}
		if !found {
			return false
		}
	}
	return true
}

// plain maps accented Latin letters to the letter without the accent;
// their decomposed forms lose the combining mark in foldName.
var plain = func() map[rune]rune {
	m := map[rune]rune{}
	for base, accented := range map[rune]string{
		'a': "àáâãåāăą", 'c': "çćč", 'd': "ď", 'e': "èéêëēėęě", 'g': "ğ", 'i': "ìíîïīį", 'l': "łľĺ",
		'n': "ñńň", 'o': "òóôõøōő", 'r': "řŕ", 's': "śšş", 't': "ťţ", 'u': "ùúûūůű", 'y': "ýÿ", 'z': "źżž",
	} {
		for _, r := range accented {
			m[r] = base
		}
	}
	return m
}()

// foldName is a name in the form Matches compares: lower case, umlauts and
// ß spelled out, combining accents dropped, hyphens and runs of white
// space as one space.
func foldName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r == 'ä':
			b.WriteString("ae")
		case r == 'ö':
			b.WriteString("oe")
		case r == 'ü':
			b.WriteString("ue")
		case r == 'ß':
			b.WriteString("ss")
		case r == '\u0308': // combining diaeresis: a decomposed umlaut
			b.WriteByte('e')
		case unicode.Is(unicode.Mn, r):
		case plain[r] != 0:
			b.WriteRune(plain[r])
		case r == '-' || unicode.IsSpace(r):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}
