package letter_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/member"
)

func TestClassify(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	later, earlier := now.Add(time.Hour), now.Add(-time.Hour)
	at := func(s letter.State, exp time.Time) letter.Letter { return letter.Letter{State: s, ExpiresAt: exp} }
	for _, tc := range []struct {
		name         string
		l            letter.Letter
		found, match bool
		want         letter.Attempt
	}{
		{"no letter", letter.Letter{}, false, false, letter.AttemptUnknown},
		{"no letter, dummy matched (impossible, still unknown)", letter.Letter{}, false, true, letter.AttemptUnknown},
		{"wrong on activatable", at(letter.HandedOver, later), true, false, letter.AttemptWrong},
		{"wrong on expired", at(letter.HandedOver, earlier), true, false, letter.AttemptUnknown},
		{"wrong on expired at the instant", at(letter.HandedOver, now), true, false, letter.AttemptUnknown},
		{"wrong on used", at(letter.Activated, later), true, false, letter.AttemptUnknown},
		{"wrong on voided", at(letter.Voided, later), true, false, letter.AttemptUnknown},
		{"wrong on requested", at(letter.Requested, later), true, false, letter.AttemptUnknown},
		{"right on activatable", at(letter.HandedOver, later), true, true, letter.AttemptValid},
		{"right on expired", at(letter.HandedOver, earlier), true, true, letter.AttemptExpired},
		{"right on expired at the instant", at(letter.HandedOver, now), true, true, letter.AttemptExpired},
		{"right on used (replay)", at(letter.Activated, later), true, true, letter.AttemptUsed},
		{"right on voided", at(letter.Voided, later), true, true, letter.AttemptVoided},
		{"right on rendered", at(letter.Rendered, later), true, true, letter.AttemptNotYet},
	} {
		if got := letter.Classify(tc.l, tc.found, tc.match, now); got != tc.want {
			t.Errorf("%s: Classify = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestExhausted(t *testing.T) {
	p := letter.DefaultPolicy
	for n, want := range map[int]bool{0: false, 4: false, 5: true, 6: true} {
		if got := p.Exhausted(n); got != want {
			t.Errorf("Exhausted(%d) = %v", n, got)
		}
	}
}

func TestRecipientOf(t *testing.T) {
	full := member.Member{GivenName: "Anna", FamilyName: "Schmidt",
		Address: member.Address{Street: "Lindenallee 7", PostalCode: "20259", Locality: "Hamburg"}}
	r, ok := letter.RecipientOf(full)
	if !ok || r.Name != "Anna Schmidt" || r.Address.Country != "DE" || r.Address.Street != "Lindenallee 7" {
		t.Fatalf("RecipientOf = %+v %v", r, ok)
	}
	for name, edit := range map[string]func(*member.Member){
		"no street":   func(m *member.Member) { m.Address.Street = " " },
		"no postcode": func(m *member.Member) { m.Address.PostalCode = "" },
		"no locality": func(m *member.Member) { m.Address.Locality = "" },
		"no name":     func(m *member.Member) { m.GivenName, m.FamilyName = "", "" },
	} {
		m := full
		edit(&m)
		if _, ok := letter.RecipientOf(m); ok {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestNewDocument(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	l := letter.Letter{ID: "L1", Recipient: letter.Recipient{Name: "Anna Schmidt"}, ExpiresAt: now.Add(60 * 24 * time.Hour)}
	s := letter.Secrets{InitialPassword: "ABCDEFGHJKLM", ActivationCode: strings.Repeat("Z", letter.CodeLength)}
	d := letter.NewDocument(l, s, "https://id.example.de/", "Beispiel-BKK, Postfach 1, 20000 Hamburg", now)
	if d.InitialPassword != "ABCD EFGH JKLM" || d.ActivationURL != "https://id.example.de/app/activate#"+s.ActivationCode ||
		d.LetterID != "L1" || d.Recipient.Name != "Anna Schmidt" || d.Date.Location() != time.UTC || !d.ValidUntil.Equal(l.ExpiresAt) ||
		d.Sender == "" || strings.Contains(d.ActivationCode, "ZZZZZ") {
		t.Fatalf("NewDocument = %+v", d)
	}
}

func TestPseudonym(t *testing.T) {
	h, _ := letter.NewHasher([]byte(strings.Repeat("k", 32)))
	o, _ := letter.NewHasher([]byte(strings.Repeat("o", 32)))
	a, _ := kvnr.WithCheckDigit("A12345678")
	b, _ := kvnr.WithCheckDigit("B12345678")
	if h.Pseudonym(a) != h.Pseudonym(a) || h.Pseudonym(a) == h.Pseudonym(b) || h.Pseudonym(a) == o.Pseudonym(a) {
		t.Fatal("pseudonyms are not a keyed function of the member number")
	}
	if len(h.Pseudonym(a)) != 16 || strings.Contains(h.Pseudonym(a), string(a)) {
		t.Fatalf("pseudonym %q", h.Pseudonym(a))
	}
	if !(letter.Hasher{}).IsZero() || h.IsZero() {
		t.Fatal("IsZero")
	}
}
