package appclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/pforte-id/pforte/cmd/pforte-app/dpop"
)

// tokenRequest posts form to the token endpoint with a DPoP proof of key.
// A use_dpop_nonce answer is retried once with the nonce it carries (RFC
// 9449 §8). The answer must be a DPoP-bound token: a bearer token would
// be usable by whoever copies it, which is what the app's key prevents.
func (c *Client) tokenRequest(ctx context.Context, key *dpop.Key, form url.Values) (Tokens, error) {
	for retried := false; ; retried = true {
		proof, err := key.Proof(http.MethodPost, c.md.TokenEndpoint, "", c.DPoPNonce(), c.cfg.Now())
		if err != nil {
			return Tokens{}, err
		}
		a, err := c.postForm(ctx, c.md.TokenEndpoint, form, map[string]string{"DPoP": proof})
		if err != nil {
			return Tokens{}, err
		}
		if a.status != http.StatusOK {
			oe := oauthError("token", a)
			if oe.Code == "use_dpop_nonce" && !retried && a.header.Get("DPoP-Nonce") != "" {
				continue
			}
			return Tokens{}, oe
		}
		var body struct {
			AccessToken  string `json:"access_token"`
			TokenType    string `json:"token_type"`
			ExpiresIn    int64  `json:"expires_in"`
			RefreshToken string `json:"refresh_token"`
			IDToken      string `json:"id_token"`
			Scope        string `json:"scope"`
		}
		if err := json.Unmarshal(a.body, &body); err != nil || body.AccessToken == "" {
			return Tokens{}, errors.New("the token response is not a token response")
		}
		if !strings.EqualFold(body.TokenType, "DPoP") {
			return Tokens{}, fmt.Errorf("the issuer issued a %q token, not one bound to the app's key (DPoP): refused", body.TokenType)
		}
		return Tokens{
			AccessToken: body.AccessToken, TokenType: "DPoP", RefreshToken: body.RefreshToken, IDToken: body.IDToken,
			Scope: body.Scope, ExpiresAt: c.cfg.Now().Add(time.Duration(body.ExpiresIn) * time.Second).UTC(),
		}, nil
	}
}

// verifyIDToken verifies raw with go-oidc: the signature against the
// issuer's JWKS, iss, aud (the app's client id), exp; then the nonce
// (when given) and at_hash against accessToken. It returns the claims.
func (c *Client) verifyIDToken(ctx context.Context, raw, nonce, accessToken string) (map[string]any, error) {
	v := c.provider.Verifier(&oidc.Config{ClientID: c.cfg.ClientID, Now: c.cfg.Now})
	idt, err := v.Verify(c.ctx(ctx), raw)
	if err != nil {
		return nil, fmt.Errorf("the ID token is not valid: %w", err)
	}
	if nonce != "" && idt.Nonce != nonce {
		return nil, errors.New("the ID token's nonce is not this login's: refused")
	}
	if err := idt.VerifyAccessToken(accessToken); err != nil {
		return nil, fmt.Errorf("the ID token does not vouch for the access token (at_hash): %w", err)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return nil, err
	}
	return claims, nil
}

// Refresh rotates the refresh token with a proof of key, the key the
// session's tokens are bound to. A new ID token, if one comes, is
// verified and must be about subject.
// Errors: *OAuthError (invalid_grant: the session is over).
func (c *Client) Refresh(ctx context.Context, key *dpop.Key, refreshToken, subject string) (Tokens, error) {
	if refreshToken == "" {
		return Tokens{}, errors.New("no refresh token")
	}
	toks, err := c.tokenRequest(ctx, key, url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}, "client_id": {c.cfg.ClientID},
	})
	if err != nil {
		return Tokens{}, err
	}
	if toks.IDToken != "" {
		if toks.Claims, err = c.verifyIDToken(ctx, toks.IDToken, "", toks.AccessToken); err != nil {
			return Tokens{}, err
		}
		if sub, _ := toks.Claims["sub"].(string); subject != "" && sub != subject {
			return Tokens{}, errors.New("the refreshed ID token is about another member: refused")
		}
	}
	return toks, nil
}

// UserInfo asks the userinfo endpoint for the member's claims with the
// DPoP-bound access token (Authorization: DPoP, a proof with ath, RFC 9449
// §7). A use_dpop_nonce answer is retried once.
// Errors: *OAuthError (invalid_token: expired or revoked).
func (c *Client) UserInfo(ctx context.Context, key *dpop.Key, accessToken string) (map[string]any, error) {
	for retried := false; ; retried = true {
		proof, err := key.Proof(http.MethodGet, c.md.UserinfoEndpoint, accessToken, c.DPoPNonce(), c.cfg.Now())
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.md.UserinfoEndpoint, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "DPoP "+accessToken)
		req.Header.Set("DPoP", proof)
		req.Header.Set("Accept", "application/json")
		a, err := c.do(req)
		if err != nil {
			return nil, err
		}
		if a.status != http.StatusOK {
			oe := oauthError("userinfo", a)
			if oe.Code == "use_dpop_nonce" && !retried && a.header.Get("DPoP-Nonce") != "" {
				continue
			}
			return nil, oe
		}
		var claims map[string]any
		if err := json.Unmarshal(a.body, &claims); err != nil {
			return nil, errors.New("the userinfo answer is not a JSON object")
		}
		return claims, nil
	}
}

// Revoke revokes token (RFC 7009) with the hint typeHint
// ("refresh_token" or "access_token"). Revoking a refresh token ends its
// whole family: the session. The server answers success for a token it
// does not know, so a repeated logout is no error.
// Errors: *OAuthError.
func (c *Client) Revoke(ctx context.Context, token, typeHint string) error {
	form := url.Values{"token": {token}, "client_id": {c.cfg.ClientID}}
	if typeHint != "" {
		form.Set("token_type_hint", typeHint)
	}
	a, err := c.postForm(ctx, c.md.RevocationEndpoint, form, nil)
	if err != nil {
		return err
	}
	if a.status != http.StatusOK {
		return oauthError("revocation", a)
	}
	return nil
}
