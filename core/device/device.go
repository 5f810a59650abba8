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

// SecurityLevel is where Android keeps a key, or makes its attestation:
// the key description's SecurityLevel.
type SecurityLevel string

const (
	// LevelSoftware: Android's software keystore; an app with root rights
	// can read the key.
	LevelSoftware SecurityLevel = "software"
	// LevelTEE: the trusted execution environment.
	LevelTEE SecurityLevel = "tee"
	// LevelStrongBox: a separate secure element.
	LevelStrongBox SecurityLevel = "strongbox"
)

// hardware reports whether l is secure hardware.
func (l SecurityLevel) hardware() bool { return l == LevelTEE || l == LevelStrongBox }

// BootState is the verified boot state of an Android device's root of
// trust, as its secure hardware saw the device start.
type BootState string

const (
	// BootVerified: the whole boot chain is signed by the manufacturer's
	// key (Android's "green" state).
	BootVerified BootState = "verified"
	// BootSelfSigned: signed by a key the owner installed ("yellow"): a
	// custom system image.
	BootSelfSigned BootState = "self_signed"
	// BootUnverified: nothing is verified ("orange"): the bootloader is
	// open and the system may be anything, including rooted.
	BootUnverified BootState = "unverified"
	// BootFailed: verification failed ("red").
	BootFailed BootState = "failed"
)

// Revocation is the status of an attestation certificate on the
// manufacturer's revocation list; empty: not listed (or no list checked).
type Revocation string

const (
	// CertRevoked: the certificate's key leaked or was misused; final.
	CertRevoked Revocation = "REVOKED"
	// CertSuspended: withdrawn for now, for example while a leak is examined.
	CertSuspended Revocation = "SUSPENDED"
)

// AAGUIDs of Apple App Attest: which App Attest environment made the key.
var (
	// AAGUIDAppAttest: the production environment (App Store, TestFlight).
	AAGUIDAppAttest = []byte("appattest\x00\x00\x00\x00\x00\x00\x00")
	// AAGUIDAppAttestDevelop: the development environment (builds signed
	// with a development profile); its keys prove little about the device.
	AAGUIDAppAttestDevelop = []byte("appattestdevelop")
)

// Attestation is what the key verifier learned about a new key from its
// attestation statement. The verifier checks signatures and certificate
// chains; the Policy decides whether that is enough. A field the verifier
// cannot establish keeps its zero value, which reads as "not proven".
type Attestation struct {
	// Format is the statement format: "android-key", "packed", "none",
	// "apple-appattest".
	Format string
	// Trusted: the statement chains to a configured trust anchor (Google's
	// hardware attestation root for android-key, Apple's App Attestation
	// root for apple-appattest, a configured root for packed).
	Trusted bool
	// Self: packed self attestation (signed by the credential key itself).
	Self bool
	// AttestationLevel and KeyLevel are the android-key security levels of
	// the attestation and of the key itself; empty for other formats.
	AttestationLevel SecurityLevel
	KeyLevel         SecurityLevel
	// BootState and DeviceLocked are the android-key root of trust from
	// the hardware-enforced authorization list: the verified boot state
	// and whether the bootloader is locked. Empty and false when the
	// hardware list has no root of trust.
	BootState    BootState
	DeviceLocked bool
	// Revocation is the worst status any certificate of the android-key
	// chain has on Google's attestation status list; empty when none is
	// listed or no list is configured (RevocationChecked says which).
	Revocation        Revocation
	RevocationChecked bool
	// PackageName is the app the key belongs to: for android-key the
	// package names of the key description (joined by ","), for
	// apple-appattest the App ID (team id "." bundle id) whose hash the
	// authenticator data carries, when it is the configured one.
	// SigningCertDigests (SHA-256) are the Android app's signing
	// certificates.
	PackageName        string
	SigningCertDigests [][]byte
	// BackupEligible and BackedUp are the BE and BS flags of the
	// authenticator data: a synced passkey.
	BackupEligible bool
	BackedUp       bool
	AAGUID         []byte
}

// HardwareBacked reports whether both the android-key attestation and
// the key live in a trusted execution environment or a StrongBox.
func (a Attestation) HardwareBacked() bool {
	return a.AttestationLevel.hardware() && a.KeyLevel.hardware()
}

// Policy is which attestations are accepted: per environment, from the
// configuration. Its zero value is the strictest: every allowance is
// opt-in.
type Policy struct {
	// AndroidPackage and AndroidCertDigests (hex SHA-256 of the signing
	// certificate) name the insurer's Android app.
	AndroidPackage     string
	AndroidCertDigests []string
	// AllowOpenDevice accepts an android-key attestation whose root of
	// trust shows an unlocked bootloader or a boot state other than
	// verified: a developer's phone. Development only: on such a phone
	// the system may be rooted, and hardware attestation alone then says
	// nothing about who controls the app.
	AllowOpenDevice bool
	// AppleAppID is the insurer's iOS app for apple-appattest: team id,
	// ".", bundle id ("ABCDE12345.de.example.serviceapp"). Empty: App
	// Attest keys are refused.
	AppleAppID string
	// AllowAppAttestDevelop accepts App Attest keys of the development
	// environment (AAGUID "appattestdevelop"): development only.
	AllowAppAttestDevelop bool
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
	case p.AppleAppID != "" && !appleAppID(p.AppleAppID):
		return field("AppleAppID", fmt.Sprintf("%q is not an App ID: the 10-character team id, a dot and the bundle id", p.AppleAppID))
	case p.AllowAppAttestDevelop && p.AppleAppID == "":
		return field("AllowAppAttestDevelop", "set together with the App ID")
	case p.AndroidPackage == "" && p.AppleAppID == "" && !p.AllowPacked && !p.AllowUnattested:
		return field("AndroidPackage", "the device policy accepts no attestation: name the Android or iOS app, allow packed attestation, or (development only) allow unattested keys")
	}
	return nil
}

// Codes of a refused key (Accept); none has parameters.
const (
	CodeSynced       fault.Code = "device.synced"                // a synced passkey
	CodeNotHardware  fault.Code = "device.not_hardware"          // not proven to be in secure hardware
	CodeOtherApp     fault.Code = "device.other_app"             // another app's key
	CodeAppSigner    fault.Code = "device.app_signer"            // the app is not signed with the insurer's key
	CodeSelfAttested fault.Code = "device.self_attested"         // self attestation outside development
	CodeUntrusted    fault.Code = "device.untrusted"             // an attestation without a trusted chain
	CodeUnattested   fault.Code = "device.unattested"            // no attestation outside development
	CodeFormat       fault.Code = "device.attestation_format"    // an unsupported attestation format
	CodeBootloader   fault.Code = "device.bootloader_unlocked"   // android-key: the bootloader is unlocked
	CodeBootState    fault.Code = "device.boot_unverified"       // android-key: the boot chain is not verified
	CodeRevoked      fault.Code = "device.attestation_revoked"   // a certificate of the chain is revoked
	CodeSuspended    fault.Code = "device.attestation_suspended" // a certificate of the chain is suspended
	CodeAppDevelop   fault.Code = "device.appattest_develop"     // an App Attest key of the development environment
)

// appleAppID reports whether id looks like an App ID: a team id of 10
// upper-case letters and digits, a dot, and a bundle id.
func appleAppID(id string) bool {
	team, bundle, ok := strings.Cut(id, ".")
	if !ok || len(team) != 10 || bundle == "" || strings.HasPrefix(bundle, ".") || strings.HasSuffix(bundle, ".") {
		return false
	}
	for _, r := range team {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	for _, r := range bundle {
		if (r < 'A' || r > 'Z') && (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '.' && r != '-' {
			return false
		}
	}
	return true
}

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
		// Key and attestation both in a TEE or StrongBox: a software key
		// can be copied off a rooted phone.
		if !a.Trusted || !a.HardwareBacked() {
			return no(CodeNotHardware)
		}
		// A leaked attestation key signs attestations for any key,
		// software ones included: Google lists its certificates.
		switch a.Revocation {
		case "":
		case CertSuspended:
			return no(CodeSuspended)
		default:
			return no(CodeRevoked)
		}
		// With an unlocked bootloader the system may be rooted: the key
		// is still in the TEE, but whoever controls the system uses it
		// and sees the PIN typed into the app.
		if !p.AllowOpenDevice {
			if !a.DeviceLocked {
				return no(CodeBootloader)
			}
			if a.BootState != BootVerified {
				return no(CodeBootState)
			}
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
	case "apple-appattest":
		if p.AppleAppID == "" {
			return no(CodeFormat)
		}
		if !a.Trusted {
			return no(CodeUntrusted)
		}
		// The authenticator data carries the hash of the app's App ID,
		// written by the Secure Enclave from the app's signature.
		if a.PackageName != p.AppleAppID {
			return no(CodeOtherApp)
		}
		switch {
		case bytes.Equal(a.AAGUID, AAGUIDAppAttest):
		case bytes.Equal(a.AAGUID, AAGUIDAppAttestDevelop):
			if !p.AllowAppAttestDevelop {
				return no(CodeAppDevelop)
			}
		default:
			return no(CodeUntrusted)
		}
		return nil
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
