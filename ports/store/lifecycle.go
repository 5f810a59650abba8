package store

import (
	"context"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/member"
)

// SyncCount is what a full member sync found, before it changes anything.
type SyncCount struct {
	// Present is how many members of the directory were present (not
	// marked removed) before the sync.
	Present int
	// Removing is how many of them the file no longer has: the sync marks
	// them removed.
	Removing int
	// Resuming is how many members marked removed the file has again: the
	// sync clears their mark.
	Resuming int
}

// MemberLifecycle ends memberships, deletes accounts on request and
// removes members whose retention period is over.
type MemberLifecycle interface {
	// SyncMembers makes the directory the insurer's full file ms, in one
	// transaction: ms is upserted as UpsertMembers does; every member of
	// ms that is marked removed has its mark cleared (the member resumes);
	// every member not in ms that is not marked yet is marked removed at
	// now (member.Member.RemovedAt). Before it changes anything it calls
	// allow with the counts, in the transaction; when allow returns an
	// error, nothing changes and SyncMembers returns that very error.
	// Members marked before keep their first mark, so syncing the same
	// file again changes nothing. Two syncs at once are serialised.
	// Returns the counts. Errors: Invalid for a duplicate KVNR within ms;
	// allow's error.
	SyncMembers(ctx context.Context, ms []member.Member, now time.Time, allow func(SyncCount) error) (SyncCount, error)
	// DeleteAccount deletes account id and what belongs to it, in one
	// transaction: its device bindings, enrollment sessions, proofs,
	// sessions whose back-channel logouts are queued (Sessions.MarkNotified;
	// the others are ended, reason deleted, and stay for
	// Sessions.UnnotifiedSessions until they expire), consents,
	// approvals, token families with their tokens,
	// pending proofings and their confirmations, the links of eID cards to
	// its member number, its queued letter requests, and the recipient
	// (name and address) of its member number's letters, whose open ones
	// are voided (reason "deleted"). It appends e (an empty e.AccountID is
	// taken as id) in the same transaction. It keeps the member directory
	// record, the audit log and queued back-channel logouts. Exactly one of
	// concurrent callers deletes; the others get NotFound. Returns the
	// account as it was. Errors: NotFound (no such account, or deleted
	// before); Conflict (e's ID exists; nothing is deleted).
	DeleteAccount(ctx context.Context, id string, e audit.Event, now time.Time) (account.Account, error)
	// ExpiredMembers returns up to limit member numbers, in order, whose
	// membership ended (member.Member.EndedOn) before endedBefore.
	ExpiredMembers(ctx context.Context, endedBefore time.Time, limit int) ([]kvnr.KVNR, error)
	// DeleteMember removes member k from the directory, with the
	// recipients of its letters and its queued letter requests (open
	// letters are voided at now, reason "deleted"), only if its
	// membership still ended before endedBefore (a member imported again
	// meanwhile stays). Call it after its account is deleted. Errors:
	// NotFound (no such member); Conflict (the membership did not end
	// before endedBefore; nothing changes); Forbidden (the member still has
	// an account; nothing changes).
	DeleteMember(ctx context.Context, k kvnr.KVNR, endedBefore, now time.Time) error
}
