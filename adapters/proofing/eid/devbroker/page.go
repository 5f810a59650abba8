package devbroker

import (
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

const (
	// pagePath is where the authorize endpoint sends the developer.
	pagePath  = "/dev/identity"
	stylePath = "/dev/style.css"
)

// page is the identity page: no script at all, one stylesheet from the
// broker itself, and a real form post.
var page = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="de">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Entwicklungs-Ausweisdienst – Development eID service</title>
<link rel="stylesheet" href="` + stylePath + `">
</head>
<body>
<header class="dev-banner" role="banner">
<p><strong>Nur für die Entwicklung.</strong> Dieser Dienst liest keinen Ausweis und bestätigt jede Identität, die Sie wählen.</p>
<p lang="en"><strong>For development only.</strong> This service reads no ID card and confirms any identity you pick.</p>
</header>
<main>
<h1>Identität bestätigen <span lang="en">/ Confirm an identity</span></h1>
<p>Anfrage von <code>{{.Client}}</code>, bestätigt mit dem Vertrauensniveau <code>{{.ACR}}</code>.
<span lang="en">Request from <code>{{.Client}}</code>, confirmed at level <code>{{.ACR}}</code>.</span></p>
<form method="post" action="` + pagePath + `">
<input type="hidden" name="id" value="{{.ID}}">
<fieldset>
<legend>Identität wählen <span lang="en">/ Choose an identity</span></legend>
{{range $i, $p := .Identities}}<div class="identity">
<input type="radio" name="identity" id="identity-{{$i}}" value="{{$i}}" required{{if eq $i 0}} checked{{end}}>
<label for="identity-{{$i}}"><strong>{{$p.Label}}</strong><br>
{{$p.GivenName}} {{$p.FamilyName}}{{if $p.BirthName}} (geb. {{$p.BirthName}}){{end}}, {{$p.BirthDate}}{{if $p.PlaceOfBirth}}, {{$p.PlaceOfBirth}}{{end}}</label>
</div>
{{end}}</fieldset>
<div class="actions">
<button type="submit" name="action" value="confirm">Bestätigen <span lang="en">/ Confirm</span></button>
<button type="submit" name="action" value="cancel" class="secondary">Abbrechen <span lang="en">/ Cancel</span></button>
</div>
</form>
</main>
</body>
</html>
`))

// goneText is the answer for an unknown, expired or finished request.
const goneText = "Diese Anfrage ist unbekannt, abgelaufen oder schon beantwortet. / " +
	"This request is unknown, expired or answered already.\n"

const style = `body{font-family:system-ui,sans-serif;margin:0;color:#1a1a1a;background:#fff;line-height:1.5}
.dev-banner{background:#7a1f00;color:#fff;padding:.75rem 1.5rem}
.dev-banner p{margin:.25rem 0}
main{max-width:40rem;margin:1.5rem auto;padding:0 1.5rem}
h1{font-size:1.5rem}
fieldset{border:1px solid #555;padding:1rem}
.identity{display:flex;gap:.5rem;align-items:flex-start;margin:.5rem 0}
.actions{margin-top:1rem;display:flex;gap:1rem}
button{font-size:1rem;padding:.5rem 1rem;background:#00466e;color:#fff;border:2px solid #00466e;border-radius:4px;cursor:pointer}
button.secondary{background:#fff;color:#00466e}
button:focus,input:focus{outline:3px solid #f0a000;outline-offset:2px}
code{background:#f0f0f0;padding:0 .2rem}
`

func serveStyle(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write([]byte(style))
}

// securityHeaders: no script may run, the form may post only to the
// broker and (through the redirects that follow it) to the registered
// redirect URIs, and no other site may frame the page (clickjacking).
func (b *Broker) securityHeaders(w http.ResponseWriter) {
	targets := []string{"'self'"}
	for _, c := range b.cfg.Clients {
		for _, r := range c.RedirectURIs {
			if u, err := url.Parse(r); err == nil {
				if o := u.Scheme + "://" + u.Host; !slices.Contains(targets, o) {
					targets = append(targets, o)
				}
			}
		}
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; form-action "+strings.Join(targets, " ")+
		"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

func (b *Broker) showPage(w http.ResponseWriter, r *http.Request) {
	b.securityHeaders(w)
	a, ok := b.store.pending(r.URL.Query().Get("id"))
	if !ok {
		http.Error(w, goneText, http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = page.Execute(w, map[string]any{
		"ID": a.id, "Client": a.req.ClientID, "ACR": a.acr, "Identities": b.cfg.Identities,
	})
}

// confirm takes the form: the developer's choice, or a cancel, which the
// broker answers with access_denied as a real one would.
func (b *Broker) confirm(w http.ResponseWriter, r *http.Request) {
	b.securityHeaders(w)
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	id := r.PostForm.Get("id")
	a, ok := b.store.pending(id)
	if !ok {
		http.Error(w, goneText, http.StatusNotFound)
		return
	}
	if r.PostForm.Get("action") == "cancel" {
		_ = b.store.DeleteAuthRequest(r.Context(), id)
		op.AuthRequestError(w, r, a, oidc.ErrAccessDenied().WithDescription("the developer cancelled"), b.provider)
		return
	}
	k, err := strconv.Atoi(r.PostForm.Get("identity"))
	if err != nil || !b.store.confirm(id, k) {
		http.Error(w, "Bitte wählen Sie eine Identität. / Please choose an identity.", http.StatusBadRequest)
		return
	}
	b.log.Info("development eID broker confirmed an identity", "label", b.cfg.Identities[k].Label)
	// The provider's callback issues the code and redirects to the client.
	http.Redirect(w, r, strings.TrimSuffix(b.cfg.Issuer, "/")+callbackPath+"?"+url.Values{"id": {id}}.Encode(), http.StatusSeeOther)
}

// callbackPath is where op's authorize callback is served: the
// authorization endpoint's path plus /callback.
const callbackPath = "/authorize/callback"
