package webui

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientIP is the address of the member's browser, which password checks
// are throttled by: the peer, or, when the peer is a trusted proxy, the
// last address in X-Forwarded-For that is not a trusted proxy (earlier
// entries are whatever the client wrote and prove nothing). The app API
// (adapters/httpapi) determines its clients' addresses by the same rule;
// adapters do not share code, so it is written in each.
func (u *UI) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	if !u.trusted(peer) {
		return peer.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		ip, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if ip = ip.Unmap(); !u.trusted(ip) {
			return ip.String()
		}
	}
	return peer.String()
}

func (u *UI) trusted(ip netip.Addr) bool {
	for _, p := range u.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
