package appclient

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Approval is a browser login waiting for the member's decision: the
// service, the browser, and the three numbers to choose from (one of them
// is shown in the browser).
type Approval struct {
	ID         string    `json:"id"`
	ClientID   string    `json:"client_id"`
	ClientName string    `json:"client_name"`
	Browser    string    `json:"browser"`
	Choices    [3]int    `json:"choices"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// Decision is how Pforte recorded the member's decision: Status
// "approved", or "denied" with Reason "member" or "wrong_number".
type Decision struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

type challengeAnswer struct {
	ID      string          `json:"challenge_id"`
	Options json.RawMessage `json:"options"`
}

// sign lets d's key answer the challenge at path and keeps its counter.
func (c *Client) sign(ctx context.Context, d Device, path string, in any) (string, json.RawMessage, error) {
	var ch challengeAnswer
	if err := c.appCall(ctx, path, in, &ch); err != nil {
		return "", nil, err
	}
	if ch.ID == "" || len(ch.Options) == 0 {
		return "", nil, errors.New("the answer holds no challenge")
	}
	assertion, err := d.Key.Assert(ch.Options, d.Origin)
	if err != nil {
		return "", nil, fmt.Errorf("the device key refused the issuer's options: %w", err)
	}
	if d.Signed != nil {
		if err := d.Signed(); err != nil {
			return "", nil, fmt.Errorf("the device key's counter could not be kept: %w", err)
		}
	}
	return ch.ID, assertion, nil
}

// Approvals returns the browser logins waiting for the member of device d,
// oldest first: a device challenge (POST /app/v1/devices/{id}/challenge)
// answered by the key goes with GET /app/v1/approvals; no PIN.
func (c *Client) Approvals(ctx context.Context, d Device) ([]Approval, error) {
	id, assertion, err := c.sign(ctx, d, "/devices/"+url.PathEscape(d.BindingID)+"/challenge", struct{}{})
	if err != nil {
		return nil, err
	}
	var out struct {
		Approvals []Approval `json:"approvals"`
	}
	err = c.appRequest(ctx, "GET", "/approvals", map[string]string{
		"Pforte-Device-Challenge": id,
		"Pforte-Device-Assertion": base64.RawURLEncoding.EncodeToString(assertion),
	}, nil, &out)
	return out.Approvals, err
}

// Approve confirms approval id with the number the member chose, the
// device key over a challenge bound to the approval, and the PIN.
func (c *Client) Approve(ctx context.Context, d Device, id string, number int, pin string) (Decision, error) {
	return c.decide(ctx, d, id, map[string]any{"decision": "approve", "number": number}, pin)
}

// Deny refuses approval id ("Das war ich nicht") with the device key and
// the PIN: the browser's login fails and the member is told by e-mail.
func (c *Client) Deny(ctx context.Context, d Device, id, pin string) (Decision, error) {
	return c.decide(ctx, d, id, map[string]any{"decision": "deny"}, pin)
}

func (c *Client) decide(ctx context.Context, d Device, id string, body map[string]any, pin string) (Decision, error) {
	path := "/approvals/" + url.PathEscape(id)
	ch, assertion, err := c.sign(ctx, d, path+"/challenge", map[string]string{"binding_id": d.BindingID})
	if err != nil {
		return Decision{}, err
	}
	body["binding_id"] = d.BindingID
	body["proof"] = map[string]any{"challenge_id": ch, "assertion": assertion, "pin": pin}
	var out Decision
	err = c.appCall(ctx, path, body, &out)
	return out, err
}
