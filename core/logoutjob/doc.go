// Package logoutjob holds a pending back-channel logout delivery: one
// logout token owed to one relying party for one ended session, as it
// waits in the durable queue, and the rule of its retries.
//
// Layer: core domain. Imports: standard library.
package logoutjob
