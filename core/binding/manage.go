package binding

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
)

// Device is what a member or support sees of a binding: never its key,
// PIN hash or attempt counter.
type Device struct {
	ID       string
	Name     string
	Platform device.Platform
	Status   device.Status
	// PINSet: the member set the release PIN (the binding's enrollment
	// was completed).
	PINSet     bool
	CreatedAt  time.Time
	LastUsedAt time.Time
	RevokedAt  time.Time
	// Current marks the binding the request was authenticated with.
	Current bool
	// ReconfirmBy is when the binding needs a re-confirmation
	// (device.Reconfirm); the app tells the member ahead of time.
	ReconfirmBy time.Time
}

func (s *Service) view(b device.Binding, current string) Device {
	return Device{
		ID: b.ID, Name: b.Name, Platform: b.Platform, Status: b.Status, PINSet: b.PINHash != "",
		CreatedAt: b.CreatedAt, LastUsedAt: b.LastUsedAt, RevokedAt: b.RevokedAt, Current: b.ID == current,
		ReconfirmBy: s.cfg.Reconfirm.By(b),
	}
}

// Codes of device management; none has parameters.
const (
	deviceNotFoundText fault.Code = "device.not_found"
	deviceRemovedText  fault.Code = "device.removed"
)

// acting re-reads the binding a management call is made with: it must
// still be active now, not only when AuthenticateDevice returned it (it
// may have been revoked by another call in between).
// Errors: Forbidden; Unavailable.
func (s *Service) acting(ctx context.Context, op string, b device.Binding) (device.Binding, error) {
	refused := fault.Coded(fault.Forbidden, op, deviceGoneText)
	if b.ID == "" || b.AccountID == "" {
		return device.Binding{}, refused
	}
	cur, err := s.devices.BindingByID(ctx, b.ID)
	switch {
	case errors.Is(err, fault.NotFound):
		return device.Binding{}, refused
	case err != nil:
		return device.Binding{}, err
	case cur.AccountID != b.AccountID || !cur.Usable():
		return device.Binding{}, refused
	}
	return cur, nil
}

// ListDevices returns the devices bound to the account of b, the binding
// returned by AuthenticateDevice, oldest first; revoked ones are left
// out. Errors: Forbidden (b is no longer active); Unavailable.
func (s *Service) ListDevices(ctx context.Context, b device.Binding) ([]Device, error) {
	cur, err := s.acting(ctx, "binding.ListDevices", b)
	if err != nil {
		return nil, err
	}
	return s.devicesOf(ctx, cur.AccountID, cur.ID)
}

// devicesOf lists the unrevoked devices of account accountID, marking
// binding current.
func (s *Service) devicesOf(ctx context.Context, accountID, current string) ([]Device, error) {
	bs, err := s.devices.ListBindings(ctx, accountID)
	if err != nil {
		return nil, err
	}
	out := []Device{}
	for _, x := range bs {
		if x.Status != device.Revoked {
			out = append(out, s.view(x, current))
		}
	}
	return out, nil
}

// RenameDevice gives the member's device id a new name (device.NameOK);
// b is the binding returned by AuthenticateDevice and ip the client
// address of the request (its keyed hash goes into the audit event).
// Renaming to the same name changes nothing and is not recorded.
// Errors: Invalid (name); Forbidden (b is no longer active); NotFound (no
// such device of this member); Conflict (the device is revoked);
// Unavailable.
func (s *Service) RenameDevice(ctx context.Context, b device.Binding, id, name, ip string) error {
	const op = "binding.RenameDevice"
	if err := device.NameOK(name); err != nil {
		return err
	}
	cur, err := s.acting(ctx, op, b)
	if err != nil {
		return err
	}
	return s.rename(ctx, op, actor{account: cur.AccountID, binding: cur.ID, client: s.cfg.AppClientID}, id, name, ip)
}

// RenameMemberDevice is RenameDevice for a member who logged in with two
// factors elsewhere than in the app (the account page, whose client id is
// clientID): the device must be one of account accountID's, which the
// caller has authenticated. Errors: those of RenameDevice but Forbidden.
func (s *Service) RenameMemberDevice(ctx context.Context, accountID, id, name, ip, clientID string) error {
	const op = "binding.RenameMemberDevice"
	if err := device.NameOK(name); err != nil {
		return err
	}
	if accountID == "" {
		return fault.Coded(fault.NotFound, op, deviceNotFoundText)
	}
	return s.rename(ctx, op, actor{account: accountID, client: clientID}, id, name, ip)
}

// actor is who manages a device: the member of account, through the app
// with device binding (binding set) or through the client (the account
// page, binding empty).
type actor struct {
	account, binding, client string
	// operator names support staff acting for the member (actor
	// Operator in the audit event); empty: the member acts.
	operator string
}

// detail adds who acted to an audit event's detail.
func (a actor) detail(d map[string]string) map[string]string {
	if a.binding != "" {
		d["by_binding"] = a.binding
	}
	if a.operator != "" {
		d["operator"] = a.operator
	}
	return d
}

func (s *Service) rename(ctx context.Context, op string, by actor, id, name, ip string) error {
	name = strings.TrimSpace(name)
	var old string // the name before, for the record
	_, err := s.devices.UpdateBinding(ctx, id, func(x *device.Binding) error {
		switch {
		case x.AccountID != by.account:
			return fault.Coded(fault.NotFound, op, deviceNotFoundText)
		case x.Status == device.Revoked:
			return fault.Coded(fault.Conflict, op, deviceRemovedText)
		case x.Name == name:
			return errUnchanged
		}
		old, x.Name = x.Name, name
		return nil
	})
	switch {
	case errors.Is(err, errUnchanged):
		return nil
	case errors.Is(err, fault.NotFound):
		return fault.Coded(fault.NotFound, op, deviceNotFoundText)
	case err != nil:
		return err
	}
	s.record(ctx, s.eventBy(audit.DeviceRenamed, by, ip, map[string]string{
		"binding": id, "old_name": old, "name": name,
	}))
	s.logInfo(ctx, "device renamed", slog.String("binding", id), slog.String("account", by.account))
	s.tellAccount(ctx, by.account, deviceRenamed(old, name, s.clock()))
	return nil
}

// RevokeDevice removes the member's device id; b is the binding returned
// by AuthenticateDevice and may be id itself, ip the client address of
// the request (hashed into the audit event). The binding can never
// authenticate again; revoking it twice is not an error.
//
// Revoking a binding ends its device authentications and app logins at
// once: after the binding is stored revoked, the refresh token families
// issued through its app logins are revoked (store.BindingFamilies), and
// from the revocation on the store issues no new family for it, so no
// token the key obtained survives it; the browser sessions it confirmed
// end too, with back-channel logout. When that second step fails
// (Unavailable), calling RevokeDevice again completes it.
//
// Errors: Forbidden (b is no longer active); NotFound (no such device of
// this member); Unavailable.
func (s *Service) RevokeDevice(ctx context.Context, b device.Binding, id, ip string) error {
	const op = "binding.RevokeDevice"
	cur, err := s.acting(ctx, op, b)
	if err != nil {
		return err
	}
	return s.revoke(ctx, op, actor{account: cur.AccountID, binding: cur.ID, client: s.cfg.AppClientID}, id, ip)
}

// RevokeMemberDevice is RevokeDevice for a member who logged in with two
// factors elsewhere than in the app (the account page, whose client id is
// clientID): the device must be one of account accountID's, which the
// caller has authenticated. Errors: those of RevokeDevice but Forbidden.
func (s *Service) RevokeMemberDevice(ctx context.Context, accountID, id, ip, clientID string) error {
	const op = "binding.RevokeMemberDevice"
	if accountID == "" {
		return fault.Coded(fault.NotFound, op, deviceNotFoundText)
	}
	return s.revoke(ctx, op, actor{account: accountID, client: clientID}, id, ip)
}

func (s *Service) revoke(ctx context.Context, op string, by actor, id, ip string) error {
	now := s.clock()
	x, err := s.devices.UpdateBinding(ctx, id, func(x *device.Binding) error {
		switch {
		case x.AccountID != by.account:
			return fault.Coded(fault.NotFound, op, deviceNotFoundText)
		case x.Status == device.Revoked:
			return errUnchanged
		}
		x.Status, x.RevokedAt = device.Revoked, now
		return nil
	})
	switch {
	case errors.Is(err, errUnchanged):
		// Revoked before: its families were revoked then, unless that
		// failed; doing it again is harmless.
		return s.endLogins(ctx, id, now)
	case errors.Is(err, fault.NotFound):
		return fault.Coded(fault.NotFound, op, deviceNotFoundText)
	case err != nil:
		return err
	}
	ended := s.endLogins(ctx, id, now)
	s.record(ctx, s.eventBy(audit.DeviceRevoked, by, ip, map[string]string{"binding": id, "name": x.Name}))
	s.logInfo(ctx, "device revoked", slog.String("binding", id), slog.String("account", by.account),
		slog.Bool("self", id == by.binding))
	s.tellAccount(ctx, by.account, deviceRevoked(x.Name, now))
	return ended
}

// MemberDevices is ListDevices for a member who logged in with two factors
// elsewhere than in the app (the account page): the devices of account
// accountID, which the caller has authenticated, oldest first, revoked
// ones left out; none is Current. Errors: Unavailable.
func (s *Service) MemberDevices(ctx context.Context, accountID string) ([]Device, error) {
	return s.devicesOf(ctx, accountID, "")
}

// endLogins revokes the token families of binding id, which was just
// revoked or marked suspect, at now: its app logins end. Idempotent.
// Errors: Unavailable.
func (s *Service) endLogins(ctx context.Context, id string, now time.Time) error {
	n, err := s.families.RevokeFamiliesOfBinding(ctx, id, now)
	if err != nil {
		s.logWarn(ctx, "the app logins of a revoked or suspect binding could not be ended", slog.String("binding", id),
			slog.Any("error", err))
		return err
	}
	if n > 0 {
		s.logInfo(ctx, "app logins of the binding ended", slog.String("binding", id), slog.Int("families", n))
	}
	return s.endSessions(ctx, id)
}

// endSessions ends the browser sessions binding id confirmed, with
// back-channel logout to their relying parties. Errors: Unavailable.
func (s *Service) endSessions(ctx context.Context, id string) error {
	if s.sessions == nil {
		return nil
	}
	n, err := s.sessions.EndOfBinding(ctx, id)
	if err != nil {
		s.logWarn(ctx, "the browser sessions of a revoked or suspect binding could not be ended", slog.String("binding", id),
			slog.Any("error", err))
		return err
	}
	if n > 0 {
		s.logInfo(ctx, "browser sessions of the binding ended", slog.String("binding", id), slog.Int("sessions", n))
	}
	return nil
}

// RevokeOtherDevices removes every device of the member except b, the
// binding returned by AuthenticateDevice ("log out everywhere else"), and
// returns how many were removed; ip is the client address of the request
// (hashed into the audit event). What RevokeDevice says about refresh
// tokens holds here too.
// Errors: Forbidden (b is no longer active); Unavailable.
func (s *Service) RevokeOtherDevices(ctx context.Context, b device.Binding, ip string) (int, error) {
	const op = "binding.RevokeOtherDevices"
	cur, err := s.acting(ctx, op, b)
	if err != nil {
		return 0, err
	}
	now := s.clock()
	n, err := s.devices.RevokeBindings(ctx, cur.AccountID, cur.ID, now)
	if err != nil || n == 0 {
		return n, err
	}
	s.record(ctx, s.event(audit.DeviceRevoked, cur.AccountID, ip, map[string]string{
		"kept_binding": cur.ID, "count": strconv.Itoa(n),
	}))
	if all, err := s.devices.ListBindings(ctx, cur.AccountID); err == nil {
		for _, o := range all {
			if o.ID != cur.ID && o.Status == device.Revoked {
				_ = s.endSessions(ctx, o.ID)
			}
		}
	}
	s.logInfo(ctx, "other devices revoked", slog.String("account", cur.AccountID), slog.Int("count", n))
	s.tellAccount(ctx, cur.AccountID, othersRevoked(n, cur.Name, now))
	return n, nil
}
