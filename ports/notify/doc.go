// Package notify is the port for telling members about changes to their
// credentials (a new device, a PIN change, a lockout, a revocation). Its
// conformance suite, notifytest, is run by every implementation (mail and
// logsink).
//
// Layer: ports. Imports: standard library, core domain packages.
package notify
