// Package logsink is the development adapter of the notification port
// (ports/notify.Notifier): instead of sending mail it writes each message,
// recipient, subject, kind and body, to a structured log, so that a
// developer sees exactly what a member would receive. The body is logged
// because the port's contract keeps secrets out of notifications; the
// recipient is personal data, which is why this adapter is for development
// and tests, never production.
//
// It refuses what the SMTP adapter refuses before sending (control
// characters such as CR/LF in To or Subject, a To that is not one address,
// a missing subject): fault.Invalid, so that a bug upstream shows in
// development and not first in production.
//
// Layer: adapter. Imports: standard library, core/fault, ports/notify;
// never another adapter.
package logsink
