// Package support is what support staff do for members and clients: find
// a member (by KVNR, or by name and date of birth), see a member's status
// (registration, devices, lockouts, the latest letter, last logins; never
// a secret), order a letter (the interval overridden with a reason),
// unblock a device's PIN, revoke one or all devices, end all sessions,
// lock and unlock an account, query the audit log, and edit a client or
// rotate its secret with a rollover.
//
// Both the admin API (adapters/adminapi) and the operator CLI (cmd/pforte)
// call this one use case, so a task does the same, checks the same and
// records the same wherever it is started. Every call names its Agent:
// the person acting and the client they act through (the admin API's
// client from its access token, or binding.OperatorClientID for the CLI).
// Every call is audited with actor Operator, the client as ClientID and
// the person as Detail "operator" — reads of a member's data included,
// so that a member's audit log shows when support looked.
//
// A task for a member takes the member's KVNR and checks that whatever
// else it names (a device) belongs to that member: support cannot act on
// another member's device by naming its id (the answer is NotFound, as
// for an unknown id).
//
// Layer: core use case. Imports: standard library, core domain packages
// and ports (store). Never net/http or a storage library.
package support
