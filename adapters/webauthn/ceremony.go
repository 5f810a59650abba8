package webauthn

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/ports/devicekey"
)

var _ devicekey.Ceremony = (*Ceremony)(nil)

// Codes of a refused answer; none has parameters. They say as little as
// possible on purpose: which check failed helps an attacker more than a
// member, and the cause is logged.
const (
	CodeMalformed fault.Code = "device.answer_malformed" // the app's answer cannot be read
	CodeFailed    fault.Code = "device.key_unverified"   // the device key could not be verified
)

// Ceremony runs the registration and assertion ceremonies for one relying
// party. It is safe for concurrent use: it keeps no state between calls;
// the caller stores the state each Options call returns with its
// challenge and hands it back once.
type Ceremony struct {
	wa          *gowebauthn.WebAuthn
	timeout     time.Duration
	packedRoots *x509.CertPool
	googleRoots *x509.CertPool
	appleRoots  *x509.CertPool
	appleAppID  string
	revocations *RevocationList
	now         func() time.Time
}

// New returns a Ceremony for cfg. now may be nil (time.Now); it decides
// when a state expires and at what time certificate chains must be valid.
// Errors: Invalid (configuration).
func New(cfg Config, now func() time.Time) (*Ceremony, error) {
	cfg = cfg.withDefaults()
	web, app, err := cfg.split()
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	timeouts := gowebauthn.TimeoutConfig{Timeout: cfg.Timeout, TimeoutUVD: cfg.Timeout}
	wa, err := gowebauthn.New(&gowebauthn.Config{
		RPID:            cfg.RPID,
		RPDisplayName:   cfg.RPName,
		RPOrigins:       web,
		RPOpaqueOrigins: app,
		// Direct: the statement as the authenticator made it, so that the
		// policy sees android-key chains and packed certificates.
		AttestationPreference: protocol.PreferDirectAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			// The phone's own secure hardware, not a security key or
			// another phone over hybrid transport.
			AuthenticatorAttachment: protocol.Platform,
			// A server-side credential: the app knows its key, it never
			// needs to discover it, and a discoverable credential is what
			// platforms sync as a passkey.
			ResidentKey:        protocol.ResidentKeyRequirementDiscouraged,
			RequireResidentKey: protocol.ResidentKeyNotRequired(),
			// The release PIN is Pforte's knowledge factor; the platform's
			// own user verification is welcome but not relied on.
			UserVerification: protocol.VerificationPreferred,
		},
		// Pforte's State carries its own expiry, checked against now;
		// go-webauthn's would read the wall clock.
		Timeouts: gowebauthn.TimeoutsConfig{Login: timeouts, Registration: timeouts},
		// Pforte requests no extensions and reads no extension output, so
		// an output it did not ask for cannot change a decision; some
		// platform clients add credProps unasked.
		ExtensionsUnsolicitedOutputPolicy: protocol.UnsolicitedOutputPolicyIgnore,
	})
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, "webauthn.New", err)
	}
	googleRoots := x509.NewCertPool()
	if !googleRoots.AppendCertsFromPEM([]byte(googleRootsPEM)) {
		return nil, fault.New(fault.Internal, "webauthn.New", "the embedded Google roots do not parse")
	}
	appleRoots := x509.NewCertPool()
	if !appleRoots.AppendCertsFromPEM([]byte(appleRootPEM)) {
		return nil, fault.New(fault.Internal, "webauthn.New", "the embedded Apple root does not parse")
	}
	var packedRoots *x509.CertPool
	if len(cfg.PackedRoots) > 0 {
		packedRoots = x509.NewCertPool()
		for _, r := range cfg.PackedRoots {
			packedRoots.AddCert(r)
		}
	}
	return &Ceremony{
		wa: wa, timeout: cfg.Timeout, packedRoots: packedRoots, googleRoots: googleRoots,
		appleRoots: appleRoots, appleAppID: cfg.AppleAppID, revocations: cfg.Revocations, now: now,
	}, nil
}

// es256 is the only algorithm offered: a P-256 key is what every phone's
// secure hardware can create, and the one core's policy is written for.
var es256 = []protocol.CredentialParameter{{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgES256}}

// coseP256 is the COSE curve identifier of P-256 (RFC 9053).
const coseP256 = 1

// user is a devicekey.User as go-webauthn wants it.
type user struct{ devicekey.User }

func (u user) WebAuthnID() []byte                           { return u.Handle }
func (u user) WebAuthnName() string                         { return u.Name }
func (u user) WebAuthnDisplayName() string                  { return u.DisplayName }
func (u user) WebAuthnCredentials() []gowebauthn.Credential { return nil }

// descriptors lists credential ids for an exclude or allow list. The
// transport hint "internal" keeps platforms from offering a security key
// or another phone.
func descriptors(ids [][]byte) []protocol.CredentialDescriptor {
	ds := make([]protocol.CredentialDescriptor, 0, len(ids))
	for _, id := range ids {
		ds = append(ds, protocol.CredentialDescriptor{
			Type:         protocol.PublicKeyCredentialType,
			CredentialID: slices.Clone(id),
			Transport:    []protocol.AuthenticatorTransport{protocol.Internal},
		})
	}
	return ds
}

// RegistrationOptions implements devicekey.Ceremony. The options are the
// PublicKeyCredentialCreationOptionsJSON (what Android's Credential Manager
// takes as request JSON, and the publicKey member for a browser); the state
// is go-webauthn's SessionData as JSON, with the challenge and an expiry.
// Errors: Internal (a user handle outside 1..64 bytes, an empty id).
func (c *Ceremony) RegistrationOptions(_ context.Context, u devicekey.User, exclude [][]byte) (options, state []byte, err error) {
	const op = "webauthn.RegistrationOptions"
	if slices.ContainsFunc(exclude, func(id []byte) bool { return len(id) == 0 }) {
		return nil, nil, fault.New(fault.Internal, op, "empty credential id in the exclude list")
	}
	creation, session, err := c.wa.BeginRegistration(user{u},
		gowebauthn.WithCredentialParameters(es256),
		gowebauthn.WithExclusions(descriptors(exclude)),
	)
	if err != nil {
		return nil, nil, fault.Wrap(fault.Internal, op, err)
	}
	return c.finishOptions(op, creation.Response, session)
}

// AssertionOptions implements devicekey.Ceremony: request options allowing
// only allow, user verification preferred. Errors: Internal (no or an
// empty credential id).
func (c *Ceremony) AssertionOptions(_ context.Context, allow [][]byte) (options, state []byte, err error) {
	const op = "webauthn.AssertionOptions"
	if len(allow) == 0 || slices.ContainsFunc(allow, func(id []byte) bool { return len(id) == 0 }) {
		return nil, nil, fault.New(fault.Internal, op, "an assertion needs the credential ids it allows")
	}
	assertion, session, err := c.wa.BeginDiscoverableLogin(
		gowebauthn.WithAllowedCredentials(descriptors(allow)),
		gowebauthn.WithUserVerification(protocol.VerificationPreferred),
	)
	if err != nil {
		return nil, nil, fault.Wrap(fault.Internal, op, err)
	}
	return c.finishOptions(op, assertion.Response, session)
}

func (c *Ceremony) finishOptions(op string, response any, session *gowebauthn.SessionData) (options, state []byte, err error) {
	session.Expires = c.now().Add(c.timeout).UTC()
	if options, err = json.Marshal(response); err != nil {
		return nil, nil, fault.Wrap(fault.Internal, op, err)
	}
	if state, err = json.Marshal(session); err != nil {
		return nil, nil, fault.Wrap(fault.Internal, op, err)
	}
	return options, state, nil
}

// session reads a state Options returned. A state that does not parse was
// corrupted on the server side (Internal); an expired one is a failed
// verification, like any other answer that comes too late.
func (c *Ceremony) session(op string, state []byte) (gowebauthn.SessionData, error) {
	var s gowebauthn.SessionData
	if err := json.Unmarshal(state, &s); err != nil || s.Challenge == "" || s.Expires.IsZero() {
		if err == nil {
			err = errors.New("state without challenge or expiry")
		}
		return s, fault.Wrap(fault.Internal, op, err)
	}
	if !c.now().Before(s.Expires) {
		return s, fault.Wrap(fault.Unauthenticated, op, errors.New("ceremony state expired")).WithCode(CodeFailed)
	}
	return s, nil
}

// VerifyRegistration implements devicekey.Ceremony. go-webauthn checks the
// client data (type, challenge, origin), the authenticator data (RP id
// hash, user presence, attested credential data, ES256), the attestation
// statement (signature; for android-key the key description and the chain
// to Google's roots) and the BE/BS consistency; this method then reports
// the attestation (see report). Errors: Invalid (malformed response);
// Unauthenticated (any check failed, or the state expired); Internal
// (corrupt state).
func (c *Ceremony) VerifyRegistration(_ context.Context, state, response []byte) (devicekey.NewKey, error) {
	const op = "webauthn.VerifyRegistration"
	s, err := c.session(op, state)
	if err != nil {
		return devicekey.NewKey{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return devicekey.NewKey{}, fault.Wrap(fault.Invalid, op, err).WithCode(CodeMalformed)
	}
	if parsed.Response.AttestationObject.Format == formatAppAttest {
		return c.verifyAppAttestRegistration(op, s, parsed)
	}
	// The expiry is checked above against c.now; go-webauthn would check it
	// again against the wall clock.
	s.Expires = time.Time{}
	cred, err := c.wa.CreateCredential(user{devicekey.User{Handle: s.UserID}}, s, parsed)
	if err != nil {
		return devicekey.NewKey{}, fault.Wrap(fault.Unauthenticated, op, err).WithCode(CodeFailed)
	}
	// ES256 is the only algorithm offered and go-webauthn holds the key's
	// alg to it; the curve is checked here, as "ES256" on another curve
	// would not be the P-256 key the platforms' secure hardware makes.
	if k, err := webauthncose.ParsePublicKey(cred.PublicKey); err != nil {
		return devicekey.NewKey{}, fault.Wrap(fault.Unauthenticated, op, err).WithCode(CodeFailed)
	} else if ec, ok := k.(webauthncose.EC2PublicKeyData); !ok || ec.Algorithm != int64(webauthncose.AlgES256) || ec.Curve != coseP256 {
		return devicekey.NewKey{}, fault.Wrap(fault.Unauthenticated, op, errors.New("the credential key is not an ES256 P-256 key")).WithCode(CodeFailed)
	}
	att, err := report(parsed.Response.AttestationObject, c.packedRoots, c.googleRoots, c.revocations, c.now())
	if err != nil {
		return devicekey.NewKey{}, fault.Wrap(fault.Unauthenticated, op, err).WithCode(CodeFailed)
	}
	return devicekey.NewKey{
		CredentialID: slices.Clone(cred.ID),
		PublicKey:    slices.Clone(cred.PublicKey),
		SignCount:    cred.Authenticator.SignCount,
		Attestation:  att,
	}, nil
}

// verifyAppAttestRegistration verifies an apple-appattest registration,
// which go-webauthn cannot: its RP id hash is that of the App ID, not of
// the relying party, and App Attest sets no user presence flag. The client
// data is checked as go-webauthn checks it for every other format (type
// webauthn.create, the state's challenge, a configured origin); the
// statement by verifyAppAttest.
func (c *Ceremony) verifyAppAttestRegistration(op string, s gowebauthn.SessionData, parsed *protocol.ParsedCredentialCreationData) (devicekey.NewKey, error) {
	fail := func(err error) (devicekey.NewKey, error) {
		return devicekey.NewKey{}, fault.Wrap(fault.Unauthenticated, op, err).WithCode(CodeFailed)
	}
	cfg := c.wa.Config
	if err := parsed.Response.CollectedClientData.Verify(s.Challenge, protocol.CreateCeremony, s.GetOrigins(cfg.RPOrigins),
		cfg.RPOpaqueOrigins, cfg.RPTopOrigins, cfg.RPTopOriginVerificationMode, cfg.RPAllowCrossOrigin); err != nil {
		return fail(err)
	}
	att, err := verifyAppAttest(parsed, c.appleRoots, c.appleAppID, c.now())
	if err != nil {
		return fail(err)
	}
	ad := parsed.Response.AttestationObject.AuthData
	return devicekey.NewKey{
		CredentialID: slices.Clone(ad.AttData.CredentialID),
		PublicKey:    slices.Clone(ad.AttData.CredentialPublicKey),
		SignCount:    ad.Counter,
		Attestation:  att,
	}, nil
}

// VerifyAssertion implements devicekey.Ceremony. The response must come
// from key (its credential id) and from a credential the state allows;
// go-webauthn checks the client data (type, challenge, origin), the RP id
// hash, user presence and the signature with key.PublicKey. The reported
// sign count is returned as it is: core compares it with the stored one.
//
// A key Pforte bound is never backup eligible (the policy refuses such
// keys, and the BE flag of a credential never changes, WebAuthn §6.1.3),
// so an assertion with BE or BS set is not from the bound key.
//
// Errors: Invalid (malformed response); Unauthenticated (any check failed,
// or the state expired); Internal (corrupt state).
func (c *Ceremony) VerifyAssertion(_ context.Context, state, response []byte, key devicekey.Key) (devicekey.Assertion, error) {
	const op = "webauthn.VerifyAssertion"
	s, err := c.session(op, state)
	if err != nil {
		return devicekey.Assertion{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return devicekey.Assertion{}, fault.Wrap(fault.Invalid, op, err).WithCode(CodeMalformed)
	}
	fail := func(err error) (devicekey.Assertion, error) {
		return devicekey.Assertion{}, fault.Wrap(fault.Unauthenticated, op, err).WithCode(CodeFailed)
	}
	switch {
	case len(key.CredentialID) == 0 || !bytes.Equal(parsed.RawID, key.CredentialID):
		return fail(errors.New("the assertion is not from the given key"))
	case len(s.AllowedCredentialIDs) > 0 && !slices.ContainsFunc(s.AllowedCredentialIDs, func(id []byte) bool { return bytes.Equal(id, parsed.RawID) }):
		return fail(errors.New("the credential is not in the allow list"))
	}
	if c.appleAppID != "" {
		if appHash := sha256.Sum256([]byte(c.appleAppID)); bytes.Equal(parsed.Response.AuthenticatorData.RPIDHash, appHash[:]) {
			return c.verifyAppAttestAssertion(s, parsed, key, fail)
		}
	}
	cfg := c.wa.Config
	if err := parsed.Verify(s.Challenge, s.GetRelyingPartyID(cfg.RPID), "", s.GetOrigins(cfg.RPOrigins), cfg.RPOpaqueOrigins,
		cfg.RPTopOrigins, cfg.RPTopOriginVerificationMode, cfg.RPAllowCrossOrigin,
		s.UserVerification == protocol.VerificationRequired, true, key.PublicKey, cfg.Signature); err != nil {
		return fail(err)
	}
	if err := parsed.ClientExtensionResults.Verify(s.Extensions, protocol.AssertCeremony, cfg.ExtensionsUnsolicitedOutputPolicy); err != nil {
		return fail(err)
	}
	flags := parsed.Response.AuthenticatorData.Flags
	if flags.HasBackupEligible() || flags.HasBackupState() {
		return fail(errors.New("backup eligible or backed up: not the bound key"))
	}
	return devicekey.Assertion{
		CredentialID: slices.Clone(parsed.RawID),
		SignCount:    parsed.Response.AuthenticatorData.Counter,
		UserVerified: flags.HasUserVerified(),
	}, nil
}
