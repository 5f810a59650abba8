// Package notifytest is the conformance suite of the notification port:
// every implementation of notify.Notifier runs Run from its own tests
// (adapters/notify/mail against an SMTP server in the test, and
// adapters/notify/logsink against its log), so that whichever one a
// deployment chooses refuses and delivers the same messages.
//
// It covers delivery of UTF-8 text (umlauts, ß, long lines) with the
// recipient, subject and body intact; the messages every implementation
// refuses as Invalid without delivering anything (CR or LF in the
// recipient or subject — header injection —, a recipient that is not one
// e-mail address, an empty recipient or subject, a body that is not UTF-8
// text); a cancelled context (Unavailable, nothing delivered); and
// concurrent use (every message delivered exactly once).
//
// Layer: ports. Imports: standard library (testing), ports/notify,
// core/fault.
package notifytest
