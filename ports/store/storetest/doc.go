// Package storetest is the conformance suite of the storage port: one
// Run* per sub-port (RunAccounts, RunDevices, RunLetters, …), each taking
// the stores to check through its type parameter, which names the sub-port
// and the ports its fixtures are made with; Run runs them all on a full
// store.Store. Every implementation runs the Run* of the sub-ports it
// implements from its own tests (sqlstore runs Run on SQLite and on
// PostgreSQL), so that all of them keep the same contract.
//
// It covers round trips of every field (slices, zero times, durations, the
// optional MaxAge and Login), the error kinds (NotFound, Conflict, Expired,
// Forbidden), times stored in another zone and read back in UTC to the
// millisecond, expiry and DeleteExpired, rollback of failed multi-row
// operations, a cancelled context (always Unavailable), and the races:
// N concurrent callers of RedeemCode, IssueCode, CompleteAuthRequest,
// RotateRefreshToken, UseOnce and ApplyKeyPlan on one value have exactly one
// winner; and CreateFamily racing RevokeFamiliesOfCode for one code, many
// times over, never leaves an active family for the replayed code.
//
// For registration it covers the member import (many statements, replace,
// unchanged rows left alone, duplicates refused with nothing written), the
// request queue and letters (oldest first, leases, state changes and the
// kinds of refused ones, superseding, the seven-day rule, expiry), the
// enrollments with their proofs and the rate limits, and the races: N
// concurrent CreateLetter for one member leave one letter; N wrong
// activations count exactly N and void the letter at max; of N concurrent
// activations one wins; concurrent claimers never get the same letter or
// request while its lease runs; 50 concurrent hits with limit 10 allow
// exactly 10.
//
// For device binding it covers bindings (every field, a credential id with
// NUL and 0xff bytes, a sign counter beyond 31 bits), the session rules of
// BindDevice (unknown, expired, completed, one key per session, a
// credential bound once), UpdateBinding (what f may change, f refusing
// with its own error, which comes back unchanged, identity fields
// refused, token families left to the caller), RevokeBindings (keep,
// idempotence, first revocation time kept, the families of the revoked
// bindings), CreateFamily racing either way of revoking a binding,
// single-use and expiring challenges, DeleteExpired of challenges,
// single-use and expiring proofings by redirect (with DeleteExpired and a
// race of N concurrent TakeProofing of which one wins), the append-only
// audit log (newest first, limits, never expired), and CompleteEnrollment with each missing step,
// a binding that is not active, expiry and rollback; and the races: of N
// concurrent ConsumeChallenge one wins; of 10 concurrent BindDevice in one
// session one wins; of N concurrent CompleteEnrollment one wins, with one
// audit event; and 50 concurrent wrong PINs under a policy that blocks at
// 5 (no delays) compare exactly 5 guesses, each on its own counter state,
// and leave the binding blocked at 5 — three times over.
//
// Layer: ports. Imports: standard library (testing), ports/store, core
// domain packages.
package storetest
