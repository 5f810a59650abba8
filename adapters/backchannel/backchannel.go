package backchannel

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/ports/logoutdelivery"
)

// Config bounds a delivery.
type Config struct {
	// Timeout bounds one delivery, the answer's body included (zero:
	// DefaultTimeout). The caller's context may end it sooner.
	Timeout time.Duration
	// MaxResponse is how many bytes of an answer are read at most (zero:
	// DefaultMaxResponse); the rest is not read and the connection is
	// closed.
	MaxResponse int64
	// RootCAs are the trust anchors of relying parties' certificates
	// (nil: the system's).
	RootCAs *x509.CertPool
}

// Defaults.
const (
	DefaultTimeout     = 5 * time.Second
	DefaultMaxResponse = 64 << 10
)

// Deliverer posts logout tokens over HTTP.
type Deliverer struct {
	client *http.Client
	max    int64
}

var _ logoutdelivery.Deliverer = (*Deliverer)(nil)

// New returns a deliverer.
func New(cfg Config) *Deliverer {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxResponse <= 0 {
		cfg.MaxResponse = DefaultMaxResponse
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: cfg.RootCAs}
	tr.ResponseHeaderTimeout = cfg.Timeout
	tr.MaxResponseHeaderBytes = cfg.MaxResponse
	return &Deliverer{
		client: &http.Client{
			Transport: tr,
			Timeout:   cfg.Timeout,
			// The token goes to the registered URI and nowhere else: a
			// redirect is the answer, and not a success.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		max: cfg.MaxResponse,
	}
}

// Deliver posts logoutToken to uri (logoutdelivery.Deliverer).
// Errors: Unavailable, whose public text names the reason.
func (d *Deliverer) Deliver(ctx context.Context, uri, logoutToken string) error {
	const op = "backchannel.Deliver"
	body := url.Values{"logout_token": {logoutToken}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, strings.NewReader(body))
	if err != nil {
		return fault.New(fault.Unavailable, op, "invalid back-channel logout URI")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "Pforte back-channel logout")
	resp, err := d.client.Do(req)
	if err != nil {
		return fault.New(fault.Unavailable, op, reason(ctx, err))
	}
	// Read a bounded part of the answer so that the connection can be
	// reused for a small one; a longer one is cut off with the connection.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, d.max))
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNoContent:
		return nil
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return fault.New(fault.Unavailable, op, "redirect not followed (status "+strconv.Itoa(resp.StatusCode)+")")
	default:
		return fault.New(fault.Unavailable, op, "status "+strconv.Itoa(resp.StatusCode))
	}
}

// reason names why a request failed, without the URL (a query may carry
// a relying party's parameters) and without the token.
func reason(ctx context.Context, err error) string {
	var ne net.Error
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var hostErr x509.HostnameError
	var authErr x509.UnknownAuthorityError
	switch {
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.As(err, &dnsErr):
		return "host not found"
	case errors.As(err, &certErr), errors.As(err, &hostErr), errors.As(err, &authErr):
		return "certificate not trusted"
	}
	return "connection failed"
}
