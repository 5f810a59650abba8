package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/proofing/eid"
	"github.com/pforte-id/pforte/adapters/proofing/eid/devbroker"
	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/cmd/pforte/server/servertest"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/member"
)

// startEIDServer is a Pforte server with the eID method against a
// development broker that offers Anna's card (labelled with her member
// number) and one of somebody else; acr is the level the broker signs
// ("" its default, high).
func startEIDServer(t *testing.T, acr string) string {
	t.Helper()
	s := servertest.Start(t, func(o *server.Options) {
		o.Clients = []client.Client{appClient}
		withDevBroker(t, acr)(o)
	})
	err := s.Store().UpsertMember(t.Context(), member.Member{
		KVNR: kvnr.MustParse(testKVNR), GivenName: "Anna", FamilyName: "Beispiel", BirthDate: testBirth,
		Address:     member.Address{Street: "Hauptstraße 12", PostalCode: "28195", Locality: "Bremen", Country: "DE"},
		InsuredFrom: time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC), UpdatedAt: time.Now().UTC(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return s.URL
}

// withDevBroker starts a development broker that offers Anna's card
// (labelled with her member number) and one of somebody else, signing acr
// ("" its default, high), and points the server's eID method at it.
func withDevBroker(t *testing.T, acr string) func(*server.Options) {
	t.Helper()
	bl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	brokerIssuer := "http://" + bl.Addr().String()
	return func(o *server.Options) {
		o.EID = &server.EIDOptions{Broker: eid.Config{
			Issuer: brokerIssuer, ClientID: "pforte", ClientSecret: "broker-secret", Profile: eid.Profile{Pseudonym: eid.Hex},
		}, AppLoopback: true}
		b, err := devbroker.New(devbroker.Config{
			Issuer: brokerIssuer, Environment: "test", ACR: acr,
			Clients: []devbroker.Client{{ID: "pforte", Secret: "broker-secret", RedirectURIs: []string{o.Issuer + server.EIDCallbackPath}}},
			Identities: []devbroker.Identity{
				{
					Label: "Someone Else (Demo-Mitglied B987654320)", GivenName: "Björn", FamilyName: "Mustermann", BirthDate: "1972-11-02",
					RestrictedID: "00112233445566778899aabbccddeeff",
				},
				{
					Label: "Anna Beispiel (Demo-Mitglied " + testKVNR + ")", GivenName: "Anna", FamilyName: "Beispiel", BirthDate: testBirth,
					Address:      devbroker.Address{Street: "Hauptstraße 12", PostalCode: "28195", Locality: "Bremen", Country: "DE"},
					RestrictedID: "ffeeddccbbaa99887766554433221100",
				},
			},
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = b.Serve(ctx, bl) }()
		t.Cleanup(func() { cancel(); <-done })
	}
}

// TestRegisterWithEID is the whole path with the reference client:
// registration with the eID (confirmed at the development broker by
// --auto), password, device and PIN, and a login that reaches high.
func TestRegisterWithEID(t *testing.T) {
	issuer := startEIDServer(t, "")
	stateFile := filepath.Join(t.TempDir(), "state.json")
	r := app(t, stateFile, "", nil, "register", "--issuer", issuer, "--kvnr", testKVNR, "--method", "eid", "--auto")
	wantExit(t, r, 0, "register --method eid --auto")
	if !strings.Contains(r.stdout, "Identity confirmed.") || !strings.Contains(r.stdout, "pforte-app set-password") {
		t.Errorf("register output:\n%s", r.stdout)
	}
	if st := readState(t, stateFile); st.Enrollment == nil || st.Enrollment.Token == "" || st.KVNR != testKVNR {
		t.Fatalf("state after the eID: %+v", st)
	}
	wantExit(t, app(t, stateFile, "", nil, "set-password", "--password", testPassword), 0, "set-password")
	wantExit(t, app(t, stateFile, "", nil, "bind-device", "--name", "Annas Laptop"), 0, "bind-device")
	wantExit(t, app(t, stateFile, "", nil, "set-pin", "--pin", testPIN), 0, "set-pin")
	r = app(t, stateFile, "", []string{testPIN}, "login", "--acr-values", "http://eidas.europa.eu/LoA/high")
	wantExit(t, r, 0, "login")
	if !strings.Contains(r.stdout, "acr        http://eidas.europa.eu/LoA/high") {
		t.Errorf("login output lacks acr high:\n%s", r.stdout)
	}
}

// TestRegisterWithEIDRefused: a broker that confirms only substantial is
// refused; the client says why and keeps no session.
func TestRegisterWithEIDRefused(t *testing.T) {
	issuer := startEIDServer(t, "http://eidas.europa.eu/LoA/substantial")
	stateFile := filepath.Join(t.TempDir(), "state.json")
	r := app(t, stateFile, "", nil, "register", "--issuer", issuer, "--kvnr", testKVNR, "--method", "eid", "--auto")
	wantStderr(t, r, 1, "register --method eid --auto", "nicht auf dem nötigen Niveau")
	if _, err := os.Stat(stateFile); err == nil {
		t.Fatal("a refused registration wrote the state file")
	}
}

// TestStepUpWithEID: a letter-proofed member's login asking for high is
// refused with the hint to step up; pforte-app step-up (key + PIN, then
// the eID at the development broker) raises the account, and the same
// login then reaches high.
func TestStepUpWithEID(t *testing.T) {
	p := startServer(t, withDevBroker(t, ""))
	stateFile := enrolled(t, p)
	high := "http://eidas.europa.eu/LoA/high"
	r := appAt(t, p.clock.Now, stateFile, "", nil, "login", "--pin", testPIN, "--acr-values", high)
	wantStderr(t, r, 1, "acr high before the step-up", "unmet_authentication_requirements", "pforte-app step-up")

	r = appAt(t, p.clock.Now, stateFile, "", nil, "step-up", "--auto", "--pin", testPIN)
	wantExit(t, r, 0, "step-up")
	if !strings.Contains(r.stdout, "now proofed at level high") {
		t.Fatalf("step-up output:\n%s", r.stdout)
	}
	r = appAt(t, p.clock.Now, stateFile, "", nil, "login", "--pin", testPIN, "--acr-values", high)
	wantExit(t, r, 0, "login after the step-up")
	if !strings.Contains(r.stdout, "acr        "+high) {
		t.Errorf("login output lacks acr high:\n%s", r.stdout)
	}
	// Once high, there is nothing to step up.
	r = appAt(t, p.clock.Now, stateFile, "", nil, "step-up", "--auto", "--pin", testPIN)
	wantStderr(t, r, 1, "step-up at high", "bereits auf dem Niveau")
}

// TestRecoveryWithEID: the PIN and then the password forgotten, the ID
// card at the development broker (--auto) stands in for each on the bound
// device.
func TestRecoveryWithEID(t *testing.T) {
	p := startServer(t, withDevBroker(t, ""))
	stateFile := enrolled(t, p)
	r := appAt(t, p.clock.Now, stateFile, "", nil, "reset-pin", "--eid", "--auto", "--new-pin", "582946")
	wantExit(t, r, 0, "reset-pin --eid")
	if !strings.Contains(r.stdout, "Identity confirmed with the ID card. Your new release PIN is set") {
		t.Fatalf("reset-pin --eid output:\n%s", r.stdout)
	}
	wantExit(t, appAt(t, p.clock.Now, stateFile, "", nil, "devices", "list", "--pin", "582946"), 0, "the new PIN")

	const pw = "Nordlicht über Helgoland"
	r = appAt(t, p.clock.Now, stateFile, "", nil, "reset-password", "--eid", "--auto", "--new-password", pw)
	wantExit(t, r, 0, "reset-password --eid")
	if !passwordIs(t, p, pw) || passwordIs(t, p, testPassword) {
		t.Fatal("reset-password --eid did not set the password")
	}
	r = appIn(t, "en", stateFile, "", nil, "reset-pin", "--eid", "--auto", "--new-pin", "123456")
	wantStderr(t, r, 1, "a trivial PIN after the eID", "The PIN must not be a sequence like 123456.")
	for _, args := range [][]string{{"reset-pin", "--eid", "--password", "x", "--new-pin", "582946"}, {"reset-password", "--eid", "--pin", testPIN, "--new-password", pw}} {
		if r := app(t, stateFile, "", nil, args...); r.code != 2 {
			t.Errorf("%v: exit %d %q", args, r.code, r.stderr)
		}
	}
}
