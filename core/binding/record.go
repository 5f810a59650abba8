package binding

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"
	_ "time/tzdata" // notification times are German local time on any host

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/ports/notify"
)

// event is an audit event of the app API acting for the member.
func (s *Service) event(kind audit.Kind, accountID, ip string, detail map[string]string) audit.Event {
	return audit.Event{
		ID: grant.NewID(), Time: s.clock(), Kind: kind, Actor: audit.Member, AccountID: accountID,
		ClientID: s.cfg.AppClientID, IPHash: s.ipHash(ip), Detail: detail,
	}
}

// eventBy is an audit event of the member acting through by.client.
func (s *Service) eventBy(kind audit.Kind, by actor, ip string, detail map[string]string) audit.Event {
	e := s.event(kind, by.account, ip, by.detail(detail))
	e.ClientID = by.client
	if by.operator != "" {
		e.Actor = audit.Operator
	}
	return e
}

// record appends e to the audit log. The change it describes has been
// stored already and cannot be taken back, so a failure is logged as an
// error and does not fail the member's request. It is not cancelled with
// the request: a client that goes away once the change is made must not
// take its record along.
func (s *Service) record(ctx context.Context, e audit.Event) {
	ctx = context.WithoutCancel(ctx)
	if err := s.audit.AppendAudit(ctx, e); err != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "audit event lost",
			slog.String("kind", string(e.Kind)), slog.String("account", e.AccountID), slog.Any("error", err))
	}
}

// ipHash is audit.IPHash under the configured key.
func (s *Service) ipHash(ip string) string { return audit.IPHash(s.cfg.IPKey, ip) }

// maskKVNR shows the first letter and the last three digits of a member
// number: enough for the member to recognise it in a key list, not enough
// to be their number.
func maskKVNR(k kvnr.KVNR) string {
	s := string(k)
	if len(s) != 10 {
		return "**********"
	}
	return s[:1] + "******" + s[7:]
}

// notice is a notification before it is addressed and worded: a code and
// its params, which Deps.Mail words. It never contains a secret.
type notice struct {
	kind   audit.Kind
	code   fault.Code
	params []any
}

// Codes of notifications. The params of each are the device name (string)
// and the time of the change (time.Time), then what the code adds.
const (
	mailDeviceBound       fault.Code = "mail.device_bound"
	mailEnrollmentDone    fault.Code = "mail.enrollment_completed"
	mailPINReset          fault.Code = "mail.pin_reset"
	mailPINResetUnblocked fault.Code = "mail.pin_reset_unblocked"
	mailPINLocked         fault.Code = "mail.pin_locked"
	mailDeviceSuspect     fault.Code = "mail.device_suspect"
	mailDeviceRenamed     fault.Code = "mail.device_renamed" // then the new name (string)
	mailDeviceRevoked     fault.Code = "mail.device_revoked"
	mailOthersRevoked     fault.Code = "mail.others_revoked" // the kept device; then how many were removed (int)
	mailOperatorUnblocked fault.Code = "mail.operator_unblocked"
)

func deviceBound(name string, at time.Time) notice {
	return notice{kind: audit.DeviceBound, code: mailDeviceBound, params: []any{name, at}}
}

func enrollmentDone(name string, at time.Time) notice {
	return notice{kind: audit.EnrollmentCompleted, code: mailEnrollmentDone, params: []any{name, at}}
}

func pinReset(name string, at time.Time, wasBlocked bool) notice {
	code := mailPINReset
	if wasBlocked {
		code = mailPINResetUnblocked
	}
	return notice{kind: audit.PINSet, code: code, params: []any{name, at}}
}

func pinLocked(name string, at time.Time) notice {
	return notice{kind: audit.PINLocked, code: mailPINLocked, params: []any{name, at}}
}

func deviceSuspect(name string, at time.Time) notice {
	return notice{kind: audit.DeviceSuspect, code: mailDeviceSuspect, params: []any{name, at}}
}

func deviceRenamed(oldName, newName string, at time.Time) notice {
	return notice{kind: audit.DeviceRenamed, code: mailDeviceRenamed, params: []any{oldName, at, newName}}
}

func deviceRevoked(name string, at time.Time) notice {
	return notice{kind: audit.DeviceRevoked, code: mailDeviceRevoked, params: []any{name, at}}
}

func othersRevoked(n int, kept string, at time.Time) notice {
	return notice{kind: audit.DeviceRevoked, code: mailOthersRevoked, params: []any{kept, at, n}}
}

func operatorUnblocked(name string, at time.Time) notice {
	return notice{kind: audit.DeviceUnblocked, code: mailOperatorUnblocked, params: []any{name, at}}
}

// tell sends n to the e-mail address the directory has for the member k,
// if any. A member without an address, a missing notifier or a failed
// delivery is logged, never an error: the change is made already, and the
// member learns of it in the app too. It is not cancelled with the
// request, for the same reason as record: the notifier bounds its own
// time.
func (s *Service) tell(ctx context.Context, k kvnr.KVNR, n notice) {
	if s.notifier == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	m, err := s.members.MemberByKVNR(ctx, k)
	switch {
	case errors.Is(err, fault.NotFound) || (err == nil && strings.TrimSpace(m.Email) == ""):
		return
	case err != nil:
		s.logWarn(ctx, "notification not sent", slog.String("kind", string(n.kind)), slog.Any("error", err))
		return
	}
	subject, body := s.mail(ctx, n.code, n.params...)
	msg := notify.Message{To: strings.TrimSpace(m.Email), Subject: subject, Body: body, Kind: string(n.kind)}
	if err := s.notifier.Notify(ctx, msg); err != nil {
		s.logWarn(ctx, "notification not sent", slog.String("kind", string(n.kind)), slog.Any("error", err))
	}
}

// tellAccount is tell for an account id.
func (s *Service) tellAccount(ctx context.Context, accountID string, n notice) {
	if s.notifier == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	a, err := s.accounts.AccountByID(ctx, accountID)
	if err != nil {
		s.logWarn(ctx, "notification not sent", slog.String("kind", string(n.kind)), slog.Any("error", err))
		return
	}
	s.tell(ctx, a.KVNR, n)
}
