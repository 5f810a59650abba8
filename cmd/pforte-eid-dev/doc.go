// Command pforte-eid-dev runs the DEVELOPMENT eID broker
// (adapters/proofing/eid/devbroker) on a loopback address, so that the eID
// registration path works on a developer's machine without a real eID
// service. It confirms any identity the developer picks from its list;
// it refuses to start with -environment production or on an address that
// is not loopback.
//
//	pforte-eid-dev -redirect-uri http://localhost:8080/eid/callback
//
// The identities default to the embedded identities.json (the demo
// members of configs/dev and two that must not match); -identities names
// another file of the same form. The eID adapter is configured with the
// printed issuer, client id and secret, and pseudonym encoding hex.
//
// Layer: cmd. Imports: anything.
package main
