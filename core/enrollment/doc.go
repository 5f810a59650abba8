// Package enrollment is the short-lived session in which a member, after
// proving their identity, sets a password, binds a device and sets a
// release PIN. The account becomes usable only when every step is done.
//
// Layer: core domain. Imports: standard library, core/kvnr, core/proof.
package enrollment
