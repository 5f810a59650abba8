// Package proofing is the port for identity proofing methods. A method
// names itself (Method); what it can do is one of the capabilities below,
// which core finds by type assertion, as dex tells its password connectors
// from its callback connectors:
//
//   - SecretChecker: the member types (or scans) secrets that reached them
//     on another way — the password letter (core/letterproof).
//   - Redirector: the member is sent to a proofing service and comes back
//     with its answer — the electronic ID card through an eID service.
//
// Every method reports what was proven as a proof.Proof; core checks it,
// matches it to the member, records it and derives the account's level
// from it, and never needs to know which method it was.
//
// Layer: ports. Imports: standard library, core domain packages.
package proofing
