package device

import (
	"time"

	"github.com/pforte-id/pforte/core/kvnr"
)

// Transfer moves a member's account to a new phone with the old phone's
// approval. The new phone begins it anonymously and keeps two secrets:
// the transfer code, which it shows as a QR code for the old phone to
// scan, and the redemption secret, which never leaves it. The old phone
// approves the code with its key and release PIN; the new phone then
// redeems the secret for an enrollment session of the account that is
// limited to binding a key and setting a PIN (no password step). The
// store keeps only hashes of both secrets.
//
// A transfer answers once: it is approved at most once, redeemed at most
// once, and neither after ExpiresAt.
type Transfer struct {
	ID string
	// CodeHash is grant.Hash of the transfer code (the QR code).
	CodeHash string
	// SecretHash is grant.Hash of the redemption secret.
	SecretHash string
	// KVNR is the member the new phone says it belongs to: only a device
	// of this member's account may approve the transfer.
	KVNR      kvnr.KVNR
	CreatedAt time.Time
	ExpiresAt time.Time
	// AccountID and ApprovedBy (a binding id) are set when the old phone
	// approved, at ApprovedAt.
	AccountID  string
	ApprovedBy string
	ApprovedAt time.Time
	// RedeemedAt is when the new phone redeemed the secret; EnrollmentID
	// the session it got.
	RedeemedAt   time.Time
	EnrollmentID string
}

// TransferState is where a transfer stands.
type TransferState string

const (
	// TransferPending: begun, waiting for the old phone's approval.
	TransferPending TransferState = "pending"
	// TransferApproved: approved, waiting for the new phone to redeem.
	TransferApproved TransferState = "approved"
	// TransferRedeemed: the new phone got its enrollment session.
	TransferRedeemed TransferState = "redeemed"
	// TransferExpired: not redeemed before ExpiresAt.
	TransferExpired TransferState = "expired"
)

// State returns where t stands at now.
func (t Transfer) State(now time.Time) TransferState {
	switch {
	case !t.RedeemedAt.IsZero():
		return TransferRedeemed
	case !now.Before(t.ExpiresAt):
		return TransferExpired
	case !t.ApprovedAt.IsZero():
		return TransferApproved
	}
	return TransferPending
}
