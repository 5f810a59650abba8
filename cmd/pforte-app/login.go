package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pforte-id/pforte/cmd/pforte-app/appclient"
	"github.com/pforte-id/pforte/cmd/pforte-app/dpop"
)

// The native login and its session, as the Service-App does them
// (package appclient):
//
//	login     POST /par, GET /authorize?request_uri=…, then
//	          POST /app/v1/logins/{id}/challenge, POST /app/v1/logins/{id},
//	          then POST /token with a DPoP proof  ("Anmelden")
//	token     POST /token (refresh_token) with a DPoP proof of the same key
//	userinfo  GET /userinfo with Authorization: DPoP and a proof with ath
//	logout    POST /revoke of the refresh token   ("Abmelden")

// Defaults of the login: the development client of configs/dev/clients.yaml
// and the app's own redirect URI.
const (
	defaultClientID    = "pforte-app"
	defaultRedirectURI = "de.hkk.serviceapp:/oauth2redirect"
	defaultScope       = "openid profile kvnr"
)

// client discovers the issuer of api for the app's client.
func (e *env) client(ctx context.Context, api *appAPI, clientID, redirectURI, nonce string) (*appclient.Client, error) {
	return appclient.Discover(ctx, appclient.Config{
		Issuer: api.issuer, ClientID: clientID, RedirectURI: redirectURI, HTTP: api.hc, Now: e.clock, DPoPNonce: nonce,
	})
}

func loginCommand(e *env) *cobra.Command {
	var scope, acr, p, clientID, redirectURI string
	cmd := &cobra.Command{
		Use:   "login",
		Short: "log in with the device key and the release PIN (Anmelden)",
		Long: "login runs the app's login (OpenID Connect code flow for native apps, RFC 8252) and\n" +
			"prints the claims of the verified ID token:\n\n" +
			"  1. a new DPoP key (RFC 9449) for this session, and PKCE S256;\n" +
			"  2. POST /par: the pushed authorization request (RFC 9126) with the key's\n" +
			"     thumbprint (dpop_jkt);\n" +
			"  3. GET /authorize?client_id&request_uri: Pforte answers with the login it waits for;\n" +
			"  4. POST /app/v1/logins/{id}/challenge: a challenge bound to this login, which the\n" +
			"     device key signs (its counter is saved in the state file);\n" +
			"  5. POST /app/v1/logins/{id}: the assertion and the release PIN; the answer is the\n" +
			"     redirect with code, state and iss, which the app checks (RFC 9207);\n" +
			"  6. POST /token: the code with the PKCE verifier and a DPoP proof (a server nonce is\n" +
			"     used when the issuer asks for one);\n" +
			"  7. the ID token is verified (signature, issuer, audience, expiry, nonce, at_hash).\n\n" +
			"The tokens and the DPoP key are kept in the state file (0600) for token --refresh,\n" +
			"userinfo and logout; a new login ends the previous session.\n\n" +
			"A wrong PIN counts as in every other use of the device: the error says how many\n" +
			"attempts are left. The PIN is asked for without echo when stdin is a terminal, or\n" +
			"given with --pin (visible in the process list: for tests).",
		Example: "  pforte-app login\n  pforte-app login --scope 'openid profile birthdate address email kvnr'",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if p != "" {
				if err := checkPINFormat("--pin", p); err != nil {
					return err
				}
			}
			st, path, api, err := e.boundDevice()
			if err != nil {
				return err
			}
			if !st.Device.PINSet {
				return fmt.Errorf("device %s has no release PIN yet: set it with pforte-app set-pin", st.Device.BindingID)
			}
			if p, err = e.currentPIN(p); err != nil {
				return err
			}
			ctx := cmd.Context()
			nonce := ""
			if st.Session != nil {
				nonce = st.Session.DPoPNonce
			}
			c, err := e.client(ctx, api, clientID, redirectURI, nonce)
			if err != nil {
				return err
			}
			key, err := dpop.NewKey()
			if err != nil {
				return err
			}
			toks, err := c.Login(ctx, appclient.LoginRequest{
				Scope: scope, ACRValues: acr, PIN: p, DPoP: key,
				Device: appclient.Device{
					BindingID: st.Device.BindingID, Key: st.Device.Key, Origin: st.Device.Origin,
					Signed: func() error { return saveState(path, st) },
				},
			})
			if err != nil {
				return err
			}
			old := st.Session
			now := e.clock().UTC()
			st.Session = newSession(clientID, redirectURI, key, c.DPoPNonce(), toks, now)
			if err := saveState(path, st); err != nil {
				return fmt.Errorf("logged in, but the session could not be kept: %w", err)
			}
			fmt.Fprintln(e.stdout, "Angemeldet. / Logged in. The ID token is verified: signature, issuer, audience "+clientID+", nonce, at_hash.")
			printClaims(e.stdout, toks.Claims)
			// The claims of the scopes come from userinfo (OpenID Connect
			// Core §5.4), as the app shows the member's name after the login.
			if err := e.printScopeClaims(ctx, c, st.Session); err != nil {
				fmt.Fprintf(e.stdout, "The claims of the scopes could not be fetched (%v); try pforte-app userinfo.\n", err)
			}
			if st.Session.DPoPNonce != c.DPoPNonce() {
				st.Session.DPoPNonce = c.DPoPNonce()
				_ = saveState(path, st) // only the nonce is new
			}
			fmt.Fprintf(e.stdout, "Access token (DPoP, key %s) valid until %s; refresh token kept in %s.\n",
				key.Thumbprint(), clockTime(st.Session.ExpiresAt), path)
			if !toks.ReconfirmBy.IsZero() {
				fmt.Fprintf(e.stdout, "This device must be confirmed again by %s (pforte-app reconfirm).\n", clockTime(toks.ReconfirmBy))
			}
			if old != nil && old.RefreshToken != "" {
				// The old session's key is gone from the state file, so
				// its tokens are useless here; end it at the issuer too.
				if err := c.Revoke(ctx, old.RefreshToken, "refresh_token"); err != nil {
					fmt.Fprintf(e.stdout, "The previous session could not be revoked (%v); it ends by itself.\n", err)
				} else {
					fmt.Fprintln(e.stdout, "The previous session is revoked.")
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&scope, "scope", defaultScope, "the scopes: openid, profile, birthdate, address, email, kvnr")
	fl.StringVar(&acr, "acr-values", "", "the acr values to ask for, e.g. http://eidas.europa.eu/LoA/high")
	fl.StringVar(&p, "pin", "", "the release PIN (visible in the process list: for tests)")
	fl.StringVar(&clientID, "client-id", defaultClientID, "the app's client id")
	fl.StringVar(&redirectURI, "redirect-uri", defaultRedirectURI, "the app's registered redirect URI")
	return cmd
}

func newSession(clientID, redirectURI string, key *dpop.Key, nonce string, t appclient.Tokens, now time.Time) *sessionState {
	s := &sessionState{
		ClientID: clientID, RedirectURI: redirectURI, DPoPKey: key, DPoPNonce: nonce, LoggedInAt: now,
	}
	s.update(t)
	s.Subject, _ = t.Claims["sub"].(string)
	s.ACR, _ = t.Claims["acr"].(string)
	if amr, ok := t.Claims["amr"].([]any); ok {
		for _, a := range amr {
			if v, ok := a.(string); ok {
				s.AMR = append(s.AMR, v)
			}
		}
	}
	if at, ok := t.Claims["auth_time"].(float64); ok {
		s.AuthTime = time.Unix(int64(at), 0).UTC()
	}
	return s
}

// update takes the tokens of a token response; a refresh token that is
// not rotated stays.
func (s *sessionState) update(t appclient.Tokens) {
	s.AccessToken, s.ExpiresAt = t.AccessToken, t.ExpiresAt
	if t.RefreshToken != "" {
		s.RefreshToken = t.RefreshToken
	}
	if t.IDToken != "" {
		s.IDToken = t.IDToken
	}
	if t.Scope != "" {
		s.Scope = t.Scope
	}
}

// protocolClaims are ID token claims about the token, not the member.
var protocolClaims = []string{"iss", "aud", "exp", "iat", "nbf", "nonce", "azp", "at_hash", "c_hash", "sid", "jti"}

// printClaims prints sub, acr, amr and auth_time, then the member's
// claims in name order.
func printClaims(w io.Writer, claims map[string]any) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	first := []string{"sub", "acr", "amr", "auth_time"}
	var rest []string
	for k := range claims {
		if !slices.Contains(first, k) && !slices.Contains(protocolClaims, k) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range append(first, rest...) {
		v, ok := claims[k]
		if !ok {
			continue
		}
		fmt.Fprintf(tw, "  %s\t%s\n", k, claimText(k, v))
	}
	_ = tw.Flush()
}

// printScopeClaims fetches the member's claims from userinfo and prints
// those the ID token does not carry. The userinfo sub must be the ID
// token's (OpenID Connect Core §5.3.2): otherwise the answer is about
// someone else and is not shown.
func (e *env) printScopeClaims(ctx context.Context, c *appclient.Client, s *sessionState) error {
	ui, err := c.UserInfo(ctx, s.DPoPKey, s.AccessToken)
	if err != nil {
		return err
	}
	if ui["sub"] != s.Subject {
		return errors.New("the userinfo answer is about another subject")
	}
	delete(ui, "sub")
	if len(ui) == 0 {
		fmt.Fprintln(e.stdout, "The scopes release no further claims.")
		return nil
	}
	fmt.Fprintln(e.stdout, "Claims of the scopes (userinfo, DPoP):")
	printClaims(e.stdout, ui)
	return nil
}

func claimText(name string, v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		if name == "auth_time" {
			return clockTime(time.Unix(int64(x), 0)) + fmt.Sprintf(" (%d)", int64(x))
		}
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				parts = append(parts, s)
			}
		}
		if len(parts) == len(x) {
			return strings.Join(parts, " ")
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func clockTime(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05 MST") }

// session returns the state with its session and the issuer's client, or
// says to log in first.
func (e *env) session(ctx context.Context) (state, string, *appclient.Client, error) {
	st, path, exists, err := e.loadState()
	if err != nil {
		return st, path, nil, err
	}
	if !exists || st.Session == nil || st.Session.DPoPKey == nil || st.Session.AccessToken == "" {
		return st, path, nil, fmt.Errorf("not logged in (no session in %s): log in with pforte-app login", path)
	}
	api, err := newAppAPI(pick(st.Issuer, defaultIssuer), e.language())
	if err != nil {
		return st, path, nil, err
	}
	s := st.Session
	c, err := e.client(ctx, api, s.ClientID, s.RedirectURI, s.DPoPNonce)
	return st, path, c, err
}

// sessionOver reports whether err says that the session's grant is gone
// (revoked, expired or reused): then the app must log in again.
func sessionOver(err error) bool {
	var oe *appclient.OAuthError
	return errors.As(err, &oe) && oe.Code == "invalid_grant"
}

func tokenCommand(e *env) *cobra.Command {
	var refresh bool
	cmd := &cobra.Command{
		Use:   "token [--refresh]",
		Short: "show the session's tokens, or refresh them with the DPoP key",
		Long: "token shows the session login opened: the member, acr and amr, the scopes and until\n" +
			"when the access token is valid (the tokens themselves are not printed).\n\n" +
			"With --refresh it rotates the refresh token (POST /token, grant_type refresh_token)\n" +
			"with a DPoP proof of the session's key: the refresh token is bound to that key, so\n" +
			"a copy of it is useless elsewhere. The issuer ends the session after 30 minutes\n" +
			"without use or 12 hours after the login; then the app logs in again (key + PIN).",
		Example: "  pforte-app token --refresh",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, path, c, err := e.session(ctx)
			if err != nil {
				return err
			}
			s := st.Session
			if refresh {
				if s.RefreshToken == "" {
					return errors.New("the session has no refresh token: log in again with pforte-app login")
				}
				toks, err := c.Refresh(ctx, s.DPoPKey, s.RefreshToken, s.Subject)
				s.DPoPNonce = c.DPoPNonce()
				if err != nil {
					if sessionOver(err) {
						st.Session = nil
						if serr := saveState(path, st); serr != nil {
							return errors.Join(err, serr)
						}
						return fmt.Errorf("%w; the session is over: log in again with pforte-app login", err)
					}
					_ = saveState(path, st) // keep the nonce
					return err
				}
				s.update(toks)
				s.RefreshedAt = e.clock().UTC()
				if err := saveState(path, st); err != nil {
					// The old refresh token is spent: without the new one
					// the session cannot continue.
					return fmt.Errorf("refreshed, but the new tokens could not be kept (%w); log in again", err)
				}
				fmt.Fprintf(e.stdout, "Tokens refreshed (DPoP, key %s): the access token is valid until %s; the refresh token is rotated.\n",
					s.DPoPKey.Thumbprint(), clockTime(s.ExpiresAt))
				return nil
			}
			e.printSession(s)
			return nil
		},
	}
	cmd.Flags().BoolVar(&refresh, "refresh", false, "refresh the tokens with the refresh token and a DPoP proof")
	return cmd
}

func (e *env) printSession(s *sessionState) {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "member (sub)\t%s\n", s.Subject)
	fmt.Fprintf(tw, "acr\t%s\n", s.ACR)
	fmt.Fprintf(tw, "amr\t%s\n", strings.Join(s.AMR, " "))
	if !s.AuthTime.IsZero() {
		fmt.Fprintf(tw, "authenticated\t%s\n", clockTime(s.AuthTime))
	}
	fmt.Fprintf(tw, "client\t%s\n", s.ClientID)
	fmt.Fprintf(tw, "scope\t%s\n", s.Scope)
	state := "valid until " + clockTime(s.ExpiresAt)
	if !e.clock().Before(s.ExpiresAt) {
		state = "expired at " + clockTime(s.ExpiresAt) + " (pforte-app token --refresh)"
	}
	fmt.Fprintf(tw, "access token\tDPoP, %s\n", state)
	fmt.Fprintf(tw, "DPoP key\t%s\n", s.DPoPKey.Thumbprint())
	rt := "none"
	if s.RefreshToken != "" {
		rt = "kept"
		if !s.RefreshedAt.IsZero() {
			rt += ", last used " + clockTime(s.RefreshedAt)
		}
	}
	fmt.Fprintf(tw, "refresh token\t%s\n", rt)
	_ = tw.Flush()
}

func userinfoCommand(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "userinfo",
		Short: "fetch the member's claims from the userinfo endpoint with the DPoP-bound access token",
		Long: "userinfo asks the issuer's userinfo endpoint for the claims of the session's scopes\n" +
			"(GET /userinfo with Authorization: DPoP <access token> and a DPoP proof whose ath\n" +
			"is the token's hash) and prints them as JSON. An expired access token is refused;\n" +
			"refresh it with pforte-app token --refresh.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, path, c, err := e.session(ctx)
			if err != nil {
				return err
			}
			s := st.Session
			claims, err := c.UserInfo(ctx, s.DPoPKey, s.AccessToken)
			if s.DPoPNonce != c.DPoPNonce() {
				s.DPoPNonce = c.DPoPNonce()
				_ = saveState(path, st)
			}
			if err != nil {
				var oe *appclient.OAuthError
				if errors.As(err, &oe) && oe.Code == "invalid_token" {
					if !e.clock().Before(s.ExpiresAt) {
						return fmt.Errorf("%w; the access token expired at %s: pforte-app token --refresh", err, clockTime(s.ExpiresAt))
					}
					return fmt.Errorf("%w; the session may be revoked: pforte-app token --refresh, or log in again", err)
				}
				return err
			}
			out, err := json.MarshalIndent(claims, "", "  ")
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, string(out))
			return nil
		},
	}
}

func logoutCommand(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "log out: revoke the session at the issuer and forget its tokens (Abmelden)",
		Long: "logout revokes the session's refresh token (POST /revoke, RFC 7009); the issuer then\n" +
			"revokes every token of the session (the token family). The tokens and the session's\n" +
			"DPoP key are removed from the state file; the device key stays, so the next login\n" +
			"needs only the PIN.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, path, c, err := e.session(ctx)
			if err != nil {
				return err
			}
			s := st.Session
			tok, hint := s.RefreshToken, "refresh_token"
			if tok == "" {
				tok, hint = s.AccessToken, "access_token"
			}
			if err := c.Revoke(ctx, tok, hint); err != nil {
				return fmt.Errorf("%w; the session is kept: try again", err)
			}
			st.Session = nil
			if err := saveState(path, st); err != nil {
				return fmt.Errorf("the session is revoked, but the state file could not be updated: %w", err)
			}
			fmt.Fprintln(e.stdout, "Abgemeldet. / Logged out: the session is revoked at the issuer and its tokens are removed from the state file.")
			return nil
		},
	}
}
