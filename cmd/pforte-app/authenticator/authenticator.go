package authenticator

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/fxamacker/cbor/v2"
)

// Attestation statement formats the authenticator produces.
const (
	// FormatPacked is packed attestation: self attestation (signed by the
	// credential key) unless AttestationCertificate supplies a certificate.
	FormatPacked = "packed"
	// FormatNone carries no attestation statement.
	FormatNone = "none"
)

// coseES256 is the COSE algorithm identifier of ECDSA with P-256 and SHA-256.
const coseES256 = -7

// Authenticator flags (WebAuthn §6.1).
const (
	flagUP = 0x01 // user present
	flagUV = 0x04 // user verified
	flagBE = 0x08 // backup eligible
	flagBS = 0x10 // backed up
	flagAT = 0x40 // attested credential data included
)

// Authenticator holds one credential: a P-256 key, its credential id, the
// user handle and RP id it was registered for, and its signature counter.
// It is safe for concurrent use.
type Authenticator struct {
	mu         sync.Mutex
	key        *ecdsa.PrivateKey
	id         []byte
	userHandle []byte
	rpID       string
	counter    uint32
}

// New creates an authenticator with a fresh P-256 key and a random 32-byte
// credential id.
func New() (*Authenticator, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	id := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	return &Authenticator{key: key, id: id}, nil
}

// CredentialID is the credential id the authenticator reports.
func (a *Authenticator) CredentialID() []byte { return slices.Clone(a.id) }

// SignCount is the counter the last signature reported.
func (a *Authenticator) SignCount() uint32 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.counter
}

// PublicKey is the credential public key as a COSE_Key (what the server
// stores).
func (a *Authenticator) PublicKey() []byte {
	b, err := coseKey(&a.key.PublicKey)
	if err != nil {
		panic(err) // a P-256 key always encodes
	}
	return b
}

// stored is the persisted form: the app keeps it in its state file, which
// is private to the user (0600), because it contains the private key.
type stored struct {
	CredentialID string `json:"credential_id"`
	// PrivateKey is the PKCS#8 DER of the key, base64 (standard).
	PrivateKey string `json:"private_key_pkcs8"`
	UserHandle string `json:"user_handle,omitempty"`
	RPID       string `json:"rp_id,omitempty"`
	SignCount  uint32 `json:"sign_count"`
}

// MarshalJSON returns the authenticator with its private key (PKCS#8).
func (a *Authenticator) MarshalJSON() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(a.key)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	s := stored{
		CredentialID: b64(a.id),
		PrivateKey:   base64.StdEncoding.EncodeToString(der),
		UserHandle:   b64(a.userHandle),
		RPID:         a.rpID,
		SignCount:    a.counter,
	}
	a.mu.Unlock()
	return json.Marshal(s)
}

// UnmarshalJSON restores an authenticator MarshalJSON wrote.
func (a *Authenticator) UnmarshalJSON(data []byte) error {
	var s stored
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	der, err := base64.StdEncoding.DecodeString(s.PrivateKey)
	if err != nil {
		return fmt.Errorf("authenticator: private key: %w", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return fmt.Errorf("authenticator: private key: %w", err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return errors.New("authenticator: the private key is not a P-256 key")
	}
	id, err := unb64(s.CredentialID)
	if err != nil || len(id) == 0 {
		return errors.New("authenticator: bad credential id")
	}
	handle, err := unb64(s.UserHandle)
	if err != nil {
		return errors.New("authenticator: bad user handle")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.key, a.id, a.userHandle, a.rpID, a.counter = key, id, handle, s.RPID, s.SignCount
	return nil
}

// Option changes what Register or Assert produce, mostly to build the
// deliberately wrong responses of tests.
type Option func(*settings)

type settings struct {
	challenge      []byte
	rpIDHash       string
	backupEligible bool
	backedUp       bool
	noUV, noUP     bool
	counter        *uint32
	signer         *ecdsa.PrivateKey
	format         string
	attKey         crypto.Signer
	attChain       [][]byte
	corruptSig     bool
	clientType     string
	androidIssue   func(pub *ecdsa.PublicKey, clientDataHash []byte) ([][]byte, error)
}

// Challenge answers c instead of the challenge in the options.
func Challenge(c []byte) Option { return func(s *settings) { s.challenge = slices.Clone(c) } }

// RPID puts the hash of id in the authenticator data instead of the hash of
// the RP id in the options (a credential for another relying party).
func RPID(id string) Option { return func(s *settings) { s.rpIDHash = id } }

// BackupEligible sets the BE flag: the key claims to be a synced passkey.
func BackupEligible() Option { return func(s *settings) { s.backupEligible = true } }

// BackedUp sets the BE and BS flags: a synced passkey that is backed up.
func BackedUp() Option {
	return func(s *settings) { s.backupEligible, s.backedUp = true, true }
}

// WithoutUserVerification clears the UV flag.
func WithoutUserVerification() Option { return func(s *settings) { s.noUV = true } }

// WithoutUserPresence clears the UP flag.
func WithoutUserPresence() Option { return func(s *settings) { s.noUP = true } }

// Counter reports n as the signature counter and leaves the stored counter
// alone (a clone of the key reporting its own, older counter).
func Counter(n uint32) Option { return func(s *settings) { s.counter = &n } }

// SignedBy signs with other's key instead of this authenticator's.
func SignedBy(other *Authenticator) Option { return func(s *settings) { s.signer = other.key } }

// Format chooses the attestation statement format of Register: FormatPacked
// or FormatNone. Without it, Register answers "none" when the options ask
// for no attestation (as a client does) and packed otherwise.
func Format(f string) Option { return func(s *settings) { s.format = f } }

// AttestationCertificate makes Register sign a packed attestation with key
// and send chain (DER, attestation certificate first) as x5c: basic
// attestation as an authenticator vendor's would be.
func AttestationCertificate(key crypto.Signer, chain ...[]byte) Option {
	return func(s *settings) { s.attKey, s.attChain = key, chain }
}

// AndroidKey makes Register answer with an android-key statement, as an
// Android app that creates its key in the Keystore would: signed by the
// credential key, with the chain issue returns for it (DER, the key's
// certificate first; Keystore puts clientDataHash in the certificate's key
// description as attestation challenge). Tests use it with their own CA to
// show what Pforte makes of a chain Google did not issue.
func AndroidKey(issue func(pub *ecdsa.PublicKey, clientDataHash []byte) ([][]byte, error)) Option {
	return func(s *settings) { s.format, s.androidIssue = "android-key", issue }
}

// CorruptSignature flips a bit of the signature.
func CorruptSignature() Option { return func(s *settings) { s.corruptSig = true } }

// ClientDataType writes t as the type of the client data (e.g. a
// "webauthn.get" in a registration).
func ClientDataType(t string) Option { return func(s *settings) { s.clientType = t } }

func collect(opts []Option) settings {
	var s settings
	for _, o := range opts {
		o(&s)
	}
	return s
}

// descriptor is a PublicKeyCredentialDescriptorJSON.
type descriptor struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// credParam is a PublicKeyCredentialParameters.
type credParam struct {
	Type string `json:"type"`
	Alg  int    `json:"alg"`
}

// creationOptions is the part of PublicKeyCredentialCreationOptionsJSON an
// authenticator and its client look at.
type creationOptions struct {
	RP struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"rp"`
	User struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		DisplayName string `json:"displayName"`
	} `json:"user"`
	Challenge              string       `json:"challenge"`
	PubKeyCredParams       []credParam  `json:"pubKeyCredParams"`
	ExcludeCredentials     []descriptor `json:"excludeCredentials"`
	AuthenticatorSelection struct {
		AuthenticatorAttachment string `json:"authenticatorAttachment"`
	} `json:"authenticatorSelection"`
	Attestation string `json:"attestation"`
}

// requestOptions is the part of PublicKeyCredentialRequestOptionsJSON an
// authenticator and its client look at.
type requestOptions struct {
	Challenge        string       `json:"challenge"`
	RPID             string       `json:"rpId"`
	AllowCredentials []descriptor `json:"allowCredentials"`
}

// clientData is CollectedClientData, members in the order browsers write
// them.
type clientData struct {
	Type        string `json:"type"`
	Challenge   string `json:"challenge"`
	Origin      string `json:"origin"`
	CrossOrigin bool   `json:"crossOrigin"`
}

// unwrap accepts the options bare or inside {"publicKey": …} (the
// navigator.credentials argument).
func unwrap(options []byte) ([]byte, error) {
	var w struct {
		PublicKey json.RawMessage `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &w); err != nil {
		return nil, fmt.Errorf("authenticator: options are not JSON: %w", err)
	}
	if len(w.PublicKey) > 0 {
		return w.PublicKey, nil
	}
	return options, nil
}

// Register answers creation options (JSON) as the platform authenticator
// and its client would for origin: it creates the credential for the RP
// and user in the options and returns the RegistrationResponseJSON.
// It refuses, as a real one does, options that exclude its credential,
// that do not allow ES256, that ask for a roaming authenticator, or whose
// RP id does not belong to a web origin.
func (a *Authenticator) Register(options []byte, origin string, opts ...Option) ([]byte, error) {
	s := collect(opts)
	raw, err := unwrap(options)
	if err != nil {
		return nil, err
	}
	var o creationOptions
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, fmt.Errorf("authenticator: creation options: %w", err)
	}
	rpID, err := effectiveRPID(o.RP.ID, origin)
	if err != nil {
		return nil, err
	}
	challenge, err := unb64(o.Challenge)
	if err != nil || len(challenge) == 0 {
		return nil, errors.New("authenticator: the options carry no challenge")
	}
	if s.challenge != nil {
		challenge = s.challenge
	}
	userHandle, err := unb64(o.User.ID)
	if err != nil || len(userHandle) == 0 || len(userHandle) > 64 {
		return nil, errors.New("authenticator: the user id must be 1 to 64 bytes, base64url")
	}
	if len(o.PubKeyCredParams) > 0 && !slices.Contains(o.PubKeyCredParams, credParam{"public-key", coseES256}) {
		return nil, errors.New("authenticator: NotSupportedError: the options do not allow ES256")
	}
	if o.AuthenticatorSelection.AuthenticatorAttachment == "cross-platform" {
		return nil, errors.New("authenticator: NotAllowedError: the options ask for a roaming authenticator")
	}
	if a.listed(o.ExcludeCredentials) {
		return nil, errors.New("authenticator: InvalidStateError: this credential is already registered (exclude list)")
	}
	format := s.format
	if format == "" {
		format = FormatPacked
		if o.Attestation == "" || o.Attestation == "none" {
			format = FormatNone
		}
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	counter := a.counter
	if s.counter != nil {
		counter = *s.counter
	}
	cose, err := coseKey(&a.key.PublicKey)
	if err != nil {
		return nil, err
	}
	authData := authenticatorData(rpIDFor(rpID, s), flags(s)|flagAT, counter)
	authData = append(authData, make([]byte, 16)...) // AAGUID: zero, a software key has no model
	authData = binary.BigEndian.AppendUint16(authData, uint16(len(a.id)))
	authData = append(authData, a.id...)
	authData = append(authData, cose...)

	cdj, err := json.Marshal(clientData{Type: typeOr(s.clientType, "webauthn.create"), Challenge: b64(challenge), Origin: origin})
	if err != nil {
		return nil, err
	}
	stmt := map[string]any{}
	switch format {
	case FormatNone:
	case FormatPacked:
		var signer crypto.Signer = a.key
		if s.signer != nil {
			signer = s.signer
		}
		if s.attKey != nil {
			signer = s.attKey
			stmt["x5c"] = s.attChain
		}
		sig, err := sign(signer, authData, cdj, s.corruptSig)
		if err != nil {
			return nil, err
		}
		stmt["alg"] = coseES256
		stmt["sig"] = sig
	case "android-key":
		if s.androidIssue == nil {
			return nil, errors.New("authenticator: android-key needs AndroidKey")
		}
		cdh := sha256.Sum256(cdj)
		chain, err := s.androidIssue(&a.key.PublicKey, cdh[:])
		if err != nil {
			return nil, err
		}
		var signer crypto.Signer = a.key
		if s.signer != nil {
			signer = s.signer
		}
		sig, err := sign(signer, authData, cdj, s.corruptSig)
		if err != nil {
			return nil, err
		}
		stmt["alg"], stmt["sig"], stmt["x5c"] = coseES256, sig, chain
	default:
		return nil, fmt.Errorf("authenticator: unknown attestation format %q", format)
	}
	em, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		return nil, err
	}
	attObj, err := em.Marshal(map[string]any{"fmt": format, "attStmt": stmt, "authData": authData})
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(&a.key.PublicKey)
	if err != nil {
		return nil, err
	}
	a.userHandle, a.rpID = userHandle, rpID
	return json.Marshal(registrationResponse{
		ID:    b64(a.id),
		RawID: b64(a.id),
		Type:  "public-key",
		Response: attestationResponse{
			ClientDataJSON:     b64(cdj),
			AttestationObject:  b64(attObj),
			AuthenticatorData:  b64(authData),
			PublicKey:          b64(spki),
			PublicKeyAlgorithm: coseES256,
			Transports:         []string{"internal"},
		},
		AuthenticatorAttachment: "platform",
		ClientExtensionResults:  map[string]any{},
	})
}

// Assert answers request options (JSON) for origin with an assertion by
// the credential: the counter grows by one and the AuthenticationResponseJSON
// is returned. It refuses options whose allow list does not name its
// credential and options for another RP than the one it registered with.
func (a *Authenticator) Assert(options []byte, origin string, opts ...Option) ([]byte, error) {
	s := collect(opts)
	raw, err := unwrap(options)
	if err != nil {
		return nil, err
	}
	var o requestOptions
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, fmt.Errorf("authenticator: request options: %w", err)
	}
	rpID, err := effectiveRPID(o.RPID, origin)
	if err != nil {
		return nil, err
	}
	challenge, err := unb64(o.Challenge)
	if err != nil || len(challenge) == 0 {
		return nil, errors.New("authenticator: the options carry no challenge")
	}
	if s.challenge != nil {
		challenge = s.challenge
	}
	if len(o.AllowCredentials) > 0 && !a.listed(o.AllowCredentials) {
		return nil, errors.New("authenticator: NotAllowedError: the allow list does not name this credential")
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	if a.rpID != "" && a.rpID != rpID {
		return nil, fmt.Errorf("authenticator: NotAllowedError: the credential belongs to %q, not %q", a.rpID, rpID)
	}
	var counter uint32
	if s.counter != nil {
		counter = *s.counter
	} else {
		a.counter++
		counter = a.counter
	}
	authData := authenticatorData(rpIDFor(rpID, s), flags(s), counter)
	cdj, err := json.Marshal(clientData{Type: typeOr(s.clientType, "webauthn.get"), Challenge: b64(challenge), Origin: origin})
	if err != nil {
		return nil, err
	}
	var signer crypto.Signer = a.key
	if s.signer != nil {
		signer = s.signer
	}
	sig, err := sign(signer, authData, cdj, s.corruptSig)
	if err != nil {
		return nil, err
	}
	return json.Marshal(assertionResponseJSON{
		ID:    b64(a.id),
		RawID: b64(a.id),
		Type:  "public-key",
		Response: assertionResponse{
			ClientDataJSON:    b64(cdj),
			AuthenticatorData: b64(authData),
			Signature:         b64(sig),
			UserHandle:        b64(a.userHandle),
		},
		AuthenticatorAttachment: "platform",
		ClientExtensionResults:  map[string]any{},
	})
}

// registrationResponse is RegistrationResponseJSON (WebAuthn L3 §5.1).
type registrationResponse struct {
	ID                      string              `json:"id"`
	RawID                   string              `json:"rawId"`
	Type                    string              `json:"type"`
	Response                attestationResponse `json:"response"`
	AuthenticatorAttachment string              `json:"authenticatorAttachment"`
	ClientExtensionResults  map[string]any      `json:"clientExtensionResults"`
}

type attestationResponse struct {
	ClientDataJSON     string   `json:"clientDataJSON"`
	AttestationObject  string   `json:"attestationObject"`
	AuthenticatorData  string   `json:"authenticatorData"`
	PublicKey          string   `json:"publicKey"`
	PublicKeyAlgorithm int      `json:"publicKeyAlgorithm"`
	Transports         []string `json:"transports"`
}

// assertionResponseJSON is AuthenticationResponseJSON (WebAuthn L3 §5.1).
type assertionResponseJSON struct {
	ID                      string            `json:"id"`
	RawID                   string            `json:"rawId"`
	Type                    string            `json:"type"`
	Response                assertionResponse `json:"response"`
	AuthenticatorAttachment string            `json:"authenticatorAttachment"`
	ClientExtensionResults  map[string]any    `json:"clientExtensionResults"`
}

type assertionResponse struct {
	ClientDataJSON    string `json:"clientDataJSON"`
	AuthenticatorData string `json:"authenticatorData"`
	Signature         string `json:"signature"`
	UserHandle        string `json:"userHandle,omitempty"`
}

// listed reports whether the descriptors name this credential.
func (a *Authenticator) listed(ds []descriptor) bool {
	for _, d := range ds {
		if id, err := unb64(d.ID); err == nil && (d.Type == "" || d.Type == "public-key") && string(id) == string(a.id) {
			return true
		}
	}
	return false
}

// effectiveRPID is the RP id a client uses: the one in the options, or the
// origin's host. For a web origin the RP id must be the host or a parent
// domain of it (WebAuthn §5.1.3 step 8); a native app's origin
// ("android:apk-key-hash:…") is vouched for by the app itself.
func effectiveRPID(rpID, origin string) (string, error) {
	u, err := url.Parse(origin)
	web := err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
	if rpID == "" {
		if !web {
			return "", errors.New("authenticator: the options name no RP id")
		}
		return u.Hostname(), nil
	}
	if web {
		host := u.Hostname()
		if host != rpID && !strings.HasSuffix(host, "."+rpID) {
			return "", fmt.Errorf("authenticator: SecurityError: RP id %q does not belong to origin %q", rpID, origin)
		}
	}
	return rpID, nil
}

func rpIDFor(rpID string, s settings) string {
	if s.rpIDHash != "" {
		return s.rpIDHash
	}
	return rpID
}

func flags(s settings) byte {
	f := byte(flagUP | flagUV)
	if s.noUP {
		f &^= flagUP
	}
	if s.noUV {
		f &^= flagUV
	}
	if s.backupEligible {
		f |= flagBE
	}
	if s.backedUp {
		f |= flagBS
	}
	return f
}

// authenticatorData is rpIdHash ‖ flags ‖ signCount (WebAuthn §6.1).
func authenticatorData(rpID string, flags byte, counter uint32) []byte {
	h := sha256.Sum256([]byte(rpID))
	d := append(h[:], flags)
	return binary.BigEndian.AppendUint32(d, counter)
}

// sign signs authData ‖ SHA-256(clientDataJSON) with ECDSA P-256/SHA-256,
// ASN.1 DER as WebAuthn requires for ES256.
func sign(signer crypto.Signer, authData, clientDataJSON []byte, corrupt bool) ([]byte, error) {
	cdh := sha256.Sum256(clientDataJSON)
	digest := sha256.Sum256(append(slices.Clone(authData), cdh[:]...))
	sig, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	if corrupt {
		sig[len(sig)-1] ^= 0x01
	}
	return sig, nil
}

// coseKey encodes a P-256 public key as a COSE_Key (RFC 9053 §7.1.1):
// kty EC2, alg ES256, crv P-256, x, y.
func coseKey(pub *ecdsa.PublicKey) ([]byte, error) {
	uncompressed, err := pub.Bytes() // 0x04 ‖ x ‖ y
	if err != nil {
		return nil, err
	}
	em, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		return nil, err
	}
	return em.Marshal(map[int]any{
		1:  2,         // kty: EC2
		3:  coseES256, // alg
		-1: 1,         // crv: P-256
		-2: uncompressed[1:33],
		-3: uncompressed[33:],
	})
}

func typeOr(t, def string) string {
	if t != "" {
		return t
	}
	return def
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// unb64 decodes base64url with or without padding.
func unb64(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}
