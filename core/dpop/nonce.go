package dpop

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"

	"github.com/pforte-id/pforte/core/fault"
)

// DefaultNonceLifetime is the length of a nonce time slot: a nonce is
// accepted in the slot it was issued in and the next one, so for between
// one and two lifetimes (and by a replica whose clock runs one slot
// behind; see Valid).
const DefaultNonceLifetime = 5 * time.Minute

// MinNonceKeySize is the smallest nonce key accepted: 256 bits, the
// strength HMAC-SHA-256 offers.
const MinNonceKeySize = 32

// nonceLen is the length of a nonce: base64url of a SHA-256 MAC.
var nonceLen = base64.RawURLEncoding.EncodedLen(sha256.Size)

// nonceLabel separates this use of the key from any other.
const nonceLabel = "pforte dpop nonce v1\x00"

// NonceSource issues and checks DPoP server nonces (RFC 9449 §8, §9)
// without state: a nonce is base64url(HMAC-SHA-256(Key, slot)) for the
// current time slot of length Lifetime. Every replica configured with the
// same Key (derived from the master key) issues the same nonce in a slot
// and accepts the nonces of the others, so a client may send its next
// request to any replica. Slots are counted from the Unix epoch, so all
// replicas roll over together, give or take their clock skew.
//
// The zero value has no key; Validate refuses it. Safe for concurrent use
// (it has no mutable state).
type NonceSource struct {
	// Key is the HMAC key, at least MinNonceKeySize bytes.
	Key []byte
	// Lifetime is the slot length (0: DefaultNonceLifetime).
	Lifetime time.Duration
}

// Validate reports a source that cannot work. Errors: fault.Invalid.
func (s NonceSource) Validate() error {
	const op = "dpop.NonceSource.Validate"
	switch {
	case len(s.Key) < MinNonceKeySize:
		return fault.New(fault.Invalid, op, "the DPoP nonce key must have at least 32 bytes")
	case s.Lifetime < 0 || (s.Lifetime > 0 && s.Lifetime < 10*time.Second) || s.Lifetime > time.Hour:
		return fault.New(fault.Invalid, op, "the DPoP nonce lifetime must be between 10s and 1h (0: default)")
	}
	return nil
}

func (s NonceSource) lifetime() time.Duration {
	if s.Lifetime > 0 {
		return s.Lifetime
	}
	return DefaultNonceLifetime
}

// slot is the number of the time slot now falls into (floor division, so
// that it is right before 1970 too).
func (s NonceSource) slot(now time.Time) int64 {
	n, d := now.UnixNano(), int64(s.lifetime())
	q := n / d
	if n%d < 0 {
		q--
	}
	return q
}

// mac is the nonce of a slot. The lifetime is part of the input, so a
// changed configuration does not reinterpret old nonces.
func (s NonceSource) mac(slot int64) []byte {
	if len(s.Key) < MinNonceKeySize {
		// A short or missing key would make nonces guessable; Validate
		// refuses it at start, so this is a wiring bug.
		panic("dpop: NonceSource used without a valid key")
	}
	m := hmac.New(sha256.New, s.Key)
	m.Write([]byte(nonceLabel))
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(slot))
	binary.BigEndian.PutUint64(b[8:], uint64(s.lifetime()))
	m.Write(b[:])
	return m.Sum(nil)
}

// Current is the nonce to send in the DPoP-Nonce header now. It panics
// when the source has no valid key (see Validate).
func (s NonceSource) Current(now time.Time) string {
	return base64.RawURLEncoding.EncodeToString(s.mac(s.slot(now)))
}

// Valid reports whether nonce was issued in the current or the previous
// slot. The next slot is accepted too: a replica whose clock runs a little
// ahead may already have issued it, and only the key holder can make it,
// so this stretches no nonce's life beyond two slots of its issuer's
// clock. It panics when the source has no valid key (see Validate).
func (s NonceSource) Valid(nonce string, now time.Time) bool {
	if len(nonce) != nonceLen {
		return false
	}
	got, err := base64.RawURLEncoding.Strict().DecodeString(nonce)
	if err != nil {
		return false
	}
	cur := s.slot(now)
	ok := false
	for _, slot := range [...]int64{cur, cur - 1, cur + 1} {
		// All three are computed, so the time taken does not tell which
		// slot matched.
		if hmac.Equal(got, s.mac(slot)) {
			ok = true
		}
	}
	return ok
}
