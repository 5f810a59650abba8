// Package login authenticates members with their factors and decides which
// steps a login needs. The pages and the app API ask it what to show next
// and hand it what the member entered; adding a factor is a change here,
// not in the pages.
//
// It is also the one place a password is checked: the login page and the
// PIN reset with the password (core/binding, through PasswordChecker) go
// through the same throttling rule (core/throttle) and counters in the
// store, so that no path is cheaper to guess on than another.
//
// Layer: core use case. Imports: standard library, core domain packages, ports.
package login
