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

// LimitKey is the rate limit key of client address raw (as Of returns
// it): the address itself, IPv6 addresses per /64, since one subscriber
// usually has a whole /64 and could otherwise rotate addresses for free.
// Something that is not an address is counted verbatim (bounded), so that
// a misconfigured proxy header still limits something. ok is false for an
// empty raw.
func LimitKey(raw string) (key string, ok bool) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", false
	}
	a, err := netip.ParseAddr(raw)
	if err != nil {
		ap, err2 := netip.ParseAddrPort(raw)
		if err2 != nil {
			return "raw:" + raw[:min(len(raw), 64)], true
		}
		a = ap.Addr()
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String(), true
	}
	return a.String(), true
}
