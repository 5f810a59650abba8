// Package throttle is the rule that slows down password guessing: per
// account, a few free failures, then growing delays up to a cap; per client
// network, a budget of failed checks per hour. It applies to every place a
// password is checked (the web login, the PIN reset with the password, …),
// so that no path is cheaper to guess on than another.
//
// The rule is pure: the use case keeps the counters in the store (so that
// they hold across replicas) and asks Try whether a check may run at all.
// A wrong password never blocks anything: it only delays the next password
// check of that account, so an attacker who knows a member number cannot
// lock the member out of the app, whose factors are the device key and the
// PIN.
//
// Layer: core domain. Imports: standard library, core/fault.
package throttle
