// Package loa holds levels of assurance, their acr values and the
// authentication methods (amr, RFC 8176) that reach them.
//
// Layer: core domain. Imports: standard library, core/fault.
package loa
