// Package coretest holds the fixtures that tests of Pforte share: the
// fixture members and their KVNRs, one password and its Argon2id hash
// computed once per test binary, a letter hasher under a fixed key, a log
// sink safe for concurrent writers, and a clock the test moves. Each of
// them is written here once instead of in every package's set-up.
//
// Layer: core domain, test support; only tests (and the test-support
// packages named <package>test) import it, as test/arch checks. Imports:
// standard library and core domain packages (kvnr, letter, member, password).
package coretest
