package webauthn

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/pforte-id/pforte/core/device"
)

// report describes the attestation object go-webauthn has verified. It
// fills device.Attestation from what the statement proves and nothing
// more: a field it cannot establish keeps its zero value, which the policy
// reads as "not proven". Errors: an android-key extension that does not
// parse (go-webauthn parsed it already, so this is a defect of the
// statement, reported as a failed verification by the caller).
// revocations may be nil: no list is checked, and RevocationChecked stays
// false.
func report(ao protocol.AttestationObject, packedRoots, googleRoots *x509.CertPool, revocations *RevocationList, now time.Time) (device.Attestation, error) {
	flags := ao.AuthData.Flags
	a := device.Attestation{
		Format:         ao.Format,
		BackupEligible: flags.HasBackupEligible(),
		BackedUp:       flags.HasBackupState(),
		AAGUID:         slices.Clone(ao.AuthData.AttData.AAGUID),
	}
	switch ao.Format {
	case "packed":
		certs, present, err := x5c(ao.AttStatement)
		if err != nil {
			return a, err
		}
		if !present {
			// go-webauthn verified the signature with the credential key
			// itself (§8.2 step 4): nobody vouches for the key.
			a.Self = true
			return a, nil
		}
		a.Trusted = chainsTo(certs, packedRoots, now)
	case "android-key":
		certs, _, err := x5c(ao.AttStatement)
		if err != nil {
			return a, err
		}
		if len(certs) == 0 {
			return a, errors.New("android-key statement without certificates")
		}
		k, err := parseKeyDescription(certs[0])
		if err != nil {
			return a, err
		}
		a.Trusted = chainsTo(certs, googleRoots, now)
		a.AttestationLevel, a.KeyLevel = level(k.attestationSecurityLevel), level(k.keyMintSecurityLevel)
		if k.rootOfTrust {
			a.BootState, a.DeviceLocked = k.bootState, k.deviceLocked
		}
		if revocations != nil {
			a.Revocation, a.RevocationChecked = revocations.Status(certs), true
		}
		a.PackageName = k.packageName()
		a.SigningCertDigests = k.signatureDigests
	}
	// Other formats go-webauthn can verify (tpm, fido-u2f, apple,
	// android-safetynet, compound, none) are reported by name only; the
	// policy accepts none of them but "none" in development.
	return a, nil
}

// x5c returns the certificates of a statement's x5c and whether it has one.
func x5c(stmt map[string]any) (certs []*x509.Certificate, present bool, err error) {
	raw, present := stmt["x5c"]
	if !present {
		return nil, false, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, true, errors.New("x5c is not an array")
	}
	for i, item := range list {
		der, ok := item.([]byte)
		if !ok {
			return nil, true, fmt.Errorf("x5c[%d] is not a byte string", i)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, true, fmt.Errorf("x5c[%d]: %w", i, err)
		}
		certs = append(certs, c)
	}
	return certs, true, nil
}

// chainsTo reports whether certs[0] verifies, through certs[1:] as
// intermediates, to one of roots, with every certificate valid at now. A
// certificate the chain itself carries is never a root: only roots are.
// Attestation certificates are not TLS certificates, so any extended key
// usage is accepted.
//
// Unlike go-webauthn's lineage check for android-key, which ignores
// expired certificates, Trusted needs current ones: an attestation made
// now for a fresh challenge comes with a current chain (Google's remotely
// provisioned certificates are renewed every few weeks), and an expired
// one may belong to a batch key that leaked after it was retired.
func chainsTo(certs []*x509.Certificate, roots *x509.CertPool, now time.Time) bool {
	if len(certs) == 0 || roots == nil {
		return false
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	return err == nil
}

// oidKeyDescription is the Android key attestation extension.
var oidKeyDescription = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 1, 17}

// Security levels of the key description (SecurityLevel ::= ENUMERATED).
const (
	securitySoftware           = 0
	securityTrustedEnvironment = 1
	securityStrongBox          = 2
)

// Authorization list tags Pforte reads.
const (
	tagRootOfTrust              = 704
	tagAttestationApplicationID = 709
)

// Verified boot states of the root of trust (VerifiedBootState ::=
// ENUMERATED).
var bootStates = map[asn1.Enumerated]device.BootState{
	0: device.BootVerified, 1: device.BootSelfSigned, 2: device.BootUnverified, 3: device.BootFailed,
}

// securityLevels maps the key description's SecurityLevel.
var securityLevels = map[int]device.SecurityLevel{
	securitySoftware: device.LevelSoftware, securityTrustedEnvironment: device.LevelTEE, securityStrongBox: device.LevelStrongBox,
}

// keyDescription is the part of the key description extension Pforte
// reads. The extension's value is (Android "Key and ID attestation",
// https://source.android.com/docs/security/features/keystore/attestation):
//
//	KeyDescription ::= SEQUENCE {
//	    attestationVersion        INTEGER,
//	    attestationSecurityLevel  SecurityLevel,
//	    keyMintVersion            INTEGER,       -- keymasterVersion before KeyMint
//	    keyMintSecurityLevel      SecurityLevel, -- keymasterSecurityLevel
//	    attestationChallenge      OCTET STRING,
//	    uniqueId                  OCTET STRING,
//	    softwareEnforced          AuthorizationList,
//	    hardwareEnforced          AuthorizationList, -- teeEnforced
//	}
//	SecurityLevel ::= ENUMERATED { Software (0), TrustedEnvironment (1), StrongBox (2) }
//
// AuthorizationList is a SEQUENCE of optional, EXPLICIT context-specific
// tagged fields in ascending tag order, some with tags above 30 (high tag
// number form). Of them only
//
//	attestationApplicationId  [709] EXPLICIT OCTET STRING OPTIONAL
//
// and
//
//	rootOfTrust               [704] EXPLICIT RootOfTrust OPTIONAL
//	RootOfTrust ::= SEQUENCE {
//	    verifiedBootKey    OCTET STRING,
//	    deviceLocked       BOOLEAN,
//	    verifiedBootState  VerifiedBootState,
//	    verifiedBootHash   OCTET STRING,   -- attestation version 3 and later
//	}
//	VerifiedBootState ::= ENUMERATED { Verified (0), SelfSigned (1), Unverified (2), Failed (3) }
//
// are read here, by walking the elements, so that a field this code does
// not know cannot shift the others. The root of trust counts only in the
// hardware-enforced list: the secure hardware learns it from the
// bootloader, while anything in the software list the (possibly rooted)
// system wrote. attestationApplicationId's OCTET STRING holds the DER of
//
//	AttestationApplicationId ::= SEQUENCE {
//	    packageInfos      SET OF AttestationPackageInfo,
//	    signatureDigests  SET OF OCTET STRING,   -- SHA-256 of each signing certificate
//	}
//	AttestationPackageInfo ::= SEQUENCE {
//	    packageName  OCTET STRING,
//	    version      INTEGER,
//	}
//
// Keystore, not the secure hardware, writes attestationApplicationId, so it
// normally sits in softwareEnforced; both lists are searched, the hardware
// list first. The origin and purpose fields §8.4 requires are checked by
// go-webauthn against the hardware list.
type keyDescription struct {
	attestationSecurityLevel int
	keyMintSecurityLevel     int
	packages                 []string
	signatureDigests         [][]byte
	// rootOfTrust: the hardware list has one; bootState and deviceLocked
	// are its values.
	rootOfTrust  bool
	bootState    device.BootState
	deviceLocked bool
}

type rawRootOfTrust struct {
	VerifiedBootKey   []byte
	DeviceLocked      bool
	VerifiedBootState asn1.Enumerated
	VerifiedBootHash  []byte `asn1:"optional"`
}

type rawKeyDescription struct {
	AttestationVersion       int
	AttestationSecurityLevel asn1.Enumerated
	KeyMintVersion           int
	KeyMintSecurityLevel     asn1.Enumerated
	AttestationChallenge     []byte
	UniqueID                 []byte
	SoftwareEnforced         asn1.RawValue
	HardwareEnforced         asn1.RawValue
}

type attestationApplicationID struct {
	PackageInfos     []attestationPackageInfo `asn1:"set"`
	SignatureDigests [][]byte                 `asn1:"set"`
}

type attestationPackageInfo struct {
	PackageName []byte
	Version     int64
}

// hardwareBacked: both the attestation and the key live in a trusted
// execution environment or a StrongBox secure element.
func (k keyDescription) hardwareBacked() bool {
	hw := func(l int) bool { return l == securityTrustedEnvironment || l == securityStrongBox }
	return hw(k.attestationSecurityLevel) && hw(k.keyMintSecurityLevel)
}

// level is the device.SecurityLevel of a key description level; an
// unknown value is none (not proven).
func level(l int) device.SecurityLevel { return securityLevels[l] }

// packageName is the one app the key belongs to. Apps sharing a Linux user
// id share their keys, and the attestation then lists all of them; Pforte
// reports them joined by "," so that no single configured package name
// matches a key other apps can use.
func (k keyDescription) packageName() string { return strings.Join(k.packages, ",") }

// parseKeyDescription reads the key description extension of an
// android-key attestation certificate.
func parseKeyDescription(cert *x509.Certificate) (keyDescription, error) {
	var ext []byte
	for _, e := range cert.Extensions {
		if e.Id.Equal(oidKeyDescription) {
			if ext != nil {
				return keyDescription{}, errors.New("key description extension appears twice")
			}
			ext = e.Value
		}
	}
	if ext == nil {
		return keyDescription{}, errors.New("no key description extension")
	}
	var raw rawKeyDescription
	if rest, err := asn1.Unmarshal(ext, &raw); err != nil {
		return keyDescription{}, fmt.Errorf("key description: %w", err)
	} else if len(rest) != 0 {
		return keyDescription{}, errors.New("key description: trailing data")
	}
	k := keyDescription{
		attestationSecurityLevel: int(raw.AttestationSecurityLevel),
		keyMintSecurityLevel:     int(raw.KeyMintSecurityLevel),
	}
	rot, found, err := findRootOfTrust(raw.HardwareEnforced)
	if err != nil {
		return keyDescription{}, err
	}
	if found {
		k.rootOfTrust, k.deviceLocked, k.bootState = true, rot.DeviceLocked, bootStates[rot.VerifiedBootState]
	}
	for _, list := range []asn1.RawValue{raw.HardwareEnforced, raw.SoftwareEnforced} {
		appID, found, err := findAppID(list)
		if err != nil {
			return keyDescription{}, err
		}
		if !found {
			continue
		}
		for _, p := range appID.PackageInfos {
			k.packages = append(k.packages, string(p.PackageName))
		}
		for _, d := range appID.SignatureDigests {
			k.signatureDigests = append(k.signatureDigests, slices.Clone(d))
		}
		break
	}
	return k, nil
}

// findField returns the contents of the EXPLICIT field tag of an
// authorization list, and whether it is there. A field that appears twice
// is an error: which of the two would count is anybody's guess.
func findField(list asn1.RawValue, tag int, name string) ([]byte, bool, error) {
	if list.Class != asn1.ClassUniversal || list.Tag != asn1.TagSequence || !list.IsCompound {
		return nil, false, errors.New("authorization list is not a SEQUENCE")
	}
	var field []byte
	found := false
	for rest := list.Bytes; len(rest) > 0; {
		var el asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &el); err != nil {
			return nil, false, fmt.Errorf("authorization list: %w", err)
		}
		if el.Class != asn1.ClassContextSpecific || el.Tag != tag {
			continue
		}
		if found {
			return nil, false, fmt.Errorf("%s appears twice", name)
		}
		found, field = true, el.Bytes
	}
	return field, found, nil
}

// findRootOfTrust returns the rootOfTrust of an authorization list.
func findRootOfTrust(list asn1.RawValue) (rawRootOfTrust, bool, error) {
	var rot rawRootOfTrust
	field, found, err := findField(list, tagRootOfTrust, "rootOfTrust")
	if err != nil || !found {
		return rot, false, err
	}
	if r, err := asn1.Unmarshal(field, &rot); err != nil {
		return rot, false, fmt.Errorf("rootOfTrust: %w", err)
	} else if len(r) != 0 {
		return rot, false, errors.New("rootOfTrust: trailing data")
	}
	return rot, true, nil
}

// findAppID returns the attestationApplicationId of an authorization list.
func findAppID(list asn1.RawValue) (attestationApplicationID, bool, error) {
	var id attestationApplicationID
	field, found, err := findField(list, tagAttestationApplicationID, "attestationApplicationId")
	if err != nil || !found {
		return id, false, err
	}
	var octets []byte
	if r, err := asn1.Unmarshal(field, &octets); err != nil || len(r) != 0 {
		return id, false, errors.New("attestationApplicationId is not an OCTET STRING")
	}
	if r, err := asn1.Unmarshal(octets, &id); err != nil {
		return id, false, fmt.Errorf("attestationApplicationId: %w", err)
	} else if len(r) != 0 {
		return id, false, errors.New("attestationApplicationId: trailing data")
	}
	return id, true, nil
}
