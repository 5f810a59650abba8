package keys

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/json"
	"io"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/pforte-id/pforte/core/dpop"
	"github.com/pforte-id/pforte/ports/token"
)

// DPoPType is the typ header of a DPoP proof (RFC 9449 §4.2).
const DPoPType = "dpop+jwt"

// DPoPAlgorithm is the only signature algorithm accepted for DPoP proofs,
// the value of dpop_signing_alg_values_supported in discovery and of the
// algs parameter of WWW-Authenticate: DPoP.
const DPoPAlgorithm = "ES256"

// MaxDPoPProofSize is the largest DPoP header value accepted. A proof is a
// P-256 key and a few short claims, well under 1 KiB; anything near the
// limit is refused before any decoding.
const MaxDPoPProofSize = 8 << 10

// DPoPVerifier verifies the JOSE layer of DPoP proofs (RFC 9449 §4.3 steps
// 1–7) and extracts their claims; core/dpop checks them against the request.
//
// It accepts ES256 only: the Service-App signs with a P-256 key, and one
// fixed algorithm leaves nothing to confuse — alg none, HMAC (a "secret"
// that is the public key in the header) and RSA are refused before any key
// is looked at. The header's jwk must be a public EC P-256 key with
// full-size coordinates on the curve; a jwk carrying private members is
// refused rather than trimmed, because a client that sends its private key
// has lost it. typ must be exactly dpop+jwt (the one value RFC 9449
// names). The signature is the fixed-size R ‖ S of RFC 7518 §3.4; its
// malleability (R, N−S) needs no defence here, since replay is detected by
// jti, not by the token's bytes. It has no state and is safe for
// concurrent use.
type DPoPVerifier struct{}

var _ token.DPoPVerifier = (*DPoPVerifier)(nil)

// NewDPoPVerifier returns a DPoP proof verifier.
func NewDPoPVerifier() *DPoPVerifier { return &DPoPVerifier{} }

// dpopHeader is what the verifier reads of a proof's header besides alg
// and typ (which splitCompact decodes).
type dpopHeader struct {
	JWK json.RawMessage `json:"jwk"`
}

// dpopClaims are the claims of a proof. IAT stays raw so that only a JSON
// number is accepted (encoding/json would also take a numeric string into
// a json.Number).
type dpopClaims struct {
	JTI   string          `json:"jti"`
	HTM   string          `json:"htm"`
	HTU   string          `json:"htu"`
	IAT   json.RawMessage `json:"iat"`
	ATH   string          `json:"ath"`
	Nonce string          `json:"nonce"`
}

// privateJWKMembers are the JWK members that carry private key material,
// of any key type (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
var privateJWKMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// Verify implements token.DPoPVerifier: raw is the value of the DPoP
// header. Missing claims come back empty for dpop.Policy.Check to refuse;
// claims of the wrong JSON type make the proof malformed.
// Errors: Unauthenticated with dpop.CodeInvalidProof, with a public
// text naming what is wrong.
func (*DPoPVerifier) Verify(_ context.Context, raw string) (dpop.Proof, error) {
	const op = "keys.VerifyDPoP"
	if len(raw) > MaxDPoPProofSize {
		return dpop.Proof{}, dpop.InvalidProof(op, "DPoP proof is too large")
	}
	c, err := splitCompact(raw)
	if err != nil {
		return dpop.Proof{}, dpop.InvalidProof(op, "DPoP proof is not a compact JWS")
	}
	if c.header.Typ != DPoPType {
		return dpop.Proof{}, dpop.InvalidProof(op, "DPoP proof typ must be dpop+jwt")
	}
	if c.header.Alg != DPoPAlgorithm {
		return dpop.Proof{}, dpop.InvalidProof(op, "DPoP proof alg must be ES256")
	}
	// splitCompact has checked the header decodes to a JSON object.
	hb, _ := b64.DecodeString(raw[:strings.IndexByte(raw, '.')])
	var h dpopHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return dpop.Proof{}, dpop.InvalidProof(op, "DPoP proof header is malformed")
	}
	if len(h.JWK) == 0 || bytes.Equal(h.JWK, []byte("null")) {
		return dpop.Proof{}, dpop.InvalidProof(op, "DPoP proof header has no jwk")
	}
	pub, jkt, err := dpopKey(h.JWK)
	if err != nil {
		return dpop.Proof{}, err
	}
	if len(c.sig) != 64 {
		return dpop.Proof{}, dpop.InvalidProof(op, "DPoP proof signature is invalid")
	}
	d := sha256.New()
	io.WriteString(d, c.signingInput)
	r, s := new(big.Int).SetBytes(c.sig[:32]), new(big.Int).SetBytes(c.sig[32:])
	if !ecdsa.Verify(pub, d.Sum(nil), r, s) {
		return dpop.Proof{}, dpop.InvalidProof(op, "DPoP proof signature is invalid")
	}
	var cl dpopClaims
	if err := json.Unmarshal(c.payload, &cl); err != nil {
		return dpop.Proof{}, dpop.InvalidProof(op, "DPoP proof claims are malformed")
	}
	iat, ok := numericDate(cl.IAT)
	if !ok {
		return dpop.Proof{}, dpop.InvalidProof(op, "DPoP proof iat is not a NumericDate")
	}
	return dpop.Proof{JKT: jkt, JTI: cl.JTI, HTM: cl.HTM, HTU: cl.HTU, IAT: iat, ATH: cl.ATH, Nonce: cl.Nonce}, nil
}

// dpopKey checks that raw is a public EC P-256 JWK and returns the key and
// its RFC 7638 thumbprint (SHA-256, base64url).
func dpopKey(raw json.RawMessage) (*ecdsa.PublicKey, string, error) {
	const op = "keys.VerifyDPoP"
	bad := func() (*ecdsa.PublicKey, string, error) {
		return nil, "", dpop.InvalidProof(op, "DPoP proof jwk must be a public EC P-256 key")
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return bad()
	}
	for _, m := range privateJWKMembers {
		if _, ok := members[m]; ok {
			return nil, "", dpop.InvalidProof(op, "DPoP proof jwk must not contain private key material")
		}
	}
	k, err := jwk.ParseKey(raw)
	if err != nil {
		return bad()
	}
	ek, ok := k.(jwk.ECDSAPublicKey)
	if !ok {
		return bad()
	}
	if crv, ok := ek.Crv(); !ok || crv != jwa.P256() {
		return bad()
	}
	// RFC 7518 §6.2.1.2: each coordinate has the full size of the curve,
	// so a key has one spelling. jwx pads short coordinates on parsing, so
	// the length is checked on the JSON as sent.
	x, okX := coordinate(members["x"])
	y, okY := coordinate(members["y"])
	if !okX || !okY {
		return bad()
	}
	// ParseUncompressedPublicKey refuses a point that is not on P-256: no
	// client holds such a key, so no token may be bound to its thumbprint.
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), slices.Concat([]byte{4}, x, y))
	if err != nil {
		return bad()
	}
	sum, err := ek.Thumbprint(crypto.SHA256)
	if err != nil {
		return bad()
	}
	return pub, b64.EncodeToString(sum), nil
}

// coordinate decodes a P-256 JWK coordinate: a base64url string of exactly
// 32 bytes.
func coordinate(raw json.RawMessage) ([]byte, bool) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, false
	}
	b, err := b64.DecodeString(s)
	return b, err == nil && len(b) == 32
}

// numericDate parses a JWT NumericDate (RFC 7519 §2): a JSON number of
// seconds since the epoch, possibly with a fraction. Absent (or null) is
// the zero time, which dpop.Policy.Check refuses; a string, a negative
// number or one beyond the year 9999 is malformed.
func numericDate(raw json.RawMessage) (time.Time, bool) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return time.Time{}, true
	}
	if c := raw[0]; c < '0' || c > '9' {
		return time.Time{}, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(f, 0) || f > 253402300799 { // 9999-12-31T23:59:59Z
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}
