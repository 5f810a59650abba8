// Package store is the storage port: one interface per aggregate, each
// implemented by adapters/sqlstore on SQLite and PostgreSQL. The conformance
// suite in store/storetest is the contract every implementation runs.
//
// Layer: ports. Imports: standard library, core domain packages.
//
// Contracts common to every method: times go in and come out in UTC with at
// least millisecond precision; a cancelled context or a database fault is
// fault.Unavailable (never NotFound or Conflict); read-modify-write happens in
// one atomic operation whose success is the authorisation.
package store
