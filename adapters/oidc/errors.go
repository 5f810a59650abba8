package oidc

import (
	"errors"
	"net/http"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/pforte-id/pforte/catalog"
	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/dpop"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/sso"
)

// The one place where core errors become OAuth errors and pages: kinds
// holds one row per error kind with its answer at every kind of endpoint,
// codes the few codes that answer differently from their kind. Clients see
// catalog.Describe(err) as error_description and members the catalog's text
// on a page, never err.Error().

// wire is how the adapter answers an error of one kind.
type wire struct {
	// token is the OAuth error of the endpoints that answer JSON to a
	// client (token, introspection, revocation; RFC 6749 §5.2), with its
	// status tokenStatus.
	token       func() *oidc.Error
	tokenStatus int
	// authorize is the error code of an authorization response (RFC 6749
	// §4.1.2.1, OpenID Connect Core §3.1.2.6), sent to the client's
	// redirect URI, and of a refused pushed request (RFC 9126 §2.3), which
	// answers with pushStatus.
	authorize  string
	pushStatus int
	// pageStatus is the status of an error shown as a page to the user
	// agent (authorize before the redirect URI is validated).
	pageStatus int
	// resource is the error of a bearer-token protected resource
	// (userinfo; RFC 6750 §3.1), with its status resourceStatus.
	resource       string
	resourceStatus int
}

// kinds is the table of error kinds.
var kinds = map[fault.Kind]wire{
	fault.Invalid: {oidc.ErrInvalidRequest, http.StatusBadRequest,
		"invalid_request", http.StatusBadRequest, http.StatusBadRequest, "invalid_request", http.StatusBadRequest},
	fault.Unauthenticated: {oidc.ErrInvalidClient, http.StatusUnauthorized,
		"login_required", http.StatusBadRequest, http.StatusUnauthorized, "invalid_token", http.StatusUnauthorized},
	fault.Forbidden: {oidc.ErrInvalidGrant, http.StatusBadRequest,
		"access_denied", http.StatusBadRequest, http.StatusForbidden, "insufficient_scope", http.StatusForbidden},
	fault.NotFound: {oidc.ErrInvalidGrant, http.StatusBadRequest,
		"invalid_request", http.StatusBadRequest, http.StatusBadRequest, "invalid_token", http.StatusUnauthorized},
	fault.Expired: {oidc.ErrInvalidGrant, http.StatusBadRequest,
		"invalid_request", http.StatusBadRequest, http.StatusBadRequest, "invalid_token", http.StatusUnauthorized},
	fault.Locked: {oidc.ErrInvalidGrant, http.StatusBadRequest,
		"access_denied", http.StatusBadRequest, http.StatusForbidden, "invalid_token", http.StatusUnauthorized},
	fault.Conflict: {oidc.ErrInvalidGrant, http.StatusBadRequest,
		"invalid_request", http.StatusBadRequest, http.StatusConflict, "invalid_token", http.StatusUnauthorized},
	fault.RateLimited: {oidc.ErrInvalidRequest, http.StatusTooManyRequests,
		"temporarily_unavailable", http.StatusTooManyRequests, http.StatusTooManyRequests, "invalid_request", http.StatusTooManyRequests},
	fault.Unavailable: {oidc.ErrServerError, http.StatusServiceUnavailable,
		"temporarily_unavailable", http.StatusServiceUnavailable, http.StatusServiceUnavailable, "server_error", http.StatusServiceUnavailable},
	fault.Internal: {oidc.ErrServerError, http.StatusInternalServerError,
		"server_error", http.StatusInternalServerError, http.StatusInternalServerError, "server_error", http.StatusInternalServerError},
}

// wireOf returns the row of kind k (Internal's for an unknown kind).
func wireOf(k fault.Kind) wire {
	if w, ok := kinds[k]; ok {
		return w
	}
	return kinds[fault.Internal]
}

// codes is the table of codes that answer differently from their kind: the
// DPoP proof errors (RFC 9449 §5, §7.1, §8, §9), which core reports as
// Unauthenticated and which go before the kind's row: a bad proof is not a
// failed client authentication. tokenStatus is the token endpoint's (400,
// RFC 9449 §5 and §8), resourceStatus the userinfo endpoint's (401 with a
// DPoP challenge, RFC 9449 §7.1 and §9). Every answer of both endpoints
// carries a fresh DPoP-Nonce header, so use_dpop_nonce needs nothing more.
var codes = map[fault.Code]struct {
	oauth                       string
	token                       func() *oidc.Error
	tokenStatus, resourceStatus int
}{
	dpop.CodeInvalidProof: {"invalid_dpop_proof", func() *oidc.Error { return &oidc.Error{ErrorType: "invalid_dpop_proof"} },
		http.StatusBadRequest, http.StatusUnauthorized},
	dpop.CodeUseNonce: {"use_dpop_nonce", func() *oidc.Error { return &oidc.Error{ErrorType: "use_dpop_nonce"} },
		http.StatusBadRequest, http.StatusUnauthorized},
}

// authorizeCodes are the codes whose authorization error is not their
// kind's: what a session could not answer with prompt=none (OpenID
// Connect Core §3.1.2.6).
var authorizeCodes = map[fault.Code]string{
	sso.CodeLoginRequired:       "login_required",
	sso.CodeInteractionRequired: "interaction_required",
	sso.CodeConsentRequired:     "consent_required",
	// The response types and request objects Pforte does not serve.
	authz.CodeUnsupportedResponseType: "unsupported_response_type",
	authz.CodeRequestNotSupported:     "request_not_supported",
}

// authorizeCode is the error code of an authorization response for err.
func authorizeCode(err error) string {
	if c, ok := authorizeCodes[codeOf(err)]; ok {
		return c
	}
	return wireOf(fault.KindOf(err)).authorize
}

// tokenError converts a core error for the library's error writer. A
// database outage becomes server_error with a 5xx status, never
// invalid_grant: a client must not throw away a valid grant because
// Pforte's database hiccupped.
func tokenError(err error) error {
	desc := catalog.Describe(err)
	if c, ok := codes[codeOf(err)]; ok {
		e := c.token().WithDescription("%s", desc)
		return op.NewStatusError(e.WithParent(errors.New(desc)), c.tokenStatus)
	}
	w := wireOf(fault.KindOf(err))
	e := w.token().WithDescription("%s", desc)
	return op.NewStatusError(e.WithParent(errors.New(desc)), w.tokenStatus)
}

// codeOf is the code of err ("" when it has none).
func codeOf(err error) fault.Code {
	c, _ := fault.CodeOf(err)
	return c
}
