package binding

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/clientaddr"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/enrollment"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/ports/store"
)

// The device transfer: a member moves to a new phone while the old one is
// still at hand, without their password.
//
//	new phone  BeginTransfer(KVNR)          → code (shown as a QR code) + secret (kept)
//	old phone  BeginDeviceAuth, ApproveTransfer(code, assertion, PIN)
//	new phone  RedeemTransfer(secret)       → enrollment token (no password step)
//	new phone  BeginBinding, FinishBinding, SetPIN, as in every enrollment
//
// What it stops:
//   - A code seen over the member's shoulder or photographed is worth
//     nothing alone: the redemption needs the secret, which never leaves
//     the new phone and is not in the QR code.
//   - A phone of another member that scans the code cannot approve it: the
//     new phone names the member number it is for, and only a device of
//     that member's account approves; the transfer stays pending and
//     nothing changes.
//   - Replays and races: the code is approved once and the secret redeemed
//     once, each by one atomic store operation (exactly one of concurrent
//     callers wins); both expire after Config.TransferTTL.
//   - A revoked, blocked or suspect device approves nothing (its
//     assertion is refused), and a transfer whose approving device is
//     revoked before the redemption is not redeemed.
//
// The new binding is made by the ordinary enrollment steps: attested key
// under the same policy, PIN rules, notification of the new device. It
// has the account's proofing level (every binding of an account has).
// The old phone keeps working until the member revokes it.

// Codes of the device transfer; none has parameters.
const (
	transferUnknownText     fault.Code = "transfer.unknown"
	transferExpiredText     fault.Code = "transfer.expired"
	transferUsedText        fault.Code = "transfer.used"
	transferPendingText     fault.Code = "transfer.pending"
	transferOtherMemberText fault.Code = "transfer.other_member"
	transferApproverText    fault.Code = "transfer.approver_gone"
	transferRateText        fault.Code = "transfer.rate_limited"
)

// mailTransferApproved tells the member that one of their devices
// approved a transfer: the approving device's name and the time.
const mailTransferApproved fault.Code = "mail.transfer_approved"

// TransferPollInterval is how long the new phone waits before it asks
// again while the transfer waits for the approval (the Retry-After of
// transfer.pending).
const TransferPollInterval = 2 * time.Second

// maxTransferSecret bounds a transfer code or secret a client sends; the
// ones Pforte issues are far shorter.
const maxTransferSecret = 128

// BegunTransfer is what the new phone gets from BeginTransfer: Code for
// the QR code the old phone scans, Secret for the redemption (kept on the
// new phone, never shown), both valid until ExpiresAt.
type BegunTransfer struct {
	ID        string
	Code      string
	Secret    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// BeginTransfer starts a device transfer for member k on a new phone. It
// needs no account and tells nothing about one: whether k is a member
// with an account is decided when a device approves. ip is the client
// address; at most Config.TransfersPerIP transfers per TransferWindow
// begin from one address. The code has 128 bits and the secret 256; the
// store keeps their hashes only.
//
// Errors: Invalid (k is not a valid member number); RateLimited
// (transfer.rate_limited, with the wait); Internal (ip empty); Unavailable.
func (s *Service) BeginTransfer(ctx context.Context, k kvnr.KVNR, ip string) (BegunTransfer, error) {
	const op = "binding.BeginTransfer"
	k, err := kvnr.Parse(string(k))
	if err != nil {
		return BegunTransfer{}, err
	}
	key, ok := clientaddr.LimitKey(ip)
	if !ok {
		return BegunTransfer{}, fault.New(fault.Internal, op, "")
	}
	now := s.clock()
	allowed, retry, err := s.limits.Hit(ctx, "transfer:ip:"+key, s.cfg.TransfersPerIP, s.cfg.TransferWindow, now)
	if err != nil {
		return BegunTransfer{}, err
	}
	if !allowed {
		return BegunTransfer{}, fault.Coded(fault.RateLimited, op, transferRateText).WithRetry(now.Add(retry), retry)
	}
	b := BegunTransfer{ID: grant.NewID(), Code: grant.NewID(), Secret: grant.NewSecret(), CreatedAt: now,
		ExpiresAt: now.Add(s.cfg.TransferTTL)}
	if err := s.transfers.CreateTransfer(ctx, device.Transfer{
		ID: b.ID, CodeHash: grant.Hash(b.Code), SecretHash: grant.Hash(b.Secret), KVNR: k,
		CreatedAt: b.CreatedAt, ExpiresAt: b.ExpiresAt,
	}); err != nil {
		return BegunTransfer{}, err
	}
	s.logInfo(ctx, "device transfer begun", slog.String("transfer", b.ID))
	return b, nil
}

// pendingTransfer returns the transfer of code if it can still be
// approved. Errors: Unauthenticated (unknown); Expired; Conflict (approved
// or redeemed before); Unavailable.
func (s *Service) pendingTransfer(ctx context.Context, op, code string) (device.Transfer, error) {
	if code == "" || len(code) > maxTransferSecret {
		return device.Transfer{}, fault.Coded(fault.Unauthenticated, op, transferUnknownText)
	}
	t, err := s.transfers.TransferByCodeHash(ctx, grant.Hash(code))
	switch {
	case errors.Is(err, fault.NotFound):
		return device.Transfer{}, fault.Coded(fault.Unauthenticated, op, transferUnknownText)
	case err != nil:
		return device.Transfer{}, err
	}
	switch {
	case !t.ApprovedAt.IsZero():
		return device.Transfer{}, fault.Coded(fault.Conflict, op, transferUsedText)
	case t.State(s.clock()) == device.TransferExpired:
		return device.Transfer{}, fault.Coded(fault.Expired, op, transferExpiredText)
	}
	return t, nil
}

// ApproveTransfer approves the transfer whose code the old phone scanned,
// with the old phone's key and release PIN: challengeID and response are
// the answer to a BeginDeviceAuth challenge, p the PIN, checked and
// counted exactly as AuthenticateDevice does (a wrong PIN counts). The
// code is looked at first, so that a stale or unknown code costs no PIN
// attempt. The transfer must name the member of the approving device's
// account; a device of another member is refused and nothing changes
// (the transfer stays pending for the member's own device). The approval
// is audited (DeviceTransferApproved) and the member is told by mail.
//
// Errors: Unauthenticated (code unknown; challenge unknown or used; wrong
// PIN, as AuthenticateDevice); Expired (code or challenge); Conflict
// (transfer.used: the code was approved before); Forbidden
// (transfer.other_member; the device is revoked, suspect or the account
// not active, as AuthenticateDevice); Locked, RateLimited (PIN, as
// AuthenticateDevice); Invalid; Unavailable.
func (s *Service) ApproveTransfer(ctx context.Context, code, challengeID string, response []byte, p, ip string) (device.Transfer, error) {
	const op = "binding.ApproveTransfer"
	t, err := s.pendingTransfer(ctx, op, code)
	if err != nil {
		return device.Transfer{}, err
	}
	v, err := s.authenticate(ctx, op, device.Assertion, "", challengeID, response, p, ip)
	if err != nil {
		return device.Transfer{}, err
	}
	if v.account.KVNR != t.KVNR {
		s.logWarn(ctx, "device transfer refused: another member's code", slog.String("transfer", t.ID),
			slog.String("binding", v.binding.ID))
		return device.Transfer{}, fault.Coded(fault.Forbidden, op, transferOtherMemberText)
	}
	approved, err := s.transfers.ApproveTransfer(ctx, t.CodeHash, v.account.KVNR, v.account.ID, v.binding.ID, s.clock())
	switch {
	case errors.Is(err, fault.NotFound):
		return device.Transfer{}, fault.Coded(fault.Unauthenticated, op, transferUnknownText)
	case errors.Is(err, fault.Expired):
		return device.Transfer{}, fault.Coded(fault.Expired, op, transferExpiredText)
	case errors.Is(err, fault.Conflict):
		return device.Transfer{}, fault.Coded(fault.Conflict, op, transferUsedText)
	case errors.Is(err, store.ErrTransferOtherMember):
		return device.Transfer{}, fault.Coded(fault.Forbidden, op, transferOtherMemberText)
	case errors.Is(err, fault.Forbidden):
		return device.Transfer{}, fault.Coded(fault.Forbidden, op, deviceGoneText)
	case err != nil:
		return device.Transfer{}, err
	}
	s.record(ctx, s.event(audit.DeviceTransferApproved, approved.AccountID, ip, map[string]string{
		"transfer": approved.ID, "binding": v.binding.ID,
	}))
	s.logInfo(ctx, "device transfer approved", slog.String("transfer", approved.ID), slog.String("account", approved.AccountID),
		slog.String("binding", v.binding.ID))
	s.tell(ctx, v.account.KVNR, notice{kind: audit.DeviceTransferApproved, code: mailTransferApproved,
		params: []any{v.binding.Name, approved.ApprovedAt}})
	return approved, nil
}

// RedeemTransfer is the new phone's last step of a transfer: with the
// secret BeginTransfer gave it, once the old phone approved, it gets an
// enrollment session of the account (its bearer token, 256 bits, shown
// once) that binds one key and sets its PIN: BeginBinding, FinishBinding,
// SetPIN. The session has no password step and takes no password; it
// lasts enrollment.TTL. Redeeming is one atomic store operation: of
// concurrent redemptions exactly one gets a session. The redemption is
// audited (DeviceTransferRedeemed).
//
// Until the approval the answer is Conflict with transfer.pending: the
// new phone asks again (it shows its QR code meanwhile).
//
// Errors: Unauthenticated (transfer.unknown: no such secret); Expired;
// Conflict (transfer.pending; transfer.used: redeemed before); Forbidden
// (transfer.approver_gone: the approving device was revoked, blocked or
// marked suspect meanwhile); Unavailable.
func (s *Service) RedeemTransfer(ctx context.Context, secret, ip string) (token string, sess enrollment.Session, err error) {
	const op = "binding.RedeemTransfer"
	if secret == "" || len(secret) > maxTransferSecret {
		return "", enrollment.Session{}, fault.Coded(fault.Unauthenticated, op, transferUnknownText)
	}
	now := s.clock()
	token = grant.NewSecret()
	t, sess, err := s.transfers.RedeemTransfer(ctx, grant.Hash(secret), enrollment.Session{
		ID: grant.NewID(), TokenHash: grant.Hash(token), CreatedAt: now, ExpiresAt: now.Add(enrollment.TTL),
		// No password step: the session starts where a proofing's would
		// after it.
		PasswordSetAt: now,
	}, now)
	switch {
	case errors.Is(err, fault.NotFound):
		return "", enrollment.Session{}, fault.Coded(fault.Unauthenticated, op, transferUnknownText)
	case errors.Is(err, fault.Expired):
		return "", enrollment.Session{}, fault.Coded(fault.Expired, op, transferExpiredText)
	case errors.Is(err, store.ErrTransferPending):
		return "", enrollment.Session{}, fault.Coded(fault.Conflict, op, transferPendingText).
			WithRetry(now.Add(TransferPollInterval), TransferPollInterval)
	case errors.Is(err, fault.Conflict):
		return "", enrollment.Session{}, fault.Coded(fault.Conflict, op, transferUsedText)
	case errors.Is(err, fault.Forbidden):
		return "", enrollment.Session{}, fault.Coded(fault.Forbidden, op, transferApproverText)
	case err != nil:
		return "", enrollment.Session{}, err
	}
	s.record(ctx, s.event(audit.DeviceTransferRedeemed, t.AccountID, ip, map[string]string{
		"transfer": t.ID, "session": sess.ID, "approved_by": t.ApprovedBy,
	}))
	s.logInfo(ctx, "device transfer redeemed", slog.String("transfer", t.ID), slog.String("account", t.AccountID),
		slog.String("session", sess.ID))
	return token, sess, nil
}
