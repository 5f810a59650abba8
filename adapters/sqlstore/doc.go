// Package sqlstore implements the storage port (ports/store) with sqlx over
// SQLite (modernc.org/sqlite, no cgo) and PostgreSQL (pgx stdlib).
//
// Layer: adapters. Imports: core domain packages, ports/store, database/sql,
// sqlx, the two drivers, goose and the OpenTelemetry trace API (a span per
// store call when Config.Tracer is set, trace.go); never another adapter.
//
// Schema conventions, the same on both engines so that one set of migrations
// serves both:
//   - times are BIGINT milliseconds since the Unix epoch, always UTC; NULL is
//     the zero time.Time. Values come back in UTC, truncated to milliseconds.
//   - durations are BIGINT nanoseconds (time.Duration); NULL is an absent
//     optional duration (AuthRequest.MaxAge).
//   - lists (scopes, amr, prompt, redirect URIs, ...) are JSON arrays in TEXT;
//     an empty list comes back as nil.
//   - binary values (JWKS, sealed keys) are BYTEA; SQLite accepts the type name
//     and stores the value as a BLOB.
//
// Every SQL statement is written once with ? placeholders and passed through
// db.Rebind. Driver errors become fault kinds in errors.go and nowhere else:
// no rows → NotFound, unique violation → Conflict, busy / serialization
// failure / deadlock → bounded retry, then Unavailable, cancelled context and
// connection faults → Unavailable, anything else → Internal.
//
// Atomicity: every read-modify-write of the port (RedeemCode,
// CompleteAuthRequest, IssueCode, RotateRefreshToken, UseOnce, ApplyKeyPlan)
// is a conditional UPDATE, DELETE or upsert whose affected-row count decides
// the winner; on PostgreSQL (READ COMMITTED) a concurrent writer blocks on the
// row lock and re-evaluates the condition, on SQLite writers are serialised by
// BEGIN IMMEDIATE and the busy timeout. Only after a lost race does the adapter
// read the row again to name the reason (NotFound, Expired, Conflict, ...).
// Partial unique indexes allow at most one next and one active signing key,
// which is what makes two concurrent key rotations collide. A replayed code
// and the tokens stored for it (RevokeFamiliesOfCode against CreateFamily)
// meet on the code's row: each transaction first UPDATEs that row, which
// orders them; CreateFamily explains the interleavings.
//
// Registration follows the same rule. Letter state changes (MarkRendered,
// MarkHandedOver, ActivateLetter) are UPDATEs conditional on the state;
// FailActivation increments the counter and voids the letter at max in one
// UPDATE … RETURNING; CreateLetter checks the seven-day rule and inserts
// under a per-member advisory lock on PostgreSQL (the IMMEDIATE transaction
// on SQLite). ClaimLetters and ClaimRegistrations lease rows with
// lease_until, on PostgreSQL choosing them FOR UPDATE SKIP LOCKED. Rate
// limits are one upsert per hit that returns the new count. UpsertMembers
// writes in multi-row statements (VALUES lists on SQLite, unnested arrays
// on PostgreSQL) and leaves unchanged rows alone.
//
// Device binding (00004): BindDevice and CompleteEnrollment read the
// enrollment session's row FOR UPDATE (on PostgreSQL) before they check it
// and write, so a binding, a completion and the password step of one
// session are serialised; a partial unique index allows one binding per
// session and a unique index one binding per credential id. UpdateBinding
// is the read-modify-write of a binding (PIN counter, sign counter,
// status): SELECT … FOR UPDATE on PostgreSQL, the IMMEDIATE transaction on
// SQLite, the caller's function in between. ConsumeChallenge is one
// DELETE … RETURNING. The audit log (audit_events) is append-only: the
// adapter inserts and reads it and has no UPDATE or DELETE of it.
//
// App login (00005): a pushed authorization request is a row of
// auth_requests with request_uri_hash set; every other method sees only
// rows whose request_uri is used or absent, and ConsumePushedRequest is one
// conditional UPDATE … RETURNING that sets request_uri_used_at. Token
// families carry the device binding of their login (binding_id, indexed).
// A family of a binding and the binding's revocation meet on the binding's
// row: CreateFamily reads it FOR UPDATE and refuses a revoked or suspect
// binding; RevokeBindings changes the rows and then, in the same
// transaction, revokes the bindings' families, and a caller that revokes
// or flags one binding with UpdateBinding calls RevokeFamiliesOfBinding
// after it (CreateFamily explains the interleavings).
//
// Back-channel logout (00015): logout_jobs is a queue worked by every
// replica. ClaimLogoutJobs leases due rows as ClaimLetters does and writes
// the worker's claim token and one more attempt in the same statement;
// FinishLogoutJob and RetryLogoutJob are a DELETE and an UPDATE
// conditional on that claim, so a worker whose lease ran out and whose job
// another worker took over changes nothing. A unique index on (session,
// client, subject) with ON CONFLICT DO NOTHING keeps one queued job per
// target.
//
// Authorization codes outlive their expiry by store.CodeRetention before
// DeleteExpired removes them, so that a late replay is still a replay.
//
// AuthRequests.DeleteExpired and Tokens.DeleteExpired have one signature and
// so one implementation: it clears every table with an expiry.
//
// Migrations (migrations/*.sql, embedded) are applied by goose; on
// PostgreSQL replicas take turns on an advisory lock per database and
// schema, on SQLite a migration that lost against another process is
// retried. Put search_path in the PostgreSQL DSN to use a schema other than
// public.
package sqlstore
