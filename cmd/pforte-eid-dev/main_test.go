package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/proofing/eid/devbroker"
)

func TestRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"production", []string{"-environment", "production", "-listen", "127.0.0.1:0", "-redirect-uri", "http://127.0.0.1:8080/cb"}, "production"},
		{"not loopback", []string{"-listen", "0.0.0.0:5556", "-redirect-uri", "http://127.0.0.1:8080/cb"}, "loopback"},
		{"no redirect URI", []string{"-listen", "127.0.0.1:0"}, "redirect-uri"},
	} {
		var out bytes.Buffer
		err := run(t.Context(), tc.args, &out, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestEmbeddedIdentities(t *testing.T) {
	var ids []devbroker.Identity
	if err := json.Unmarshal(defaultIdentities, &ids); err != nil || len(ids) < 3 {
		t.Fatalf("%d identities: %v", len(ids), err)
	}
	cfg := devbroker.Config{Issuer: "http://127.0.0.1:5556", Identities: ids,
		Clients: []devbroker.Client{{ID: "pforte", Secret: DevClientSecret, RedirectURIs: []string{"http://127.0.0.1:8080/cb"}}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestServes(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-redirect-uri", "http://127.0.0.1:8080/cb"}, &out, ready)
	}()
	var issuer string
	select {
	case issuer = <-ready:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("the broker did not start")
	}
	resp, err := http.Get(issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var d struct{ Issuer string }
	_ = json.NewDecoder(resp.Body).Decode(&d)
	resp.Body.Close()
	if d.Issuer != issuer {
		t.Fatalf("discovery names %q, want %q", d.Issuer, issuer)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
