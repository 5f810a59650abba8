package webui

import (
	"net/http"
	"net/url"
)

// ForgotHandler serves the page behind the login page's "Passwort
// vergessen?" link. A forgotten password cannot be reset online yet, so the
// page says whom to ask. When the link came from a pending login (?id=), it
// leads back there; an unknown id is left out rather than shown.
func (u *UI) ForgotHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v view
		if id := r.URL.Query().Get("id"); id != "" {
			if _, _, err := u.authz.PendingLogin(r.Context(), id); err == nil {
				v.Again = Path + "?" + url.Values{"id": {id}}.Encode()
			}
		}
		u.render(w, r, http.StatusOK, "forgot.html", v)
	})
}
