package main

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/pforte-id/pforte/configs"
	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/password"
)

var (
	hasherOnce sync.Once
	hasher     *password.Hasher
)

func testPasswordHasher(t *testing.T) *password.Hasher {
	hasherOnce.Do(func() {
		var err error
		if hasher, err = password.NewHasher(password.DefaultParams, 0, 0); err != nil {
			panic(err)
		}
	})
	return hasher
}

func devMembersOpts(t *testing.T) membersFileOptions {
	return membersFileOptions{Environment: Development, Hasher: testPasswordHasher(t), Now: testNow}
}

func TestDevMembers(t *testing.T) {
	ms, err := parseMembersFile(context.Background(), configs.DevMembers, devMembersOpts(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 3 {
		t.Fatalf("%d members", len(ms))
	}
	want := []struct {
		prefix, pw string
		level      loa.Level
	}{
		{"A12345678", "pforte-demo-1", loa.Low},
		{"B98765432", "pforte-demo-2", loa.Substantial},
		{"C11111111", "pforte-demo-3", loa.High},
	}
	for i, m := range ms {
		k, err := kvnr.WithCheckDigit(want[i].prefix)
		if err != nil {
			t.Fatal(err)
		}
		if m.Account.KVNR != k || m.Member.KVNR != k {
			t.Errorf("member %d: KVNR %s, want %s", i, m.Account.KVNR, k)
		}
		if m.Account.Proofing != want[i].level || m.Account.Status != account.Active || !m.Account.CanLogIn() {
			t.Errorf("member %d: %+v", i, m.Account)
		}
		if m.Account.ID == string(k) || len(m.Account.ID) < 16 {
			t.Errorf("member %d: subject %q", i, m.Account.ID)
		}
		ok, _, err := testPasswordHasher(t).Verify(context.Background(), want[i].pw, m.Account.PasswordHash)
		if err != nil || !ok {
			t.Errorf("member %d: the documented password does not verify: %v", i, err)
		}
		if m.Member.GivenName == "" || m.Member.Email == "" || m.Member.Address.Country != "DE" ||
			m.Member.BirthDate == "" || m.Member.InsuredFrom.IsZero() || !m.Account.CreatedAt.Equal(testNow) {
			t.Errorf("member %d: %+v", i, m.Member)
		}
	}
}

func TestDevMembersRefusedInProduction(t *testing.T) {
	opts := devMembersOpts(t)
	opts.Environment = Production
	if _, err := parseMembersFile(context.Background(), configs.DevMembers, opts); err == nil {
		t.Fatal("demo members loaded in production")
	}
	cfg := defaultConfig()
	cfg.Server.Environment = Production
	if ms, err := loadMembers(context.Background(), &cfg, testPasswordHasher(t), testNow); ms != nil || err != nil {
		t.Fatalf("loadMembers in production: %v, %v", ms, err)
	}
}

func TestMembersFileErrors(t *testing.T) {
	const valid = `
  - id: 0123456789abcdef
    kvnr: A123456780
    password: a-good-passphrase
    proofing: low
    given_name: Anna
    family_name: Beispiel
    birthdate: "1985-03-14"
    address: {street: Hauptstraße 1, postal_code: "28195", locality: Bremen}
    insured_from: "2019-01-01"
`
	edit := func(from, to string) string { return "members:" + strings.Replace(valid, from, to, 1) }
	for _, tc := range []struct{ yaml, want string }{
		{"members:" + valid + "    hobby: chess\n", "members[0].hobby: unknown key (line 11)"},
		{edit("kvnr: A123456780", "kvnr: A123456789"), `members[0].kvnr: "A123456789" is not a valid KVNR`},
		{edit("kvnr: A123456780", "kvnr: a123456780"), `members[0].kvnr: "a123456780" is not a valid KVNR`},
		{edit("kvnr: A123456780", "kvnr: 1234567890"), `members[0].kvnr: "1234567890" is not a valid KVNR`},
		{"members:" + valid + strings.Replace(valid, "A123456780", "B987654320", 1), `members[1].id: duplicate id "0123456789abcdef" (also members[0])`},
		{"members:" + valid + strings.Replace(valid, "0123456789abcdef", "fedcba9876543210", 1), "members[1].kvnr: duplicate KVNR A123456780 (also members[0])"},
		{edit("id: 0123456789abcdef", "id: short"), "members[0].id: must be 8-128 characters"},
		{edit("proofing: low", "proofing: extreme"), `members[0].proofing: must be low, substantial or high, not "extreme"`},
		{edit("proofing: low", "proofing: none"), `members[0].proofing: must be low, substantial or high`},
		{edit("given_name: Anna", "given_name: ' '"), "members[0].given_name: required"},
		{edit(`birthdate: "1985-03-14"`, `birthdate: "14.03.1985"`), "members[0].birthdate: must be a past date, YYYY-MM-DD"},
		{edit(`birthdate: "1985-03-14"`, `birthdate: "2030-01-01"`), "members[0].birthdate: must be a past date"},
		{edit("password: a-good-passphrase", "password: geheim"), "members[0].password: Das Passwort muss mindestens 10 Zeichen lang sein."},
		{edit("password: a-good-passphrase", "password: anna-beispiel-2024"), "members[0].password: Das Passwort darf Ihre Versichertennummer, Ihren Namen oder Ihr Geburtsdatum nicht enthalten."},
		{edit("    password: a-good-passphrase\n", ""), "members[0].password: required"},
		{edit("proofing: low", "proofing: low\n    status: deleted"), `members[0].status: must be active, pending or blocked, not "deleted"`},
		{edit("proofing: low", "proofing: low\n    email: not-an-address"), `members[0].email: "not-an-address" is not an e-mail address`},
		{edit(`postal_code: "28195"`, `postal_code: "2819"`), "members[0].address.postal_code: a German postal code has five digits"},
		{edit("street: Hauptstraße 1, ", ""), "members[0].address.street: required"},
		{edit("locality: Bremen}", "locality: Bremen, country: Germany}"), "members[0].address.country: must be a two-letter country code"},
		{edit(`insured_from: "2019-01-01"`, `insured_from: ""`), "members[0].insured_from: required, YYYY-MM-DD"},
		{edit(`insured_from: "2019-01-01"`, `insured_from: "2019-01-01"`+"\n    insured_until: \"2018-01-01\""), "members[0].insured_until: must be a date after insured_from"},
	} {
		_, err := parseMembersFile(context.Background(), []byte(tc.yaml), devMembersOpts(t))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s\n got %v\nwant %s…", tc.yaml, err, tc.want)
		}
	}
	// The valid entry is valid, so that each case above fails for its own reason.
	if _, err := parseMembersFile(context.Background(), []byte("members:"+valid), devMembersOpts(t)); err != nil {
		t.Fatal(err)
	}
}

func TestLoadMembersFromFile(t *testing.T) {
	p := writeFile(t, "members.yaml", "members: []\n")
	cfg, err := loadConfig(loadOptions{Getenv: env(map[string]string{"PFORTE_MEMBERS_FILE": p})})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := loadMembers(context.Background(), cfg, testPasswordHasher(t), testNow)
	if err != nil || len(ms) != 0 {
		t.Fatalf("%v, %v", ms, err)
	}
	bad := writeFile(t, "members.yaml", "members:\n  - kvnr: X\n")
	cfg.MembersFile = bad
	if _, err := loadMembers(context.Background(), cfg, testPasswordHasher(t), testNow); err == nil ||
		!strings.HasPrefix(err.Error(), "config: members_file: "+bad+": members[0].id: ") {
		t.Fatalf("got %v", err)
	}
}
