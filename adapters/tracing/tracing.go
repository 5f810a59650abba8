package tracing

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"runtime/debug"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Scope is the instrumentation scope of Pforte's own spans.
const Scope = "github.com/pforte-id/pforte"

// Export settings. They are written here rather than left to the SDK,
// whose defaults come from OTEL_* variables (see the package comment).
const (
	batchTimeout   = 5 * time.Second
	maxQueueSize   = 2048
	maxExportBatch = 512
	// exportTimeout bounds one export, retries included.
	exportTimeout = 30 * time.Second
	// requestTimeout bounds one HTTP request to the collector.
	requestTimeout = 10 * time.Second
)

// limits are the SDK's default span limits, fixed (the SDK would read
// them from OTEL_SPAN_* variables). Pforte's spans have a handful of
// attributes and no events.
var limits = sdktrace.SpanLimits{
	AttributeValueLengthLimit:   sdktrace.DefaultAttributeValueLengthLimit,
	AttributeValueDepthLimit:    sdktrace.DefaultAttributeValueDepthLimit,
	AttributeCountLimit:         sdktrace.DefaultAttributeCountLimit,
	EventCountLimit:             sdktrace.DefaultEventCountLimit,
	LinkCountLimit:              sdktrace.DefaultLinkCountLimit,
	AttributePerEventCountLimit: sdktrace.DefaultAttributePerEventCountLimit,
	AttributePerLinkCountLimit:  sdktrace.DefaultAttributePerLinkCountLimit,
}

// Options are what New needs besides the configuration.
type Options struct {
	// Exporter, when set, receives the spans instead of an OTLP/HTTP
	// exporter to Config.Endpoint (tests use the SDK's in-memory one).
	Exporter sdktrace.SpanExporter
	// TrustedProxies are the reverse proxies whose traceparent header is
	// believed (see StartRequest).
	TrustedProxies []netip.Prefix
	// Log receives export failures (nil: slog.Default()).
	Log *slog.Logger
	// Version is Pforte's release, the spans' service.version (empty: the
	// module version the binary was built as, if any).
	Version string
}

// Tracing is a running tracer provider with its exporter. A nil *Tracing
// is tracing turned off: its methods do nothing.
type Tracing struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	trusted  []netip.Prefix
	prop     propagation.TraceContext
}

// New starts tracing as cfg says; nil (and no error) when cfg.Enabled is
// false. Spans are batched (every 5 s, or 512 at a time; at most 2048
// wait, further ones are dropped rather than slowing requests down) and
// sent to the collector; Shutdown sends what is left. Nothing connects
// before the first export. Errors: Invalid from cfg.Validate.
func New(cfg Config, o Options) (*Tracing, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !cfg.Enabled {
		return nil, nil
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	exp := o.Exporter
	if exp == nil {
		var err error
		if exp, err = otlpExporter(cfg); err != nil {
			return nil, err
		}
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(&loggedExporter{SpanExporter: exp, log: o.Log},
			sdktrace.WithBatchTimeout(batchTimeout),
			sdktrace.WithMaxQueueSize(maxQueueSize),
			sdktrace.WithMaxExportBatchSize(maxExportBatch),
			sdktrace.WithExportTimeout(exportTimeout),
		),
		// A trace a trusted proxy began keeps its decision; a trace that
		// begins here is recorded with the configured probability.
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
		sdktrace.WithResource(serviceResource(cfg.ServiceName, o.Version)),
		sdktrace.WithRawSpanLimits(limits),
	)
	return &Tracing{provider: tp, tracer: tp.Tracer(Scope), trusted: o.TrustedProxies}, nil
}

// otlpExporter is the OTLP/HTTP exporter of cfg: protobuf, gzip, retried
// on passing failures (unreachable, 429, 502–504) for as long as one
// export may take. It is configured here only: its options override every
// OTEL_EXPORTER_OTLP_* variable it would otherwise read, and the collector
// is reached directly, never through an HTTP proxy the environment names.
func otlpExporter(cfg Config) (sdktrace.SpanExporter, error) {
	endpoint, err := cfg.endpointURL()
	if err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.Proxy = nil
	exp, err := otlptracehttp.New(context.Background(),
		otlptracehttp.WithEndpointURL(endpoint),
		otlptracehttp.WithHeaders(map[string]string{}),
		otlptracehttp.WithCompression(otlptracehttp.GzipCompression),
		otlptracehttp.WithHTTPClient(&http.Client{Timeout: requestTimeout, Transport: transport}),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{
			Enabled: true, InitialInterval: time.Second, MaxInterval: 10 * time.Second, MaxElapsedTime: exportTimeout,
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	return exp, nil
}

// serviceResource names the process the spans come from: the service,
// Pforte's version, the host and an id of this process, so that the
// replicas of one deployment are told apart. The SDK's default resource
// would also read OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME.
func serviceResource(name, version string) *resource.Resource {
	attrs := []attribute.KeyValue{
		semconv.ServiceName(name),
		semconv.ServiceInstanceID(instanceID()),
		semconv.TelemetrySDKLanguageGo,
		semconv.TelemetrySDKName("opentelemetry"),
		semconv.TelemetrySDKVersion(sdk.Version()),
	}
	if bi, ok := debug.ReadBuildInfo(); version == "" && ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		version = bi.Main.Version
	}
	if version != "" {
		attrs = append(attrs, semconv.ServiceVersion(version))
	}
	if host, err := os.Hostname(); err == nil {
		attrs = append(attrs, semconv.HostName(host))
	}
	return resource.NewWithAttributes(semconv.SchemaURL, attrs...)
}

// instanceID is a random id of this process.
func instanceID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// TracerProvider is the provider the store and other adapters start their
// spans from; nil when tracing is off, which they take as "record
// nothing".
func (t *Tracing) TracerProvider() trace.TracerProvider {
	if t == nil {
		return nil
	}
	return t.provider
}

// Shutdown sends the spans still waiting to the collector, within ctx,
// and stops tracing; spans ended later are dropped. Calling it again does
// nothing.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}

// loggedExporter writes a failed export to the log, as a warning: traces
// are lost, requests are not. The SDK would hand the error to
// OpenTelemetry's global error handler, which writes to the standard
// library's log outside Pforte's structured log. The error text is the
// exporter's (an address, an HTTP status), never span content.
type loggedExporter struct {
	sdktrace.SpanExporter
	log *slog.Logger
}

func (e *loggedExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if err := e.SpanExporter.ExportSpans(ctx, spans); err != nil {
		e.log.Warn("trace export failed; these spans are lost", "spans", len(spans), "err", err)
	}
	return nil
}
