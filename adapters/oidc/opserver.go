package oidc

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/dpop"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/ports/token"
)

// opServer implements the library's op.Server for the endpoints whose
// routing and request decoding come from the library. Methods that are not
// overridden answer "not supported" (device flow, token exchange, JWT
// profile grant).
type opServer struct {
	op.UnimplementedServer
	svc  *authz.Service
	dpop token.DPoPVerifier
	log  *slog.Logger
}

var _ op.Server = (*opServer)(nil)

// VerifyClient authenticates the client of a token or revocation request.
func (s *opServer) VerifyClient(ctx context.Context, r *op.Request[op.ClientCredentials]) (op.Client, error) {
	c, err := s.svc.AuthenticateClient(ctx, credentials(r.Header, r.Data))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return opClient{c}, nil
}

// credentials tells client_secret_basic from client_secret_post: the
// library merges both into one struct.
func credentials(h http.Header, cc *op.ClientCredentials) authz.Credentials {
	method := client.AuthSecretPost
	if strings.HasPrefix(h.Get("Authorization"), "Basic ") {
		method = client.AuthSecretBasic
	}
	return authz.Credentials{
		ClientID: cc.ClientID, Secret: cc.ClientSecret, Method: method,
		Assertion: cc.ClientAssertion, AssertionType: cc.ClientAssertionType,
	}
}

// CodeExchange redeems a code. Unlike the library's legacy path, the PKCE
// verifier is required from every client, confidential ones included; core
// enforces it, so no server path can skip it.
func (s *opServer) CodeExchange(ctx context.Context, r *op.ClientRequest[oidc.AccessTokenRequest]) (*op.Response, error) {
	pop, err := readProof(ctx, s.dpop, r.Header, r.Method, pathToken)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	resp, err := s.svc.ExchangeCode(ctx, clientOf(r.Client), r.Data.Code, r.Data.RedirectURI, r.Data.CodeVerifier, pop)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return tokenResponse(resp), nil
}

// RefreshToken rotates a refresh token.
func (s *opServer) RefreshToken(ctx context.Context, r *op.ClientRequest[oidc.RefreshTokenRequest]) (*op.Response, error) {
	pop, err := readProof(ctx, s.dpop, r.Header, r.Method, pathToken)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	resp, err := s.svc.Refresh(ctx, clientOf(r.Client), r.Data.RefreshToken, strings.Join(r.Data.Scopes, " "), pop)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return tokenResponse(resp), nil
}

// ClientCredentialsExchange issues a token to a service client.
func (s *opServer) ClientCredentialsExchange(ctx context.Context, r *op.ClientRequest[oidc.ClientCredentialsRequest]) (*op.Response, error) {
	pop, err := readProof(ctx, s.dpop, r.Header, r.Method, pathToken)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	resp, err := s.svc.ClientCredentials(ctx, clientOf(r.Client), strings.Join(r.Data.Scope, " "), pop)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return tokenResponse(resp), nil
}

// readProof reads the DPoP header of a request to the endpoint at path:
// none, or exactly one (RFC 9449 §4.3 step 1), verified by v. Whether the
// proof fits the request, is new and is required is core's decision.
// Errors: Unauthenticated with dpop.CodeInvalidProof.
func readProof(ctx context.Context, v token.DPoPVerifier, h http.Header, method, path string) (authz.DPoPRequest, error) {
	pop := authz.DPoPRequest{Method: method, Path: path}
	switch vals := h.Values("DPoP"); len(vals) {
	case 0:
		return pop, nil
	case 1:
		p, err := v.Verify(ctx, vals[0])
		if err != nil {
			if code, _ := fault.CodeOf(err); code != dpop.CodeInvalidProof && code != dpop.CodeUseNonce {
				// The port promises a proof error; anything else is
				// refused the same way, never taken for a missing proof.
				return pop, dpop.InvalidProof("oidc.readProof", "DPoP proof is invalid")
			}
			return pop, err
		}
		pop.Proof = &p
		return pop, nil
	default:
		return pop, dpop.InvalidProof("oidc.readProof", "DPoP: exactly one DPoP header is allowed")
	}
}

// Introspect answers RFC 7662 for an authenticated confidential client.
func (s *opServer) Introspect(ctx context.Context, r *op.Request[op.IntrospectionRequest]) (*op.Response, error) {
	caller, err := s.svc.AuthenticateClient(ctx, credentials(r.Header, r.Data.ClientCredentials))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	in, err := s.svc.Introspect(ctx, caller, r.Data.Token)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &oidc.IntrospectionResponse{Active: in.Active}
	if in.Active {
		out.Scope = in.Scopes
		out.ClientID = in.ClientID
		// token_type is Bearer or DPoP for an access token (RFC 7662,
		// RFC 9449 §6.2); a refresh token says what it is.
		out.TokenType = in.TokenType
		if in.Kind == "refresh_token" {
			out.TokenType = "refresh_token"
		}
		out.Expiration = oidc.FromTime(in.ExpiresAt)
		out.IssuedAt = oidc.FromTime(in.IssuedAt)
		if !in.AuthTime.IsZero() {
			out.AuthTime = oidc.FromTime(in.AuthTime)
		}
		out.Subject = in.Subject
		out.Audience = in.Audience
		out.AuthenticationMethodsReferences = in.AMR
		out.Issuer = s.svc.Config().Issuer
		out.JWTID = in.JTI
		out.Claims = map[string]any{}
		if in.ACR != "" {
			out.Claims["acr"] = in.ACR
		}
		if in.JKT != "" {
			out.Claims["cnf"] = authz.Confirmation{JKT: in.JKT}
		}
	}
	resp := op.NewResponse(out)
	resp.Header.Set("Cache-Control", "no-store")
	return resp, nil
}

// Revocation revokes a token (RFC 7009).
func (s *opServer) Revocation(ctx context.Context, r *op.ClientRequest[oidc.RevocationRequest]) (*op.Response, error) {
	if err := s.svc.Revoke(ctx, clientOf(r.Client), r.Data.Token, r.Data.TokenTypeHint); err != nil {
		return nil, s.fail(ctx, err)
	}
	return op.NewResponse(struct{}{}), nil
}

// fail converts err for the client with tokenError. A server-side fault is
// logged with its cause first: the client sees only a fixed text, and the
// library logs only what the client sees.
func (s *opServer) fail(ctx context.Context, err error) error {
	if k := fault.KindOf(err); k == fault.Internal || k == fault.Unavailable {
		s.log.ErrorContext(ctx, "token endpoint failed", "kind", k.String(), "err", err)
	}
	return tokenError(err)
}

func tokenResponse(t authz.TokenResponse) *op.Response {
	resp := op.NewResponse(&oidc.AccessTokenResponse{
		AccessToken: t.AccessToken, TokenType: t.TokenType, RefreshToken: t.RefreshToken,
		ExpiresIn: uint64(t.ExpiresIn / time.Second), IDToken: t.IDToken, Scope: t.Scopes,
	})
	// RFC 6749 §5.1: token responses must not be cached.
	resp.Header.Set("Cache-Control", "no-store")
	resp.Header.Set("Pragma", "no-cache")
	return resp
}

// opClient presents a core client to the library.
type opClient struct{ c client.Client }

func clientOf(c op.Client) client.Client { return c.(opClient).c }

func (o opClient) GetID() string                    { return o.c.ID }
func (o opClient) RedirectURIs() []string           { return o.c.RedirectURIs }
func (o opClient) PostLogoutRedirectURIs() []string { return o.c.PostLogoutRedirectURIs }
func (o opClient) ApplicationType() op.ApplicationType {
	if o.c.Kind == client.Native {
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}
func (o opClient) AuthMethod() oidc.AuthMethod { return oidc.AuthMethod(o.c.AuthMethod) }
func (o opClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (o opClient) GrantTypes() []oidc.GrantType {
	out := make([]oidc.GrantType, len(o.c.GrantTypes))
	for i, g := range o.c.GrantTypes {
		out[i] = oidc.GrantType(g)
	}
	return out
}
func (o opClient) LoginURL(string) string               { return "" }
func (o opClient) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeJWT }
func (o opClient) IDTokenLifetime() time.Duration       { return o.c.IDTokenTTL }
func (o opClient) DevMode() bool                        { return false }
func (o opClient) IsScopeAllowed(scope string) bool     { return false }
func (o opClient) IDTokenUserinfoClaimsAssertion() bool { return false }
func (o opClient) ClockSkew() time.Duration             { return 0 }
func (o opClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (o opClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
