// Command pforte-app is the reference Service-App client: what the insurer's
// mobile app does, as a command line program, for people trying Pforte and
// for tests. It checks a Pforte instance's metadata (`discover`) and
// registers a member with a password letter: `register` orders the letter,
// `activate` reads the QR code and the initial password out of the letter's
// PDF (or takes them as typed) and opens an enrollment session,
// `set-password` sets the member's own password. `bind-device` binds the
// device with a software P-256 key (package authenticator, packed self
// attestation) and `set-pin` sets the release PIN, which completes the
// enrollment; `devices` lists, renames and revokes the member's devices
// with the device key and the PIN, and `reset-pin` sets a new PIN with the
// password (which also unblocks a blocked device). `login` is the native
// login (package appclient: PAR, PKCE, the login challenge answered with
// the device key and the PIN, the code exchanged with a DPoP proof, the
// ID token verified with go-oidc); `token --refresh`, `userinfo` and
// `logout` use the session's DPoP-bound tokens. Its state (issuer, member
// number, enrollment session, device key and binding, the session's
// tokens and DPoP key) lives in a local JSON file, written atomically
// with mode 0600.
//
// Files: cli.go (run, root command, discover), register.go (the
// registration commands), devices.go (device binding, PIN and device
// management), login.go (login, token, userinfo, logout), api.go (the
// /app/v1 client), state.go (the state file).
//
// Layer: cmd. Imports: anything but test/.
package main
