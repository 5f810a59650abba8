package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/netip"
	"strings"
)

// IPHash is a keyed hash of a client address, so that the audit log can
// tell whether two events came from the same address without storing it
// (the address is personal data). Addresses are canonicalised first
// ("::ffff:1.2.3.4" is 1.2.3.4; a port and a zone are dropped). Empty for
// an empty address.
func IPHash(key []byte, ip string) string {
	ip = strings.TrimSpace(ip)
	if ip == "" {
		return ""
	}
	if a, err := netip.ParseAddr(ip); err == nil {
		ip = a.Unmap().WithZone("").String()
	} else if ap, err := netip.ParseAddrPort(ip); err == nil {
		ip = ap.Addr().Unmap().WithZone("").String()
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(ip))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}
