package webui

import (
	"context"
	"html/template"
	"net/http"

	"github.com/pforte-id/pforte/catalog"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/core/secret"
	"github.com/pforte-id/pforte/ports/proofing"
)

// ProofingFinisher takes a proofing service's answer
// (core/registration.Service.FinishProofing).
type ProofingFinisher interface {
	FinishProofing(ctx context.Context, method proof.Method, c proofing.Callback) (returnURL string, err error)
}

// EIDCallbackHandler serves the eID service's redirect back to Pforte: it
// hands the answer to f and, when the identity was confirmed, shows a page
// whose link takes the member back to the app that began, with a one-time
// code that only that app can redeem (core/registration.RedeemProofing);
// otherwise it tells the member why not. A page, not a redirect: the
// browser came here through the eID service's form and its redirects,
// whose Content-Security-Policy (form-action) may not allow another
// origin at the end of that chain, and app links open reliably only from
// a tap. An answer is taken once; reloading the page shows that it was
// taken.
func (u *UI) EIDCallbackHandler(f ProofingFinisher) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		c := proofing.Callback{State: secret.String(q.Get("state")), Params: map[string]string{}}
		for k, vs := range q {
			if k != "state" && len(vs) > 0 {
				c.Params[k] = vs[0]
			}
		}
		next, err := f.FinishProofing(r.Context(), proof.EID, c)
		if err != nil {
			u.eidError(w, r, err)
			return
		}
		// The code in the link is single use and short-lived; render's
		// no-store and same-origin Referrer-Policy keep it out of caches
		// and of other sites' Referer.
		u.render(w, r, http.StatusOK, "eid.html", view{AppReturn: template.URL(next)})
	})
}

// eidError shows why the identity was not confirmed. The eID method's own
// refusals carry no code (their words are the driving adapter's, by
// kind); core's carry the code of their text.
func (u *UI) eidError(w http.ResponseWriter, r *http.Request, err error) {
	if code, _ := fault.CodeOf(err); code != "" {
		u.pageError(w, r, err)
		return
	}
	p := catalog.Match(r.Header.Get("Accept-Language"))
	var msg string
	switch k := fault.KindOf(err); k {
	case fault.Forbidden:
		msg = p.Text("page.eid.refused")
	case fault.Unauthenticated:
		msg = p.Text("page.eid.invalid")
	default:
		u.pageError(w, r, err)
		return
	}
	u.log.InfoContext(r.Context(), "eID proofing refused", "kind", fault.KindOf(err).String(), "err", err)
	u.render(w, r, http.StatusBadRequest, "error.html", view{Message: msg})
}
