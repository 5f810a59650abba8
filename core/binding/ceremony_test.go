package binding_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"sync"

	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/ports/devicekey"
)

// keys is a fake WebAuthn ceremony. A phone's "public key" is a random
// secret that both sides know; its "signature" over a challenge is
// SHA-256(key ‖ challenge ‖ sign count). That is no cryptography, but it
// lets a test answer with another key, another challenge or a forged
// counter, and see core refuse it.
type keys struct{}

var _ devicekey.Ceremony = keys{}

type regOptions struct {
	Challenge []byte   `json:"challenge"`
	Handle    []byte   `json:"handle"`
	Name      string   `json:"name"`
	Exclude   [][]byte `json:"exclude"`
}

type regResponse struct {
	Challenge      []byte `json:"challenge"`
	CredentialID   []byte `json:"credential_id"`
	PublicKey      []byte `json:"public_key"`
	SignCount      uint32 `json:"sign_count"`
	Format         string `json:"format"`
	Self           bool   `json:"self"`
	Trusted        bool   `json:"trusted"`
	BackupEligible bool   `json:"backup_eligible"`
}

type authOptions struct {
	Challenge []byte   `json:"challenge"`
	Allow     [][]byte `json:"allow"`
}

type authResponse struct {
	Challenge    []byte `json:"challenge"`
	CredentialID []byte `json:"credential_id"`
	SignCount    uint32 `json:"sign_count"`
	Signature    []byte `json:"signature"`
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func sign(key, challenge []byte, count uint32) []byte {
	h := sha256.New()
	h.Write(key)
	h.Write(challenge)
	_ = binary.Write(h, binary.BigEndian, count)
	return h.Sum(nil)
}

func (keys) RegistrationOptions(_ context.Context, u devicekey.User, exclude [][]byte) ([]byte, []byte, error) {
	ch := randomBytes(32)
	opts, err := json.Marshal(regOptions{Challenge: ch, Handle: u.Handle, Name: u.Name, Exclude: exclude})
	return opts, ch, err
}

func (keys) VerifyRegistration(_ context.Context, state, response []byte) (devicekey.NewKey, error) {
	var r regResponse
	if err := json.Unmarshal(response, &r); err != nil || len(r.CredentialID) == 0 {
		return devicekey.NewKey{}, fault.New(fault.Invalid, "fake.VerifyRegistration", "")
	}
	if !bytes.Equal(r.Challenge, state) {
		return devicekey.NewKey{}, fault.New(fault.Unauthenticated, "fake.VerifyRegistration", "")
	}
	return devicekey.NewKey{
		CredentialID: r.CredentialID, PublicKey: r.PublicKey, SignCount: r.SignCount,
		Attestation: device.Attestation{
			Format: r.Format, Self: r.Self, Trusted: r.Trusted, BackupEligible: r.BackupEligible,
			AAGUID: []byte("fake-aaguid-0001"),
		},
	}, nil
}

func (keys) AssertionOptions(_ context.Context, allow [][]byte) ([]byte, []byte, error) {
	ch := randomBytes(32)
	opts, err := json.Marshal(authOptions{Challenge: ch, Allow: allow})
	return opts, ch, err
}

func (keys) VerifyAssertion(_ context.Context, state, response []byte, key devicekey.Key) (devicekey.Assertion, error) {
	var r authResponse
	if err := json.Unmarshal(response, &r); err != nil {
		return devicekey.Assertion{}, fault.New(fault.Invalid, "fake.VerifyAssertion", "")
	}
	if !bytes.Equal(r.Challenge, state) || !bytes.Equal(r.Signature, sign(key.PublicKey, r.Challenge, r.SignCount)) {
		return devicekey.Assertion{}, fault.New(fault.Unauthenticated, "fake.VerifyAssertion", "")
	}
	return devicekey.Assertion{CredentialID: r.CredentialID, SignCount: r.SignCount, UserVerified: true}, nil
}

// phone is the app side: one key, its sign counter and the attestation
// it presents. step is how much the counter grows per assertion (0: the
// authenticator does not count).
type phone struct {
	mu     sync.Mutex
	credID []byte
	key    []byte
	count  uint32
	step   uint32
	format string
	self   bool
	backup bool
}

func newPhone() *phone {
	return &phone{credID: randomBytes(16), key: randomBytes(32), step: 1, format: "packed", self: true}
}

// register answers creation options.
func (p *phone) register(options []byte) []byte {
	var o regOptions
	if err := json.Unmarshal(options, &o); err != nil {
		panic(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	b, _ := json.Marshal(regResponse{
		Challenge: o.Challenge, CredentialID: p.credID, PublicKey: p.key, SignCount: p.count,
		Format: p.format, Self: p.self, BackupEligible: p.backup,
	})
	return b
}

// assert answers request options with the phone's key.
func (p *phone) assert(options []byte) []byte {
	var o authOptions
	if err := json.Unmarshal(options, &o); err != nil {
		panic(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.count += p.step
	b, _ := json.Marshal(authResponse{
		Challenge: o.Challenge, CredentialID: p.credID, SignCount: p.count, Signature: sign(p.key, o.Challenge, p.count),
	})
	return b
}

func (p *phone) setCount(n uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.count = n
}
