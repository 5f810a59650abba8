package keys

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"strings"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/ports/token"
)

// MaxTokenSize is the largest compact JWS accepted for verification. Larger
// input is refused before any decoding, so an attacker cannot make Pforte
// decode and hash megabytes per request.
const MaxTokenSize = 16 << 10

var b64 = base64.RawURLEncoding.Strict()

// signingKey is the active key, parsed once. Sign uses it without touching
// the store or re-parsing anything; the headers of the standard token types
// are encoded in advance.
type signingKey struct {
	kid     string
	priv    *ecdsa.PrivateKey
	headers map[string]string // typ → base64url protected header
}

func newSigningKey(kid string, priv *ecdsa.PrivateKey) *signingKey {
	s := &signingKey{kid: kid, priv: priv, headers: map[string]string{}}
	for _, typ := range []string{token.TypeAccess, token.TypeID} {
		s.headers[typ] = s.encodeHeader(typ)
	}
	return s
}

func (s *signingKey) encodeHeader(typ string) string {
	h, _ := json.Marshal(header{Alg: algorithm, Kid: s.kid, Typ: typ}) // strings only: cannot fail
	return b64.EncodeToString(h)
}

// sign returns the compact JWS of payload (RFC 7515 §7.1) signed with
// ECDSA P-256 / SHA-256, the signature as the fixed-size R ‖ S that
// RFC 7518 §3.4 requires (not ASN.1).
func (s *signingKey) sign(typ string, payload []byte) (string, error) {
	hdr, ok := s.headers[typ]
	if !ok {
		hdr = s.encodeHeader(typ)
	}
	buf := make([]byte, 0, len(hdr)+1+b64.EncodedLen(len(payload))+1+86)
	buf = append(buf, hdr...)
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, payload)
	digest := sha256.Sum256(buf)
	r, sv, err := ecdsa.Sign(rand.Reader, s.priv, digest[:])
	if err != nil {
		return "", err
	}
	var sig [64]byte
	r.FillBytes(sig[:32])
	sv.FillBytes(sig[32:])
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, sig[:])
	return string(buf), nil
}

// Sign implements token.Signer: the compact JWS of claims (encoding/json)
// with header alg ES256, the active kid and typ.
// Errors: Unavailable when no key is active; Invalid for an empty typ;
// Internal when claims do not marshal.
func (r *Ring) Sign(_ context.Context, typ string, claims any) (string, error) {
	const op = "keys.Sign"
	ks := r.cur.Load()
	if ks == nil || ks.active == nil {
		return "", fault.New(fault.Unavailable, op, "")
	}
	if typ == "" {
		return "", fault.New(fault.Invalid, op, "")
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fault.Wrap(fault.Internal, op, err)
	}
	jws, err := ks.active.sign(typ, payload)
	if err != nil {
		return "", fault.Wrap(fault.Internal, op, err)
	}
	return jws, nil
}

// Verify implements token.Signer: raw must be a compact JWS with alg ES256
// (never none, never HMAC — the key type is fixed, so the public key cannot
// be abused as an HMAC secret), a kid from the published set, header typ
// equal to typ, and a valid signature. It unmarshals the payload into claims
// and checks no claims. Errors: Unauthenticated, with a fixed public text.
func (r *Ring) Verify(_ context.Context, raw, typ string, claims any) error {
	const op = "keys.Verify"
	c, err := splitCompact(raw)
	if err != nil {
		return fault.Wrap(fault.Unauthenticated, op, err)
	}
	if c.header.Alg != algorithm {
		return fault.Wrap(fault.Unauthenticated, op, errors.New("alg is not ES256"))
	}
	if !typeMatches(c.header.Typ, typ) {
		return fault.Wrap(fault.Unauthenticated, op, errors.New("wrong typ"))
	}
	pub := r.cur.Load().pubs[c.header.Kid]
	if pub == nil {
		return fault.Wrap(fault.Unauthenticated, op, errors.New("unknown kid"))
	}
	if len(c.sig) != 64 {
		return fault.Wrap(fault.Unauthenticated, op, errors.New("malformed signature"))
	}
	sum := sha256.Sum256([]byte(raw))
	if !r.verified.has(sum, pub) {
		h := sha256.New()
		io.WriteString(h, c.signingInput)
		rr, ss := new(big.Int).SetBytes(c.sig[:32]), new(big.Int).SetBytes(c.sig[32:])
		if !ecdsa.Verify(pub, h.Sum(nil), rr, ss) {
			return fault.Wrap(fault.Unauthenticated, op, errors.New("bad signature"))
		}
		r.verified.add(sum, pub)
	}
	if err := json.Unmarshal(c.payload, claims); err != nil {
		return fault.Wrap(fault.Unauthenticated, op, errors.New("payload is not the expected JSON"))
	}
	return nil
}

// typeMatches compares JOSE typ values as RFC 7515 §4.1.9 and RFC 8725 §3.11
// say: case-insensitively, with an optional "application/" prefix.
func typeMatches(got, want string) bool {
	norm := func(s string) string {
		if len(s) > len("application/") && strings.EqualFold(s[:len("application/")], "application/") {
			return s[len("application/"):]
		}
		return s
	}
	return strings.EqualFold(norm(got), norm(want))
}

// header is the part of a protected header Pforte looks at.
type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid,omitempty"`
	Typ string `json:"typ,omitempty"`
	// Crit and B64 are only read to refuse them: Pforte understands no
	// critical extension, and an unencoded payload (RFC 7797) would change
	// what the signature covers.
	Crit json.RawMessage `json:"crit,omitempty"`
	B64  json.RawMessage `json:"b64,omitempty"`
}

// compact is a split, decoded compact JWS.
type compact struct {
	header       header
	signingInput string // base64url(header) "." base64url(payload)
	payload      []byte
	sig          []byte
}

// splitCompact checks the shape of a compact JWS and decodes its parts. It
// accepts only the base64url alphabet and two dots, because Go's base64
// decoder skips line breaks: without the check, one token would have many
// spellings that all verify.
func splitCompact(raw string) (compact, error) {
	var c compact
	if len(raw) > MaxTokenSize {
		return c, errors.New("token too large")
	}
	dots := 0
	for i := 0; i < len(raw); i++ {
		switch ch := raw[i]; {
		case ch == '.':
			dots++
		case 'A' <= ch && ch <= 'Z', 'a' <= ch && ch <= 'z', '0' <= ch && ch <= '9', ch == '-', ch == '_':
		default:
			return c, errors.New("not a compact JWS")
		}
	}
	if dots != 2 {
		return c, errors.New("not a compact JWS")
	}
	i := strings.IndexByte(raw, '.')
	j := i + 1 + strings.IndexByte(raw[i+1:], '.')
	if i == 0 || j == len(raw)-1 {
		return c, errors.New("not a compact JWS")
	}
	hb, err := b64.DecodeString(raw[:i])
	if err != nil {
		return c, errors.New("header is not base64url")
	}
	if err := json.Unmarshal(hb, &c.header); err != nil {
		return c, errors.New("header is not a JSON object")
	}
	if c.header.Crit != nil || c.header.B64 != nil {
		return c, errors.New("crit or b64 header present")
	}
	if c.payload, err = b64.DecodeString(raw[i+1 : j]); err != nil {
		return c, errors.New("payload is not base64url")
	}
	if c.sig, err = b64.DecodeString(raw[j+1:]); err != nil {
		return c, errors.New("signature is not base64url")
	}
	c.signingInput = raw[:j]
	return c, nil
}
