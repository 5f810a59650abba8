package sqlstore

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/pforte-id/pforte/core/fault"
)

// tracerScope is the instrumentation scope of the store's spans.
const tracerScope = "github.com/pforte-id/pforte/adapters/sqlstore"

// startSpan starts the client span of one store call, child of the span
// in ctx (the request's). do calls it only when ctx holds a span: the
// calls of background work (the key ring's refresh every few seconds, the
// letter worker's polling, the janitor) and of start-up belong to no
// request, and a trace of one span each would bury the requests' traces
// at the collector. Its name is the port method, "store.ClientByID"
// for op "sqlstore.ClientByID"; its attributes are the database system
// and the method, never a statement's arguments: they are member numbers,
// hashes and ids.
func (s *Store) startSpan(ctx context.Context, op string) trace.Span {
	method := strings.TrimPrefix(op, "sqlstore.")
	system := semconv.DBSystemNameSQLite
	if s.driver == DriverPostgres {
		system = semconv.DBSystemNamePostgreSQL
	}
	_, span := s.tracer.Start(ctx, "store."+method,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(system, semconv.DBOperationName(method)))
	return span
}

// endSpan records the outcome of a call by its fault kind and ends span.
// The error's text stays out: a driver error can quote the row it refused.
// NotFound, Conflict and the other answers a caller expects are outcomes,
// not failures of the store; only Unavailable and Internal mark the span
// as failed.
func endSpan(span trace.Span, err error) {
	if err != nil {
		kind := fault.KindOf(err)
		span.SetAttributes(semconv.ErrorTypeKey.String(kind.String()))
		if kind == fault.Unavailable || kind == fault.Internal {
			span.SetStatus(codes.Error, kind.String())
		}
	}
	span.End()
}
