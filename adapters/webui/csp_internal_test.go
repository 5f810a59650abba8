package webui

import "testing"

func TestContentSecurityPolicy(t *testing.T) {
	const fixed = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
	for _, tc := range []struct{ redirect, want string }{
		{"", fixed},
		{"https://forms.example/callback?x=1", fixed + " https://forms.example"},
		{"https://Forms.Example:8443/cb", fixed + " https://forms.example:8443"},
		{"http://127.0.0.1:49152/callback", fixed + " http://127.0.0.1:49152"},
		{"http://[::1]:8080/callback", fixed + " http://[::1]:8080"},
		{"de.hkk.serviceapp:/oauth2redirect", fixed + " de.hkk.serviceapp:"},
		// Nothing that could end the directive or add a source gets in.
		{"https://forms.example;script-src *", fixed},
		{"https://a b/cb", fixed},
		{"https://forms.example'/cb", fixed},
		{"::not a url", fixed},
		{"HTTPS://forms.example/cb", fixed + " https://forms.example"},
	} {
		if got := contentSecurityPolicy(tc.redirect); got != tc.want {
			t.Errorf("contentSecurityPolicy(%q)\n got %s\nwant %s", tc.redirect, got, tc.want)
		}
	}
}
