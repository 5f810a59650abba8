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
func report(ao protocol.AttestationObject, packedRoots, googleRoots *x509.CertPool, now time.Time) (device.Attestation, error) {
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
		a.HardwareBacked = k.hardwareBacked()
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

// tagAttestationApplicationID is the authorization list tag of
// attestationApplicationId.
const tagAttestationApplicationID = 709

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
// is read here, by walking the elements, so that a field this code does
// not know cannot shift the others. Its OCTET STRING holds the DER of
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

// findAppID returns the attestationApplicationId of an authorization list.
func findAppID(list asn1.RawValue) (attestationApplicationID, bool, error) {
	var id attestationApplicationID
	if list.Class != asn1.ClassUniversal || list.Tag != asn1.TagSequence || !list.IsCompound {
		return id, false, errors.New("authorization list is not a SEQUENCE")
	}
	found := false
	for rest := list.Bytes; len(rest) > 0; {
		var el asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &el); err != nil {
			return id, false, fmt.Errorf("authorization list: %w", err)
		}
		if el.Class != asn1.ClassContextSpecific || el.Tag != tagAttestationApplicationID {
			continue
		}
		if found {
			return id, false, errors.New("attestationApplicationId appears twice")
		}
		found = true
		var octets []byte
		if r, err := asn1.Unmarshal(el.Bytes, &octets); err != nil || len(r) != 0 {
			return id, false, errors.New("attestationApplicationId is not an OCTET STRING")
		}
		if r, err := asn1.Unmarshal(octets, &id); err != nil {
			return id, false, fmt.Errorf("attestationApplicationId: %w", err)
		} else if len(r) != 0 {
			return id, false, errors.New("attestationApplicationId: trailing data")
		}
	}
	return id, found, nil
}
