package secret

import (
	"encoding/json"
	"log/slog"
	"strconv"
)

// String is a secret value. It prints as [redacted] through fmt, slog and
// encoding/json; Reveal returns the value for the one place that uses it.
type String string

// Reveal returns the secret value.
func (s String) Reveal() string { return string(s) }

func (s String) String() string { return redacted(s) }

// GoString keeps %#v from printing the value.
func (s String) GoString() string { return strconv.Quote(redacted(s)) }

// LogValue implements slog.LogValuer.
func (s String) LogValue() slog.Value { return slog.StringValue(redacted(s)) }

// MarshalJSON keeps a secret inside a struct logged as JSON redacted.
func (s String) MarshalJSON() ([]byte, error) { return json.Marshal(redacted(s)) }

// redacted hides a value but not its absence: an empty secret prints empty,
// so that a log shows that a value is missing.
func redacted(s String) string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}
