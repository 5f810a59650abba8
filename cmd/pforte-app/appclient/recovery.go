package appclient

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// Recovery is a begun recovery with the eID on a bound device: the eID
// service's URL the member opens in a browser, and the recovery token
// that redeems the one-time code the browser brings back.
type Recovery struct {
	URL       string `json:"authorization_url"`
	Token     string `json:"recovery_token"`
	TokenType string `json:"token_type"`
	ExpiresIn int    `json:"expires_in"`
}

// BeginRecovery begins the eID proof for the account of device d, whose
// PIN or password is lost (POST /app/v1/recovery): the device key over a
// fresh challenge, no PIN; returnURI and challenge as for BeginStepUp.
func (c *Client) BeginRecovery(ctx context.Context, d Device, returnURI, challenge string) (Recovery, error) {
	id, assertion, err := c.sign(ctx, d, "/devices/"+url.PathEscape(d.BindingID)+"/challenge", struct{}{})
	if err != nil {
		return Recovery{}, err
	}
	var r Recovery
	err = c.appCall(ctx, "/recovery", map[string]any{
		"challenge_id": id, "assertion": assertion,
		"return_uri": returnURI, "code_challenge": challenge, "code_challenge_method": "S256",
	}, &r)
	if err != nil {
		return Recovery{}, err
	}
	if r.URL == "" || r.Token == "" || !strings.EqualFold(r.TokenType, "Bearer") {
		return Recovery{}, errors.New("the issuer's answer holds no eID URL or recovery token")
	}
	return r, nil
}

// ConfirmRecovery redeems the one-time code the browser brought to the
// return address (POST /app/v1/recovery/confirmation) with the recovery's
// token, the PKCE verifier and a fresh answer of device d's key, and sets
// newPIN and/or newPassword (empty: unchanged).
func (c *Client) ConfirmRecovery(ctx context.Context, r Recovery, d Device, code, verifier, newPIN, newPassword string) error {
	id, assertion, err := c.sign(ctx, d, "/devices/"+url.PathEscape(d.BindingID)+"/challenge", struct{}{})
	if err != nil {
		return err
	}
	body := map[string]any{"code": code, "code_verifier": verifier, "challenge_id": id, "assertion": assertion}
	if newPIN != "" {
		body["new_pin"] = newPIN
	}
	if newPassword != "" {
		body["new_password"] = newPassword
	}
	return c.appRequest(ctx, http.MethodPost, "/recovery/confirmation", map[string]string{"Authorization": "Bearer " + r.Token}, body, nil)
}
