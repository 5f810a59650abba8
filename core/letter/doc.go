// Package letter is the password letter: the initial password and the
// activation code printed on it, how they are generated and stored, and the
// rules on validity, attempts and replacement.
//
// Layer: core domain. Imports: standard library, core/fault, core/kvnr, core/member.
package letter
