// Package client holds OAuth clients (relying parties) and the rules on their
// redirect URIs and secrets.
//
// Layer: core domain. Imports: standard library, core/fault.
package client
