package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/mail"
	"os"
	"strings"
	"time"

	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/configs"
	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/password"
	"github.com/pforte-id/pforte/core/pin"
)

// membersFile is the schema of a demo members YAML file
// (configs/dev/members.yaml).
type membersFile struct {
	Members []memberSpec `yaml:"members"`
}

// memberSpec is one demo member: the insurer's master data and the login
// account, with the password in plaintext (hashed at load).
type memberSpec struct {
	// ID is the account's subject identifier: stable and opaque, never the KVNR.
	ID           string      `yaml:"id"`
	KVNR         string      `yaml:"kvnr"`
	Password     Secret      `yaml:"password"`
	Status       string      `yaml:"status"`   // active (default), pending, blocked
	Proofing     string      `yaml:"proofing"` // low, substantial, high
	GivenName    string      `yaml:"given_name"`
	FamilyName   string      `yaml:"family_name"`
	BirthDate    string      `yaml:"birthdate"` // YYYY-MM-DD
	Email        string      `yaml:"email"`
	Address      addressSpec `yaml:"address"`
	InsuredFrom  string      `yaml:"insured_from"`  // YYYY-MM-DD
	InsuredUntil string      `yaml:"insured_until"` // YYYY-MM-DD, empty: open-ended
	// Device is a reference client's device the member starts with, so
	// that a browser login can be confirmed in pforte-app at once.
	Device *deviceSpec `yaml:"device"`
}

// deviceSpec is a demo member's bound device: the public half of a
// pforte-app software key (its state file holds the private half) and the
// release PIN.
type deviceSpec struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// CredentialID and PublicKey (a COSE_Key) are base64url without padding.
	CredentialID string `yaml:"credential_id"`
	PublicKey    string `yaml:"public_key"`
	PIN          Secret `yaml:"pin"`
}

type addressSpec struct {
	Street     string `yaml:"street"`
	PostalCode string `yaml:"postal_code"`
	Locality   string `yaml:"locality"`
	Country    string `yaml:"country"` // ISO 3166-1 alpha-2; default DE
}

// demoMember is one member record and its account, ready to store.
type demoMember struct {
	Account account.Account
	Member  member.Member
	Device  *server.Device
}

// membersFileOptions are what parsing a members file depends on.
type membersFileOptions struct {
	// Environment must be development: demo members with known passwords
	// have no place in production.
	Environment Environment
	// Hasher hashes the demo passwords (Argon2id).
	Hasher *password.Hasher
	// Now is CreatedAt and UpdatedAt of the records.
	Now time.Time
}

const dateLayout = "2006-01-02"

// parseMembersFile parses a demo members YAML file strictly into validated
// records with hashed passwords. Errors name the entry and key:
// "members[1].kvnr: ...".
func parseMembersFile(ctx context.Context, data []byte, opts membersFileOptions) ([]demoMember, error) {
	if opts.Environment != Development {
		return nil, fmt.Errorf("demo members are loaded only in development")
	}
	var f membersFile
	if err := decodeStrict(data, &f); err != nil {
		return nil, err
	}
	out := make([]demoMember, 0, len(f.Members))
	ids, kvnrs := map[string]int{}, map[kvnr.KVNR]int{}
	for i, s := range f.Members {
		at := func(key string) string { return fmt.Sprintf("members[%d].%s", i, key) }
		m, err := s.toRecord(ctx, at, opts)
		if err != nil {
			return nil, err
		}
		if j, dup := ids[s.ID]; dup {
			return nil, fmt.Errorf("%s: duplicate id %q (also members[%d])", at("id"), s.ID, j)
		}
		if j, dup := kvnrs[m.Member.KVNR]; dup {
			return nil, fmt.Errorf("%s: duplicate KVNR %s (also members[%d])", at("kvnr"), m.Member.KVNR, j)
		}
		ids[s.ID], kvnrs[m.Member.KVNR] = i, i
		out = append(out, m)
	}
	return out, nil
}

func (s memberSpec) toRecord(ctx context.Context, at func(string) string, opts membersFileOptions) (demoMember, error) {
	if len(s.ID) < 8 || len(s.ID) > 128 || strings.ContainsAny(s.ID, " \t\r\n") {
		return demoMember{}, fmt.Errorf("%s: must be 8-128 characters without spaces", at("id"))
	}
	k, err := kvnr.Parse(s.KVNR)
	if err != nil || string(k) != s.KVNR {
		return demoMember{}, fmt.Errorf("%s: %q is not a valid KVNR (a capital letter, nine digits, the last a check digit)", at("kvnr"), s.KVNR)
	}
	status := account.Status(s.Status)
	switch status {
	case "":
		status = account.Active
	case account.Active, account.Pending, account.Blocked:
	default:
		return demoMember{}, fmt.Errorf("%s: must be active, pending or blocked, not %q", at("status"), s.Status)
	}
	proofing, err := loa.ParseLevel(s.Proofing)
	if err != nil || proofing == loa.None {
		return demoMember{}, fmt.Errorf("%s: must be low, substantial or high, not %q", at("proofing"), s.Proofing)
	}
	if strings.TrimSpace(s.GivenName) == "" {
		return demoMember{}, fmt.Errorf("%s: required", at("given_name"))
	}
	if strings.TrimSpace(s.FamilyName) == "" {
		return demoMember{}, fmt.Errorf("%s: required", at("family_name"))
	}
	birth, err := time.Parse(dateLayout, s.BirthDate)
	if err != nil || !birth.Before(opts.Now) {
		return demoMember{}, fmt.Errorf("%s: must be a past date, YYYY-MM-DD", at("birthdate"))
	}
	if s.Email != "" {
		if a, err := mail.ParseAddress(s.Email); err != nil || a.Address != s.Email {
			return demoMember{}, fmt.Errorf("%s: %q is not an e-mail address", at("email"), s.Email)
		}
	}
	addr := member.Address{Street: s.Address.Street, PostalCode: s.Address.PostalCode, Locality: s.Address.Locality, Country: s.Address.Country}
	if addr.Country == "" {
		addr.Country = "DE"
	}
	switch {
	case addr.Street == "":
		return demoMember{}, fmt.Errorf("%s: required", at("address.street"))
	case addr.Locality == "":
		return demoMember{}, fmt.Errorf("%s: required", at("address.locality"))
	case len(addr.Country) != 2 || strings.ToUpper(addr.Country) != addr.Country:
		return demoMember{}, fmt.Errorf("%s: must be a two-letter country code such as DE", at("address.country"))
	case addr.Country == "DE" && !isDigits(addr.PostalCode, 5):
		return demoMember{}, fmt.Errorf("%s: a German postal code has five digits", at("address.postal_code"))
	case addr.PostalCode == "":
		return demoMember{}, fmt.Errorf("%s: required", at("address.postal_code"))
	}
	from, err := time.Parse(dateLayout, s.InsuredFrom)
	if err != nil {
		return demoMember{}, fmt.Errorf("%s: required, YYYY-MM-DD", at("insured_from"))
	}
	var until time.Time
	if s.InsuredUntil != "" {
		if until, err = time.Parse(dateLayout, s.InsuredUntil); err != nil || !until.After(from) {
			return demoMember{}, fmt.Errorf("%s: must be a date after insured_from, YYYY-MM-DD", at("insured_until"))
		}
	}
	pw := s.Password.Reveal()
	if pw == "" {
		return demoMember{}, fmt.Errorf("%s: required", at("password"))
	}
	// Demo passwords follow the member policy, so the demo shows what a
	// member may choose.
	if err := password.DefaultPolicy.Check(pw, string(k), s.GivenName, s.FamilyName); err != nil {
		return demoMember{}, fmt.Errorf("%s: %s", at("password"), publicText(err))
	}
	hash, err := opts.Hasher.Hash(ctx, pw)
	if err != nil {
		return demoMember{}, fmt.Errorf("%s: %v", at("password"), err)
	}
	now := opts.Now.UTC()
	var dev *server.Device
	if d := s.Device; d != nil {
		cred, err1 := base64.RawURLEncoding.DecodeString(d.CredentialID)
		pub, err2 := base64.RawURLEncoding.DecodeString(d.PublicKey)
		switch {
		case len(d.ID) < 8 || len(d.ID) > 128 || strings.ContainsAny(d.ID, " \t\r\n"):
			return demoMember{}, fmt.Errorf("%s: must be 8-128 characters without spaces", at("device.id"))
		case err1 != nil || len(cred) == 0:
			return demoMember{}, fmt.Errorf("%s: must be base64url without padding", at("device.credential_id"))
		case err2 != nil || len(pub) == 0:
			return demoMember{}, fmt.Errorf("%s: must be base64url without padding", at("device.public_key"))
		}
		if err := pin.Check(d.PIN.Reveal(), s.BirthDate); err != nil {
			return demoMember{}, fmt.Errorf("%s: %s", at("device.pin"), publicText(err))
		}
		dev = &server.Device{ID: d.ID, Name: d.Name, CredentialID: cred, PublicKey: pub, PIN: d.PIN.Reveal()}
	}
	return demoMember{
		Device: dev,
		Account: account.Account{
			ID: s.ID, KVNR: k, PasswordHash: hash, Status: status, Proofing: proofing,
			CreatedAt: now, UpdatedAt: now,
		},
		Member: member.Member{
			KVNR: k, GivenName: s.GivenName, FamilyName: s.FamilyName, BirthDate: s.BirthDate,
			Address: addr, Email: s.Email, InsuredFrom: from, InsuredUntil: until, UpdatedAt: now,
		},
	}, nil
}

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// loadMembers returns the demo members the configuration declares:
// members_file when set, else the embedded demo members; none outside
// development.
func loadMembers(ctx context.Context, cfg *Config, h *password.Hasher, now time.Time) ([]demoMember, error) {
	if cfg.Server.Environment != Development {
		return nil, nil
	}
	data, name := configs.DevMembers, "configs/dev/members.yaml (embedded)"
	if cfg.MembersFile != "" {
		b, err := os.ReadFile(cfg.MembersFile)
		if err != nil {
			return nil, bad("members_file", "%s", readError(err))
		}
		data, name = b, cfg.MembersFile
	}
	ms, err := parseMembersFile(ctx, data, membersFileOptions{Environment: cfg.Server.Environment, Hasher: h, Now: now})
	if err != nil {
		return nil, bad("members_file", "%s: %v", name, err)
	}
	return ms, nil
}
