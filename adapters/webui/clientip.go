package webui

import (
	"net/http"

	"github.com/pforte-id/pforte/core/clientaddr"
)

// clientIP is the address of the member's browser, which password checks
// are throttled by (core/clientaddr's rule, as for the app API).
func (u *UI) clientIP(r *http.Request) string {
	return clientaddr.Of(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), u.cfg.TrustedProxies)
}
