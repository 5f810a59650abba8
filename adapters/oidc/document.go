package oidc

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/pforte-id/pforte/core/authz"
)

// metadata is the library's discovery document plus what it lacks.
type metadata struct {
	oidc.DiscoveryConfiguration
	// RFC 9207: iss is in every authorization response.
	AuthorizationResponseIssParameterSupported bool `json:"authorization_response_iss_parameter_supported"`
	// RFC 9126 §5: the pushed authorization request endpoint, and whether
	// every client must use it (no: only clients with require_par).
	PushedAuthorizationRequestEndpoint string `json:"pushed_authorization_request_endpoint"`
	RequirePushedAuthorizationRequests bool   `json:"require_pushed_authorization_requests"`
	// RFC 9449 §5.1: the algorithms of DPoP proofs Pforte accepts.
	DPoPSigningAlgValuesSupported []string `json:"dpop_signing_alg_values_supported"`
	// OpenID Connect Front-Channel Logout 1.0 is not offered: relying
	// parties are told by back-channel logout, which needs no browser.
	// Stated, not left out, so that a relying party does not guess.
	FrontchannelLogoutSupported *bool `json:"frontchannel_logout_supported,omitempty"`
	// OpenID Connect for Identity Assurance 1.0 §8: verified_claims at
	// userinfo (scope verified_claims), under one trust framework, with
	// electronic_record evidence, for these claims.
	VerifiedClaimsSupported         bool     `json:"verified_claims_supported,omitempty"`
	TrustFrameworksSupported        []string `json:"trust_frameworks_supported,omitempty"`
	EvidenceSupported               []string `json:"evidence_supported,omitempty"`
	ClaimsInVerifiedClaimsSupported []string `json:"claims_in_verified_claims_supported,omitempty"`
}

// withIdentityAssurance advertises verified_claims under trustFramework.
func (m *metadata) withIdentityAssurance(trustFramework string) {
	m.VerifiedClaimsSupported = true
	m.TrustFrameworksSupported = []string{trustFramework}
	m.EvidenceSupported = []string{authz.EvidenceElectronicRecord}
	m.ClaimsInVerifiedClaimsSupported = []string{"given_name", "family_name", "birth_family_name", "birthdate"}
}

// discoveryDocument advertises only what Pforte really supports: the code
// flow with PKCE S256, ES256 signatures, the three client authentication
// methods, PAR and DPoP. withOIDC adds the OpenID Connect parts (userinfo,
// ID tokens, claims, subject types), which RFC 8414 metadata leaves out.
func discoveryDocument(issuer string, acrValues, claims []string, withOIDC bool) metadata {
	authMethods := []oidc.AuthMethod{oidc.AuthMethodNone, oidc.AuthMethodBasic, oidc.AuthMethodPost, oidc.AuthMethodPrivateKeyJWT}
	confidential := []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost, oidc.AuthMethodPrivateKeyJWT}
	assertionAlgs := []string{"ES256", "ES384", "RS256", "PS256", "EdDSA"}
	d := oidc.DiscoveryConfiguration{
		Issuer:                            issuer,
		AuthorizationEndpoint:             issuer + pathAuthorize,
		TokenEndpoint:                     issuer + pathToken,
		IntrospectionEndpoint:             issuer + pathIntrospection,
		RevocationEndpoint:                issuer + pathRevocation,
		JwksURI:                           issuer + pathJWKS,
		ScopesSupported:                   authz.SupportedScopes,
		ResponseTypesSupported:            []string{string(oidc.ResponseTypeCode)},
		ResponseModesSupported:            []string{"query"},
		GrantTypesSupported:               []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeClientCredentials},
		TokenEndpointAuthMethodsSupported: authMethods,
		TokenEndpointAuthSigningAlgValuesSupported:         assertionAlgs,
		RevocationEndpointAuthMethodsSupported:             authMethods,
		RevocationEndpointAuthSigningAlgValuesSupported:    assertionAlgs,
		IntrospectionEndpointAuthMethodsSupported:          confidential,
		IntrospectionEndpointAuthSigningAlgValuesSupported: assertionAlgs,
		CodeChallengeMethodsSupported:                      []oidc.CodeChallengeMethod{oidc.CodeChallengeMethodS256},
		UILocalesSupported:                                 nil,
		RequestParameterSupported:                          false,
		RequestURIParameterSupported:                       false,
	}
	if withOIDC {
		d.UserinfoEndpoint = issuer + pathUserinfo
		d.EndSessionEndpoint = issuer + pathEndSession
		d.SubjectTypesSupported = []string{"public", "pairwise"}
		d.IDTokenSigningAlgValuesSupported = []string{"ES256"}
		d.ClaimsSupported = claims
		d.ACRValuesSupported = acrValues
		d.ClaimsParameterSupported = false
		// OpenID Connect Back-Channel Logout 1.0: logout tokens go to
		// every relying party of an ended session that registered a
		// backchannel_logout_uri, and always carry sid.
		d.BackChannelLogoutSupported = true
		d.BackChannelLogoutSessionSupported = true
	}
	m := metadata{
		DiscoveryConfiguration: d, AuthorizationResponseIssParameterSupported: true,
		PushedAuthorizationRequestEndpoint: issuer + pathPAR, RequirePushedAuthorizationRequests: false,
		DPoPSigningAlgValuesSupported: []string{dpopAlgs},
	}
	if withOIDC {
		no := false
		m.FrontchannelLogoutSupported = &no
	}
	return m
}

// document is a JSON body computed once, served with an entity tag.
type document struct {
	body []byte
	etag string
}

func newDocument(v any) (document, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return document{}, err
	}
	sum := sha256.Sum256(b)
	return document{body: b, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`}, nil
}

func (d document) serve(w http.ResponseWriter, r *http.Request) {
	serveCached(w, r, d.body, d.etag, "public, max-age=3600")
}

// serveCached writes a precomputed JSON body with caching headers and
// answers a matching If-None-Match with 304.
func serveCached(w http.ResponseWriter, r *http.Request, body []byte, etag, cacheControl string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", cacheControl)
	h.Set("ETag", etag)
	h.Set("Access-Control-Allow-Origin", "*")
	if match := r.Header.Get("If-None-Match"); match != "" && match == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(body)
}
