package clientaddr

import (
	"net"
	"net/netip"
	"strings"
)

// Of is the client address of a request whose peer is remoteAddr
// ("host:port" as net/http gives it) and whose X-Forwarded-For header
// lines are forwardedFor, behind the proxies in trusted. IPv4-mapped IPv6
// addresses are given as IPv4. A peer that is not an IP address is
// returned as it is.
func Of(remoteAddr string, forwardedFor []string, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	if !isTrusted(peer, trusted) {
		return peer.String()
	}
	hops := strings.Split(strings.Join(forwardedFor, ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		ip, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if ip = ip.Unmap(); !isTrusted(ip, trusted) {
			return ip.String()
		}
	}
	return peer.String()
}

// PeerTrusted reports whether the peer remoteAddr ("host:port" as
// net/http gives it) is one of the trusted proxies: whether what it says
// about the request it forwards (X-Forwarded-For, a trace context) may be
// believed.
func PeerTrusted(remoteAddr string, trusted []netip.Prefix) bool {
	if len(trusted) == 0 {
		return false
	}
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	peer, err := netip.ParseAddr(host)
	return err == nil && isTrusted(peer.Unmap(), trusted)
}

func isTrusted(ip netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
