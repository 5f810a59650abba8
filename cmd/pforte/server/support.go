package server

import (
	"slices"

	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/selfservice"
	"github.com/pforte-id/pforte/core/support"
)

// newSupport builds support staff's use case (the admin API's and the
// operator CLI's) over s's store and use cases, with sessions ending
// through sessions (the SSO service when serving, the Ender in an
// operator command). Clients the configuration declares (the clients
// file) and the built-in account page's client are declared: their
// definition comes back at every start, so support may not edit them.
func (s *Server) newSupport(sessions support.Sessions, deleter support.Deleter, secrets client.SecretHasher) (*support.Service, error) {
	declared := []string{selfservice.DefaultClientID}
	for _, c := range s.opts.Clients {
		declared = append(declared, c.ID)
	}
	return support.New(support.Deps{
		Accounts: s.store, Members: s.store, Search: s.store, LatestLetters: s.store, Devices: s.store,
		Families: s.store, ActiveSessions: s.store, Audit: s.metrics.Audit(s.store), AuditQuery: s.store,
		Bindings: s.bind, Sessions: sessions, Letters: s.reg, Lockouts: s.login, Clients: s.store, Deleter: deleter, Secrets: secrets,
		Declared: func(id string) bool { return slices.Contains(declared, id) },
		Now:      s.opts.Now, Logger: s.opts.Log,
	})
}

// Support is support staff's use case of an operator command, its
// sessions ended with the servers' back-channel logout left to their
// sweep (sso.Ender). Declared clients are those of the options the
// backend was opened with: the command passes the configuration's
// clients file.
func (b *Backend) Support() (*support.Service, error) {
	p, err := b.s.opts.parts()
	if err != nil {
		return nil, err
	}
	deleter, err := b.s.newLifecycle(p.lifecycle, b.s.ender)
	if err != nil {
		return nil, err
	}
	return b.s.newSupport(b.s.ender, deleter, b.secrets)
}
