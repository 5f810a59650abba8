package webauthn_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/webauthn"
	"github.com/pforte-id/pforte/core/fault"
)

func TestConfigValidate(t *testing.T) {
	ok := webauthn.Config{RPID: rpID, Origins: []string{origin, appOrigin}}
	for _, tc := range []struct {
		name string
		mod  func(*webauthn.Config)
		ok   bool
	}{
		{"issuer and app origin", func(*webauthn.Config) {}, true},
		{"subdomain origin", func(c *webauthn.Config) { c.Origins = []string{"https://login.pforte.example:8443"} }, true},
		{"localhost over http", func(c *webauthn.Config) { c.RPID, c.Origins = "localhost", []string{"http://localhost:8080"} }, true},
		{"trailing slash", func(c *webauthn.Config) { c.Origins = []string{origin + "/"} }, true},
		{"explicit timeout", func(c *webauthn.Config) { c.Timeout = time.Minute }, true},
		{"no RP id", func(c *webauthn.Config) { c.RPID = "" }, false},
		{"RP id with scheme", func(c *webauthn.Config) { c.RPID = origin }, false},
		{"RP id with port", func(c *webauthn.Config) { c.RPID = "pforte.example:443" }, false},
		{"RP id upper case", func(c *webauthn.Config) { c.RPID = "Pforte.example" }, false},
		{"RP id an IP address", func(c *webauthn.Config) { c.RPID, c.Origins = "127.0.0.1", []string{"https://127.0.0.1"} }, false},
		{"no origins", func(c *webauthn.Config) { c.Origins = nil }, false},
		{"only the app origin", func(c *webauthn.Config) { c.Origins = []string{appOrigin} }, false},
		{"plain http", func(c *webauthn.Config) { c.Origins = []string{"http://pforte.example"} }, false},
		{"origin of another site", func(c *webauthn.Config) { c.Origins = []string{"https://evil.example"} }, false},
		{"origin ending like the RP id", func(c *webauthn.Config) { c.Origins = []string{"https://evilpforte.example"} }, false},
		{"origin with path", func(c *webauthn.Config) { c.Origins = []string{origin + "/app"} }, false},
		{"app origin not a hash", func(c *webauthn.Config) { c.Origins = []string{origin, webauthn.AndroidOriginPrefix + "abc"} }, false},
		{"app origin padded", func(c *webauthn.Config) { c.Origins = []string{origin, appOrigin + "="} }, false},
		{"timeout too short", func(c *webauthn.Config) { c.Timeout = time.Second }, false},
		{"timeout too long", func(c *webauthn.Config) { c.Timeout = time.Hour }, false},
		{"nil root", func(c *webauthn.Config) { c.PackedRoots = []*x509.Certificate{nil} }, false},
	} {
		c := ok
		c.Origins = append([]string(nil), ok.Origins...)
		tc.mod(&c)
		err := c.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, fault.Invalid) {
			t.Errorf("%s: kind %v", tc.name, fault.KindOf(err))
		}
		if _, nerr := webauthn.New(c, nil); (nerr == nil) != tc.ok {
			t.Errorf("%s: New: %v, want ok=%v", tc.name, nerr, tc.ok)
		}
	}
}

func TestParseCertificates(t *testing.T) {
	root, _ := newCA(t, "Test Root")
	data := append([]byte("trust anchors\n"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})...)
	data = append(data, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw})...)
	certs, err := webauthn.ParseCertificates(data)
	if err != nil || len(certs) != 1 || !certs[0].Equal(root) {
		t.Fatalf("ParseCertificates = %v, %v", certs, err)
	}
	for _, bad := range [][]byte{nil, []byte("no pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2}})} {
		if _, err := webauthn.ParseCertificates(bad); !errors.Is(err, fault.Invalid) {
			t.Errorf("ParseCertificates(%q) = %v", bad, err)
		}
	}
}

// newCA returns a self-signed P-256 CA.
func newCA(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}
