package proof_test

import (
	"testing"

	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/proof"
)

func TestMatches(t *testing.T) {
	record := member.Member{GivenName: "Jürgen", FamilyName: "Müller-Lüdenscheidt", BirthDate: "1970-01-31"}
	id := proof.Attributes{GivenName: "Jürgen", FamilyName: "Müller-Lüdenscheidt", BirthDate: "1970-01-31"}
	for _, tc := range []struct {
		name   string
		record func(*member.Member)
		id     func(*proof.Attributes)
		want   bool
	}{
		{"same", nil, nil, true},
		{"upper case on the card", nil, func(a *proof.Attributes) { a.FamilyName = "MÜLLER-LÜDENSCHEIDT" }, true},
		{"umlauts spelled out", nil, func(a *proof.Attributes) { a.FamilyName, a.GivenName = "Mueller Luedenscheidt", "Juergen" }, true},
		{"decomposed umlaut", nil, func(a *proof.Attributes) { a.GivenName = "Ju\u0308rgen" }, true},
		{"ß spelled out", func(m *member.Member) { m.FamilyName = "Strauß" }, func(a *proof.Attributes) { a.FamilyName = "STRAUSS" }, true},
		{"accent dropped", func(m *member.Member) { m.GivenName = "Rene" }, func(a *proof.Attributes) { a.GivenName = "René" }, true},
		{"decomposed accent", func(m *member.Member) { m.GivenName = "Rene\u0301" }, func(a *proof.Attributes) { a.GivenName = "René" }, true},
		{"Polish letters", func(m *member.Member) { m.FamilyName = "Łukasiewicz" }, func(a *proof.Attributes) { a.FamilyName = "LUKASIEWICZ" }, true},
		{"more given names on the card", nil, func(a *proof.Attributes) { a.GivenName = "Jürgen Karl" }, true},
		{"second given name first", nil, func(a *proof.Attributes) { a.GivenName = "Karl Jürgen" }, true},
		{"given name on record missing", func(m *member.Member) { m.GivenName = "Jürgen Karl" }, nil, false},
		{"other given name", nil, func(a *proof.Attributes) { a.GivenName = "Jörg" }, false},
		{"given name a prefix only", nil, func(a *proof.Attributes) { a.GivenName = "Jürgens" }, false},
		{"other family name", nil, func(a *proof.Attributes) { a.FamilyName = "Müller" }, false},
		{"other birth date", nil, func(a *proof.Attributes) { a.BirthDate = "1970-01-30" }, false},
		{"birth date unknown on the card", nil, func(a *proof.Attributes) { a.BirthDate = "" }, false},
		{"record without birth date", func(m *member.Member) { m.BirthDate = "" }, func(a *proof.Attributes) { a.BirthDate = "" }, false},
		{"record without family name", func(m *member.Member) { m.FamilyName = "" }, func(a *proof.Attributes) { a.FamilyName = "" }, false},
		{"address is not compared", func(m *member.Member) { m.Address.Street = "Alte Straße 1" }, func(a *proof.Attributes) { a.Address.Street = "Neue Straße 2" }, true},
	} {
		m, a := record, id
		if tc.record != nil {
			tc.record(&m)
		}
		if tc.id != nil {
			tc.id(&a)
		}
		if got := proof.Matches(m, a); got != tc.want {
			t.Errorf("%s: Matches = %v, want %v", tc.name, got, tc.want)
		}
	}
}
