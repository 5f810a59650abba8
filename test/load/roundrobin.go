package main

import (
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"
)

// roundRobin sends every request for the issuer's host to the next of
// several replicas in turn, as a round-robin load balancer in front of
// them does; requests for other hosts (a relying party's redirect URI)
// pass unchanged. The replicas share one database and one issuer, so
// discovery, the endpoints and the tokens stay the issuer's: only the
// connection goes elsewhere.
type roundRobin struct {
	issuer   string     // scheme://host of the issuer
	replicas []*url.URL // scheme and host of each replica
	next     atomic.Uint64
	base     http.RoundTripper
}

func newRoundRobin(issuer string, replicas []string, base http.RoundTripper) (*roundRobin, error) {
	iu, err := url.Parse(issuer)
	if err != nil {
		return nil, err
	}
	rr := &roundRobin{issuer: iu.Scheme + "://" + iu.Host, base: base}
	for _, r := range replicas {
		u, err := url.Parse(r)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("--replica %q is not a URL of a host", r)
		}
		rr.replicas = append(rr.replicas, &url.URL{Scheme: u.Scheme, Host: u.Host})
	}
	return rr, nil
}

func (rr *roundRobin) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme+"://"+req.URL.Host != rr.issuer {
		return rr.base.RoundTrip(req)
	}
	to := rr.replicas[(rr.next.Add(1)-1)%uint64(len(rr.replicas))]
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host, out.Host = to.Scheme, to.Host, ""
	resp, err := rr.base.RoundTrip(out)
	if resp != nil {
		// The answer is the issuer's: relative redirects resolve against
		// it, so the next request goes through the balancer again.
		resp.Request = req
	}
	return resp, err
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// transport underneath.
func (rr *roundRobin) CloseIdleConnections() {
	if c, ok := rr.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
