package e2e

import (
	"encoding/base64"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/keys"
)

// After a rotation on one replica (as `pforte keys rotate` does from its
// own process), every other replica signs with the new key within
// keys.DefaultRefresh, the bound the README states, without being told.
func TestRotatedKeySignsOnEveryReplicaWithinTheBound(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		st := eng.storage(t)
		a := w.start(t, st)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		b := w.serve(t, ln, a.issuer, st)
		rp := a.rp(t, w.web, nil)
		tok := rp.login(t, "openid", "profile")
		onB := *rp
		onB.conf.Endpoint.TokenURL = b.base + "/token"

		plan, err := a.srv.Keys().Rotate(t.Context(), true)
		if err != nil || plan.Activate == "" {
			t.Fatalf("rotate: %+v, %v", plan, err)
		}
		rotated := time.Now()
		// B's ID tokens, from refreshes on B, until one carries the new kid.
		refresh := tok.refresh
		for {
			nt, err := onB.refresh(refresh)
			if err != nil {
				t.Fatalf("refresh on B: %v", err)
			}
			refresh = nt.RefreshToken
			raw, _ := nt.Extra("id_token").(string)
			if kidOf(t, raw) == plan.Activate {
				break
			}
			if time.Since(rotated) > keys.DefaultRefresh+2*time.Second {
				t.Fatalf("B still signs with %s %s after the rotation; the bound is %s", kidOf(t, raw), time.Since(rotated).Round(time.Millisecond), keys.DefaultRefresh)
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("B signs with the new key %s after the rotation", time.Since(rotated).Round(time.Millisecond))
	})
}

// kidOf is the kid in the header of the compact JWS raw.
func kidOf(t *testing.T, raw string) string {
	t.Helper()
	head, _, ok := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	if !ok || err != nil {
		t.Fatalf("not a compact JWS: %q", raw)
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(b, &h); err != nil || h.Kid == "" {
		t.Fatalf("JWS header %s: %v", b, err)
	}
	return h.Kid
}
