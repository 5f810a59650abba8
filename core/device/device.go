package device

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/pin"
)

// Platform is what kind of app holds the key.
type Platform string

const (
	Android  Platform = "android"
	IOS      Platform = "ios"
	Software Platform = "software" // the reference client; development only
)

// Status is where a binding is in its life.
type Status string

const (
	// Active: the key may log in.
	Active Status = "active"
	// Blocked: the PIN was wrong too often; a PIN reset or re-proofing
	// unblocks it.
	Blocked Status = "blocked"
	// Suspect: the sign counter went backwards; the key may have been
	// cloned. Final: the member binds the device anew.
	Suspect Status = "suspect"
	// Revoked: removed by the member or support. Final.
	Revoked Status = "revoked"
)

// Binding is one device binding of a member's account.
type Binding struct {
	ID        string
	AccountID string
	// EnrollmentID is the enrollment session the key was bound in.
	EnrollmentID string
	Name         string
	Platform     Platform
	// CredentialID and PublicKey (COSE) identify and verify the key.
	CredentialID []byte
	PublicKey    []byte
	SignCount    uint32
	AAGUID       []byte
	// AttestationFormat is the WebAuthn attestation statement format.
	AttestationFormat string
	Status            Status
	// PINHash is the keyed hash of the release PIN (pin.Hasher); empty
	// until the member set one.
	PINHash string
	// PIN is the attempt counter.
	PIN        pin.Counter
	CreatedAt  time.Time
	LastUsedAt time.Time
	PINSetAt   time.Time
	RevokedAt  time.Time
	// ConfirmedAt is when the member last re-confirmed the binding
	// (Reconfirm); zero until the first time, when CreatedAt counts.
	ConfirmedAt time.Time
}

// Usable reports whether the binding can authenticate.
func (b Binding) Usable() bool { return b.Status == Active && b.PINHash != "" }

// CodeName: a device name must have 1 to 64 printable characters. No
// parameters.
const CodeName fault.Code = "device.name"

// CodeRollback: the sign counter did not grow; the binding can no longer
// be used and must be bound anew. No parameters.
const CodeRollback fault.Code = "device.rollback"

// NameOK checks a member-given device name: 1 to 64 printable characters.
// Errors: fault.Invalid.
func NameOK(name string) error {
	n := len([]rune(strings.TrimSpace(name)))
	if n == 0 || n > 64 || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fault.Coded(fault.Invalid, "device.NameOK", CodeName)
	}
	return nil
}

// CounterAfter checks a sign counter reported by an assertion against the
// stored one. Authenticators that do not count report 0 every time; any
// other value must grow. A counter that does not grow means two copies of
// the key exist (WebAuthn §6.1.1): the binding is refused and flagged.
// Errors: fault.Forbidden for a rollback.
func CounterAfter(stored, reported uint32) (uint32, error) {
	if stored == 0 && reported == 0 {
		return 0, nil
	}
	if reported <= stored {
		return stored, fault.Coded(fault.Forbidden, "device.CounterAfter", CodeRollback)
	}
	return reported, nil
}

// Attestation is what the key verifier learned about a new key from its
// attestation statement. The verifier checks signatures and certificate
// chains; the Policy decides whether that is enough.
type Attestation struct {
	// Format is the statement format: "android-key", "packed", "none",
	// "apple-appattest".
	Format string
	// Trusted: the statement chains to a configured trust anchor (Google's
	// hardware attestation root for android-key, a configured root for
	// packed).
	Trusted bool
	// Self: packed self attestation (signed by the credential key itself).
	Self bool
	// HardwareBacked: android-key reports TEE or StrongBox for the key.
	HardwareBacked bool
	// PackageName and SigningCertDigests (SHA-256) are the Android app the
	// key belongs to, from the key description extension.
	PackageName        string
	SigningCertDigests [][]byte
	// BackupEligible and BackedUp are the BE and BS flags of the
	// authenticator data: a synced passkey.
	BackupEligible bool
	BackedUp       bool
	AAGUID         []byte
}

// Policy is which attestations are accepted: per environment, from the
// configuration.
type Policy struct {
	// AndroidPackage and AndroidCertDigests (hex SHA-256 of the signing
	// certificate) name the insurer's Android app.
	AndroidPackage     string
	AndroidCertDigests []string
	// AllowPacked accepts packed attestation chaining to a configured
	// trust anchor.
	AllowPacked bool
	// AllowUnattested accepts "none" and packed self attestation:
	// development only.
	AllowUnattested bool
}

// Validate checks the policy: it accepts some attestation, and the
// Android app is named with its signing certificate digests. Errors:
// fault.Invalid whose Op names the field ("device.Policy.AndroidPackage").
func (p Policy) Validate() error {
	field := func(name, msg string) error { return fault.New(fault.Invalid, "device.Policy."+name, msg) }
	for _, d := range p.AndroidCertDigests {
		if b, err := hex.DecodeString(strings.ReplaceAll(d, ":", "")); err != nil || len(b) != 32 {
			return field("AndroidCertDigests", fmt.Sprintf("%q is not a hex SHA-256 digest", d))
		}
	}
	switch {
	case p.AndroidPackage != "" && len(p.AndroidCertDigests) == 0:
		return field("AndroidCertDigests", "the Android app needs the SHA-256 digest of its signing certificate")
	case p.AndroidPackage == "" && len(p.AndroidCertDigests) > 0:
		return field("AndroidPackage", "set together with the signing certificate digests")
	case p.AndroidPackage == "" && !p.AllowPacked && !p.AllowUnattested:
		return field("AndroidPackage", "the device policy accepts no attestation: name the Android app, allow packed attestation, or (development only) allow unattested keys")
	}
	return nil
}

// Codes of a refused key (Accept); none has parameters.
const (
	CodeSynced       fault.Code = "device.synced"             // a synced passkey
	CodeNotHardware  fault.Code = "device.not_hardware"       // not proven to be in secure hardware
	CodeOtherApp     fault.Code = "device.other_app"          // another app's key
	CodeAppSigner    fault.Code = "device.app_signer"         // the app is not signed with the insurer's key
	CodeSelfAttested fault.Code = "device.self_attested"      // self attestation outside development
	CodeUntrusted    fault.Code = "device.untrusted"          // an attestation without a trusted chain
	CodeUnattested   fault.Code = "device.unattested"         // no attestation outside development
	CodeFormat       fault.Code = "device.attestation_format" // an unsupported attestation format
)

// Accept decides whether a key with attestation a may be bound.
// Errors: fault.Forbidden with one of the codes above.
func (p Policy) Accept(a Attestation) error {
	no := func(why fault.Code) error {
		return fault.Coded(fault.Forbidden, "device.Policy.Accept", why)
	}
	// A synced passkey lives in a cloud account and on other devices: it
	// proves no possession of this phone.
	if a.BackupEligible || a.BackedUp {
		return no(CodeSynced)
	}
	switch a.Format {
	case "android-key":
		if !a.Trusted || !a.HardwareBacked {
			return no(CodeNotHardware)
		}
		if p.AndroidPackage == "" || a.PackageName != p.AndroidPackage {
			return no(CodeOtherApp)
		}
		if !p.certKnown(a.SigningCertDigests) {
			return no(CodeAppSigner)
		}
		return nil
	case "packed":
		if a.Self {
			if p.AllowUnattested {
				return nil
			}
			return no(CodeSelfAttested)
		}
		if p.AllowPacked && a.Trusted {
			return nil
		}
		return no(CodeUntrusted)
	case "none":
		if p.AllowUnattested {
			return nil
		}
		return no(CodeUnattested)
	}
	return no(CodeFormat)
}

func (p Policy) certKnown(digests [][]byte) bool {
	for _, want := range p.AndroidCertDigests {
		w, err := hex.DecodeString(strings.ReplaceAll(want, ":", ""))
		if err != nil {
			continue
		}
		if slices.ContainsFunc(digests, func(d []byte) bool { return bytes.Equal(d, w) }) {
			return true
		}
	}
	return false
}
