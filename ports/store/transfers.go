package store

import (
	"context"
	"errors"
	"time"

	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/enrollment"
	"github.com/pforte-id/pforte/core/kvnr"
)

// ErrTransferPending is the cause of RedeemTransfer's Conflict while the
// transfer waits for the old phone's approval: the new phone asks again.
var ErrTransferPending = errors.New("the transfer is not approved yet")

// ErrTransferOtherMember is the cause of ApproveTransfer's Forbidden when
// the transfer names another member than the approving account's.
var ErrTransferOtherMember = errors.New("the transfer is another member's")

// ErrApproverInactive is the cause of ApproveTransfer's and
// RedeemTransfer's Forbidden when the approving binding is not (or no
// longer) an active binding of the account.
var ErrApproverInactive = errors.New("the approving device binding is not active")

// Transfers stores device transfers (device.Transfer): a new phone's
// binding approved by the member's old phone. Every state change is one
// conditional, atomic operation whose success is the authorisation; a
// transfer never goes back to an earlier state. A store that also
// implements AuthRequests removes expired ones in DeleteExpired.
type Transfers interface {
	// CreateTransfer stores t, pending. Errors: Conflict on a duplicate
	// ID, code hash or secret hash.
	CreateTransfer(ctx context.Context, t device.Transfer) error
	// ApproveTransfer approves the pending transfer whose code has the
	// hash codeHash for account accountID, by its binding bindingID, in
	// one transaction, when the transfer names member k (the account's),
	// has not expired at now, and bindingID is an active binding of
	// accountID with a PIN. Exactly one of concurrent callers succeeds.
	// When it fails nothing changed. Returns the transfer as stored.
	// Errors: NotFound (no such code); Expired; Conflict (approved or
	// redeemed before); Forbidden wrapping ErrTransferOtherMember (the
	// transfer names another member: it stays pending) or
	// ErrApproverInactive.
	ApproveTransfer(ctx context.Context, codeHash string, k kvnr.KVNR, accountID, bindingID string, now time.Time) (device.Transfer, error)
	// RedeemTransfer redeems the approved transfer whose secret has the
	// hash secretHash, in one transaction: it checks that the transfer
	// has not expired at now and that its approving binding is still
	// active, marks it redeemed and inserts enrollment session s for the
	// transfer's account (s.AccountID, s.KVNR and s.TransferID are set
	// from the transfer; s.PasswordSetAt is kept as given). Exactly one of
	// concurrent callers succeeds. When it fails nothing changed. Returns
	// the transfer and the session as stored. Errors: NotFound (no such
	// secret); Expired; Conflict wrapping ErrTransferPending (not approved
	// yet); Conflict (redeemed before, or a duplicate session ID or token
	// hash); Forbidden wrapping ErrApproverInactive (the approving binding
	// was revoked, blocked or marked suspect meanwhile).
	RedeemTransfer(ctx context.Context, secretHash string, s enrollment.Session, now time.Time) (device.Transfer, enrollment.Session, error)
	// TransferByCodeHash returns the transfer whose code has the hash
	// codeHash, in whatever state. Errors: NotFound.
	TransferByCodeHash(ctx context.Context, codeHash string) (device.Transfer, error)
}
