package selfservice

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/binding"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/session"
)

// SessionInfo is one of the member's active browser sessions.
type SessionInfo struct {
	ID         string
	Browser    string
	CreatedAt  time.Time
	LastSeenAt time.Time
	// Clients are the services the session logged in to, in order (a
	// removed client is left out).
	Clients []client.Client
	// Current: the session of the browser that asks.
	Current bool
}

// ConsentInfo is one remembered consent.
type ConsentInfo struct {
	Client    client.Client
	Scopes    []string
	GrantedAt time.Time
}

// Overview is what the account page shows.
type Overview struct {
	Devices  []binding.Device
	Sessions []SessionInfo
	Consents []ConsentInfo
	// Events are the account's recent audit events, newest first.
	Events []audit.Event
}

// Overview returns the devices, active sessions, consents and recent
// security events of member m. Errors: Unavailable.
func (s *Service) Overview(ctx context.Context, m Member) (Overview, error) {
	var out Overview
	var err error
	if out.Devices, err = s.d.Devices.MemberDevices(ctx, m.AccountID); err != nil {
		return Overview{}, err
	}
	clients := map[string]*client.Client{}
	clientOf := func(id string) (*client.Client, error) {
		if c, ok := clients[id]; ok {
			return c, nil
		}
		c, err := s.d.Clients.ClientByID(ctx, id)
		switch {
		case errors.Is(err, fault.NotFound):
			clients[id] = nil
			return nil, nil
		case err != nil:
			return nil, err
		}
		clients[id] = &c
		return &c, nil
	}
	all, err := s.d.SessionStore.ActiveSessions(ctx, m.AccountID, s.clock())
	if err != nil {
		return Overview{}, err
	}
	for _, ss := range all {
		info := SessionInfo{ID: ss.ID, Browser: ss.Browser, CreatedAt: ss.CreatedAt, LastSeenAt: ss.LastSeenAt,
			Current: ss.ID == m.Session.ID}
		for _, id := range ss.Clients {
			c, err := clientOf(id)
			if err != nil {
				return Overview{}, err
			}
			if c != nil {
				info.Clients = append(info.Clients, *c)
			}
		}
		out.Sessions = append(out.Sessions, info)
	}
	cs, err := s.d.Consents.Consents(ctx, m.AccountID)
	if err != nil {
		return Overview{}, err
	}
	for _, c := range cs {
		cl, err := clientOf(c.ClientID)
		if err != nil {
			return Overview{}, err
		}
		if cl == nil {
			cl = &client.Client{ID: c.ClientID}
		}
		out.Consents = append(out.Consents, ConsentInfo{Client: *cl, Scopes: c.Scopes, GrantedAt: c.GrantedAt})
	}
	if out.Events, err = s.d.Audit.AuditEvents(ctx, m.AccountID, s.cfg.Events); err != nil {
		return Overview{}, err
	}
	return out, nil
}

// maxID bounds an id a form names: longer ones name nothing.
const maxID = 256

func unknown(op string) error { return fault.Coded(fault.NotFound, op, CodeUnknown) }

// RenameDevice renames device id of member m. Errors: Invalid (name);
// NotFound (CodeUnknown: no such device of m's); Conflict (revoked);
// Unavailable.
func (s *Service) RenameDevice(ctx context.Context, m Member, id, name, ip string) error {
	const op = "selfservice.RenameDevice"
	if id == "" || len(id) > maxID {
		return unknown(op)
	}
	err := s.d.Devices.RenameMemberDevice(ctx, m.AccountID, id, name, ip, s.cfg.ClientID)
	if errors.Is(err, fault.NotFound) {
		return unknown(op)
	}
	return err
}

// RevokeDevice removes device id of member m: it can never log in again,
// its token families are revoked and the browser sessions it confirmed
// end (perhaps this one). Errors: NotFound (CodeUnknown); Unavailable.
func (s *Service) RevokeDevice(ctx context.Context, m Member, id, ip string) error {
	const op = "selfservice.RevokeDevice"
	if id == "" || len(id) > maxID {
		return unknown(op)
	}
	err := s.d.Devices.RevokeMemberDevice(ctx, m.AccountID, id, ip, s.cfg.ClientID)
	if errors.Is(err, fault.NotFound) {
		return unknown(op)
	}
	return err
}

// RevokeConsent takes back member m's consent for client clientID; the
// client's token families of the member are revoked with it.
// Errors: NotFound (CodeUnknown: no such consent of m's); Unavailable.
func (s *Service) RevokeConsent(ctx context.Context, m Member, clientID, ip string) error {
	const op = "selfservice.RevokeConsent"
	if clientID == "" || len(clientID) > maxID {
		return unknown(op)
	}
	now := s.clock()
	n, err := s.d.Consents.RevokeConsent(ctx, m.AccountID, clientID, now)
	switch {
	case errors.Is(err, fault.NotFound):
		return unknown(op)
	case err != nil:
		return err
	}
	s.record(ctx, audit.ConsentRevoked, m, ip, map[string]string{"client": clientID, "families": strconv.Itoa(n)})
	s.log.LogAttrs(ctx, slog.LevelInfo, "consent revoked", slog.String("account", m.AccountID),
		slog.String("client", clientID), slog.Int("families", n))
	return nil
}

// EndSession ends session sid of member m (perhaps the browser's own):
// its token families are revoked and its relying parties told. Errors:
// NotFound (CodeUnknown: no such session of m's); Unavailable.
func (s *Service) EndSession(ctx context.Context, m Member, sid string) error {
	const op = "selfservice.EndSession"
	if sid == "" || len(sid) > maxID {
		return unknown(op)
	}
	ss, err := s.d.SessionStore.SessionByID(ctx, sid)
	switch {
	case errors.Is(err, fault.NotFound) || (err == nil && ss.AccountID != m.AccountID):
		return unknown(op)
	case err != nil:
		return err
	}
	return s.d.Sessions.End(ctx, sid, session.EndLogout)
}

// EndAll ends every active session of member m, this browser's too ("sign
// out everywhere"), and returns how many. Errors: Unavailable.
func (s *Service) EndAll(ctx context.Context, m Member) (int, error) {
	return s.d.Sessions.EndAll(ctx, m.AccountID, session.EndEverywhere)
}

// record appends an audit event of member m acting on the account page.
// The change is made already: a failure is logged, not returned.
func (s *Service) record(ctx context.Context, kind audit.Kind, m Member, ip string, detail map[string]string) {
	e := audit.Event{
		ID: grant.NewID(), Time: s.clock(), Kind: kind, Actor: audit.Member, AccountID: m.AccountID,
		ClientID: s.cfg.ClientID, IPHash: audit.IPHash(s.cfg.IPKey, ip), Detail: detail,
	}
	if err := s.d.Audit.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "audit event lost", slog.String("kind", string(kind)),
			slog.String("account", m.AccountID), slog.Any("error", err))
	}
}
