package tracing

import (
	"net/url"
	"strings"
	"unicode"

	"github.com/pforte-id/pforte/core/fault"
)

// Defaults of Config.
const (
	DefaultServiceName = "pforte"
	DefaultSampleRatio = 1.0
	// DefaultPath is the OTLP/HTTP path of traces, used when Endpoint
	// has none.
	DefaultPath = "/v1/traces"
)

// Config is the tracing configuration.
type Config struct {
	// Enabled records and exports traces; false: no span is recorded and
	// nothing is sent.
	Enabled bool
	// Endpoint is the collector's OTLP/HTTP URL ("http://collector:4318",
	// "https://collector.example.org/v1/traces"); without a path,
	// DefaultPath. http sends in clear text: keep it on a private network.
	Endpoint string
	// SampleRatio is the share of traces recorded when a request starts
	// one (0–1). A trace begun by a trusted proxy keeps the proxy's
	// decision.
	SampleRatio float64
	// ServiceName is the service.name of the spans (default
	// DefaultServiceName).
	ServiceName string
}

// DefaultConfig is tracing off, with the defaults that apply when it is
// turned on.
func DefaultConfig() Config {
	return Config{ServiceName: DefaultServiceName, SampleRatio: DefaultSampleRatio}
}

// WithDefaults returns c with an empty ServiceName replaced by
// DefaultServiceName. A SampleRatio of 0 is a setting: only traces a
// trusted proxy sampled are recorded.
func (c Config) WithDefaults() Config {
	if c.ServiceName == "" {
		c.ServiceName = DefaultServiceName
	}
	return c
}

// Validate checks c (defaults applied). A value is checked whether or not tracing is enabled,
// so that a mistake shows when the configuration is written, not when
// tracing is turned on. Errors: fault.Invalid whose Op names the field
// ("tracing.Config.Endpoint").
func (c Config) Validate() error {
	c = c.WithDefaults()
	field := func(name, msg string) error {
		return fault.New(fault.Invalid, "tracing.Config."+name, msg)
	}
	if c.Endpoint != "" {
		if _, err := c.endpointURL(); err != nil {
			return field("Endpoint", err.Error())
		}
	} else if c.Enabled {
		return field("Endpoint", "required when tracing is enabled: the collector's OTLP/HTTP URL, e.g. http://otel-collector:4318")
	}
	// The negation catches NaN too.
	if !(c.SampleRatio >= 0 && c.SampleRatio <= 1) {
		return field("SampleRatio", "must be between 0 and 1")
	}
	switch {
	case len(c.ServiceName) > 100:
		return field("ServiceName", "must be at most 100 bytes")
	case strings.IndexFunc(c.ServiceName, func(r rune) bool { return !unicode.IsPrint(r) || r == ' ' }) >= 0:
		return field("ServiceName", "must not contain spaces or control characters")
	}
	return nil
}

// endpointError is why an endpoint is refused.
type endpointError string

func (e endpointError) Error() string { return string(e) }

// endpointURL is Endpoint checked, with DefaultPath when it has no path.
func (c Config) endpointURL() (string, error) {
	u, err := url.Parse(c.Endpoint)
	switch {
	case err != nil:
		return "", endpointError("is not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return "", endpointError("must be an http or https URL")
	case u.Host == "" || u.Hostname() == "":
		return "", endpointError("has no host")
	case u.User != nil:
		return "", endpointError("must not carry credentials")
	case u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return "", endpointError("must not have a query or fragment")
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = DefaultPath
	}
	return u.String(), nil
}
