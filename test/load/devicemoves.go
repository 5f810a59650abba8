package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// secondPIN is the PIN the pin-change workload alternates with seedPIN
// (it passes the PIN rules for every generated member).
const secondPIN = "592637"

// transferQRPrefix starts the text of a transfer's QR code
// (adapters/httpapi.TransferQRPrefix).
const transferQRPrefix = "pforte-transfer:"

// Steps of a device transfer and of a PIN change.
const (
	stepTransferBegin  = "new phone: transfer begun"
	stepTransferApprov = "old phone: challenge and approval"
	stepTransferRedeem = "new phone: redemption"
	stepTransferBind   = "new phone: key bound and PIN set"
	stepTransferRevoke = "new phone: old phone revoked"
	stepPINChallenge   = "device challenge"
	stepPINChange      = "PIN changed"
)

// deviceProof lets p's key answer a fresh device challenge
// (POST /app/v1/devices/{id}/challenge) and returns the proof the device
// requests carry: challenge, assertion and p's current PIN.
func (w *appLoginLoad) deviceProof(ctx context.Context, p *phone) (map[string]any, error) {
	var ch struct {
		ID      string          `json:"challenge_id"`
		Options json.RawMessage `json:"options"`
	}
	if err := w.appCall(ctx, http.MethodPost, "/devices/"+url.PathEscape(p.binding)+"/challenge", "", struct{}{}, http.StatusCreated, &ch); err != nil {
		return nil, err
	}
	if ch.ID == "" || len(ch.Options) == 0 {
		return nil, errors.New("POST /devices/{id}/challenge: the answer holds no challenge")
	}
	assertion, err := p.key.Assert(ch.Options, w.origin)
	if err != nil {
		return nil, fmt.Errorf("the device key refused the issuer's options: %w", err)
	}
	return map[string]any{"challenge_id": ch.ID, "assertion": json.RawMessage(assertion), "pin": p.pin}, nil
}

// takePhone takes a seeded phone for one operation; give it back with
// w.phones <- p.
func (w *appLoginLoad) takePhone(ctx context.Context) (*phone, error) {
	select {
	case p := <-w.phones:
		return p, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// transferLoad moves seeded members to new phones with the old one at
// hand (the Gerätewechsel), one member per operation: the new phone
// begins a transfer for the member number, the old phone approves it with
// its key and PIN, the new phone redeems it, binds its own new key and
// sets the PIN, and then removes the old phone with its own proof, as the
// member finishes a move (the old phone stays bound until removed). The
// member keeps the new phone for the next round, so every operation moves
// a member that a transfer moved before, and the members' bindings do not
// pile up. Each phone is used by one operation at a time.
type transferLoad struct {
	appLoginLoad
}

func (w *transferLoad) Do(ctx context.Context) error {
	p, err := w.takePhone(ctx)
	if err != nil {
		return err
	}
	defer func() { w.phones <- p }()
	moved, err := w.move(ctx, p)
	if moved != nil {
		// The new key is bound and has its PIN: the member uses it from
		// now on, even when the old phone could not be removed.
		*p = *moved
	}
	return err
}

// move transfers p's member to a new phone and returns it once it is
// bound (nil before).
func (w *transferLoad) move(ctx context.Context, p *phone) (*phone, error) {
	t := time.Now()
	var begun struct {
		Code      string    `json:"transfer_code"`
		Secret    string    `json:"transfer_secret"`
		QRText    string    `json:"qr_text"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := w.appCall(ctx, http.MethodPost, "/transfers", "", map[string]string{"kvnr": p.kvnr}, http.StatusCreated, &begun); err != nil {
		return nil, inStep(stepTransferBegin, err)
	}
	if begun.Code == "" || begun.Secret == "" || begun.QRText != transferQRPrefix+begun.Code || !begun.ExpiresAt.After(time.Now()) {
		return nil, inStep(stepTransferBegin, fmt.Errorf("member %s: the answer is no usable transfer (code %t, secret %t, QR text %t, expires %v)",
			p.kvnr, begun.Code != "", begun.Secret != "", begun.QRText == transferQRPrefix+begun.Code, begun.ExpiresAt))
	}
	w.steps.record(stepTransferBegin, time.Since(t))

	t = time.Now()
	proof, err := w.deviceProof(ctx, p)
	if err != nil {
		return nil, inStep(stepTransferApprov, err)
	}
	var approved struct {
		Status string `json:"status"`
	}
	if err := w.appCall(ctx, http.MethodPost, "/transfers/approval", "", map[string]any{
		"transfer_code": strings.TrimPrefix(begun.QRText, transferQRPrefix), "proof": proof,
	}, http.StatusOK, &approved); err != nil {
		return nil, inStep(stepTransferApprov, fmt.Errorf("member %s: %w", p.kvnr, err))
	}
	if approved.Status != "approved" {
		return nil, inStep(stepTransferApprov, fmt.Errorf("member %s: the approval's status is %q", p.kvnr, approved.Status))
	}
	w.steps.record(stepTransferApprov, time.Since(t))

	t = time.Now()
	var redeemed struct {
		Token     string   `json:"enrollment_token"`
		TokenType string   `json:"token_type"`
		NextSteps []string `json:"next_steps"`
	}
	if err := w.appCall(ctx, http.MethodPost, "/transfers/redemption", "", map[string]string{"transfer_secret": begun.Secret},
		http.StatusCreated, &redeemed); err != nil {
		return nil, inStep(stepTransferRedeem, fmt.Errorf("member %s: %w", p.kvnr, err))
	}
	if redeemed.Token == "" || !strings.EqualFold(redeemed.TokenType, "Bearer") || !slices.Equal(redeemed.NextSteps, []string{"device", "pin"}) {
		return nil, inStep(stepTransferRedeem, fmt.Errorf("member %s: the answer is no enrollment session for device and PIN (token %t, type %q, next %v)",
			p.kvnr, redeemed.Token != "", redeemed.TokenType, redeemed.NextSteps))
	}
	w.steps.record(stepTransferRedeem, time.Since(t))

	t = time.Now()
	moved, err := w.bindPhone(ctx, redeemed.Token, w.origin)
	if err != nil {
		return nil, inStep(stepTransferBind, fmt.Errorf("member %s: %w", p.kvnr, err))
	}
	moved.kvnr = p.kvnr
	w.steps.record(stepTransferBind, time.Since(t))

	t = time.Now()
	proof, err = w.deviceProof(ctx, moved)
	if err == nil {
		err = w.appCall(ctx, http.MethodPost, "/devices/"+url.PathEscape(p.binding)+"/revoke", "",
			map[string]any{"proof": proof}, http.StatusNoContent, nil)
	}
	if err != nil {
		return moved, inStep(stepTransferRevoke, fmt.Errorf("member %s: %w", p.kvnr, err))
	}
	w.steps.record(stepTransferRevoke, time.Since(t))
	return moved, nil
}

// pinChangeLoad changes seeded members' release PINs in the app
// (POST /app/v1/pin/change): the device key over a fresh challenge with
// the current PIN, and the new PIN, alternating between seedPIN and
// secondPIN. The next change of the same phone proves the current PIN
// again, so every change the server accepted is checked by the next one.
// Each phone is used by one operation at a time.
type pinChangeLoad struct {
	appLoginLoad
}

func (w *pinChangeLoad) Do(ctx context.Context) error {
	p, err := w.takePhone(ctx)
	if err != nil {
		return err
	}
	defer func() { w.phones <- p }()
	next := secondPIN
	if p.pin == secondPIN {
		next = seedPIN
	}
	t := time.Now()
	proof, err := w.deviceProof(ctx, p)
	if err != nil {
		return inStep(stepPINChallenge, err)
	}
	w.steps.record(stepPINChallenge, time.Since(t))
	t = time.Now()
	if err := w.appCall(ctx, http.MethodPost, "/pin/change", "", map[string]any{"proof": proof, "new_pin": next},
		http.StatusNoContent, nil); err != nil {
		return inStep(stepPINChange, fmt.Errorf("member %s: %w", p.kvnr, err))
	}
	w.steps.record(stepPINChange, time.Since(t))
	p.pin = next
	return nil
}
