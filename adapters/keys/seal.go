package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"

	"github.com/pforte-id/pforte/core/fault"
)

// MasterKeySize is the length in bytes of the master key and of every key
// derived from it.
const MasterKeySize = 32

// PurposeSigningKeys is the HKDF purpose of the key that seals the private
// parts of token signing keys. Every other use of the master key derives its
// own key under its own purpose, so that no two uses ever share a key.
const PurposeSigningKeys = "pforte/v1/signing-key-seal"

// sealVersion prefixes every sealed blob so that the format (or the sealing
// key) can change later without guessing what an old blob is.
const sealVersion byte = 1

// CheckMaster reports whether master is usable as the master key.
// Errors: Invalid when it is not MasterKeySize bytes long.
func CheckMaster(master []byte) error {
	if len(master) != MasterKeySize {
		return fault.New(fault.Invalid, "keys.CheckMaster",
			fmt.Sprintf("must be %d bytes, not %d", MasterKeySize, len(master)))
	}
	return nil
}

// DeriveKey derives the 32-byte sub-key for purpose from master with
// HKDF-SHA-256 (RFC 5869, purpose as info, no salt: the master key is
// already uniformly random). Distinct purposes give independent keys, so a
// key leaked from one use does not open another.
//
// master must pass CheckMaster and purpose must not be empty; DeriveKey
// panics otherwise, since deriving from an unchecked master key is a bug in
// the caller.
func DeriveKey(master []byte, purpose string) []byte {
	if err := CheckMaster(master); err != nil {
		panic(err)
	}
	if purpose == "" {
		panic("keys.DeriveKey: empty purpose")
	}
	k, err := hkdf.Key(sha256.New, master, nil, purpose, MasterKeySize)
	if err != nil {
		panic(fmt.Sprintf("keys.DeriveKey: %v", err))
	}
	return k
}

// Sealer encrypts small secrets at rest with AES-256-GCM. Each Seal uses a
// fresh random nonce, and the caller's additional data (typically the ID of
// the row the blob belongs to) is authenticated with it, so that a sealed
// blob copied into another row does not open there. A Sealer is safe for
// concurrent use; it never shows its key in logs.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer under key (MasterKeySize bytes, normally from
// DeriveKey). Errors: Invalid for a key of the wrong length.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != MasterKeySize {
		return nil, fault.New(fault.Invalid, "keys.NewSealer",
			fmt.Sprintf("the sealing key must be %d bytes, not %d", MasterKeySize, len(key)))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fault.Wrap(fault.Internal, "keys.NewSealer", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fault.Wrap(fault.Internal, "keys.NewSealer", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext bound to ad. The result is
// version ‖ nonce ‖ ciphertext ‖ tag.
func (s *Sealer) Seal(plaintext, ad []byte) []byte {
	ns := s.aead.NonceSize()
	out := make([]byte, 1+ns, 1+ns+len(plaintext)+s.aead.Overhead())
	out[0] = sealVersion
	rand.Read(out[1 : 1+ns]) // crypto/rand.Read never fails; it crashes the program instead
	return s.aead.Seal(out, out[1:1+ns], plaintext, s.additional(ad))
}

// Open decrypts a blob made by Seal with the same key and ad.
// Errors: Internal when the blob is malformed, was sealed under another key
// or belongs to other additional data — at rest, any of these means
// corruption, tampering or a wrong master key, never a client mistake.
func (s *Sealer) Open(sealed, ad []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	if len(sealed) < 1+ns+s.aead.Overhead() || sealed[0] != sealVersion {
		return nil, fault.Wrap(fault.Internal, "keys.Open", errors.New("malformed sealed blob"))
	}
	pt, err := s.aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], s.additional(ad))
	if err != nil {
		return nil, fault.Wrap(fault.Internal, "keys.Open",
			errors.New("sealed blob does not open: wrong master key, or moved to another row"))
	}
	return pt, nil
}

// additional binds the format version into the authenticated data, so a
// blob cannot be downgraded to another format by flipping its first byte.
func (s *Sealer) additional(ad []byte) []byte {
	b := make([]byte, 0, 1+len(ad))
	return append(append(b, sealVersion), ad...)
}

// String keeps the key out of fmt output.
func (s *Sealer) String() string { return "keys.Sealer{[redacted]}" }

// GoString keeps the key out of %#v output.
func (s *Sealer) GoString() string { return s.String() }

// LogValue keeps the key out of structured logs.
func (s *Sealer) LogValue() slog.Value { return slog.StringValue("[redacted]") }
