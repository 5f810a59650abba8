// Package housekeeping runs the periodic clean-up of Pforte: expired
// authorization requests, codes, tokens, challenges, approvals, proofings,
// DPoP and client assertion replay entries, ended sessions past their
// retention, the back-channel logouts a crash left unqueued, the secret
// hashes of letters long expired, abandoned enrollment sessions, and
// whatever retention deletes are added to Tasks.
//
// Every replica runs a Runner; a lease in the database (store.Leases)
// makes sure that one of them at a time runs the tasks, and that, of the
// replicas that look every Interval, only the first after the due time
// does. A replica that dies while it holds the lease holds it no longer
// than Config.Lease; then another takes over.
//
// Signing key rotation is not one of the tasks: every replica must reload
// the key set on its own (adapters/keys Ring.Run), and the rotation it
// applies is already safe on several replicas at once, since
// store.SigningKeys.ApplyKeyPlan succeeds only for the replica that
// decided on the key states as they still are (the others reload).
//
// Layer: core use case. Imports: standard library, core domain packages
// and ports.
package housekeeping
