package webui

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
)

// The login form's CSRF defence (login CSRF: a foreign site posting its own
// KVNR and password, so that the member ends up logged in as the attacker,
// or posting a guessed password for the member's request).
//
// The browser holds a random binding value in a cookie; the form carries
// HMAC(key, binding value, authorization request ID). A post is accepted
// only when the field is that HMAC for the cookie it came with and the
// request it names. Without the key nobody can make a field that fits a
// cookie, so a value an attacker plants in both the cookie and the field is
// refused, and a token taken from one login page does not fit another
// authorization request. Over https the cookie is named with the __Host-
// prefix, which browsers accept only Secure, host-only and for path /: a
// sibling or parent domain cannot plant or overwrite it.

// csrfCookieName is the cookie's name over https; csrfCookieNameInsecure
// the one for a development issuer on http, where browsers refuse the
// __Host- prefix.
const (
	csrfCookieName         = "__Host-pforte_csrf"
	csrfCookieNameInsecure = "pforte_csrf"
)

// csrfBindingLen is the size of the cookie's random value; its base64url
// form has 43 characters.
const csrfBindingLen = 32

// csrfLabel separates this HMAC from any other use of the key.
const csrfLabel = "pforte/v1/login-csrf"

func (u *UI) csrfCookieName() string {
	if u.cfg.Secure {
		return csrfCookieName
	}
	return csrfCookieNameInsecure
}

// csrfToken is the form field that fits the cookie's binding value and the
// authorization request id.
func (u *UI) csrfToken(binding, id string) string {
	m := hmac.New(sha256.New, u.cfg.CSRFKey)
	m.Write([]byte(csrfLabel))
	m.Write([]byte{0})
	m.Write([]byte(binding))
	m.Write([]byte{0})
	m.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// csrfBinding returns the browser's binding value, setting a fresh cookie
// when the request has none of the right form.
func (u *UI) csrfBinding(w http.ResponseWriter, r *http.Request) string {
	if v, ok := u.cookieBinding(r); ok {
		return v
	}
	b := make([]byte, csrfBindingLen)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	v := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{
		Name: u.csrfCookieName(), Value: v, Path: "/", HttpOnly: true, Secure: u.cfg.Secure,
		SameSite: http.SameSiteStrictMode,
	})
	return v
}

// cookieBinding returns the binding value of r's cookie, if it has one of
// the right form.
func (u *UI) cookieBinding(r *http.Request) (string, bool) {
	c, err := r.Cookie(u.csrfCookieName())
	if err != nil {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(b) != csrfBindingLen {
		return "", false
	}
	return c.Value, true
}

// csrfOK reports whether r's form field csrf fits r's cookie and the
// authorization request id; the comparison takes constant time.
func (u *UI) csrfOK(r *http.Request, id string) bool {
	binding, ok := u.cookieBinding(r)
	if !ok {
		return false
	}
	return hmac.Equal([]byte(u.csrfToken(binding, id)), []byte(r.PostForm.Get("csrf")))
}
