// Package metrics is the driven port through which core use cases count
// what only they know and no audit event records: token grants to clients
// (client credentials, refresh) and completed proofings. Logins, password
// and PIN failures and lockouts are not counted here: core appends them as
// audit events, and an adapter counts those on their way to the store.
//
// Every value passed is from a closed set (the constants below, the
// methods of core/proof), never member data, so an implementation can use
// them as labels without bounding them again.
//
// Layer: ports. Imports: standard library and core domain packages only.
package metrics
