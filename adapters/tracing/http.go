package tracing

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/pforte-id/pforte/core/clientaddr"
)

// StartRequest starts the server span of r and returns r with the span in
// its context, for the handlers, the store calls and the log lines below
// it. End it with EndRequest once the route and the status are known. On
// a nil *Tracing it returns r unchanged and a span that records nothing.
//
// A W3C trace context (traceparent, tracestate) in r's headers makes the
// span its child only when r comes from a trusted proxy (Options.
// TrustedProxies): from anyone else it would let a client choose the
// trace id Pforte logs under and force every one of its requests to be
// recorded (the sampled flag). Such a request starts a trace of its own
// that links to the one it named, so the connection is still visible.
func (t *Tracing) StartRequest(r *http.Request) (*http.Request, trace.Span) {
	if t == nil {
		return r, trace.SpanFromContext(r.Context())
	}
	method := methodOf(r.Method)
	opts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(semconv.HTTPRequestMethodKey.String(method)),
	}
	ctx := r.Context()
	remote := trace.SpanContextFromContext(t.prop.Extract(context.Background(), propagation.HeaderCarrier(r.Header)))
	switch {
	case !remote.IsValid():
	case clientaddr.PeerTrusted(r.RemoteAddr, t.trusted):
		ctx = trace.ContextWithRemoteSpanContext(ctx, remote)
	default:
		opts = append(opts, trace.WithNewRoot(), trace.WithLinks(trace.Link{SpanContext: remote}))
	}
	ctx, span := t.tracer.Start(ctx, method, opts...)
	return r.WithContext(ctx), span
}

// EndRequest names span by the route pattern r matched ("/token",
// "POST /app/v1/logins/{id}/challenge"; never the path, which holds ids),
// records the status and ends the span. A 5xx marks the span as failed;
// a 4xx is the client's matter and does not.
func EndRequest(span trace.Span, r *http.Request, route string, status int) {
	if !span.IsRecording() {
		span.End()
		return
	}
	method := methodOf(r.Method)
	name := route
	if m, path, ok := strings.Cut(route, " "); ok && m != "" && !strings.HasPrefix(m, "/") {
		// A ServeMux pattern with its method: the route is the path part.
		route = path
	} else {
		name = method + " " + route
	}
	span.SetName(name)
	span.SetAttributes(
		semconv.HTTPRoute(route),
		semconv.HTTPResponseStatusCode(status),
	)
	if status >= 500 {
		span.SetAttributes(attribute.String(string(semconv.ErrorTypeKey), strconv.Itoa(status)))
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
}

// methodOf is the request method as the span shows it: a known method, or
// _OTHER, so that a client cannot put a text of its choosing into a span.
func methodOf(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "_OTHER"
}
