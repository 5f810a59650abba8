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
// password (which also unblocks a blocked device). Its state (issuer,
// member number, enrollment session, device key and binding) lives in a
// local JSON file, written atomically with mode 0600. The native login
// comes with the issue that builds it.
//
// Files: cli.go (run, root command, discover), register.go (the
// registration commands), devices.go (device binding, PIN and device
// management), api.go (the /app/v1 client and its problem documents),
// state.go (the state file).
//
// Layer: cmd. Imports: anything but test/.
package main
