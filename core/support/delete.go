package support

import (
	"context"
	"log/slog"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/lifecycle"
)

// CodeNothingToDelete: the member has no account (any more): nothing is
// deleted (no params).
const CodeNothingToDelete fault.Code = "support.nothing_to_delete"

// Deleter deletes accounts (core/lifecycle.Service).
type Deleter interface {
	DeleteAccount(ctx context.Context, d lifecycle.Deletion) (account.Account, error)
}

// DeleteMember deletes member k's account on support's word (the member
// asked by phone or letter, after support verified them), as the member's
// own deletion does (lifecycle.DeleteAccount): devices, sessions (with
// back-channel logout), tokens, consents and personal data go; the audit
// log stays, pseudonymised; the directory record stays while the member
// is insured. The audit entry (account.deleted, reason support) names the
// agent, the client and the reason. Deleting twice answers NotFound coded
// CodeNothingToDelete (or, in a race, lifecycle.CodeAlreadyDeleted) and
// changes nothing.
// Errors: NotFound coded CodeUnknownMember, CodeNothingToDelete or
// lifecycle.CodeAlreadyDeleted; Invalid coded CodeReason or CodeAgent;
// Unavailable.
func (s *Service) DeleteMember(ctx context.Context, a Agent, k kvnr.KVNR, reason string) error {
	const op = "support.DeleteMember"
	a, err := a.check(op)
	if err != nil {
		return err
	}
	if reason, err = reasonOK(op, reason); err != nil {
		return err
	}
	acc, err := s.accountOf(ctx, op, k)
	if code, _ := fault.CodeOf(err); code == CodeNoAccount {
		return fault.Coded(fault.NotFound, op, CodeNothingToDelete)
	}
	if err != nil {
		return err
	}
	if _, err := s.d.Deleter.DeleteAccount(ctx, lifecycle.Deletion{
		AccountID: acc.ID, Actor: audit.Operator, ClientID: a.ClientID, Operator: a.Name, Reason: reason,
	}); err != nil {
		return err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "account deleted by support", slog.String("account", acc.ID),
		slog.String("operator", a.Name), slog.String("client", a.ClientID))
	return nil
}
