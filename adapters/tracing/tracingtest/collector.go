package tracingtest

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Span is one span as the collector received it.
type Span struct {
	Name string
	// Service and Version are the service.name and service.version of
	// the resource it came with.
	Service, Version string
	// TraceID and SpanID are lower-case hex.
	TraceID, SpanID string
}

// Export is one request the exporter sent.
type Export struct {
	Path   string
	Header http.Header
}

// Collector receives OTLP/HTTP trace exports (protobuf, gzip or not) at
// any path.
type Collector struct {
	// URL is its base URL ("http://127.0.0.1:<port>").
	URL string

	mu      sync.Mutex
	spans   []Span
	exports []Export
}

// Start runs a collector until t ends.
func Start(t testing.TB) *Collector {
	t.Helper()
	c := &Collector{}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	c.URL = srv.URL
	return c
}

// ServeHTTP decodes one export request and answers as a collector does.
func (c *Collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(raw, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.exports = append(c.exports, Export{Path: r.URL.Path, Header: r.Header.Clone()})
	for _, rs := range req.ResourceSpans {
		var service, version string
		for _, a := range rs.Resource.GetAttributes() {
			switch a.Key {
			case "service.name":
				service = a.Value.GetStringValue()
			case "service.version":
				version = a.Value.GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				c.spans = append(c.spans, Span{
					Name: sp.Name, Service: service, Version: version, TraceID: hexOf(sp.TraceId), SpanID: hexOf(sp.SpanId),
				})
			}
		}
	}
	c.mu.Unlock()
	resp, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(resp)
}

// Spans returns the spans received so far.
func (c *Collector) Spans() []Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Span(nil), c.spans...)
}

// Names returns the names of the spans received so far.
func (c *Collector) Names() []string {
	var out []string
	for _, s := range c.Spans() {
		out = append(out, s.Name)
	}
	return out
}

// Exports returns the requests received so far.
func (c *Collector) Exports() []Export {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Export(nil), c.exports...)
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 2*len(b))
	for i, x := range b {
		out[2*i], out[2*i+1] = digits[x>>4], digits[x&0xf]
	}
	return string(out)
}
