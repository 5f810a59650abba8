// Package fault is the one error type of Pforte.
//
// Layer: core (innermost). Imports: standard library only.
//
// Every error that crosses a package boundary is a *Error with a Kind. Driving
// adapters map kinds to HTTP statuses and OAuth error codes in one table each;
// clients only ever see the Public text or the fixed text of the kind, never
// err.Error(), which may carry internal detail.
package fault
