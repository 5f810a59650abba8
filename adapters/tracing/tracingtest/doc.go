// Package tracingtest is an OpenTelemetry collector for tests: an
// OTLP/HTTP trace receiver on a loopback port that decodes what an
// exporter posts, as a real collector would, and keeps it for the test
// to read.
//
// Layer: test support (imported only by tests, test/ and other
// test-support packages). Imports: standard library, the OTLP protobuf
// types.
package tracingtest
