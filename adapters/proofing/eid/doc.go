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
// Layer: adapters. Imports: core, ports, zitadel/oidc, x/oauth2, x/text.
package eid
