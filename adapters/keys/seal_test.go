package keys_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/pforte-id/pforte/adapters/keys"
	"github.com/pforte-id/pforte/core/fault"
)

func TestSealer(t *testing.T) {
	s, err := keys.NewSealer(keys.DeriveKey(testMaster(1), "test"))
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("private key bytes")
	sealed := s.Seal(secret, []byte("kid-1"))
	if bytes.Contains(sealed, secret) {
		t.Fatal("sealed blob contains the plaintext")
	}
	if again := s.Seal(secret, []byte("kid-1")); bytes.Equal(again, sealed) {
		t.Error("two seals of one secret are equal: nonce not random")
	}
	got, err := s.Open(sealed, []byte("kid-1"))
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open: %q, %v", got, err)
	}

	other, _ := keys.NewSealer(keys.DeriveKey(testMaster(2), "test"))
	otherPurpose, _ := keys.NewSealer(keys.DeriveKey(testMaster(1), "other"))
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1
	version := bytes.Clone(sealed)
	version[0] = 2
	for _, tc := range []struct {
		name   string
		s      *keys.Sealer
		sealed []byte
		ad     string
	}{
		{"wrong master key", other, sealed, "kid-1"},
		{"key of another purpose", otherPurpose, sealed, "kid-1"},
		{"moved to another key id", s, sealed, "kid-2"},
		{"no additional data", s, sealed, ""},
		{"tampered", s, flipped, "kid-1"},
		{"unknown version", s, version, "kid-1"},
		{"truncated", s, sealed[:20], "kid-1"},
		{"empty", s, nil, "kid-1"},
	} {
		if _, err := tc.s.Open(tc.sealed, []byte(tc.ad)); err == nil || fault.KindOf(err) != fault.Internal {
			t.Errorf("%s: %v", tc.name, err)
		}
	}

	_, err = keys.NewSealer(make([]byte, 16))
	wantKind(t, err, fault.Invalid)

	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "sealer", s)
	for _, out := range []string{logged.String(), fmt.Sprint(s), fmt.Sprintf("%v %+v %s %#v", s, s, s, s)} {
		if !strings.Contains(out, "redacted") {
			t.Errorf("sealer shows itself as %q", out)
		}
	}
}

func TestDeriveKey(t *testing.T) {
	a := keys.DeriveKey(testMaster(1), "client-secrets")
	if len(a) != 32 {
		t.Fatalf("length %d", len(a))
	}
	if !bytes.Equal(a, keys.DeriveKey(testMaster(1), "client-secrets")) {
		t.Error("not deterministic")
	}
	if bytes.Equal(a, keys.DeriveKey(testMaster(1), keys.PurposeSigningKeys)) {
		t.Error("purposes share a key")
	}
	if bytes.Equal(a, keys.DeriveKey(testMaster(2), "client-secrets")) {
		t.Error("masters share a key")
	}
	if bytes.Equal(a, testMaster(1)) {
		t.Error("derived key is the master key")
	}
	wantKind(t, keys.CheckMaster(make([]byte, 31)), fault.Invalid)
	if err := keys.CheckMaster(testMaster(1)); err != nil {
		t.Error(err)
	}
	for _, bad := range []func(){
		func() { keys.DeriveKey(make([]byte, 16), "x") },
		func() { keys.DeriveKey(testMaster(1), "") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("DeriveKey accepted bad input")
				}
			}()
			bad()
		}()
	}
}
