package webui

import "net/http"

// ActivatePath is the address in a letter's QR code:
// <issuer>/app/activate#<activation code>. The Service-App claims it as an
// app link and reads the code from the fragment; the fragment never reaches
// the server. When the link opens in a browser instead (the app is not
// installed yet), this page tells the member what to do.
const ActivatePath = "/app/activate"

// ActivateHandler serves the browser fallback of the activation link.
func (u *UI) ActivateHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.render(w, r, http.StatusOK, "activate.html", view{})
	})
}
