package appclient

import (
	"context"
	"errors"
	"net/url"
	"time"
)

// Reconfirm confirms device d again (POST /app/v1/devices/reconfirm): the
// device key over a fresh challenge, the release PIN and the account
// password. It returns when the next re-confirmation is due. A refusal
// is a *Problem: the PIN codes, password.wrong, a delay of password
// checks (rate_limited), or device.reconfirm_not_password for an account
// that confirms with the eID.
func (c *Client) Reconfirm(ctx context.Context, d Device, pin, password string) (time.Time, error) {
	id, assertion, err := c.sign(ctx, d, "/devices/"+url.PathEscape(d.BindingID)+"/challenge", struct{}{})
	if err != nil {
		return time.Time{}, err
	}
	var out struct {
		ReconfirmBy time.Time `json:"reconfirm_by"`
	}
	err = c.appCall(ctx, "/devices/reconfirm", map[string]any{
		"proof":    map[string]any{"challenge_id": id, "assertion": assertion, "pin": pin},
		"password": password,
	}, &out)
	if err != nil {
		return time.Time{}, err
	}
	if out.ReconfirmBy.IsZero() {
		return time.Time{}, errors.New("the issuer's answer names no next re-confirmation")
	}
	return out.ReconfirmBy, nil
}
