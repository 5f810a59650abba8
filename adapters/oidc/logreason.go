package oidc

import "net/http"

// logReason gives the server's request log the reason code of an error
// answer (fault.ReasonOf, or the OAuth error code the answer carries). The request
// log's writer offers SetLogReason somewhere down the ResponseWriter's
// Unwrap chain; without it (a test's recorder) nothing happens.
func logReason(w http.ResponseWriter, reason string) {
	for w != nil {
		if r, ok := w.(interface{ SetLogReason(string) }); ok {
			r.SetLogReason(reason)
			return
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return
		}
		w = u.Unwrap()
	}
}
