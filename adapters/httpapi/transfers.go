package httpapi

import (
	"net/http"
	"time"

	"github.com/pforte-id/pforte/core/binding"
	"github.com/pforte-id/pforte/core/kvnr"
)

// The device transfer: a new phone bound with the old phone's approval
// (core/binding.BeginTransfer, ApproveTransfer, RedeemTransfer).
//
//	new phone  POST /transfers          {kvnr}           → code (QR) + secret
//	old phone  POST /devices/{id}/challenge, then
//	           POST /transfers/approval {code, proof}    → approved
//	new phone  POST /transfers/redemption {secret}       → enrollment token (409 transfer.pending until approved)
//	new phone  POST /enrollment/device/challenge, POST /enrollment/device, PUT /enrollment/pin
//
// Code and secret travel in request bodies only, never in a URL, so that
// no access log or proxy keeps them.

// transferRequest is the body of POST /transfers.
type transferRequest struct {
	KVNR string `json:"kvnr"`
}

// transferResponse is the new phone's: the code for the QR code, the
// secret it keeps, and until when both are good.
type transferResponse struct {
	TransferCode   string    `json:"transfer_code"`
	TransferSecret string    `json:"transfer_secret"`
	QRText         string    `json:"qr_text"`
	ExpiresAt      time.Time `json:"expires_at"`
	ExpiresIn      int       `json:"expires_in"`
	PollInterval   int       `json:"poll_interval"`
}

// TransferQRPrefix starts the text of the QR code the new phone shows;
// the old phone's scanner recognises a transfer code by it.
const TransferQRPrefix = "pforte-transfer:"

func (a *API) beginTransfer(w http.ResponseWriter, r *http.Request) {
	var in transferRequest
	if err := a.decode(w, r, &in); err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	k, err := kvnr.Parse(in.KVNR)
	if err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	b, err := a.bind.BeginTransfer(r.Context(), k, a.clientIP(r))
	if err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	writeJSON(w, r, http.StatusCreated, "application/json", transferResponse{
		TransferCode: b.Code, TransferSecret: b.Secret, QRText: TransferQRPrefix + b.Code,
		ExpiresAt: b.ExpiresAt.UTC(), ExpiresIn: int(b.ExpiresAt.Sub(b.CreatedAt).Round(time.Second) / time.Second),
		PollInterval: int(binding.TransferPollInterval / time.Second),
	})
}

// transferApprovalRequest is the body of POST /transfers/approval: the scanned
// code and the old phone's proof (key assertion + PIN).
type transferApprovalRequest struct {
	TransferCode string `json:"transfer_code"`
	Proof        proof  `json:"proof"`
}

func (a *API) approveTransfer(w http.ResponseWriter, r *http.Request) {
	var in transferApprovalRequest
	if err := a.decode(w, r, &in); err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	t, err := a.bind.ApproveTransfer(r.Context(), in.TransferCode, in.Proof.ChallengeID, in.Proof.Assertion, in.Proof.PIN,
		a.clientIP(r))
	if err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	writeJSON(w, r, http.StatusOK, "application/json", map[string]any{
		"status": "approved", "expires_at": t.ExpiresAt.UTC(),
	})
}

// transferRedemptionRequest is the body of POST /transfers/redemption.
type transferRedemptionRequest struct {
	TransferSecret string `json:"transfer_secret"`
}

func (a *API) redeemTransfer(w http.ResponseWriter, r *http.Request) {
	var in transferRedemptionRequest
	if err := a.decode(w, r, &in); err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	token, s, err := a.bind.RedeemTransfer(r.Context(), in.TransferSecret, a.clientIP(r))
	if err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	writeJSON(w, r, http.StatusCreated, "application/json", activationResponse{
		EnrollmentToken: token, TokenType: "Bearer", ExpiresAt: s.ExpiresAt.UTC(),
		ExpiresIn: int(s.ExpiresAt.Sub(s.CreatedAt).Round(time.Second) / time.Second),
		NextSteps: []string{"device", "pin"},
	})
}
