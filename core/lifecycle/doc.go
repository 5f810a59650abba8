// Package lifecycle ends what a member leaves behind: memberships the
// insurer's file no longer has (Sync), accounts the member, support or
// the retention period deletes (DeleteAccount), and members whose
// retention period is over (PurgeExpired).
//
// What a security reviewer checks here: a sync that would end more than
// Config.SyncMaxDrop of the memberships is refused unless an operator
// forces it with a reason, so a truncated file cannot end every
// membership; a deletion first blocks the account (no new login can
// start), ends its sessions with back-channel logout, and then deletes in
// one store transaction, of which exactly one of concurrent deletions
// succeeds; the audit log keeps its entries, which name the account id and
// the member number's keyed pseudonym only.
//
// Layer: core use case. Imports: core domain packages, ports.
package lifecycle
