package letter_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/letter"
)

func TestSecretsUseTheAlphabet(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		s := letter.NewSecrets()
		if !letter.WellFormed(s.InitialPassword, letter.PasswordLength) || !letter.WellFormed(s.ActivationCode, letter.CodeLength) {
			t.Fatalf("malformed secrets %q %q", s.InitialPassword, s.ActivationCode)
		}
		if strings.ContainsAny(s.InitialPassword+s.ActivationCode, "0O1Il") {
			t.Fatalf("ambiguous character in %q %q", s.InitialPassword, s.ActivationCode)
		}
		if seen[s.InitialPassword] || seen[s.ActivationCode] {
			t.Fatal("repeated secret")
		}
		seen[s.InitialPassword], seen[s.ActivationCode] = true, true
	}
	if len(letter.Alphabet) != 32 {
		t.Fatalf("alphabet has %d symbols; sampling with &31 needs 32", len(letter.Alphabet))
	}
	if bits := letter.CodeLength * 5; bits < 128 {
		t.Fatalf("activation code has %d bits", bits)
	}
}

// A letter number can be read out on the phone: capitals and digits
// without look-alikes, no mixed case, no signs.
func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		id := letter.NewID()
		if !letter.WellFormed(id, letter.IDLength) || seen[id] {
			t.Fatalf("letter ID %q", id)
		}
		seen[id] = true
	}
	if bits := letter.IDLength * 5; bits < 80 {
		t.Fatalf("letter IDs have %d bits", bits)
	}
}

func TestGroupAndNormalize(t *testing.T) {
	if got := letter.Group("ABCDEFGHJKLM"); got != "ABCD EFGH JKLM" {
		t.Fatalf("Group = %q", got)
	}
	if got := letter.Normalize("abcd-efgh jklm"); got != "ABCDEFGHJKLM" {
		t.Fatalf("Normalize = %q", got)
	}
	if letter.WellFormed("ABCDEFGHJKL0", letter.PasswordLength) {
		t.Fatal("0 accepted")
	}
}

func TestHasherMatches(t *testing.T) {
	h, err := letter.NewHasher([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	s := letter.NewSecrets()
	l := letter.Letter{PasswordHash: h.Password(s.InitialPassword), CodeHash: h.Code(s.ActivationCode)}
	if !h.Matches(l, s.InitialPassword, s.ActivationCode) {
		t.Fatal("right secrets refused")
	}
	if h.Matches(l, s.ActivationCode, s.InitialPassword) || h.Matches(l, s.InitialPassword, "X") || h.Matches(letter.Letter{}, "", "") {
		t.Fatal("wrong secrets accepted")
	}
	other, _ := letter.NewHasher([]byte(strings.Repeat("o", 32)))
	if other.Matches(l, s.InitialPassword, s.ActivationCode) {
		t.Fatal("another key matched")
	}
	if _, err := letter.NewHasher([]byte("short")); err == nil {
		t.Fatal("short key accepted")
	}
}

func TestActivatable(t *testing.T) {
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	l := letter.Letter{State: letter.HandedOver, ExpiresAt: now.Add(time.Hour)}
	if !l.Activatable(now) {
		t.Fatal("fresh letter not activatable")
	}
	for _, st := range []letter.State{letter.Requested, letter.Rendered, letter.Activated, letter.Voided} {
		l.State = st
		if l.Activatable(now) {
			t.Fatalf("%s letter activatable", st)
		}
	}
	l.State = letter.HandedOver
	if l.Activatable(now.Add(time.Hour)) {
		t.Fatal("expired letter activatable")
	}
	if err := letter.DefaultPolicy.Validate(); err != nil {
		t.Fatal(err)
	}
}
