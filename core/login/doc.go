// Package login authenticates members with their factors and decides which
// steps a login needs. The pages and the app API ask it what to show next
// and hand it what the member entered; adding a factor is a change here,
// not in the pages.
//
// Layer: core use case. Imports: standard library, core domain packages, ports.
package login
