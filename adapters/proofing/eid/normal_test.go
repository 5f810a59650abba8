package eid_test

import (
	"testing"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/proof"
)

// TestCoreDecompositionAgreesWithNorm checks core's own decomposition of
// Latin letters (core may not import x/text) against Unicode's: a name
// spelled with the precomposed letter and the same name decomposed are
// one name to proof.Compare, in either case, for every Latin letter that
// has a canonical decomposition.
func TestCoreDecompositionAgreesWithNorm(t *testing.T) {
	n := 0
	for _, r := range []*unicode.RangeTable{unicode.Latin} {
		for _, rg := range r.R16 {
			for c := rune(rg.Lo); c <= rune(rg.Hi); c += rune(rg.Stride) {
				if c < 0xC0 || norm.NFD.String(string(c)) == string(c) {
					continue
				}
				n++
				composed := "Ab" + string(c) + "cd"
				decomposed := norm.NFD.String(composed)
				m := member.Member{GivenName: "Anna", FamilyName: composed, BirthDate: "1970-01-31"}
				a := proof.Attributes{GivenName: "Anna", FamilyName: decomposed, BirthDate: "1970-01-31"}
				if got := proof.Compare(m, a); got.Outcome != proof.Match {
					t.Errorf("%U %q: composed and decomposed differ: %+v", c, string(c), got)
				}
				m.FamilyName, a.FamilyName = decomposed, composed
				if got := proof.Compare(m, a); got.Outcome != proof.Match {
					t.Errorf("%U %q: decomposed and composed differ: %+v", c, string(c), got)
				}
			}
		}
	}
	if n < 300 {
		t.Fatalf("only %d letters checked", n)
	}
}
