package proof

import (
	"strings"
	"unicode"

	"github.com/pforte-id/pforte/core/member"
)

// Outcome grades how well verified attributes fit a member's record.
type Outcome uint8

const (
	// Mismatch: the attributes are not the member's.
	Mismatch Outcome = iota
	// Review: the attributes may be the member's, but a person must look
	// (a name change, a partial date of birth, a name that is equal only
	// without its accents). Pforte refuses such a proofing for now; the
	// reason goes into the log, never the attributes.
	Review
	// Match: the attributes are the member's.
	Match
)

func (o Outcome) String() string {
	switch o {
	case Match:
		return "match"
	case Review:
		return "review"
	default:
		return "mismatch"
	}
}

// Reason is a stable code that says why a Result is what it is. It never
// carries an attribute: it may be logged and shown to support staff.
type Reason string

// Reasons of a Mismatch.
const (
	// ReasonIncomplete: the record or the proof lacks a family name,
	// given name or date of birth with a year.
	ReasonIncomplete Reason = "incomplete"
	// ReasonBirthDate: the dates of birth differ in a part both know.
	ReasonBirthDate Reason = "birth_date"
	// ReasonFamilyName: the family names differ (and the birth name is
	// not the family name on record either).
	ReasonFamilyName Reason = "family_name"
	// ReasonGivenName: a given name on record is not among the verified.
	ReasonGivenName Reason = "given_name"
)

// Reasons of a Review.
const (
	// ReasonBirthName: the verified birth name is the family name on
	// record while the verified family name is another: probably a name
	// change (marriage) the record does not know yet.
	ReasonBirthName Reason = "birth_name"
	// ReasonPartialBirthDate: a date of birth lacks its day or month on
	// either side; the known parts agree, but the addresses do not
	// corroborate it.
	ReasonPartialBirthDate Reason = "partial_birth_date"
	// ReasonDiacritics: a name is equal only after all its accents and
	// umlauts are dropped (Müller and Muller): a weak match.
	ReasonDiacritics Reason = "diacritics"
)

// ReasonAddressCorroborated is the reason of a Match whose dates of birth
// agree only in their known parts and whose addresses agree.
const ReasonAddressCorroborated Reason = "address_corroborated"

// Result is what Compare found: an Outcome and, unless a plain match, the
// first reason found, checked in the order date of birth, family name,
// given names.
type Result struct {
	Outcome Outcome
	Reason  Reason
}

// Compare compares attributes a, which a proofing service verified (an ID
// card's), with member m as the insurer's record holds them.
//
// Names are compared token by token after this normalisation: ß and ẞ
// become SS before upper-casing (Go's upper-casing keeps ß); letters are
// upper-cased and decomposed (a precomposed and a decomposed É are the
// same, see decomposed); hyphens are spaces; apostrophes are dropped;
// academic titles (Dr., Prof., Dipl.-Ing. …) are never compared. Two
// names are equal when their ICAO 9303 forms are (Ä→AE, Ö→OE, Ü→UE, Å→AA,
// other accents dropped, Æ→AE, Ø→OE, Þ→TH …) — an exact match is an
// ICAO match too — and equal only weakly when they are after all accents
// and umlauts are dropped (Ä→A): a weak match goes to Review.
//
// Family names: leading name prefixes ("von der", "van", "zu", "Freiherr
// von") may be missing on either side, since master data holds them
// apart; where both sides have prefixes they must be equal. A verified
// birth name that equals the family name on record, while the family
// names differ, goes to Review.
//
// Given names: every given name on record must be among the verified ones
// (a record often holds only the first, or the name the member goes by).
//
// Dates of birth: YYYY-MM-DD, YYYYMMDD or DD.MM.YYYY; an unknown day or
// month is written as 00, XX, spaces, or left out (YYYY-MM, YYYY). Only
// parts both sides know are compared, and nothing is filled in (an
// unknown day is never the 1st). The year must be known on both sides. A
// comparison that left a part out is a Match only when the addresses
// corroborate it (same postal code and street), and goes to Review
// otherwise.
//
// The rule errs on the side of a mismatch: a false mismatch only sends the
// member to the password letter, a false match would hand a member's
// account to someone else. Compare is pure: it reads nothing but its
// arguments.
func Compare(m member.Member, a Attributes) Result {
	var review Reason
	note := func(r Reason) {
		if review == "" {
			review = r
		}
	}

	dates, ok := compareDates(m.BirthDate, a.BirthDate)
	switch {
	case !ok:
		return Result{Mismatch, ReasonIncomplete}
	case dates == mismatch:
		return Result{Mismatch, ReasonBirthDate}
	}

	switch family := compareFamily(m.FamilyName, a.FamilyName); family {
	case empty:
		return Result{Mismatch, ReasonIncomplete}
	case weak:
		note(ReasonDiacritics)
	case mismatch:
		if b := compareFamily(m.FamilyName, a.BirthName); b != strong && b != weak {
			return Result{Mismatch, ReasonFamilyName}
		}
		note(ReasonBirthName)
	}

	switch given := compareGiven(m.GivenName, a.GivenName); given {
	case empty:
		return Result{Mismatch, ReasonIncomplete}
	case mismatch:
		return Result{Mismatch, ReasonGivenName}
	case weak:
		note(ReasonDiacritics)
	}

	if dates == partial {
		if !sameAddress(m.Address, a.Address) {
			note(ReasonPartialBirthDate)
		}
		if review == "" {
			return Result{Match, ReasonAddressCorroborated}
		}
	}
	if review != "" {
		return Result{Review, review}
	}
	return Result{Outcome: Match}
}

// grade is how two values compare.
type grade uint8

const (
	mismatch grade = iota
	strong         // equal (names: ICAO 9303 forms equal)
	weak           // names: equal only without any accents
	partial        // dates: equal in the parts both know
	empty          // a side has nothing to compare
)

// name is one name in the two forms Compare compares, token by token.
type name struct {
	icao, plain []string
}

// normalize splits s into tokens in ICAO and accent-free form, without
// academic titles.
func normalize(s string) name {
	s = strings.NewReplacer("ß", "SS", "ẞ", "SS").Replace(s)
	s = strings.ToUpper(s)
	var d strings.Builder
	for _, r := range s {
		if dec, ok := decomposed[r]; ok {
			d.WriteString(dec)
		} else {
			d.WriteRune(r)
		}
	}
	// Once more: a few lower-case letters have no upper-case precomposed
	// form (ǰ) and decompose into a lower-case base letter.
	var n name
	for _, tok := range strings.FieldsFunc(strings.ToUpper(d.String()), isSeparator) {
		if isTitle(tok) {
			continue
		}
		icao, plain := forms(tok)
		if icao == "" {
			continue
		}
		n.icao, n.plain = append(n.icao, icao), append(n.plain, plain)
	}
	return n
}

// isSeparator: white space and hyphens (hyphen = space, as ICAO 9303
// writes both as a filler) and commas part name tokens.
func isSeparator(r rune) bool {
	return unicode.IsSpace(r) || r == ',' || r == '-' || r == '\u2010' || r == '\u2011' || r == '\u2013'
}

// special are letters that do not decompose but have a transliteration,
// in ICAO 9303 form and accent-free form.
var special = map[rune][2]string{
	'Æ': {"AE", "AE"}, 'Ø': {"OE", "O"}, 'Œ': {"OE", "OE"}, 'Þ': {"TH", "TH"}, 'Ð': {"D", "D"},
	'Đ': {"D", "D"}, 'Ł': {"L", "L"}, 'Ŀ': {"L", "L"}, 'Ħ': {"H", "H"}, 'Ŋ': {"N", "N"}, 'Ĳ': {"IJ", "IJ"},
}

// forms is an upper-case, decomposed token in ICAO 9303 form and without
// any accents; dots and apostrophes are dropped.
func forms(tok string) (icao, plain string) {
	var i, p strings.Builder
	rs := []rune(tok)
	for k, r := range rs {
		next := rune(0)
		if k+1 < len(rs) {
			next = rs[k+1]
		}
		switch {
		case unicode.Is(unicode.Mn, r):
			// Marks are dropped; an umlaut's and a ring's were written
			// with their base letter below.
		case next == '\u0308' && (r == 'A' || r == 'O' || r == 'U'):
			i.WriteRune(r)
			i.WriteByte('E')
			p.WriteRune(r)
		case next == '\u030A' && r == 'A':
			i.WriteString("AA")
			p.WriteRune(r)
		case special[r] != [2]string{}:
			i.WriteString(special[r][0])
			p.WriteString(special[r][1])
		case r == '.' || r == '\'' || r == '\u2019' || r == '`' || r == '\u00B4':
		default:
			i.WriteRune(r)
			p.WriteRune(r)
		}
	}
	return i.String(), p.String()
}

// titles are academic titles and their parts, upper case, without dots.
// DR and PROF are titles with or without a dot; the others only when
// written as an abbreviation with a dot, so that no given name is lost.
var titles = map[string]bool{
	"DIPL": true, "ING": true, "MED": true, "DENT": true, "VET": true, "RER": true, "NAT": true, "PHIL": true,
	"JUR": true, "OEC": true, "POL": true, "THEOL": true, "HABIL": true, "HC": true, "MULT": true, "SC": true,
	"PD": true, "MAG": true, "SOC": true, "PAED": true, "BIOL": true, "CHEM": true, "PHYS": true, "INF": true,
}

func isTitle(tok string) bool {
	bare := strings.ReplaceAll(tok, ".", "")
	return bare == "DR" || bare == "PROF" || (strings.Contains(tok, ".") && titles[bare])
}

// prefixes are name prefixes and former titles of nobility that master
// data holds apart from the family name (Vorsatzwort, Namenszusatz), in
// accent-free form.
var prefixes = map[string]bool{
	"VON": true, "VOM": true, "VAN": true, "DE": true, "DER": true, "DEN": true, "DEM": true, "DES": true,
	"DI": true, "DA": true, "DU": true, "DAL": true, "DEL": true, "DELLA": true, "DOS": true, "DAS": true,
	"LA": true, "LE": true, "ZU": true, "ZUR": true, "ZUM": true, "TER": true, "TEN": true, "AUF": true,
	"AUS": true, "AM": true, "IM": true, "UND": true, "FREIHERR": true, "FREIFRAU": true, "FREIIN": true, "GRAF": true,
	"GRAFIN": true, "BARON": true, "BARONIN": true, "PRINZ": true, "PRINZESSIN": true, "EDLER": true,
	"EDLE": true, "RITTER": true,
}

// splitPrefix returns how many leading tokens of n are name prefixes,
// leaving at least one token as the name.
func splitPrefix(n name) int {
	k := 0
	for k < len(n.plain)-1 && prefixes[n.plain[k]] {
		k++
	}
	return k
}

// compareFamily compares two family names (see Compare).
func compareFamily(record, verified string) grade {
	r, v := normalize(record), normalize(verified)
	if len(r.icao) == 0 || len(v.icao) == 0 {
		return empty
	}
	rk, vk := splitPrefix(r), splitPrefix(v)
	core := compareTokens(r.icao[rk:], r.plain[rk:], v.icao[vk:], v.plain[vk:])
	if core == mismatch || rk == 0 || vk == 0 {
		return core
	}
	return worse(core, compareTokens(r.icao[:rk], r.plain[:rk], v.icao[:vk], v.plain[:vk]))
}

// compareTokens compares two token lists in order.
func compareTokens(ri, rp, vi, vp []string) grade {
	if len(ri) != len(vi) {
		return mismatch
	}
	g := strong
	for k := range ri {
		switch {
		case ri[k] == vi[k]:
		case rp[k] == vp[k]:
			g = weak
		default:
			return mismatch
		}
	}
	return g
}

// worse is the weaker of two grades.
func worse(a, b grade) grade {
	switch {
	case a == mismatch || b == mismatch:
		return mismatch
	case a == weak || b == weak:
		return weak
	}
	return strong
}

// compareGiven checks that every given name on record is among the
// verified given names.
func compareGiven(record, verified string) grade {
	r, v := normalize(record), normalize(verified)
	if len(r.icao) == 0 || len(v.icao) == 0 {
		return empty
	}
	g := strong
	for k := range r.icao {
		found := mismatch
		for j := range v.icao {
			switch {
			case r.icao[k] == v.icao[j]:
				found = strong
			case r.plain[k] == v.plain[j] && found == mismatch:
				found = weak
			}
		}
		g = worse(g, found)
	}
	return g
}

// sameAddress reports whether two addresses name the same place: the same
// postal code and street (Straße, Strasse and Str. alike), and the same
// country where both name one.
func sameAddress(a, b member.Address) bool {
	street := func(s string) string {
		s = strings.Join(normalize(s).icao, "")
		s = strings.ReplaceAll(s, "STRASSE", "STR")
		return s
	}
	pa, pb := strings.TrimSpace(a.PostalCode), strings.TrimSpace(b.PostalCode)
	sa, sb := street(a.Street), street(b.Street)
	if pa == "" || pa != pb || sa == "" || sa != sb {
		return false
	}
	ca, cb := strings.ToUpper(strings.TrimSpace(a.Country)), strings.ToUpper(strings.TrimSpace(b.Country))
	return ca == "" || cb == "" || ca == cb
}
