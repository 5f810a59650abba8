// Command pforte-app is the reference Service-App client: what the insurer's
// mobile app does, as a command line program, for people trying Pforte and
// for tests. It checks a Pforte instance's metadata (`discover`) and
// registers a member with a password letter: `register` orders the letter,
// `activate` reads the QR code and the initial password out of the letter's
// PDF (or takes them as typed) and opens an enrollment session,
// `set-password` sets the member's own password. Its state (issuer, member
// number, enrollment session) lives in a local JSON file, written
// atomically with mode 0600. The native login, device binding and release
// PIN commands come with the issues that build those flows.
//
// Files: cli.go (run, root command, discover), register.go (the
// registration commands), api.go (the /app/v1 client and its problem
// documents), state.go (the state file).
//
// Layer: cmd. Imports: anything but test/.
package main
