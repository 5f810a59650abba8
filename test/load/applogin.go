package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pforte-id/pforte/cmd/pforte-app/appclient"
	"github.com/pforte-id/pforte/cmd/pforte-app/authenticator"
	"github.com/pforte-id/pforte/cmd/pforte-app/dpop"
)

// phone is an enrolled member's device: its binding, its key and its
// release PIN, and the member's number.
type phone struct {
	binding string
	key     *authenticator.Authenticator
	pin     string
	kvnr    string
}

// appLoginLoad is Pforte's app login by many members, each with a phone
// used by one login at a time (its signature counter must grow in order).
type appLoginLoad struct {
	*env
	progress io.Writer
	client   *appclient.Client
	phones   chan *phone
	origin   string
}

func (w *appLoginLoad) Setup(ctx context.Context) error {
	if err := needSeeds(w.cfg); err != nil {
		return err
	}
	if err := w.discover(ctx); err != nil {
		return err
	}
	w.origin = w.cfg.Origin
	if w.origin == "" {
		w.origin = appOrigin(w.cfg.Issuer)
	}
	c, err := appclient.Discover(ctx, appclient.Config{
		Issuer: w.md.Issuer, ClientID: w.cfg.AppClientID, RedirectURI: w.cfg.RedirectURI, HTTP: w.hc,
	})
	if err != nil {
		return err
	}
	w.client = c
	ms, err := w.readMembers()
	if err != nil {
		return err
	}
	start := time.Now()
	phones, err := w.enrollMembers(ctx, ms, w.origin)
	if err != nil {
		return fmt.Errorf("seeding: %w", err)
	}
	fmt.Fprintf(w.progress, "%d members registered by letter with device and PIN in %v\n", len(phones), time.Since(start).Round(time.Millisecond))
	w.phones = make(chan *phone, len(phones))
	for _, p := range phones {
		w.phones <- p
	}
	return nil
}

// needSeeds says what a workload over seeded members lacks.
func needSeeds(cfg Config) error {
	if cfg.MembersCSV == "" || cfg.Outbox == "" {
		return fmt.Errorf("%w: %s needs Pforte members: --members-csv FILE (imported with 'pforte members import') and --outbox DIR (the server's letter outbox on this machine); no other way to obtain members is configured", errSkipped, cfg.Workload)
	}
	return nil
}

func (w *appLoginLoad) login(ctx context.Context, scope string) (appclient.Tokens, *dpop.Key, error) {
	var p *phone
	select {
	case p = <-w.phones:
	case <-ctx.Done():
		return appclient.Tokens{}, nil, ctx.Err()
	}
	defer func() { w.phones <- p }()
	key, err := dpop.NewKey()
	if err != nil {
		return appclient.Tokens{}, nil, err
	}
	t, err := w.client.Login(ctx, appclient.LoginRequest{
		Scope: scope, PIN: seedPIN, DPoP: key,
		Device: appclient.Device{BindingID: p.binding, Key: p.key, Origin: w.origin},
	})
	return t, key, err
}

func (w *appLoginLoad) Do(ctx context.Context) error {
	_, _, err := w.login(ctx, "openid profile kvnr")
	return err
}

// session is an app session whose refresh token the refresh workload
// rotates; one refresh at a time per session.
type session struct {
	key     *dpop.Key
	refresh string
	sub     string
}

// refreshLoad rotates refresh tokens of app sessions opened in Setup by
// one app login per seeded member.
type refreshLoad struct {
	appLoginLoad
	sessions chan *session
}

func (w *refreshLoad) Setup(ctx context.Context) error {
	if err := w.appLoginLoad.Setup(ctx); err != nil {
		return err
	}
	n := len(w.phones)
	w.sessions = make(chan *session, n)
	return parallel(ctx, n, min(w.cfg.Concurrency, 8), func(int) error {
		t, key, err := w.login(ctx, "openid offline_access")
		if err != nil {
			return err
		}
		if t.RefreshToken == "" {
			return errors.New("the login gave no refresh token")
		}
		sub, _ := t.Claims["sub"].(string)
		w.sessions <- &session{key: key, refresh: t.RefreshToken, sub: sub}
		return nil
	})
}

func (w *refreshLoad) Do(ctx context.Context) error {
	var s *session
	select {
	case s = <-w.sessions:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { w.sessions <- s }()
	t, err := w.client.Refresh(ctx, s.key, s.refresh, s.sub)
	if err != nil {
		return err
	}
	if t.RefreshToken != "" {
		s.refresh = t.RefreshToken
	}
	return nil
}

// reconfirmLoad is the re-confirmation of a device by many members
// (POST /app/v1/devices/reconfirm): the device key over a fresh challenge,
// the release PIN and the account password, which costs one Argon2id
// verification. Each phone is used by one call at a time.
type reconfirmLoad struct {
	appLoginLoad
}

func (w *reconfirmLoad) Do(ctx context.Context) error {
	var p *phone
	select {
	case p = <-w.phones:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { w.phones <- p }()
	_, err := w.client.Reconfirm(ctx, appclient.Device{BindingID: p.binding, Key: p.key, Origin: w.origin}, seedPIN, seedPassword)
	return err
}
