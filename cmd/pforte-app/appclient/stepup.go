package appclient

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// StepUp is a begun eID step-up: the eID service's URL the member opens
// in a browser, and the step-up token that redeems the one-time code the
// browser brings back to the app's return address.
type StepUp struct {
	URL       string `json:"authorization_url"`
	Token     string `json:"step_up_token"`
	TokenType string `json:"token_type"`
	ExpiresIn int    `json:"expires_in"`
}

// BeginStepUp begins raising the letter-proofed account of device d to
// level high with the eID (POST /app/v1/step-up): the device key over a
// fresh challenge and the PIN authenticate the member; returnURI is the
// app's return address (ListenEIDReturn) and challenge the S256 PKCE
// challenge of the verifier ConfirmStepUp sends.
func (c *Client) BeginStepUp(ctx context.Context, d Device, pin, returnURI, challenge string) (StepUp, error) {
	return c.beginStepUp(ctx, d, pin, returnURI, challenge, false)
}

// BeginReconfirmEID is BeginStepUp that also confirms device d again
// once the identity is confirmed (the answer device.reconfirm_eid asks
// for it); an account proven with the ID card already may run it.
func (c *Client) BeginReconfirmEID(ctx context.Context, d Device, pin, returnURI, challenge string) (StepUp, error) {
	return c.beginStepUp(ctx, d, pin, returnURI, challenge, true)
}

func (c *Client) beginStepUp(ctx context.Context, d Device, pin, returnURI, challenge string, reconfirm bool) (StepUp, error) {
	id, assertion, err := c.sign(ctx, d, "/devices/"+url.PathEscape(d.BindingID)+"/challenge", struct{}{})
	if err != nil {
		return StepUp{}, err
	}
	body := map[string]any{
		"proof":      map[string]any{"challenge_id": id, "assertion": assertion, "pin": pin},
		"return_uri": returnURI, "code_challenge": challenge, "code_challenge_method": "S256",
	}
	if reconfirm {
		body["reconfirm"] = true
	}
	var s StepUp
	err = c.appCall(ctx, "/step-up", body, &s)
	if err != nil {
		return StepUp{}, err
	}
	if s.URL == "" || s.Token == "" || !strings.EqualFold(s.TokenType, "Bearer") {
		return StepUp{}, errors.New("the issuer's answer holds no eID URL or step-up token")
	}
	return s, nil
}

// ConfirmStepUp redeems the one-time code the browser brought to the
// return address (POST /app/v1/step-up/confirmation) with the step-up's
// token and the PKCE verifier; it returns the account's new proofing
// level ("high").
func (c *Client) ConfirmStepUp(ctx context.Context, s StepUp, code, verifier string) (string, error) {
	var out struct {
		Proofing string `json:"proofing"`
	}
	err := c.appRequest(ctx, http.MethodPost, "/step-up/confirmation", map[string]string{"Authorization": "Bearer " + s.Token},
		map[string]string{"code": code, "code_verifier": verifier}, &out)
	if err != nil {
		return "", err
	}
	if out.Proofing == "" {
		return "", errors.New("the issuer's answer names no proofing level")
	}
	return out.Proofing, nil
}
