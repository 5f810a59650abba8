package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/url"
	"slices"

	"github.com/pforte-id/pforte/core/client"
)

// The demo login the development instance offers at start: the web client
// online-forms and Björn, whose phone is the demo device of
// configs/dev/pforte-app-demo.json. A test keeps these in step with the
// embedded configs/dev files.
const (
	welcomeClient   = "online-forms"
	welcomeKVNR     = "B987654320"
	welcomePassword = "pforte-demo-2"
	welcomePIN      = "470815"
	welcomeSecret   = "dev-online-forms-secret-NOT-FOR-PRODUCTION"
	welcomeDevice   = "configs/dev/pforte-app-demo.json"
	// welcomeDeviceIssuer is the issuer the demo device's state file names.
	welcomeDeviceIssuer = "http://localhost:8080"
)

// printWelcome writes the development instance's start message to w (the
// terminal's stdout, not the log, whose JSON would escape the URL's "&"):
// a login URL to paste into a browser, with a fresh PKCE verifier, and
// the steps that complete the login. It writes nothing when the demo
// client is not among clients (another clients file).
func printWelcome(w io.Writer, issuer string, clients []client.Client) error {
	i := slices.IndexFunc(clients, func(c client.Client) bool { return c.ID == welcomeClient })
	if i < 0 || len(clients[i].RedirectURIs) == 0 {
		return nil
	}
	redirect := clients[i].RedirectURIs[0]
	raw := make([]byte, 32+8)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	verifier := base64.RawURLEncoding.EncodeToString(raw[:32])
	sum := sha256.Sum256([]byte(verifier))
	state := base64.RawURLEncoding.EncodeToString(raw[32:])
	login := issuer + "/authorize?" + url.Values{
		"client_id":             {welcomeClient},
		"response_type":         {"code"},
		"scope":                 {"openid profile"},
		"redirect_uri":          {redirect},
		"state":                 {state},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}.Encode()
	approve := "go run ./cmd/pforte-app --state /tmp/bjoern-app.json approve --pin " + welcomePIN
	if issuer != welcomeDeviceIssuer {
		approve += "   # the demo device knows " + welcomeDeviceIssuer + " only: edit its issuer and origin"
	}
	_, err := fmt.Fprintf(w, `
Pforte development instance at %[1]s (demo members and clients of configs/dev; never for production).

1. Paste this login URL into a browser and log in as Björn, %[2]s / %[3]s:

   %[4]s

2. The page shows a number. Confirm it with Björn's demo device in a second terminal (release PIN %[5]s):

   cp %[6]s /tmp/bjoern-app.json
   %[7]s

3. The browser goes on to %[8]s?code=…, where nothing listens. Exchange the code within a minute:

   curl -s -u %[10]s:%[11]s %[1]s/token -d grant_type=authorization_code \
     -d redirect_uri=%[8]s -d code_verifier=%[9]s -d code=CODE

`, issuer, welcomeKVNR, welcomePassword, login, welcomePIN, welcomeDevice, approve, redirect, verifier, welcomeClient, welcomeSecret)
	return err
}
