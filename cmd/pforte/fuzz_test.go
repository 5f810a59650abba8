package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pforte-id/pforte/configs"
	"github.com/pforte-id/pforte/core/kvnr"
)

// The fuzz targets of this file feed the files an operator hands to
// Pforte: the configuration, the clients file and the member file of the
// insurer. None is written by an attacker, but a truncated transfer, a
// wrong export or an editor's mistake makes them arbitrary, and each must
// then be refused with an error that names what is wrong, never a panic,
// and never be half applied.

// FuzzConfig fuzzes the YAML configuration file. Every refusal is a
// *configError (printed as it is, naming the key), and an accepted
// configuration passes Validate again.
func FuzzConfig(f *testing.F) {
	example, err := os.ReadFile(filepath.Join("..", "..", "configs", "production.example.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(example))
	f.Add("server:\n  addr: 127.0.0.1:0\nkeys:\n  master_key: " + testMasterKey() + "\n")
	f.Add("server: {environment: production}\n")
	f.Add("login:\n  session_idle: -1s\n")
	f.Add("tokens:\n  code_ttl: 1h\n")
	f.Add("unknown: 1\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, content string) {
		dir := t.TempDir()
		p := filepath.Join(dir, "pforte.yaml")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := loadConfig(loadOptions{File: p, Getenv: env(nil)})
		if err != nil {
			var ce *configError
			if !errors.As(err, &ce) {
				t.Fatalf("refusal %T, want *configError: %v", err, err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted a configuration that Validate refuses: %v", err)
		}
	})
}

// FuzzConfigEnvironment fuzzes the value of each PFORTE_* variable (the
// variable chosen by the first input among those Pforte reads).
func FuzzConfigEnvironment(f *testing.F) {
	for i := range envVars {
		f.Add(uint16(i), map[bool]string{true: "45m", false: "production"}[i%2 == 0])
	}
	f.Add(uint16(0), "18446744073709551616")
	f.Add(uint16(1), "-1s")
	f.Fuzz(func(t *testing.T, i uint16, value string) {
		name := envVars[int(i)%len(envVars)].Name
		cfg, err := loadConfig(loadOptions{Getenv: env(map[string]string{name: value})})
		if err != nil {
			var ce *configError
			if !errors.As(err, &ce) {
				t.Fatalf("%s=%q: refusal %T, want *configError: %v", name, value, err, err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("%s=%q: accepted a configuration that Validate refuses: %v", name, value, err)
		}
	})
}

// FuzzClientsFile fuzzes the clients file: every client it accepts is
// valid, and their ids are unique.
func FuzzClientsFile(f *testing.F) {
	f.Add(string(configs.DevClients))
	f.Add("clients:\n- id: a\n  kind: web\n  redirect_uris: [https://a.example/cb]\n  secret: s\n")
	f.Add("clients: [{id: x, kind: native, redirect_uris: ['http://127.0.0.1/cb']}]\n")
	f.Add("clients: null\n")
	f.Fuzz(func(t *testing.T, content string) {
		cs, err := parseClientsFile([]byte(content), devClientsOpts())
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, c := range cs {
			if err := c.Validate(); err != nil {
				t.Fatalf("accepted client %q that Validate refuses: %v", c.ID, err)
			}
			if seen[c.ID] {
				t.Fatalf("accepted client id %q twice", c.ID)
			}
			seen[c.ID] = true
		}
	})
}

// FuzzMemberImport fuzzes the insurer's member file (CSV). Every row is
// counted once, as accepted or rejected; accepted members have a valid
// KVNR, each once; nothing is stored when the header is unusable.
func FuzzMemberImport(f *testing.F) {
	f.Add(header + string(testKVNR(1)) + ";Erika;Mustermann;1964-08-12;Heidestr. 17;51147;Köln;DE;2020-01-01;;erika@example.org\n")
	f.Add("sep=,\n" + strings.ReplaceAll(header, ";", ",") + string(testKVNR(2)) + ",A,B,1990-01-01,S 1,12345,Ort,DE,2020-01-01,2030-12-31,\n")
	f.Add(header + wrongCheckDigit() + ";\"unterminated\n")
	f.Add("kvnr\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, content string) {
		imp := &fakeImport{}
		rep, err := importMembers(context.Background(), strings.NewReader(content), imp, nil, 3)
		stored := imp.members()
		if err != nil && rep.Rows == 0 && len(stored) != 0 {
			t.Fatalf("stored %d members from a file refused before its first row: %v", len(stored), err)
		}
		if err == nil && rep.Accepted+rep.Rejected != rep.Rows {
			t.Fatalf("%d rows, %d accepted, %d rejected", rep.Rows, rep.Accepted, rep.Rejected)
		}
		if len(stored) != rep.Accepted {
			t.Fatalf("%d stored, %d reported accepted", len(stored), rep.Accepted)
		}
		seen := map[kvnr.KVNR]bool{}
		for _, m := range stored {
			if _, err := kvnr.Parse(string(m.KVNR)); err != nil {
				t.Fatalf("stored an invalid KVNR %q: %v", m.KVNR, err)
			}
			if seen[m.KVNR] {
				t.Fatalf("stored KVNR %s twice", m.KVNR)
			}
			seen[m.KVNR] = true
		}
	})
}
