package oidc

import (
	"html/template"
	"net/http"

	"github.com/pforte-id/pforte/catalog"
	"github.com/pforte-id/pforte/core/fault"
)

// page is a minimal member-facing page (errors, logged out), in the
// language of the request.
type page struct {
	Lang  string
	Title string
	Text  string
	// Detail is a diagnostic for the relying party's developer (English),
	// under DetailLabel; empty when there is none.
	Detail      string
	DetailLabel string
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} – Pforte</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#1a1a1a}h1{font-size:1.4rem}</style>
</head><body><main><h1>{{.Title}}</h1><p>{{.Text}}</p>
{{if .Detail}}<p><small>{{.DetailLabel}}: <code lang="en">{{.Detail}}</code></small></p>{{end}}</main></body></html>
`))

// pageText is what a member reads about err on a page: the catalog's text
// of its code, or of its kind. An error without a code that carries a
// diagnostic is a malformed request the relying party sent (unknown
// client, unregistered redirect URI): the member is told so, and the
// diagnostic goes beside it for whoever fixes the relying party.
func pageText(r *http.Request, err error) (text, detail string) {
	p := catalog.Match(r.Header.Get("Accept-Language"))
	if code, _ := fault.CodeOf(err); code != "" {
		return p.Error(err), ""
	}
	if k := fault.KindOf(err); k != fault.Internal && k != fault.Unavailable {
		if pub := fault.PublicOf(err); pub != "" {
			return p.Text("page.bad_request"), pub
		}
	}
	return p.Error(err), ""
}

// writePage renders the page titled by catalog key title with text, in
// the language of r, with headers that forbid framing, caching and
// referrer leaks.
func writePage(w http.ResponseWriter, r *http.Request, status int, title, text string) {
	writePageDetail(w, r, status, title, text, "")
}

// writePageDetail is writePage with a diagnostic for the relying party's
// developer under the text.
func writePageDetail(w http.ResponseWriter, r *http.Request, status int, title, text, detail string) {
	p := catalog.Match(r.Header.Get("Accept-Language"))
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Language", p.Lang())
	h.Add("Vary", "Accept-Language")
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, page{Lang: p.Lang(), Title: p.Text(title), Text: text, Detail: detail, DetailLabel: p.Text("page.detail")})
}
