// Package tracing records what Pforte does as OpenTelemetry traces and
// sends them to a collector over OTLP/HTTP: a server span per HTTP request,
// named by the route pattern that matched, whose parent is the trace
// context (W3C traceparent) a trusted reverse proxy sent; the store's
// spans below it (adapters/sqlstore starts them from the TracerProvider
// it is given); and the trace and span id in every log line written while
// a span is in the context (LogHandler), so that a log line leads to its
// trace and back.
//
// Tracing is off unless configured (Config.Enabled): then New returns nil,
// every method of a nil *Tracing is a no-op, and nothing is wrapped or
// started, so an instance without tracing pays nothing for it.
//
// Spans carry no member data: no path (paths hold request ids), no query,
// no header, no client address, no member number, account or client id,
// no token and no error text (a database error can quote a row) — only
// route patterns, methods, status codes, store method names and fault
// kinds, all from closed sets.
//
// Pforte's configuration alone decides where spans go: the OTEL_*
// environment variables the SDK reads by default (endpoint, headers,
// certificates, sampler, limits, resource) are overridden here, as every
// adapter leaves the environment to cmd/pforte.
//
// Layer: adapter. Imports: standard library, core/fault, core/clientaddr,
// go.opentelemetry.io/otel (API, SDK, OTLP/HTTP exporter); never another
// adapter.
package tracing
