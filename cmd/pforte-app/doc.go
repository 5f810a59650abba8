// Command pforte-app is the reference Service-App client: what the insurer's
// mobile app does, as a command line program with a software device key, for
// people trying Pforte and for tests. Today it checks a Pforte instance's
// metadata (`discover`); the native login, device binding and release PIN
// commands come with the issues that build those flows.
//
// Layer: cmd. Imports: anything but test/.
package main
