package httpapi

import (
	"net/http"

	"github.com/pforte-id/pforte/core/fault"
)

// logReason gives the server's request log the reason code of an error
// answer: the error's code ("pin.wrong") when it has one, else its kind
// ("not_found"), or the OAuth error code the answer carries. The request
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

// reasonOf is the reason code of err for the request log.
func reasonOf(err error) string {
	if c, _ := fault.CodeOf(err); c != "" {
		return string(c)
	}
	return fault.KindOf(err).String()
}
