// Package strength estimates how easy a member's password is to guess, for
// core/password.Estimator.
//
// It uses github.com/trustelem/zxcvbn v1.0.1, a port of Dropbox's zxcvbn
// whose test suite checks it against the results of the reference
// JavaScript implementation; it has no dependencies beyond a regexp
// package. zxcvbn's algorithm and word lists are themselves frozen since
// 2017, so an old release is not a stale estimate. The maintained fork of
// the other Go port (github.com/ccojocar/zxcvbn-go) scores by its own
// entropy formula and departs from the reference results. A password is
// weak when its zxcvbn score (0..4) is below Config.MinScore (3: "safely
// unguessable", at least 10^8 guesses).
//
// zxcvbn's word lists are English. This package adds what an attacker of
// German members tries first: a list of common German password words
// (seasons, months, pet names, clubs, cities, frequent names, the QWERTZ
// rows), and the member's own data, with the umlaut spellings people type
// (ü, ue, u) and the usual ways of writing a date of birth. Personal data
// adds no strength: a password is also weak when what remains after
// removing the member's names, numbers and dates would be weak on its own,
// which zxcvbn misses when a password joins three or more such pieces.
//
// Layer: adapter. Imports: standard library, core (fault, password) and
// github.com/trustelem/zxcvbn; never another adapter.
package strength
