// Package audit holds the events of Pforte's append-only audit log: who
// did what, when, from which client — never a secret.
//
// Layer: core domain. Imports: standard library.
package audit
