package dpop

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"
)

var b64 = base64.RawURLEncoding

// Key is a DPoP key pair. It is immutable once made (NewKey) or restored
// (UnmarshalJSON), and then safe for concurrent use.
type Key struct {
	priv *ecdsa.PrivateKey
	// header is the base64url protected header, the same for every proof.
	header string
	jkt    string
}

// NewKey makes a fresh P-256 key.
func NewKey() (*Key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return newKey(priv)
}

func newKey(priv *ecdsa.PrivateKey) (*Key, error) {
	point, err := priv.PublicKey.Bytes() // 0x04 ‖ X ‖ Y, each 32 bytes
	if err != nil {
		return nil, fmt.Errorf("dpop: %w", err)
	}
	x, y := b64.EncodeToString(point[1:33]), b64.EncodeToString(point[33:])
	// The header names the key by value (jwk), never by reference: the
	// server has no other way to learn it. Members in a fixed order keep
	// the header byte-for-byte stable.
	hdr := `{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"` + x + `","y":"` + y + `"}}`
	// RFC 7638: SHA-256 of the required members, in lexicographic order,
	// without white space.
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`))
	return &Key{priv: priv, header: b64.EncodeToString([]byte(hdr)), jkt: b64.EncodeToString(sum[:])}, nil
}

// Thumbprint is the key's JWK SHA-256 thumbprint (RFC 7638, base64url):
// the dpop_jkt of an authorization request and the cnf.jkt of the tokens
// bound to the key.
func (k *Key) Thumbprint() string { return k.jkt }

// claims are the claims of a proof (RFC 9449 §4.2).
type claims struct {
	JTI   string `json:"jti"`
	HTM   string `json:"htm"`
	HTU   string `json:"htu"`
	IAT   int64  `json:"iat"`
	ATH   string `json:"ath,omitempty"`
	Nonce string `json:"nonce,omitempty"`
}

// Proof returns a DPoP proof for a request with method to target (its query
// and fragment are left out of htu, as RFC 9449 §4.2 says), made at now
// with a random jti. accessToken is the access token the request presents
// ("" at the token endpoint; otherwise its hash becomes ath), nonce the
// server's last DPoP-Nonce ("" when none was given).
func (k *Key) Proof(method, target, accessToken, nonce string, now time.Time) (string, error) {
	if method == "" {
		return "", errors.New("dpop: no method")
	}
	u, err := url.Parse(target)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return "", fmt.Errorf("dpop: %q is not an absolute URL", target)
	}
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	c := claims{JTI: b64.EncodeToString(jti), HTM: method, HTU: u.String(), IAT: now.Unix(), Nonce: nonce}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		c.ATH = b64.EncodeToString(sum[:])
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	input := k.header + "." + b64.EncodeToString(payload)
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k.priv, digest[:])
	if err != nil {
		return "", err
	}
	// JWS ES256 signatures are R ‖ S, 32 bytes each (RFC 7518 §3.4).
	var sig [64]byte
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64.EncodeToString(sig[:]), nil
}

// stored is the persisted form. It holds the private key, so the state
// file that keeps it is private to the user (0600).
type stored struct {
	// PrivateKey is the PKCS#8 DER of the key, base64 (standard).
	PrivateKey string `json:"private_key_pkcs8"`
}

// MarshalJSON returns the key with its private part (PKCS#8).
func (k *Key) MarshalJSON() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.priv)
	if err != nil {
		return nil, err
	}
	return json.Marshal(stored{PrivateKey: base64.StdEncoding.EncodeToString(der)})
}

// UnmarshalJSON restores a key MarshalJSON wrote.
func (k *Key) UnmarshalJSON(data []byte) error {
	var s stored
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	der, err := base64.StdEncoding.DecodeString(s.PrivateKey)
	if err != nil {
		return fmt.Errorf("dpop: private key: %w", err)
	}
	p, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return fmt.Errorf("dpop: private key: %w", err)
	}
	priv, ok := p.(*ecdsa.PrivateKey)
	if !ok || priv.Curve != elliptic.P256() {
		return errors.New("dpop: the private key is not a P-256 key")
	}
	nk, err := newKey(priv)
	if err != nil {
		return err
	}
	*k = *nk
	return nil
}
