package webauthn_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/descope/virtualwebauthn"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/ports/devicekey"
)

// The fuzz targets of this file feed an app's answers to the two
// ceremonies: the attestation object (CBOR) of a registration and the
// authenticator data and signature of an assertion. The client data stay
// those of a real answer, so that the input reaches the CBOR and the
// attestation statement behind them. A refusal must be Invalid or
// Unauthenticated (never Internal, which would be a 500), and nothing may
// panic.

func refusedAsClientError(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, fault.Invalid) && !errors.Is(err, fault.Unauthenticated) {
		t.Fatalf("refusal of kind %v, want Invalid or Unauthenticated: %v", fault.KindOf(err), err)
	}
}

// registrationAnswer is a virtual authenticator's answer to a fresh
// registration state, decoded so that a fuzz input can replace a member.
func registrationAnswer(t testing.TB) (state []byte, answer map[string]any, attObj []byte) {
	c := newCeremony(t, nil)
	options, state, err := c.RegistrationOptions(ctx, member(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	o, err := virtualwebauthn.ParseAttestationOptions(string(options))
	if err != nil {
		t.Fatal(err)
	}
	raw := virtualwebauthn.CreateAttestationResponse(rp, virtualwebauthn.NewAuthenticator(), ec2Credential(t), *o)
	if err := json.Unmarshal([]byte(raw), &answer); err != nil {
		t.Fatal(err)
	}
	attObj, err = base64.RawURLEncoding.DecodeString(answer["response"].(map[string]any)["attestationObject"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return state, answer, attObj
}

// FuzzAttestationObject fuzzes the CBOR attestation object of a
// registration whose client data are valid.
func FuzzAttestationObject(f *testing.F) {
	state, answer, attObj := registrationAnswer(f)
	f.Add(attObj)
	f.Add([]byte{0xa3, 0x63, 'f', 'm', 't', 0x64, 'n', 'o', 'n', 'e'})
	f.Add([]byte{0xbf})
	f.Add([]byte{})
	c := newCeremony(f, nil)
	f.Fuzz(func(t *testing.T, obj []byte) {
		answer["response"].(map[string]any)["attestationObject"] = base64.RawURLEncoding.EncodeToString(obj)
		raw, err := json.Marshal(answer)
		if err != nil {
			t.Fatal(err)
		}
		key, err := c.VerifyRegistration(ctx, state, raw)
		if err != nil {
			refusedAsClientError(t, err)
			return
		}
		if len(key.CredentialID) == 0 || len(key.PublicKey) == 0 || key.Attestation.BackupEligible {
			t.Fatalf("accepted a key without id or public key, or a synced one: %+v", key)
		}
	})
}

// FuzzRegistrationAnswer fuzzes the whole JSON answer of a registration.
func FuzzRegistrationAnswer(f *testing.F) {
	state, answer, _ := registrationAnswer(f)
	raw, _ := json.Marshal(answer)
	f.Add(raw)
	f.Add([]byte(`{"id":"","rawId":"","type":"public-key","response":{}}`))
	f.Add([]byte(`null`))
	c := newCeremony(f, nil)
	f.Fuzz(func(t *testing.T, raw []byte) {
		if _, err := c.VerifyRegistration(ctx, state, raw); err != nil {
			refusedAsClientError(t, err)
		}
	})
}

// FuzzAssertion fuzzes the authenticator data and the signature of an
// assertion by a bound key; the client data are a real answer's.
func FuzzAssertion(f *testing.F) {
	c := newCeremony(f, nil)
	auth := virtualwebauthn.NewAuthenticator()
	cred := ec2Credential(f)
	nk, err := virtualRegister(f, c, auth, cred)
	if err != nil {
		f.Fatal(err)
	}
	stored := devicekey.Key{CredentialID: nk.CredentialID, PublicKey: nk.PublicKey, SignCount: nk.SignCount}
	options, state, err := c.AssertionOptions(ctx, [][]byte{nk.CredentialID})
	if err != nil {
		f.Fatal(err)
	}
	o, err := virtualwebauthn.ParseAssertionOptions(string(options))
	if err != nil {
		f.Fatal(err)
	}
	cred.Counter = 7
	var answer map[string]any
	if err := json.Unmarshal([]byte(virtualwebauthn.CreateAssertionResponse(rp, auth, cred, *o)), &answer); err != nil {
		f.Fatal(err)
	}
	resp := answer["response"].(map[string]any)
	authData, _ := base64.RawURLEncoding.DecodeString(resp["authenticatorData"].(string))
	sig, _ := base64.RawURLEncoding.DecodeString(resp["signature"].(string))
	f.Add(authData, sig)
	f.Add(authData[:37], sig[:8])
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, ad, s []byte) {
		resp["authenticatorData"] = base64.RawURLEncoding.EncodeToString(ad)
		resp["signature"] = base64.RawURLEncoding.EncodeToString(s)
		raw, err := json.Marshal(answer)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.VerifyAssertion(ctx, state, raw, stored)
		if err != nil {
			refusedAsClientError(t, err)
			return
		}
		// Only the authenticator's own signature verifies: accepted data
		// are the seed's, with its counter.
		if got.SignCount != 7 {
			t.Fatalf("accepted an assertion with sign count %d, signed 7", got.SignCount)
		}
	})
}
