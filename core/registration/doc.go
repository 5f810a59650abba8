// Package registration is how a member gets access: requesting a password
// letter, the workers that decide requests and hand letters to the print
// service, the operator's view of letters, activation with a proofing
// method and the member's own password.
//
// The flow, and who calls what:
//
//	app API     Request            → queued; the same answer for everyone
//	worker      ProcessRegistrations → decides requests, creates letters
//	worker      ProcessLetters     → draws secrets, renders, hands over
//	operator    ListLetters, RenderLetter, RetryLetter
//	app API     Activate           → proofing method → enrollment session
//	app API     SetPassword        → the member's own password
//
// Everything a security reviewer must check about registration lives here
// and in core/letter: what the anonymous request may reveal, rate limits,
// who gets a letter and where it goes, the one-letter-per-interval rule,
// crash safety of letter production, and the password rules.
//
// Layer: core use case. Imports: standard library, core domain packages and
// ports (store, letters, proofing). Never net/http or a storage library.
package registration
