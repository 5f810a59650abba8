// Package session is the single sign-on session of a browser: after a web
// login, a second relying party gets its code without another login while
// the session is alive and strong enough for the request.
//
// A session is stored server-side (store.Sessions), named by a public id
// (the sid of ID tokens and logout tokens) and found by the hash of a
// random secret that only the browser holds, in a __Host- cookie. It ends
// after Policy.Idle without use, after Policy.Absolute in any case, and at
// once when the member logs out, when support ends it, or when the device
// binding that confirmed it is revoked. Ending it revokes every token
// family issued in it (the store does both in one transaction) and the
// relying parties it served are told through back-channel logout.
//
// The rules of the session — what a request needs to be answered from it
// without a login (Decide) — are here, in one place; core/sso drives them.
//
// Layer: core domain. Imports: standard library and core packages.
package session
