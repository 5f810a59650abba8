// Package adminapi is the admin API: the JSON API (under /admin/v1/, its
// description in openapi.yaml) through which the insurer's support tool
// does support staff's tasks (core/support): find a member, see their
// status, order a letter, unblock or revoke devices, end sessions, lock
// and unlock an account, query the audit log, edit a client and rotate
// its secret.
//
// It is mounted on the public listener, beside the app API, so that the
// support tool reaches it as it reaches the token endpoint (TLS, the same
// load balancer); operators who want it off the internet restrict
// /admin/v1/ at their proxy. (The ops listener, server.admin_addr, serves
// profiles and metrics without authentication and is no place for it.)
//
// Authentication: every call but the description carries a bearer
// access token that Pforte issued to a client by client_credentials with
// the admin scope (authz.AdminToken: the client's own token, unexpired,
// unrevoked, of a client still registered with the scope; a member's
// token, another client's token without the scope, or a DPoP-bound token
// is refused). No client has the scope unless the operator registers one
// with it: until then the API refuses every call.
//
// The agent: the token names the client (the support tool), not the
// person at it. Each call names the person in the header X-Pforte-Agent
// (1–100 printable characters, UTF-8). The header is trusted only together
// with the token — the support tool, which holds the admin client's
// secret, vouches for it, and Pforte records it, with the client, in every
// audit event of the call; it is not proven by Pforte. A call without it
// is refused (400) and changes nothing.
//
// Layer: adapter. Imports: standard library, core and ports; never
// another adapter.
package adminapi
