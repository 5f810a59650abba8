// Package password hashes and checks human passwords with Argon2id and holds
// the password policy.
//
// Layer: core domain. Imports: standard library, golang.org/x/crypto, core/fault.
package password
