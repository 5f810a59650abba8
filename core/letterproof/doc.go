// Package letterproof is identity proofing by password letter: the member
// types (or scans from the QR code) the initial password and activation
// code of the letter sent to the address on file, and the method checks
// them against the member's latest letter. Its rules are here: what an
// attempt amounts to (core/letter.Classify), counting wrong attempts and
// voiding the letter after too many, and the level a letter proves
// (substantial). The letter has no technology of its own: it reaches the
// store through ports/store and is offered to core/registration as a
// ports/proofing.SecretChecker, as dex offers its own password database
// as one connector among others.
//
// Layer: core use case. Imports: standard library, core, ports.
package letterproof
