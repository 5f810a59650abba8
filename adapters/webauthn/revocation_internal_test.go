package webauthn

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
)

func TestParseRevocationList(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
		want map[string]device.Revocation // nil: an error
	}{
		{"Google's format", `{"entries": {"2c8cdddfd5e03bfc": {"status": "REVOKED", "reason": "KEY_COMPROMISE"},
			"c8966fcb2fbb0d7a": {"status": "SUSPENDED", "reason": "SOFTWARE_FLAW", "expires": "2030-01-01", "comment": "x"}}}`,
			map[string]device.Revocation{"2c8cdddfd5e03bfc": device.CertRevoked, "c8966fcb2fbb0d7a": device.CertSuspended}},
		{"empty list", `{"entries": {}}`, map[string]device.Revocation{}},
		{"upper case and leading zeros", `{"entries": {"00ABcd": {"status": "revoked"}}}`, map[string]device.Revocation{"abcd": device.CertRevoked}},
		{"two spellings, the worse counts", `{"entries": {"ab": {"status": "REVOKED"}, "00AB": {"status": "SUSPENDED"}, "0cd": {"status": "SUSPENDED"}, "CD": {"status": "REVOKED"}}}`,
			map[string]device.Revocation{"ab": device.CertRevoked, "cd": device.CertRevoked}},
		{"serial zero", `{"entries": {"00": {"status": "REVOKED"}}}`, map[string]device.Revocation{"0": device.CertRevoked}},
		{"not JSON", `{"entries": {`, nil},
		{"no entries", `{"status": "ok"}`, nil},
		{"entries not an object", `{"entries": []}`, nil},
		{"serial not hex", `{"entries": {"xyz": {"status": "REVOKED"}}}`, nil},
		{"empty serial", `{"entries": {"": {"status": "REVOKED"}}}`, nil},
		{"no status", `{"entries": {"ab": {"reason": "KEY_COMPROMISE"}}}`, nil},
		{"too large", `{"entries": {}, "pad": "` + strings.Repeat("a", maxRevocationFile) + `"}`, nil},
	} {
		got, err := ParseRevocationList([]byte(tc.data))
		if tc.want == nil {
			if !errors.Is(err, fault.Invalid) || fault.PublicOf(err) == "" {
				t.Errorf("%s: %v, want Invalid with a public text", tc.name, err)
			}
			continue
		}
		if err != nil || len(got) != len(tc.want) {
			t.Errorf("%s: %v %v", tc.name, got, err)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%s: %s is %q, want %q", tc.name, k, got[k], v)
			}
		}
	}
}

// writeList writes a status list naming the serials with their status and
// sets the file's modification time to mtime.
func writeList(t *testing.T, path string, mtime time.Time, entries map[int64]string) {
	t.Helper()
	var parts []string
	for serial, status := range entries {
		parts = append(parts, fmt.Sprintf(`%q: {"status": %q, "reason": "KEY_COMPROMISE"}`, fmt.Sprintf("%x", serial), status))
	}
	if err := os.WriteFile(path, []byte(`{"entries": {`+strings.Join(parts, ",")+`}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func TestRevocationList(t *testing.T) {
	ca := newFakeCA(t) // the root's serial is 1
	path := filepath.Join(t.TempDir(), "status.json")
	day1 := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	writeList(t, path, day1, map[int64]string{0x2c8cdddfd5e03bfc: "REVOKED", 0x77: "SUSPENDED"})
	l, err := OpenRevocationList(path)
	if err != nil {
		t.Fatal(err)
	}
	if !l.Loaded().Equal(day1) || l.Path() != path {
		t.Fatalf("loaded %v from %s", l.Loaded(), l.Path())
	}
	ext := keyDescriptionDER(t, keySpec{attestationLevel: 1, keyMintLevel: 1})
	for _, tc := range []struct {
		name  string
		chain []*x509.Certificate
		want  device.Revocation
	}{
		{"not listed", ca.issueSerial(t, ext, 5), ""},
		{"revoked leaf", ca.issueSerial(t, ext, 0x2c8cdddfd5e03bfc), device.CertRevoked},
		{"suspended leaf", ca.issueSerial(t, ext, 0x77), device.CertSuspended},
		{"revoked intermediate", append(ca.issueSerial(t, ext, 5)[:1], ca.issueSerial(t, ext, 0x2c8cdddfd5e03bfc)[0], ca.root), device.CertRevoked},
		{"suspended and revoked: revoked wins", []*x509.Certificate{ca.issueSerial(t, ext, 0x77)[0], ca.issueSerial(t, ext, 0x2c8cdddfd5e03bfc)[0]}, device.CertRevoked},
		{"empty chain", nil, ""},
	} {
		if got := l.Status(tc.chain); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}

	// The operator's refresh is read at the next lookup.
	day2 := day1.Add(24 * time.Hour)
	writeList(t, path, day2, map[int64]string{5: "REVOKED"})
	if got := l.Status(ca.issueSerial(t, ext, 5)); got != device.CertRevoked || !l.Loaded().Equal(day2) {
		t.Errorf("after refresh: %q, loaded %v", got, l.Loaded())
	}
	// A broken copy keeps the last good list, and its age.
	if err := os.WriteFile(path, []byte(`{"entries": {"05"`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, day2.Add(time.Hour), day2.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := l.Status(ca.issueSerial(t, ext, 5)); got != device.CertRevoked || !l.Loaded().Equal(day2) {
		t.Errorf("after a broken refresh: %q, loaded %v", got, l.Loaded())
	}
	// So does a file that disappeared.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if got := l.Status(ca.issueSerial(t, ext, 5)); got != device.CertRevoked {
		t.Errorf("after removal: %q", got)
	}

	for name, data := range map[string]string{"missing": "", "not a list": `[1, 2]`} {
		p := filepath.Join(t.TempDir(), "status.json")
		if data != "" {
			if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := OpenRevocationList(p); !errors.Is(err, fault.Invalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestRevokedAndroidKeyPolicy: a revoked or suspended certificate anywhere
// in an otherwise perfect chain refuses the key, with its own reason.
func TestRevokedAndroidKeyPolicy(t *testing.T) {
	ca := newFakeCA(t)
	roots := x509.NewCertPool()
	roots.AddCert(ca.root)
	path := filepath.Join(t.TempDir(), "status.json")
	writeList(t, path, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), map[int64]string{0x2c8c: "REVOKED", 0x77: "SUSPENDED"})
	list, err := OpenRevocationList(path)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("insurer signing certificate"))
	policy := device.Policy{AndroidPackage: "de.example.serviceapp", AndroidCertDigests: []string{hex.EncodeToString(digest[:])}}
	ext := keyDescriptionDER(t, keySpec{attestationLevel: 1, keyMintLevel: 1, packages: []string{"de.example.serviceapp"}, digests: [][]byte{digest[:]}})
	for _, tc := range []struct {
		name   string
		serial int64
		list   *RevocationList
		want   fault.Code
	}{
		{"not listed", 5, list, ""},
		{"no list configured", 0x2c8c, nil, ""},
		{"revoked", 0x2c8c, list, device.CodeRevoked},
		{"suspended", 0x77, list, device.CodeSuspended},
	} {
		a, err := report(attObj(ca.issueSerial(t, ext, tc.serial), 0), nil, roots, tc.list, time.Now())
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if a.RevocationChecked != (tc.list != nil) {
			t.Errorf("%s: checked=%v", tc.name, a.RevocationChecked)
		}
		code, _ := fault.CodeOf(policy.Accept(a))
		if code != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, code, tc.want)
		}
	}
}

// FuzzParseRevocationList: any file the operator's refresh may leave is
// either a list of lower-case hex serials with a status, or Invalid.
func FuzzParseRevocationList(f *testing.F) {
	f.Add([]byte(`{"entries": {"2c8cdddfd5e03bfc": {"status": "REVOKED", "reason": "KEY_COMPROMISE"}}}`))
	f.Add([]byte(`{"entries": {}}`))
	f.Add([]byte(`{"entries": {"00AB": {"status": "suspended"}}}`))
	f.Add([]byte(`{"entries": null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := ParseRevocationList(data)
		if err != nil {
			if !errors.Is(err, fault.Invalid) {
				t.Fatalf("kind %v", fault.KindOf(err))
			}
			return
		}
		for serial, status := range entries {
			if serial == "" || strings.Trim(serial, "0123456789abcdef") != "" || (len(serial) > 1 && serial[0] == '0') || status == "" {
				t.Fatalf("entry %q: %q", serial, status)
			}
		}
	})
}
