// Package secret is the type of configuration values that must never reach
// a log or an error text: passwords, DSNs with passwords, master keys.
//
// Layer: core domain. Imports: standard library.
package secret
