package main

import (
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/device"
)

// TestReconfirm: the app is told ahead of time when the device must be
// confirmed again; once that is due, the login is refused with the code
// and the hint; a wrong password does not confirm; key, PIN and password
// do, and the login works again.
func TestReconfirm(t *testing.T) {
	p := startServer(t)
	stateFile := enrolled(t, p)
	at := func(args ...string) appResult { return appAt(t, p.clock.Now, stateFile, "", nil, args...) }
	due := p.clock.Now().Add(device.DefaultReconfirmPeriod)

	r := at("login", "--pin", testPIN)
	wantExit(t, r, 0, "login")
	if !strings.Contains(r.stdout, "This device must be confirmed again by "+due.Local().Format("2006-01-02")) {
		t.Errorf("login does not tell when to confirm again (%s):\n%s", due, r.stdout)
	}
	r = at("devices", "--pin", testPIN)
	wantExit(t, r, 0, "devices")
	if !strings.Contains(r.stdout, "CONFIRM BY") || !strings.Contains(r.stdout, due.Local().Format("2006-01-02")) {
		t.Errorf("the device list does not show when to confirm again:\n%s", r.stdout)
	}

	p.clock.Advance(device.DefaultReconfirmPeriod + time.Hour)
	r = at("login", "--pin", testPIN)
	wantStderr(t, r, 1, "login once due", "Bitte bestätigen Sie dieses Gerät erneut mit Ihrem Passwort",
		"(forbidden, HTTP 403)", "pforte-app reconfirm")
	r = appIn(t, "en", stateFile, "", nil, "reconfirm", "--pin", testPIN, "--password", "Falsches-Pferd-Batterie")
	wantStderr(t, r, 1, "reconfirm with a wrong password", "The password is wrong", "(unauthenticated, HTTP 401)")
	wantStderr(t, at("login", "--pin", testPIN), 1, "login after the wrong password", "pforte-app reconfirm")
	r = at("reconfirm", "--pin", "000001", "--password", testPassword)
	wantStderr(t, r, 1, "reconfirm with a wrong PIN", "Die PIN ist falsch", "PIN attempts left before the device is blocked: 4")

	r = appAt(t, p.clock.Now, stateFile, "", []string{testPassword, testPIN}, "reconfirm")
	wantExit(t, r, 0, "reconfirm")
	next := p.clock.Now().Add(device.DefaultReconfirmPeriod)
	if !strings.Contains(r.stdout, "Device confirmed. The next confirmation is due on "+next.Local().Format("2006-01-02")) {
		t.Errorf("reconfirm: %q", r.stdout)
	}
	wantExit(t, at("login", "--pin", testPIN), 0, "login after the re-confirmation")
}

// TestReconfirmWithEID: an account proven with the ID card confirms its
// device with the eID, not the password: the login says so, the password
// is refused, and pforte-app step-up --reconfirm (key + PIN, then the eID
// at the development broker) confirms the device, after which the login
// works again. The device was bound longer than the period ago: the
// server's clock stood that far back during the enrollment (the broker
// signs with the wall clock, which the server's must match afterwards).
func TestReconfirmWithEID(t *testing.T) {
	p := startServer(t, withDevBroker(t, ""))
	back := device.DefaultReconfirmPeriod + 7*24*time.Hour
	p.clock.Advance(-back)
	stateFile := enrolled(t, p)
	p.clock.Advance(back)
	at := func(args ...string) appResult { return appAt(t, p.clock.Now, stateFile, "", nil, args...) }

	wantStderr(t, at("login", "--pin", testPIN), 1, "login of the letter-proofed account", "pforte-app reconfirm")
	r := at("step-up", "--auto", "--pin", testPIN)
	wantExit(t, r, 0, "step-up")
	if !strings.Contains(r.stdout, "now proofed at level high") || strings.Contains(r.stdout, "Device confirmed") {
		t.Fatalf("step-up: %s", r.stdout)
	}
	r = at("login", "--pin", testPIN)
	wantStderr(t, r, 1, "login of the eID-proofed account", "Online-Ausweisfunktion", "(forbidden, HTTP 403)",
		"pforte-app step-up --reconfirm")
	r = at("reconfirm", "--pin", testPIN, "--password", testPassword)
	wantStderr(t, r, 1, "reconfirm with the password", "nicht mit dem Passwort")
	wantStderr(t, at("login", "--pin", testPIN), 1, "login after the password", "pforte-app step-up --reconfirm")

	r = at("step-up", "--reconfirm", "--auto", "--pin", testPIN)
	wantExit(t, r, 0, "step-up --reconfirm")
	if !strings.Contains(r.stdout, "Device confirmed.") {
		t.Fatalf("step-up --reconfirm: %s", r.stdout)
	}
	r = at("login", "--pin", testPIN, "--acr-values", "http://eidas.europa.eu/LoA/high")
	wantExit(t, r, 0, "login after the re-confirmation")
	next := p.clock.Now().Add(device.DefaultReconfirmPeriod)
	if !strings.Contains(r.stdout, "acr        http://eidas.europa.eu/LoA/high") ||
		!strings.Contains(r.stdout, "confirmed again by "+next.Local().Format("2006-01-02")) {
		t.Errorf("login after the re-confirmation:\n%s", r.stdout)
	}
}
