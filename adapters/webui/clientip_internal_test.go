package webui

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

// TestClientIP: the address password checks are throttled by is the peer,
// unless the peer is a trusted proxy; then the last forwarded address that
// is not a trusted proxy. What a client writes into X-Forwarded-For itself
// counts for nothing.
func TestClientIP(t *testing.T) {
	u := &UI{cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}
	for _, tc := range []struct{ peer, xff, want string }{
		{"203.0.113.7:5000", "", "203.0.113.7"},
		{"203.0.113.7:5000", "198.51.100.1", "203.0.113.7"},
		{"10.0.0.2:5000", "198.51.100.1", "198.51.100.1"},
		{"10.0.0.2:5000", "192.0.2.66, 198.51.100.1, 10.0.0.3", "198.51.100.1"},
		{"10.0.0.2:5000", "", "10.0.0.2"},
		{"[::ffff:203.0.113.7]:5000", "", "203.0.113.7"},
		{"[2001:db8::1]:443", "", "2001:db8::1"},
	} {
		r := httptest.NewRequest("POST", "/login", nil)
		r.RemoteAddr = tc.peer
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := u.clientIP(r); got != tc.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %s, want %s", tc.peer, tc.xff, got, tc.want)
		}
	}
}
