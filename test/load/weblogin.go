package main

import (
	"context"
	"errors"
	"fmt"
	"html"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/pforte-id/pforte/cmd/pforte-app/appclient"
)

// webLoginLoad is the browser login of a web client that accepts
// substantial: KVNR and password, then the confirmation in the app, which
// the tool plays too — the member's phone lists the approval, and approves
// it with the number the page shows, its device key and the PIN — then
// the browser's "Weiter", the redirect with the code and its exchange, and
// the ID token verified at substantial with amr hwk and pin. A member's
// phone serves one login at a time (its signature counter must grow in
// order, and the member has one approval waiting).
type webLoginLoad struct {
	*passwordLoginLoad
	app    *appclient.Client
	origin string
	locks  []sync.Mutex // per member, aligned with members and phones
}

// Steps of a web login besides the password login's.
const (
	stepApproval = "approval page"
	stepApprove  = "app: list and approve"
	stepContinue = "Weiter"
)

var (
	shownNumber   = regexp.MustCompile(`id="number"[^>]*>([0-9]{2})<`)
	approvalField = regexp.MustCompile(`<input type="hidden" name="approval" value="([^"]*)">`)
)

func (w *webLoginLoad) Setup(ctx context.Context) error {
	if err := w.setup(ctx); err != nil {
		return err
	}
	w.origin = w.cfg.Origin
	if w.origin == "" {
		w.origin = appOrigin(w.cfg.Issuer)
	}
	c, err := appclient.Discover(ctx, appclient.Config{
		Issuer: w.md.Issuer, ClientID: w.cfg.AppClientID, RedirectURI: w.cfg.RedirectURI, HTTP: w.hc,
	})
	if err != nil {
		return err
	}
	w.app = c
	w.locks = make([]sync.Mutex, len(w.members))
	// One login before the timer, as for password-login.
	return w.Do(ctx)
}

func (w *webLoginLoad) Do(ctx context.Context) error {
	i := mrand.IntN(len(w.members))
	w.locks[i].Lock()
	defer w.locks[i].Unlock()
	browser, f, back, err := w.password(ctx, w.members[i])
	if err != nil {
		return err
	}
	num, id := shownNumber.FindSubmatch(back.body), approvalField.FindSubmatch(back.body)
	if back.status != http.StatusOK || num == nil || id == nil {
		return inStep(stepApproval, &httpError{Status: back.status, Code: "no approval page"})
	}
	number, _ := strconv.Atoi(string(num[1]))
	approvalID := html.UnescapeString(string(id[1]))

	t := time.Now()
	ph := w.phones[i]
	dev := appclient.Device{BindingID: ph.binding, Key: ph.key, Origin: w.origin}
	as, err := w.app.Approvals(ctx, dev)
	if err != nil {
		return inStep(stepApprove, err)
	}
	k := slices.IndexFunc(as, func(a appclient.Approval) bool { return a.ID == approvalID })
	if k < 0 || !slices.Contains(as[k].Choices[:], number) {
		return inStep(stepApprove, errors.New("the app does not list the browser's approval with its number"))
	}
	d, err := w.app.Approve(ctx, dev, approvalID, number, seedPIN)
	if err != nil {
		return inStep(stepApprove, err)
	}
	if d.Status != "approved" {
		return inStep(stepApprove, fmt.Errorf("the approval was %s (%s)", d.Status, d.Reason))
	}
	w.steps.record(stepApprove, time.Since(t))

	t = time.Now()
	form := url.Values{}
	for _, fi := range hiddenInput.FindAllStringSubmatch(string(back.body), -1) {
		form.Set(fi[1], html.UnescapeString(fi[2]))
	}
	target, err := url.Parse(w.md.Issuer + "/login/approval")
	if err != nil {
		return err
	}
	done, _, err := w.browse(ctx, browser, http.MethodPost, target, form)
	if err != nil {
		return inStep(stepContinue, err)
	}
	w.steps.record(stepContinue, time.Since(t))
	return w.complete(ctx, done, f, stepContinue, func(idt *oidc.IDToken) error {
		var c struct {
			ACR string   `json:"acr"`
			AMR []string `json:"amr"`
		}
		if err := idt.Claims(&c); err != nil {
			return err
		}
		if !slices.Contains(c.AMR, "hwk") || !slices.Contains(c.AMR, "pin") || !slices.Contains(c.AMR, "pwd") {
			return fmt.Errorf("the ID token says amr %v, want pwd hwk pin", c.AMR)
		}
		return nil
	})
}
