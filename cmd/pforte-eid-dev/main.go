package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/pforte-id/pforte/adapters/proofing/eid/devbroker"
)

//go:embed identities.json
var defaultIdentities []byte

// DevClientSecret is the client secret when no -client-secret-file is
// given: a development broker's secret protects nothing.
const DevClientSecret = "pforte-dev-eid-secret"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "pforte-eid-dev:", err)
		os.Exit(1)
	}
}

// uris collects a repeated flag.
type uris []string

func (u *uris) String() string     { return strings.Join(*u, ",") }
func (u *uris) Set(s string) error { *u = append(*u, s); return nil }

// run parses args, builds the broker and serves it until ctx ends. ready,
// when set, receives the issuer once the broker listens.
func run(ctx context.Context, args []string, stderr io.Writer, ready chan<- string) error {
	fs := flag.NewFlagSet("pforte-eid-dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:5556", "loopback address to listen on")
	env := fs.String("environment", "development", "the environment Pforte runs in; production is refused")
	identities := fs.String("identities", "", "JSON file of identities to offer (default: the embedded demo identities)")
	clientID := fs.String("client-id", "pforte", "Pforte's client id at the broker")
	secretFile := fs.String("client-secret-file", "", "file holding Pforte's client secret (default: "+DevClientSecret+")")
	acr := fs.String("acr", devbroker.DefaultACR, "the acr the broker signs")
	var redirects uris
	fs.Var(&redirects, "redirect-uri", "Pforte's eID callback URL (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(redirects) == 0 {
		return errors.New("-redirect-uri is required")
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil || !devbroker.IsLoopback(host) {
		// Checked before listening: the broker never opens a port that
		// another machine can reach.
		return errors.New("-listen must be a loopback address, such as 127.0.0.1:5556")
	}
	raw := defaultIdentities
	if *identities != "" {
		if raw, err = os.ReadFile(*identities); err != nil {
			return err
		}
	}
	var ids []devbroker.Identity
	if err := json.Unmarshal(raw, &ids); err != nil {
		return fmt.Errorf("identities: %w", err)
	}
	secret := DevClientSecret
	if *secretFile != "" {
		b, err := os.ReadFile(*secretFile)
		if err != nil {
			return err
		}
		secret = strings.TrimSpace(string(b))
	}
	cfg := devbroker.Config{
		Issuer: "http://" + *listen, Environment: *env, ACR: *acr, Identities: ids,
		Clients: []devbroker.Client{{ID: *clientID, Secret: secret, RedirectURIs: redirects}},
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if err := cfg.Validate(); err != nil {
		return err
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	// The port may have been 0: the issuer names the real one.
	cfg.Issuer = "http://" + l.Addr().String()
	b, err := devbroker.New(cfg, log)
	if err != nil {
		l.Close()
		return err
	}
	fmt.Fprintf(stderr, "DEVELOPMENT eID broker at %s (client %s, pseudonyms hex) — never use it in production\n", cfg.Issuer, *clientID)
	if ready != nil {
		ready <- cfg.Issuer
	}
	return b.Serve(ctx, l)
}
