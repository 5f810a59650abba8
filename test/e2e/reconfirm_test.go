package e2e

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/pforte-id/pforte/cmd/pforte-app/appclient"
	"github.com/pforte-id/pforte/core/device"
)

// Re-confirmation of a device with the reference client's code: the
// login answer says when it is due; once the clock passed it, the login
// is refused with the code before any PIN is asked; a wrong password
// confirms nothing; key, PIN and password confirm the device, and the
// login works again.
func TestReconfirmDevice(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		m := applicant("Wiebke", "Harms", "1969-02-17", w.clock.Now())
		en := w.enroll(t, eng, m, appPIN, withServiceApp)
		in, ph := en.in, en.phone
		c := in.appClient(t, "de.hkk.serviceapp:/oauth2redirect")
		login := func() (appclient.Tokens, error) {
			return c.Login(t.Context(), appclient.LoginRequest{Scope: "openid", Device: ph.device(t, in), PIN: appPIN, DPoP: newDPoPKey(t)})
		}
		bound := w.clock.Now()
		toks, err := login()
		if err != nil {
			t.Fatalf("login: %v", err)
		}
		if want := bound.Add(device.DefaultReconfirmPeriod); !toks.ReconfirmBy.Equal(want) {
			t.Fatalf("reconfirm_by %v, want %v", toks.ReconfirmBy, want)
		}

		w.clock.Advance(device.DefaultReconfirmPeriod)
		_, err = login()
		var p *appclient.Problem
		if !errors.As(err, &p) || p.Status != http.StatusForbidden || p.Code != appclient.CodeReconfirmPassword {
			t.Fatalf("login once due: %v", err)
		}
		if _, ok := p.AttemptsRemaining(); ok {
			t.Fatalf("the refusal counted a PIN: %v", p)
		}
		_, err = c.Reconfirm(t.Context(), ph.device(t, in), appPIN, "Falsches-Passwort-Leuchtturm")
		if !errors.As(err, &p) || p.Status != http.StatusUnauthorized || p.Code != "password.wrong" {
			t.Fatalf("reconfirm with a wrong password: %v", err)
		}
		if _, err := login(); !errors.As(err, &p) || p.Code != appclient.CodeReconfirmPassword {
			t.Fatalf("login after the wrong password: %v", err)
		}
		w.clock.Advance(time.Minute)
		by, err := c.Reconfirm(t.Context(), ph.device(t, in), appPIN, devicePassword)
		if want := w.clock.Now().Add(device.DefaultReconfirmPeriod); err != nil || !by.Equal(want) {
			t.Fatalf("reconfirm: %v, %v; want %v", by, err, want)
		}
		if toks, err = login(); err != nil || !toks.ReconfirmBy.Equal(by) {
			t.Fatalf("login after the re-confirmation: %v (reconfirm_by %v)", err, toks.ReconfirmBy)
		}
	})
}
