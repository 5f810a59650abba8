package selfservice

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/lifecycle"
)

// deleteScope is the scope of spent deletion tickets in store.Replay.
const deleteScope = "account.delete"

// CodeDeleteConfirm: the member did not tick the confirmation (no
// params).
const CodeDeleteConfirm fault.Code = "account.delete_confirm"

// DeleteAccount deletes the account of member m with ticket, which Finish
// gave after a fresh login (ForDeletion: the current password and the
// app's confirmation in the same session), once the member confirmed
// (confirmed). The deletion is lifecycle.DeleteAccount's: the sessions
// end with back-channel logout, this one too. The ticket is spent before
// the deletion, so of two concurrent posts one deletes.
// Errors: Forbidden, Expired or Conflict (CodeTicket) for a ticket of
// another login, too old or spent; Invalid (CodeDeleteConfirm); those of
// lifecycle.DeleteAccount; Unavailable.
func (s *Service) DeleteAccount(ctx context.Context, m Member, ticket string, confirmed bool, ip string) error {
	const op = "selfservice.DeleteAccount"
	if s.d.Deleter == nil {
		return fault.New(fault.NotFound, op, "the account page deletes no accounts")
	}
	f, ok := s.open("delete-ticket", ticket, 3)
	if !ok || f[0] != m.Session.ID {
		return fault.Coded(fault.Forbidden, op, CodeTicket)
	}
	issued, err := strconv.ParseInt(f[1], 10, 64)
	now := s.clock()
	until := time.Unix(issued, 0).Add(TicketTTL)
	if err != nil || !now.Before(until) {
		return fault.Coded(fault.Expired, op, CodeTicket)
	}
	if !confirmed {
		return fault.Coded(fault.Invalid, op, CodeDeleteConfirm)
	}
	switch err := s.d.Replay.UseOnce(ctx, deleteScope, f[2], until, now); {
	case errors.Is(err, fault.Conflict):
		return fault.Coded(fault.Conflict, op, CodeTicket)
	case err != nil:
		return err
	}
	_, err = s.d.Deleter.DeleteAccount(ctx, lifecycle.Deletion{
		AccountID: m.AccountID, Actor: audit.Member, ClientID: s.cfg.ClientID, IP: ip,
	})
	return err
}
