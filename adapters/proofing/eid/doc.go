// Package eid is the proofing method by electronic ID card: Pforte is an
// OpenID Connect relying party of an eID service (a broker that runs the
// card protocol with AusweisApp or an ident app) and takes the identity
// attributes and the card's pseudonym it verified. It implements
// ports/proofing.Redirector with github.com/zitadel/oidc/v3/pkg/client/rp:
// authorization code with PKCE, a pushed authorization request where the
// broker's discovery offers one, acr_values for the high level, nonce,
// ID token and userinfo verified. Real brokers name their claims and
// levels differently; a Profile in configuration maps them.
//
// The adapter decides nothing about members: it reports what the broker
// verified, and core (proof.Compare) matches it to the record.
//
// # What a broker must offer
//
//   - OpenID Connect discovery at the issuer, a JWKS, the authorization
//     code flow with PKCE (S256) and client_secret_basic at the token
//     endpoint; a pushed authorization request endpoint is used when
//     announced, and so are the RFC 9207 iss parameter and the claims
//     request parameter.
//   - ID tokens signed with an algorithm its discovery names, carrying the
//     nonce and an acr that is one of Profile.HighACR and was requested
//     (Config.ACRValues, sent as acr_values).
//   - A JSON userinfo response (not a signed JWT) for the same subject,
//     or the claims in the ID token: given names, family name and date of
//     birth (required); birth name, place of birth and address (used when
//     present); and the card's restricted identifier ("sub" at most
//     brokers) in the encoding Profile.Pseudonym names.
//
// The pseudonym is kept only as PseudonymHash, over the broker's issuer
// and its bytes; a development broker for laptops and tests is in the
// devbroker package.
//
// Layer: adapters. Imports: core, ports, zitadel/oidc, x/oauth2, x/text.
package eid
