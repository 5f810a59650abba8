// Package letterproof is identity proofing by password letter: the member
// types (or scans from the QR code) the initial password and activation
// code of the letter sent to the address on file, and the method checks
// them against the member's latest letter. Its rules are here: what an
// attempt amounts to (core/letter.Classify), counting wrong attempts and
// voiding the letter after too many, and the level a letter proves
// (substantial).
//
// Wrong attempts leave no dead end and reveal nothing. Every wrong attempt
// gets one answer, the one that voids a letter too. They are counted per
// letter (Policy.MaxAttempts voids it) and per member number across letters
// for every number alike (Policy.AttemptsPerKVNR per Policy.AttemptWindow;
// beyond, RateLimited with the wait, never for the right secrets). A letter
// voided by attempts does not hold back the next one, and for
// Policy.GuardWindow after such a voiding wrong attempts for that number
// void no letter: whoever knows a member's number can neither keep the
// member from registering nor make the insurer mail letter after letter. The letter has no technology of its own: it reaches the
// store through ports/store and is offered to core/registration as a
// ports/proofing.SecretChecker, as dex offers its own password database
// as one connector among others.
//
// Layer: core use case. Imports: standard library, core, ports.
package letterproof
