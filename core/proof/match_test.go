package proof_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/proof"
)

var (
	match  = proof.Result{Outcome: proof.Match}
	review = func(r proof.Reason) proof.Result { return proof.Result{Outcome: proof.Review, Reason: r} }
	refuse = func(r proof.Reason) proof.Result { return proof.Result{Outcome: proof.Mismatch, Reason: r} }
)

// TestCompareNames is the table of real-world name cases: what a German ID
// card (or a foreign one read by an eID service) says against what the
// insurer's master data holds.
func TestCompareNames(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		recGiven, recFamily   string
		cardGiven, cardFamily string
		cardBirthName         string
		want                  proof.Result
	}{
		// Equal spellings.
		{"same", "Jürgen", "Müller-Lüdenscheidt", "Jürgen", "Müller-Lüdenscheidt", "", match},
		{"upper case on the card", "Jürgen", "Müller", "JÜRGEN", "MÜLLER", "", match},
		{"decomposed umlaut on the card", "Jürgen", "Müller", "Ju\u0308rgen", "Mu\u0308ller", "", match},
		{"decomposed umlaut on record", "Ju\u0308rgen", "Mu\u0308ller", "JÜRGEN", "MÜLLER", "", match},
		{"extra spaces", "Jürgen", "Müller", "  Jürgen ", "Müller\t", "", match},

		// ICAO 9303 forms: Ä→AE, Ö→OE, Ü→UE, ß→SS.
		{"Müller / Mueller", "Jürgen", "Müller", "JUERGEN", "MUELLER", "", match},
		{"Mueller on record, Müller on the card", "Juergen", "Mueller", "Jürgen", "Müller", "", match},
		{"Weiß / Weiss", "Anna", "Weiß", "ANNA", "WEISS", "", match},
		{"Weiß / WEIẞ (capital sharp s)", "Anna", "Weiß", "ANNA", "WEIẞ", "", match},
		{"Strauß / STRAUSS", "Jörg", "Strauß", "JOERG", "STRAUSS", "", match},
		{"Schröder / SCHROEDER", "Käthe", "Schröder", "KAETHE", "SCHROEDER", "", match},
		{"Ångström / AANGSTROEM", "Åsa", "Ångström", "AASA", "AANGSTROEM", "", match},
		{"Søren / SOEREN", "Søren", "Kierkegaard", "SOEREN", "KIERKEGAARD", "", match},
		{"Łukasiewicz / LUKASIEWICZ", "Jan", "Łukasiewicz", "JAN", "LUKASIEWICZ", "", match},
		{"accents dropped: René / RENE", "René", "Lefèvre", "RENE", "LEFEVRE", "", match},
		{"decomposed accent", "Rene\u0301", "Dupont", "René", "Dupont", "", match},
		{"Turkish letters", "Çağla", "Öztürk", "CAGLA", "OEZTUERK", "", match},
		{"apostrophe", "Sean", "O'Brien", "SEAN", "OBRIEN", "", match},

		// Weak: equal only with every accent and umlaut dropped.
		{"Müller / MULLER is weak", "Jürgen", "Müller", "JÜRGEN", "MULLER", "", review(proof.ReasonDiacritics)},
		{"Jürgen / JURGEN is weak", "Jürgen", "Müller", "JURGEN", "MÜLLER", "", review(proof.ReasonDiacritics)},
		{"Søren / SOREN is weak", "Søren", "Lund", "SOREN", "LUND", "", review(proof.ReasonDiacritics)},

		// Double names: hyphen = space.
		{"double family name with a space", "Anna", "Meyer-Schulz", "Anna", "Meyer Schulz", "", match},
		{"double given name with a space", "Hans-Peter", "Schulz", "Hans Peter", "Schulz", "", match},
		{"double name with an en dash", "Anna", "Meyer-Schulz", "Anna", "Meyer–Schulz", "", match},
		{"only half of a double family name", "Anna", "Meyer", "Anna", "Meyer-Schulz", "", refuse(proof.ReasonFamilyName)},
		{"double family name reversed", "Anna", "Schulz-Meyer", "Anna", "Meyer-Schulz", "", refuse(proof.ReasonFamilyName)},

		// Several given names; the record may hold only the first.
		{"record holds the first given name", "Jürgen", "Müller", "Jürgen Karl Heinz", "Müller", "", match},
		{"record holds the name the member goes by", "Karl", "Müller", "Jürgen Karl", "Müller", "", match},
		{"record holds every given name", "Jürgen Karl", "Müller", "Jürgen Karl", "Müller", "", match},
		{"a given name on record missing on the card", "Jürgen Karl", "Müller", "Jürgen", "Müller", "", refuse(proof.ReasonGivenName)},
		{"another given name", "Jürgen", "Müller", "Jörg", "Müller", "", refuse(proof.ReasonGivenName)},
		{"a longer given name is another", "Jürgen", "Müller", "Jürgens", "Müller", "", refuse(proof.ReasonGivenName)},
		{"a given name as a prefix only", "Jo", "Müller", "Johanna", "Müller", "", refuse(proof.ReasonGivenName)},

		// Name prefixes held apart in master data.
		{"prefix only on the card", "Ursula", "Leyen", "Ursula", "von der Leyen", "", match},
		{"prefix only on record", "Ursula", "von der Leyen", "URSULA", "LEYEN", "", match},
		{"prefix on both", "Ursula", "von der Leyen", "URSULA", "VON DER LEYEN", "", match},
		{"other prefix on both", "Ursula", "von der Leyen", "URSULA", "VAN DER LEYEN", "", refuse(proof.ReasonFamilyName)},
		{"nobility title and prefixes held apart", "Karl", "Guttenberg", "Karl", "Freiherr von und zu Guttenberg", "", match},
		{"nobility title on the card", "Karl", "Guttenberg", "Karl", "Freiherr von Guttenberg", "", match},
		{"a prefix alone is a name", "Anna", "Du", "Anna", "Du", "", match},
		{"a name is not a prefix of another", "Anna", "Berg", "Anna", "Vonberg", "", refuse(proof.ReasonFamilyName)},

		// Academic titles are never compared.
		{"title on record", "Dr. Anna", "Schmidt", "Anna", "Schmidt", "", match},
		{"title on the card", "Anna", "Schmidt", "Prof. Dr. Anna", "Schmidt", "", match},
		{"title in the family name", "Anna", "Dr. med. Schmidt", "Anna", "Schmidt", "", match},
		{"Dr.-Ing.", "Anna", "Dr.-Ing. Schmidt", "Anna", "SCHMIDT", "", match},
		{"title alone does not match", "Dr. Anna", "Schmidt", "Dr. Berta", "Schmidt", "", refuse(proof.ReasonGivenName)},

		// Birth names.
		{"married: birth name is the family name on record", "Anna", "Schmidt", "Anna", "Meyer", "Schmidt", review(proof.ReasonBirthName)},
		{"married, umlauts spelled out", "Anna", "Müller", "ANNA", "MEYER", "MUELLER", review(proof.ReasonBirthName)},
		{"birth name given, family name equal", "Anna", "Meyer", "Anna", "Meyer", "Schmidt", match},
		{"birth name is another name too", "Anna", "Schmidt", "Anna", "Meyer", "Schulz", refuse(proof.ReasonFamilyName)},

		// Must fail.
		{"another person", "Jürgen", "Müller", "Carl", "Weber", "", refuse(proof.ReasonFamilyName)},
		{"another family name", "Jürgen", "Müller-Lüdenscheidt", "Jürgen", "Müller", "", refuse(proof.ReasonFamilyName)},
		{"Müller / MILLER", "Jürgen", "Müller", "Jürgen", "MILLER", "", refuse(proof.ReasonFamilyName)},
		{"Mueller / MULLER", "Jürgen", "Mueller", "Jürgen", "MULLER", "", refuse(proof.ReasonFamilyName)},
		{"no family name on the card", "Jürgen", "Müller", "Jürgen", "", "", refuse(proof.ReasonIncomplete)},
		{"no family name on record", "Jürgen", "", "Jürgen", "", "", refuse(proof.ReasonIncomplete)},
		{"no given name on the card", "Jürgen", "Müller", "", "Müller", "", refuse(proof.ReasonIncomplete)},
		{"no given name on record", "", "Müller", "Jürgen", "Müller", "", refuse(proof.ReasonIncomplete)},
		{"only a title as family name", "Jürgen", "Dr.", "Jürgen", "Dr.", "", refuse(proof.ReasonIncomplete)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := member.Member{GivenName: tc.recGiven, FamilyName: tc.recFamily, BirthDate: "1970-01-31"}
			a := proof.Attributes{GivenName: tc.cardGiven, FamilyName: tc.cardFamily, BirthName: tc.cardBirthName, BirthDate: "1970-01-31"}
			if got := proof.Compare(m, a); got != tc.want {
				t.Fatalf("Compare = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestCompareBirthDates(t *testing.T) {
	home := member.Address{Street: "Lindenstraße 5", PostalCode: "28195", Locality: "Bremen", Country: "DE"}
	for _, tc := range []struct {
		name         string
		record, card string
		cardAddress  member.Address
		want         proof.Result
	}{
		{"same", "1970-01-31", "1970-01-31", member.Address{}, match},
		{"German form on the card", "1970-01-31", "31.01.1970", member.Address{}, match},
		{"compact form", "1970-01-31", "19700131", member.Address{}, match},
		{"another day", "1970-01-31", "1970-01-30", member.Address{}, refuse(proof.ReasonBirthDate)},
		{"another month", "1970-01-31", "1970-03-31", home, refuse(proof.ReasonBirthDate)},
		{"another year", "1970-01-31", "1971-01-31", home, refuse(proof.ReasonBirthDate)},

		// Partial dates: only the known parts are compared, nothing is
		// filled in, and a partial match needs the address.
		{"unknown day on the card as 00", "1970-01-31", "1970-01-00", home, proof.Result{Outcome: proof.Match, Reason: proof.ReasonAddressCorroborated}},
		{"unknown day and month as XX", "1970-01-31", "XX.XX.1970", home, proof.Result{Outcome: proof.Match, Reason: proof.ReasonAddressCorroborated}},
		{"unknown day and month as spaces", "1970-00-00", "1970    ", home, proof.Result{Outcome: proof.Match, Reason: proof.ReasonAddressCorroborated}},
		{"unknown day shortened", "1970-01-00", "1970-01", home, proof.Result{Outcome: proof.Match, Reason: proof.ReasonAddressCorroborated}},
		{"year only", "1970-00-00", "1970", home, proof.Result{Outcome: proof.Match, Reason: proof.ReasonAddressCorroborated}},
		{"street abbreviated", "1970-00-00", "1970", member.Address{Street: "Lindenstr. 5", PostalCode: "28195"}, proof.Result{Outcome: proof.Match, Reason: proof.ReasonAddressCorroborated}},
		{"partial without an address", "1970-01-31", "1970-01-00", member.Address{}, review(proof.ReasonPartialBirthDate)},
		{"partial, another address", "1970-00-00", "1970", member.Address{Street: "Lindenstraße 7", PostalCode: "28195"}, review(proof.ReasonPartialBirthDate)},
		{"partial, another postal code", "1970-00-00", "1970", member.Address{Street: "Lindenstraße 5", PostalCode: "28199"}, review(proof.ReasonPartialBirthDate)},
		{"partial, another country", "1970-00-00", "1970", member.Address{Street: "Lindenstraße 5", PostalCode: "28195", Country: "AT"}, review(proof.ReasonPartialBirthDate)},
		{"unknown day is not the 1st", "1970-01-01", "1970-01-00", member.Address{}, review(proof.ReasonPartialBirthDate)},
		{"partial, known month differs", "1970-01-00", "1970-02-00", home, refuse(proof.ReasonBirthDate)},
		{"partial, year differs", "1970-00-00", "1971", home, refuse(proof.ReasonBirthDate)},

		// Malformed or missing.
		{"no date on the card", "1970-01-31", "", home, refuse(proof.ReasonIncomplete)},
		{"no date on record", "", "1970-01-31", home, refuse(proof.ReasonIncomplete)},
		{"unknown year", "1970-01-31", "0000-01-31", home, refuse(proof.ReasonIncomplete)},
		{"no such day", "1970-04-31", "1970-04-31", home, refuse(proof.ReasonIncomplete)},
		{"29 February of a common year", "1971-02-29", "1971-02-29", home, refuse(proof.ReasonIncomplete)},
		{"29 February of a leap year", "1972-02-29", "29.02.1972", member.Address{}, match},
		{"month 13", "1970-13-01", "1970-13-01", home, refuse(proof.ReasonIncomplete)},
		{"garbage", "1970-01-31", "31/01/1970", home, refuse(proof.ReasonIncomplete)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := member.Member{GivenName: "Anna", FamilyName: "Schmidt", BirthDate: tc.record, Address: home}
			a := proof.Attributes{GivenName: "Anna", FamilyName: "Schmidt", BirthDate: tc.card, Address: tc.cardAddress}
			if got := proof.Compare(m, a); got != tc.want {
				t.Fatalf("Compare = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestCompareReasonOrder: a mismatch wins over a review; among reviews the
// date of birth is checked first, then the family name, then given names.
func TestCompareReasonOrder(t *testing.T) {
	m := member.Member{GivenName: "Jürgen", FamilyName: "Schmidt", BirthDate: "1970-01-31"}
	for _, tc := range []struct {
		name string
		a    proof.Attributes
		want proof.Result
	}{
		{"weak name and other date", proof.Attributes{GivenName: "JURGEN", FamilyName: "Schmidt", BirthDate: "1970-02-01"}, refuse(proof.ReasonBirthDate)},
		{"birth name and weak given name", proof.Attributes{GivenName: "JURGEN", FamilyName: "Meyer", BirthName: "Schmidt", BirthDate: "1970-01-31"}, review(proof.ReasonBirthName)},
		{"weak given name and partial date", proof.Attributes{GivenName: "JURGEN", FamilyName: "Schmidt", BirthDate: "1970"}, review(proof.ReasonDiacritics)},
		{"birth name and other given name", proof.Attributes{GivenName: "Karl", FamilyName: "Meyer", BirthName: "Schmidt", BirthDate: "1970-01-31"}, refuse(proof.ReasonGivenName)},
	} {
		if got := proof.Compare(m, tc.a); got != tc.want {
			t.Errorf("%s: Compare = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// TestCompareAddressNotNeeded: the address is not compared when the date of
// birth is complete: a member who moved still has their ID card.
func TestCompareAddressNotNeeded(t *testing.T) {
	m := member.Member{GivenName: "Anna", FamilyName: "Schmidt", BirthDate: "1970-01-31",
		Address: member.Address{Street: "Alte Straße 1", PostalCode: "28195"}}
	a := proof.Attributes{GivenName: "Anna", FamilyName: "Schmidt", BirthDate: "1970-01-31",
		Address: member.Address{Street: "Neue Straße 2", PostalCode: "10115"}}
	if got := proof.Compare(m, a); got != match {
		t.Fatalf("Compare = %+v", got)
	}
}

// TestResultSaysNoAttribute: what may be logged of a result carries no
// attribute of either side.
func TestResultSaysNoAttribute(t *testing.T) {
	m := member.Member{GivenName: "Jürgen", FamilyName: "Schmidt", BirthDate: "1970-01-31"}
	for _, a := range []proof.Attributes{
		{GivenName: "Jürgen", FamilyName: "Meyer", BirthName: "Schmidt", BirthDate: "1970-01-31"},
		{GivenName: "Karl", FamilyName: "Schmidt", BirthDate: "1970-01-31"},
		{GivenName: "Jürgen", FamilyName: "Schmidt", BirthDate: "1971-01-31"},
	} {
		r := proof.Compare(m, a)
		s := strings.ToUpper(fmt.Sprintf("%v %+v %s %s", r, r, r.Outcome, r.Reason))
		for _, v := range []string{"JÜRGEN", "JUERGEN", "SCHMIDT", "MEYER", "KARL", "1970", "1971"} {
			if strings.Contains(s, v) {
				t.Errorf("result %q names %s", s, v)
			}
		}
	}
}
