package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/cmd/pforte-app/appclient"
	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/cmd/pforte/server/servertest"
	"github.com/pforte-id/pforte/core/coretest"
)

// TestServeDevEID: `pforte serve` with no configuration starts the
// development eID broker on loopback, and a demo member registers with
// the eID there with nothing set up.
func TestServeDevEID(t *testing.T) {
	prev := slog.Default()
	t.Cleanup(func() { slog.SetDefault(prev) })
	addr := servertest.FreeAddr(t)
	issuer := "http://" + addr
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr coretest.Log
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", addr, "--issuer", issuer, "--data-dir", t.TempDir()}, &stdout, &stderr, env(nil))
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
	})
	hc := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for deadline := time.Now().Add(30 * time.Second); ; {
		if resp, err := hc.Get(issuer + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("serve did not become ready")
		}
		time.Sleep(50 * time.Millisecond)
	}

	ret, err := appclient.ListenEIDReturn()
	if err != nil {
		t.Fatal(err)
	}
	defer ret.Close()
	verifier, challenge := appclient.NewVerifier()
	body, _ := json.Marshal(map[string]string{
		"kvnr": "A123456780", "method": "eid", "return_uri": ret.URI, "code_challenge": challenge, "code_challenge_method": "S256",
	})
	resp, err := hc.Post(issuer+"/app/v1/registrations", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var begun struct {
		URL   string `json:"authorization_url"`
		Token string `json:"enrollment_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&begun)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("begin eID: %s %v", resp.Status, err)
	}
	if u, err := url.Parse(begun.URL); err != nil || u.Hostname() != "127.0.0.1" || u.Host == addr {
		t.Fatalf("authorization URL %q: want the development broker on loopback", begun.URL)
	}
	status, page, err := appclient.ConfirmAtDevBroker(ctx, hc, begun.URL, "A123456780")
	if err != nil || status != http.StatusOK || !strings.Contains(page, "Identität bestätigt") {
		t.Fatalf("at the broker: %d %v\n%s", status, err, page)
	}
	code, err := ret.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = json.Marshal(map[string]string{"code": code, "code_verifier": verifier})
	req, _ := http.NewRequest(http.MethodPost, issuer+"/app/v1/enrollment", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+begun.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("redeem: %s", resp.Status)
	}
}

// TestDevEIDNeverInProduction: production never starts the development
// broker, and configuring an eID service turns it off in development.
func TestDevEIDNeverInProduction(t *testing.T) {
	cfg := defaultConfig()
	if !wantsDevEID(&cfg) {
		t.Fatal("development without an eID service: no development broker")
	}
	cfg.EID.Issuer = "https://eid.example.org"
	if wantsDevEID(&cfg) {
		t.Fatal("development with an eID service configured starts the development broker")
	}
	cfg = defaultConfig()
	cfg.Server.Environment = Production
	if wantsDevEID(&cfg) {
		t.Fatal("production starts the development broker")
	}
	var o server.Options
	if _, err := startDevEID(t.Context(), &cfg, &o, slog.New(slog.DiscardHandler)); err == nil || o.EID != nil {
		t.Fatalf("startDevEID in production: %v", err)
	}
}
