// Package pin is the release PIN ("Freigabe-PIN"): six digits the member
// chooses, the rules that refuse trivial ones, the keyed hash it is stored
// under, and the attempt counter with its delays and lockout.
//
// Layer: core domain. Imports: standard library, core/fault.
package pin
