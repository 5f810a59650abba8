package logoutdelivery

import "context"

// Deliverer posts logout tokens.
type Deliverer interface {
	// Deliver posts logoutToken to uri as the form parameter
	// logout_token and succeeds only when the relying party answers 200
	// or 204. It follows no redirect, reads at most a bounded part of the
	// answer, and returns when ctx ends at the latest. Safe for
	// concurrent use.
	//
	// Errors: Unavailable for every failed delivery, with a public text
	// that names the reason without the token ("status 503", "timeout",
	// "connection refused", "redirect refused"); the caller retries.
	Deliver(ctx context.Context, uri, logoutToken string) error
}
