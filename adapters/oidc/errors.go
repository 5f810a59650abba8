package oidc

import (
	"errors"
	"net/http"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/pforte-id/pforte/catalog"
	"github.com/pforte-id/pforte/core/dpop"
	"github.com/pforte-id/pforte/core/fault"
)

// The one place where core errors (kinds and codes) become OAuth errors and
// pages, one table per kind of endpoint. Clients see catalog.Describe(err)
// as error_description and members the catalog's text on a page, never
// err.Error().

// tokenErrors is the table for endpoints that answer JSON to a client
// (token, introspection, revocation; RFC 6749 §5.2).
var tokenErrors = map[fault.Kind]struct {
	make   func() *oidc.Error
	status int
}{
	fault.Invalid:         {oidc.ErrInvalidRequest, http.StatusBadRequest},
	fault.Unauthenticated: {oidc.ErrInvalidClient, http.StatusUnauthorized},
	fault.Forbidden:       {oidc.ErrInvalidGrant, http.StatusBadRequest},
	fault.NotFound:        {oidc.ErrInvalidGrant, http.StatusBadRequest},
	fault.Expired:         {oidc.ErrInvalidGrant, http.StatusBadRequest},
	fault.Locked:          {oidc.ErrInvalidGrant, http.StatusBadRequest},
	fault.Conflict:        {oidc.ErrInvalidGrant, http.StatusBadRequest},
	fault.RateLimited:     {oidc.ErrInvalidRequest, http.StatusTooManyRequests},
	fault.Unavailable:     {oidc.ErrServerError, http.StatusServiceUnavailable},
	fault.Internal:        {oidc.ErrServerError, http.StatusInternalServerError},
}

// dpopErrors is the table for DPoP proof errors (RFC 9449 §5, §7.1, §8,
// §9), which core reports as Unauthenticated wrapping a dpop error and
// which go before the kind tables: a bad proof is not a failed client
// authentication. tokenStatus is the token endpoint's (400, RFC 9449 §5
// and §8), resourceStatus the userinfo endpoint's (401 with a DPoP
// challenge, RFC 9449 §7.1 and §9). Every answer of both endpoints carries
// a fresh DPoP-Nonce header, so use_dpop_nonce needs nothing more.
var dpopErrors = map[fault.Code]struct {
	make                        func() *oidc.Error
	tokenStatus, resourceStatus int
}{
	dpop.CodeInvalidProof: {func() *oidc.Error { return &oidc.Error{ErrorType: "invalid_dpop_proof"} }, http.StatusBadRequest, http.StatusUnauthorized},
	dpop.CodeUseNonce:     {func() *oidc.Error { return &oidc.Error{ErrorType: "use_dpop_nonce"} }, http.StatusBadRequest, http.StatusUnauthorized},
}

// tokenError converts a core error for the library's error writer. A
// database outage becomes server_error with a 5xx status, never
// invalid_grant: a client must not throw away a valid grant because
// Pforte's database hiccupped.
func tokenError(err error) error {
	desc := catalog.Describe(err)
	if m, ok := dpopErrors[codeOf(err)]; ok {
		e := m.make().WithDescription("%s", desc)
		return op.NewStatusError(e.WithParent(errors.New(desc)), m.tokenStatus)
	}
	k := fault.KindOf(err)
	m, ok := tokenErrors[k]
	if !ok {
		m = tokenErrors[fault.Internal]
	}
	e := m.make().WithDescription("%s", desc)
	return op.NewStatusError(e.WithParent(errors.New(desc)), m.status)
}

// pushStatus is the HTTP status of a refused pushed authorization request
// (RFC 9126 §2.3: 400 with the authorization endpoint's error codes, or a
// server error). Client authentication failures come from tokenErrors.
var pushStatus = map[fault.Kind]int{
	fault.Invalid:         http.StatusBadRequest,
	fault.Unauthenticated: http.StatusBadRequest,
	fault.Forbidden:       http.StatusBadRequest,
	fault.NotFound:        http.StatusBadRequest,
	fault.Expired:         http.StatusBadRequest,
	fault.Locked:          http.StatusBadRequest,
	fault.Conflict:        http.StatusBadRequest,
	fault.RateLimited:     http.StatusTooManyRequests,
	fault.Unavailable:     http.StatusServiceUnavailable,
	fault.Internal:        http.StatusInternalServerError,
}

// pageStatus is the table for errors shown as a page to the user agent
// (authorize before the redirect URI is validated, end_session).
var pageStatus = map[fault.Kind]int{
	fault.Invalid:         http.StatusBadRequest,
	fault.Unauthenticated: http.StatusUnauthorized,
	fault.Forbidden:       http.StatusForbidden,
	fault.NotFound:        http.StatusBadRequest,
	fault.Expired:         http.StatusBadRequest,
	fault.Locked:          http.StatusForbidden,
	fault.Conflict:        http.StatusConflict,
	fault.RateLimited:     http.StatusTooManyRequests,
	fault.Unavailable:     http.StatusServiceUnavailable,
	fault.Internal:        http.StatusInternalServerError,
}

// resourceErrors is the table for bearer-token protected resources
// (userinfo; RFC 6750 §3.1).
var resourceErrors = map[fault.Kind]struct {
	code   string
	status int
}{
	fault.Invalid:         {"invalid_request", http.StatusBadRequest},
	fault.Unauthenticated: {"invalid_token", http.StatusUnauthorized},
	fault.Forbidden:       {"insufficient_scope", http.StatusForbidden},
	fault.NotFound:        {"invalid_token", http.StatusUnauthorized},
	fault.Expired:         {"invalid_token", http.StatusUnauthorized},
	fault.Locked:          {"invalid_token", http.StatusUnauthorized},
	fault.Conflict:        {"invalid_token", http.StatusUnauthorized},
	fault.RateLimited:     {"invalid_request", http.StatusTooManyRequests},
	fault.Unavailable:     {"server_error", http.StatusServiceUnavailable},
	fault.Internal:        {"server_error", http.StatusInternalServerError},
}

// authorizeErrors is the table for errors sent to the client's redirect
// URI (RFC 6749 §4.1.2.1, OpenID Connect Core §3.1.2.6) and for refused
// pushed requests (RFC 9126 §2.3), which use the same codes.
var authorizeErrors = map[fault.Kind]string{
	fault.Invalid:         "invalid_request",
	fault.Unauthenticated: "login_required",
	fault.Forbidden:       "access_denied",
	fault.NotFound:        "invalid_request",
	fault.Expired:         "invalid_request",
	fault.Locked:          "access_denied",
	fault.Conflict:        "invalid_request",
	fault.RateLimited:     "temporarily_unavailable",
	fault.Unavailable:     "temporarily_unavailable",
	fault.Internal:        "server_error",
}

// authorizeError is the authorization response error code of kind k.
func authorizeError(k fault.Kind) string {
	if c, ok := authorizeErrors[k]; ok {
		return c
	}
	return "server_error"
}

// codeOf is the code of err ("" when it has none).
func codeOf(err error) fault.Code {
	c, _ := fault.CodeOf(err)
	return c
}
