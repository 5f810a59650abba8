package store

import (
	"context"
	"time"

	"github.com/pforte-id/pforte/core/approval"
)

// Approvals stores the web login's approvals (core/approval): a browser
// login waiting for the member's decision in the app. A store that also
// implements AuthRequests removes expired ones in DeleteExpired.
type Approvals interface {
	// CreateApproval stores a. Errors: Conflict on a duplicate ID.
	CreateApproval(ctx context.Context, a approval.Approval) error
	// ApprovalByID returns approval id, expired or not (the caller
	// decides). Errors: NotFound.
	ApprovalByID(ctx context.Context, id string) (approval.Approval, error)
	// PendingApprovals returns the approvals of account accountID that are
	// Pending and not expired at now (ExpiresAt > now), oldest first.
	PendingApprovals(ctx context.Context, accountID string, now time.Time) ([]approval.Approval, error)
	// UpdateApproval reads approval id, calls f with it and, when f returns
	// nil, stores what f changed — in one transaction that holds the row,
	// so that concurrent updates are serialised and f always sees the
	// latest state: of N concurrent decisions (approval.Decide refuses an
	// approval that is no longer pending) exactly one is stored, and an
	// approval is used (approval.Use) at most once. When f returns an
	// error nothing is stored and UpdateApproval returns that very error
	// (comparable with errors.Is) and the zero approval. f may run more
	// than once when the transaction is retried; it must depend only on
	// its argument. f may change only Status, Reason, BindingID and
	// DecidedAt. Returns the approval as stored afterwards.
	// Errors: NotFound; Invalid (f changed another field; nothing is
	// stored); f's error; those of the database.
	UpdateApproval(ctx context.Context, id string, f func(a *approval.Approval) error) (approval.Approval, error)
}
