package appclient

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// The development eID broker's page (adapters/proofing/eid/devbroker), as
// far as ConfirmAtDevBroker reads it: the request id and one radio button
// per identity, labelled with the identity's label.
var (
	devBrokerID = regexp.MustCompile(`name="id" value="([^"]+)"`)
	// returnLink is the link of Pforte's page for a confirmed identity.
	returnLink        = regexp.MustCompile(`id="return" href="([^"]+)"`)
	devBrokerIdentity = regexp.MustCompile(`value="(\d+)"[^>]*>\s*<label for="identity-\d+"><strong>([^<]*)</strong>`)
)

// ConfirmAtDevBroker is a developer at the development eID broker, for
// tests and `pforte-app register --method eid --auto`: it opens authURL
// (what POST /app/v1/registrations returned), picks the identity whose
// label contains match (the demo identities name their member number),
// confirms it, and follows the broker's redirect back to Pforte's
// callback as a browser would, and from there follows the page's link to
// the app's return address when that is a web address (for another scheme
// the page returned is the address). It returns the last
// page's status and text. hc must not follow redirects on its own (nil: a client that does
// not). It works only against the development broker, whose page it
// reads; a real eID service needs the card.
func ConfirmAtDevBroker(ctx context.Context, hc *http.Client, authURL, match string) (status int, page string, err error) {
	if hc == nil {
		hc = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	get := func(u string) (*http.Response, string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, "", err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp, string(body), err
	}
	next := func(base *url.URL, resp *http.Response) (*url.URL, error) {
		if resp.StatusCode < 300 || resp.StatusCode > 399 {
			return nil, fmt.Errorf("the broker answered %s where a redirect was expected", resp.Status)
		}
		return base.Parse(resp.Header.Get("Location"))
	}
	u, err := url.Parse(authURL)
	if err != nil {
		return 0, "", err
	}
	resp, _, err := get(u.String())
	if err != nil {
		return 0, "", err
	}
	if u, err = next(u, resp); err != nil {
		return 0, "", err
	}
	resp, body, err := get(u.String())
	if err != nil {
		return 0, "", err
	}
	id := devBrokerID.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || id == nil {
		return 0, "", errors.New("this is not the development eID broker's page")
	}
	pick := ""
	for _, m := range devBrokerIdentity.FindAllStringSubmatch(body, -1) {
		if strings.Contains(html.UnescapeString(m[2]), match) {
			pick = m[1]
			break
		}
	}
	if pick == "" {
		return 0, "", fmt.Errorf("the development eID broker offers no identity for %s", match)
	}
	form := url.Values{"id": {html.UnescapeString(id[1])}, "identity": {pick}, "action": {"confirm"}}
	target := u.ResolveReference(&url.URL{Path: u.Path})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	resp.Body.Close()
	// The broker's own callback issues the code, then the browser goes
	// back to Pforte.
	for range 2 {
		if u, err = next(u, resp); err != nil {
			return 0, "", err
		}
		if resp, body, err = get(u.String()); err != nil {
			return 0, "", err
		}
	}
	// Pforte's page for a confirmed identity links to the app's return
	// address: followed as the member's tap would, when it is a web
	// address (a loopback listener of the app).
	if m := returnLink.FindStringSubmatch(body); resp.StatusCode == http.StatusOK && m != nil {
		if u, err = u.Parse(html.UnescapeString(m[1])); err != nil {
			return 0, "", err
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return resp.StatusCode, u.String(), nil
		}
		if resp, body, err = get(u.String()); err != nil {
			return 0, "", err
		}
	}
	return resp.StatusCode, body, nil
}
