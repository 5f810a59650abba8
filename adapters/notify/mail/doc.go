// Package mail is the SMTP adapter of the notification port
// (ports/notify.Notifier): it sends each message as a plain-text UTF-8
// e-mail to the member's address on file, through the insurer's mail relay.
//
// The message is one text/plain part, charset UTF-8, quoted-printable, so
// that it is 7-bit clean whatever relay carries it; the subject and any
// display names are RFC 2047 encoded words. Every message carries Date, a
// fresh Message-ID under the sender's domain, Auto-Submitted:
// auto-generated (RFC 3834: auto-responders must not answer it) and
// X-Auto-Response-Suppress: All (the same for Exchange). Core composes
// subject and body; this package adds no text of its own.
//
// Header injection is refused before anything is sent: a CR, LF or other
// control character in To or Subject is fault.Invalid, so a value that
// reached a notification from outside can never add a Bcc or a second body.
//
// Transport security is chosen per deployment (Config.StartTLS): required
// (the default: no STARTTLS offered, an untrusted certificate or a failed
// handshake is an error, nothing is sent), opportunistic, or none, which
// Validate accepts only for a relay on the loopback interface. Credentials
// are sent with AUTH PLAIN or LOGIN only over TLS or to a loopback relay,
// so a network attacker who strips STARTTLS in opportunistic mode gets a
// failed delivery, not the relay password. The password is a Secret that
// prints as [redacted], and error texts are scrubbed of it (raw and in the
// base64 forms AUTH sends) in case a relay echoes it back.
//
// Errors: Invalid for a malformed address or header and for a recipient the
// relay refuses permanently as an address (enhanced status 5.1.x, or 550/553
// without one); Unavailable for everything else: connection refused,
// timeouts, a cancelled context, TLS and authentication failures, temporary
// (4xx) replies. Once the relay has accepted the message (250 after DATA) a
// failure to say QUIT is not an error: the relay has taken responsibility
// for it, and reporting a failure would only make the caller send it twice.
//
// Library: github.com/wneessen/go-mail, actively maintained and MIT
// licensed. net/smtp would carry the bytes, but it is frozen: it has no
// context support, only PLAIN and CRAM-MD5 (Exchange and Microsoft 365
// relays often offer LOGIN only), and leaves MIME to the caller, and
// hand-written RFC 2047, quoted-printable and header folding is where mail
// code usually goes wrong. go-mail brings STARTTLS policies that map one to
// one onto Config.StartTLS, SASL mechanisms that refuse to send credentials
// in clear text, SMTP errors with their (enhanced) status codes, and a
// message writer built on the standard library's mime packages. It is
// pinned to v0.8.1: v0.8.2 needs Go 1.26.10, newer than the project's
// toolchain. The two v0.8.1 defects that v0.8.2 fixes and that touch this
// use, a connection left open when the handshake fails after dialling and
// a server address built without brackets for IPv6 literals, do not apply:
// this package dials itself (net.JoinHostPort) and closes the connection
// after every message. Upgrade when the toolchain moves.
//
// A Notifier is safe for concurrent use; each message uses a connection of
// its own (notifications are rare, a pool would only add state).
//
// Layer: adapter. Imports: standard library, core/fault, ports/notify and
// github.com/wneessen/go-mail; never another adapter. Tests also use
// github.com/emersion/go-smtp as the in-process relay.
package mail
