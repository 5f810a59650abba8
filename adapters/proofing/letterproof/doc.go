// Package letterproof is the password letter as an identity proofing method: it
// checks the initial password and activation code a member types (or scans
// from the QR code) against the member's latest letter and reports a proof
// at level substantial. The rules — what an attempt amounts to, when a
// letter is voided — are core/letter's; this adapter only sequences the
// store calls.
//
// Layer: adapter. Imports: standard library, core domain packages, ports.
package letterproof
