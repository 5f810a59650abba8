package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

func TestRoundRobinSpreadsTheIssuersRequests(t *testing.T) {
	var hits [3]atomic.Int32
	servers := make([]*httptest.Server, 3)
	for i := range servers {
		servers[i] = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits[i].Add(1)
			_, _ = io.WriteString(w, r.URL.Path)
		}))
		defer servers[i].Close()
	}
	// The issuer's own address answers nothing: every request for it must
	// reach a replica. servers[2] stands for another host (a client's
	// redirect URI), which is not a replica.
	const issuer = "http://127.0.0.1:1"
	rr, err := newRoundRobin(issuer, []string{servers[0].URL, servers[1].URL}, http.DefaultTransport)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: rr}
	defer hc.CloseIdleConnections()
	for range 6 {
		resp, err := hc.Get(issuer + "/.well-known/openid-configuration")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "/.well-known/openid-configuration" || resp.Request.URL.String() != issuer+"/.well-known/openid-configuration" {
			t.Fatalf("answer %q for %s, want the path and the issuer's URL", body, resp.Request.URL)
		}
	}
	resp, err := hc.Get(servers[2].URL + "/callback")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if a, b, c := hits[0].Load(), hits[1].Load(), hits[2].Load(); a != 3 || b != 3 || c != 1 {
		t.Fatalf("hits %d, %d and %d; want 3 and 3 on the replicas, 1 on the other host", a, b, c)
	}
}
