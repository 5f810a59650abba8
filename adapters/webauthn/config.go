package webauthn

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
)

// AndroidOriginPrefix starts the origin an Android app's client data
// carries: the prefix and the base64url (unpadded) SHA-256 of the app's
// signing certificate.
const AndroidOriginPrefix = "android:apk-key-hash:"

// Config configures a Ceremony.
type Config struct {
	// RPID is the relying party id: the issuer's host ("login.example.de"),
	// never an IP address (WebAuthn allows only domains).
	RPID string
	// RPName is the name platforms show when they create the key; empty:
	// RPID.
	RPName string
	// Origins are the origins the client data may carry:
	// "android:apk-key-hash:<base64url SHA-256 of the signing certificate>"
	// for the Android app, and the issuer origin ("https://" + RPID, or a
	// subdomain's) for the iOS app and the reference client. Plain http is
	// accepted for localhost only (development). At least one web origin is
	// required.
	Origins []string
	// PackedRoots are the trust anchors of packed attestation: a packed
	// statement with a certificate chain is Trusted when the chain verifies
	// to one of them. Empty: no packed chain is trusted (self attestation
	// is reported as such either way). ParseCertificates reads them from
	// PEM.
	PackedRoots []*x509.Certificate
	// AppleAppID is the iOS app's App ID (team id "." bundle id) for Apple
	// App Attest: an apple-appattest key whose authenticator data carries
	// its SHA-256 as RP id hash is reported as that app's. Empty: no App
	// Attest key is reported as the insurer's (the policy refuses them).
	AppleAppID string
	// Revocations is Google's attestation status list; nil: android-key
	// chains are not checked against it.
	Revocations *RevocationList
	// Timeout is how long the app has to answer a ceremony, sent in the
	// options and enforced on the state; 0: device.ChallengeTTL (3 min).
	Timeout time.Duration
}

// maxTimeout bounds Timeout: a challenge that stays answerable for long is
// one an attacker has long to relay.
const maxTimeout = 10 * time.Minute

func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = device.ChallengeTTL
	}
	if c.RPName == "" {
		c.RPName = c.RPID
	}
	return c
}

// ForIssuer returns c with an empty RPID and empty Origins taken from
// the issuer URL: its host and its origin. A loopback issuer (a
// development or test instance) gives the relying party localhost,
// because WebAuthn relying parties are domains, never IP addresses.
// Errors: Invalid when issuer is not a URL.
func (c Config) ForIssuer(issuer string) (Config, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" {
		return c, fault.New(fault.Invalid, "webauthn.Config.RPID", fmt.Sprintf("the issuer %q is not an absolute URL", issuer))
	}
	host, origin := u.Hostname(), u.Scheme+"://"+u.Host
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsLoopback() {
		host, origin = "localhost", u.Scheme+"://localhost"
		if p := u.Port(); p != "" {
			origin += ":" + p
		}
	}
	if c.RPID == "" {
		c.RPID = host
	}
	if len(c.Origins) == 0 {
		c.Origins = []string{origin}
	}
	return c, nil
}

// Validate checks c after defaults are applied. Errors: Invalid naming the
// field.
func (c Config) Validate() error {
	_, _, err := c.withDefaults().split()
	return err
}

// split validates c and returns its web and app (opaque) origins.
func (c Config) split() (web, app []string, err error) {
	bad := func(name, format string, args ...any) error {
		return fault.New(fault.Invalid, "webauthn.Config."+name, fmt.Sprintf(format, args...))
	}
	if c.RPID == "" || c.RPID != strings.ToLower(c.RPID) || strings.ContainsAny(c.RPID, ":/ ") {
		return nil, nil, bad("RPID", "must be the issuer's host name in lower case, without scheme or port: %q", c.RPID)
	}
	if err := protocol.ValidateRPID(c.RPID); err != nil {
		return nil, nil, bad("RPID", "%q is not a domain name (WebAuthn allows no IP addresses; use localhost in development)", c.RPID)
	}
	if len(c.RPName) > 100 {
		return nil, nil, bad("RPName", "must be at most 100 characters")
	}
	if c.Timeout < 30*time.Second || c.Timeout > maxTimeout {
		return nil, nil, bad("Timeout", "must be between 30s and %v", maxTimeout)
	}
	for _, r := range c.PackedRoots {
		if r == nil {
			return nil, nil, bad("PackedRoots", "holds an empty certificate")
		}
	}
	for _, o := range c.Origins {
		if strings.HasPrefix(o, AndroidOriginPrefix) {
			d, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(o, AndroidOriginPrefix))
			if err != nil || len(d) != 32 {
				return nil, nil, bad("Origins", "%q: an Android origin is %s and the unpadded base64url SHA-256 of the app's signing certificate", o, AndroidOriginPrefix)
			}
			app = append(app, o)
			continue
		}
		u, err := url.Parse(o)
		if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return nil, nil, bad("Origins", "%q is not an origin (scheme://host[:port])", o)
		}
		host := u.Hostname()
		switch {
		case u.Scheme == "https":
		case u.Scheme == "http" && host == "localhost":
		default:
			return nil, nil, bad("Origins", "%q: web origins must use https (http only for localhost)", o)
		}
		// WebAuthn §5.1.3: the RP id is the origin's host or a parent
		// domain of it; a client refuses anything else, so such an origin
		// could never complete a ceremony.
		if host != c.RPID && !strings.HasSuffix(host, "."+c.RPID) {
			return nil, nil, bad("Origins", "%q does not belong to the relying party id %q", o, c.RPID)
		}
		web = append(web, strings.TrimSuffix(o, "/"))
	}
	if len(web) == 0 {
		return nil, nil, bad("Origins", "need at least one web origin (the issuer's)")
	}
	return web, app, nil
}

// ParseCertificates reads the CERTIFICATE blocks of PEM data, for
// Config.PackedRoots. Errors: Invalid.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fault.Wrap(fault.Invalid, "webauthn.ParseCertificates", err).
				WithPublic("A trust anchor is not a valid X.509 certificate.")
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fault.New(fault.Invalid, "webauthn.ParseCertificates", "No PEM certificate found.")
	}
	return certs, nil
}
