package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"

	"github.com/pforte-id/pforte/adapters/proofing/eid"
	"github.com/pforte-id/pforte/adapters/proofing/eid/devbroker"
	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/core/member"
)

// devEIDClientID is Pforte's client id at the development eID broker.
const devEIDClientID = "pforte"

// wantsDevEID reports whether serve starts the development eID broker:
// in development, when no eID service is configured. Production never
// does (and the broker refuses to run there).
func wantsDevEID(cfg *Config) bool {
	return cfg.Server.Environment == Development && !cfg.EID.Enabled && cfg.EID.Issuer == ""
}

// startDevEID starts the development eID broker on a free loopback port,
// offering the demo members' identity cards, and points o's eID method
// at it, so that registration with the eID works with no setup. The
// broker stops when ctx ends or stop is called.
func startDevEID(ctx context.Context, cfg *Config, o *server.Options, log *slog.Logger) (stop func(), err error) {
	if cfg.Server.Environment != Development {
		return nil, errors.New("the development eID broker runs in development only")
	}
	cards := make([]devbroker.Identity, 0, len(o.Members))
	for _, m := range o.Members {
		cards = append(cards, devCard(m.Member))
	}
	if len(cards) == 0 {
		return func() {}, nil
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	redirect := cfg.Server.Issuer + server.EIDCallbackPath
	bc := devbroker.Config{
		Issuer: "http://" + l.Addr().String(), Environment: string(cfg.Server.Environment), Identities: cards,
		Clients: []devbroker.Client{{ID: devEIDClientID, Secret: base64.RawURLEncoding.EncodeToString(secret), RedirectURIs: []string{redirect}}},
	}
	b, err := devbroker.New(bc, log)
	if err != nil {
		l.Close()
		return nil, err
	}
	o.EID = &server.EIDOptions{
		Broker: eid.Config{
			Issuer: bc.Issuer, ClientID: devEIDClientID, ClientSecret: Secret(bc.Clients[0].Secret),
			Profile: eid.Profile{Pseudonym: eid.Hex},
		},
		RedirectURI: redirect,
		// pforte-app receives the confirmation on a loopback address.
		AppLoopback: true,
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := b.Serve(ctx, l); err != nil {
			log.Error("development eID broker failed", "err", err)
		}
	}()
	log.Info("development eID broker started: registration with the eID confirms the demo members' identities",
		"issuer", bc.Issuer, "members", len(cards))
	return func() { cancel(); <-done }, nil
}

// devCard is the identity card of demo member m as the development broker
// states it. Its pseudonym is derived from the member number, so that the
// same member's card is the same card on every start.
func devCard(m member.Member) devbroker.Identity {
	sum := sha256.Sum256([]byte("pforte-dev-eid-card/" + m.KVNR.String()))
	return devbroker.Identity{
		Label:     m.GivenName + " " + m.FamilyName + " (Demo-Mitglied " + m.KVNR.String() + ")",
		GivenName: m.GivenName, FamilyName: m.FamilyName, BirthDate: m.BirthDate,
		Address: devbroker.Address{
			Street: m.Address.Street, PostalCode: m.Address.PostalCode, Locality: m.Address.Locality, Country: m.Address.Country,
		},
		RestrictedID: hex.EncodeToString(sum[:]),
	}
}
