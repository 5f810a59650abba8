package issuer

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/pforte-id/pforte/core/fault"
)

// Check enforces OpenID Connect Discovery §3 and RFC 8414 §2 on the
// issuer: an https URL without user information, query or fragment; http
// only for localhost or a loopback address (development). The same rule
// guards the activation links in letters (<issuer>/app/activate#<code>),
// since the activation code travels in them: plain http would hand it to
// anyone on the path. A trailing slash is refused rather than removed:
// relying parties compare the issuer as an exact string, and rewriting
// what the operator wrote would hide the mismatch until the first login
// fails. Errors: fault.Invalid with Op "issuer.Check"; callers checking a
// field of their configuration name it in their own Op.
func Check(iss string) error {
	bad := func(msg string) error { return fault.New(fault.Invalid, "issuer.Check", msg) }
	u, err := url.Parse(iss)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return bad(fmt.Sprintf("%q is not an absolute URL", iss))
	}
	if u.User != nil {
		return bad("must not contain user information")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(iss, "#") {
		return bad("must not have a query or fragment")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLocalHost(u.Hostname()) {
			return bad("must use https (http only for localhost or a loopback address)")
		}
	default:
		return bad("must be an https URL")
	}
	if strings.HasSuffix(iss, "/") {
		return bad(fmt.Sprintf("must not end with a slash: use %q", strings.TrimRight(iss, "/")))
	}
	return nil
}

func isLocalHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
