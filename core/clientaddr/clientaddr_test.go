package clientaddr_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/pforte-id/pforte/core/clientaddr"
)

func TestOf(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32")}
	for _, tc := range []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"direct peer", "203.0.113.7:5555", nil, "203.0.113.7"},
		{"a direct peer's header is ignored", "203.0.113.7:5555", []string{"198.51.100.1"}, "203.0.113.7"},
		{"behind a trusted proxy", "10.1.2.3:443", []string{"198.51.100.1"}, "198.51.100.1"},
		{"the client's own prefix proves nothing", "10.1.2.3:443", []string{"6.6.6.6, 198.51.100.1"}, "198.51.100.1"},
		{"several header lines, two proxies", "10.1.2.3:443", []string{"6.6.6.6", "198.51.100.1, 192.0.2.1"}, "198.51.100.1"},
		{"only proxies: the peer", "10.1.2.3:443", []string{"10.9.9.9"}, "10.1.2.3"},
		{"garbage stops the walk", "10.1.2.3:443", []string{"198.51.100.1, junk"}, "10.1.2.3"},
		{"IPv4-mapped peer", "[::ffff:203.0.113.7]:5555", nil, "203.0.113.7"},
		{"IPv6 peer", "[2001:db8::1]:5555", nil, "2001:db8::1"},
		{"not an address", "pipe", nil, "pipe"},
	} {
		if got := clientaddr.Of(tc.remote, tc.xff, proxies); got != tc.want {
			t.Errorf("%s: Of(%q, %q) = %q, want %q", tc.name, tc.remote, tc.xff, got, tc.want)
		}
	}
}

func TestPeerTrusted(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/64")}
	for _, tc := range []struct {
		remote string
		want   bool
	}{
		{"10.1.2.3:443", true},
		{"[::ffff:10.1.2.3]:443", true},
		{"[2001:db8::7]:443", true},
		{"203.0.113.7:5555", false},
		{"[2001:db8:0:1::7]:443", false},
		{"pipe", false},
		{"", false},
	} {
		if got := clientaddr.PeerTrusted(tc.remote, proxies); got != tc.want {
			t.Errorf("PeerTrusted(%q) = %v, want %v", tc.remote, got, tc.want)
		}
	}
	if clientaddr.PeerTrusted("10.1.2.3:443", nil) {
		t.Error("a peer is trusted with no proxies configured")
	}
}

func TestLimitKey(t *testing.T) {
	for _, tc := range []struct {
		raw, want string
		ok        bool
	}{
		{"203.0.113.7", "203.0.113.7", true},
		{" 203.0.113.7 ", "203.0.113.7", true},
		{"203.0.113.7:5555", "203.0.113.7", true},
		{"::ffff:203.0.113.7", "203.0.113.7", true},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64", true},
		{"2001:db8:1:2::9", "2001:db8:1:2::/64", true},
		{"fe80::1%eth0", "fe80::/64", true},
		{"pipe", "raw:pipe", true},
		{strings.Repeat("x", 100), "raw:" + strings.Repeat("x", 64), true},
		{"", "", false},
		{"  ", "", false},
	} {
		got, ok := clientaddr.LimitKey(tc.raw)
		if got != tc.want || ok != tc.ok {
			t.Errorf("LimitKey(%q) = %q, %v; want %q, %v", tc.raw, got, ok, tc.want, tc.ok)
		}
	}
}
