// Package issuer holds the rule on Pforte's issuer URL, which the
// authorization server names itself by and the activation letters link
// to.
//
// Layer: core domain. Imports: standard library, core/fault.
package issuer
