package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/session"
	"github.com/pforte-id/pforte/ports/store"
)

// SessionStore is what RunSessions and RunConsents need: ending a session
// or revoking a consent revokes token families, and expired sessions go
// with DeleteExpired.
type SessionStore interface {
	store.Sessions
	store.Consents
	store.Tokens
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)
}

// RunSessions checks store.Sessions, with the race of a logout against the
// code exchange of a login in the session.
func RunSessions[S SessionStore](t *testing.T, open func(t *testing.T) S) {
	runTests(t, func(t *testing.T) SessionStore { return open(t) }, sessionTests)
}

// RunConsents checks store.Consents.
func RunConsents[S SessionStore](t *testing.T, open func(t *testing.T) S) {
	runTests(t, func(t *testing.T) SessionStore { return open(t) }, consentTests)
}

// newSession is an active session of account acct started at created.
func newSSOSession(id, acct string, created time.Time) session.Session {
	s := session.DefaultPolicy.New(loa.Authentication{Subject: acct, Time: created.Add(-time.Second), BindingID: "bind-" + id},
		loa.Substantial, []string{loa.AMRPassword, loa.AMRHardware, loa.AMRPIN}, "Firefox, Linux", "secret-"+id, created.In(zone))
	s.ID = id
	s.Clients = []string{"portal"}
	return s
}

// sessionFamily is a family of client clientID issued in session sid.
func sessionFamily(id, sid, clientID string) grant.Family {
	f := newFamily(id, "")
	f.SessionID, f.ClientID = sid, clientID
	return f
}

func familyActive(t *testing.T, s store.Tokens, hash string) bool {
	t.Helper()
	_, f, err := s.RefreshToken(t.Context(), hash)
	must(t, "RefreshToken "+hash, err)
	return f.RevokedAt.IsZero()
}

func createSessionFamily(t *testing.T, s store.Tokens, id, sid, clientID string) {
	t.Helper()
	must(t, "CreateFamily "+id, s.CreateFamily(t.Context(), sessionFamily(id, sid, clientID),
		ptr(newRefreshToken("rt-"+id, id)), newAccessToken("at-"+id, id)))
}

func ptr[T any](v T) *T { return &v }

var sessionTests = []test[SessionStore]{
	{"CreateAndRead", func(t *testing.T, s SessionStore) {
		ctx := t.Context()
		ss := newSSOSession("sess-1", "acct-1", t0)
		must(t, "CreateSession", s.CreateSession(ctx, ss))
		got, err := s.SessionByID(ctx, ss.ID)
		must(t, "SessionByID", err)
		equal(t, "session by id", ss, got)
		got, err = s.SessionBySecret(ctx, grant.Hash("secret-sess-1"))
		must(t, "SessionBySecret", err)
		equal(t, "session by secret", ss, got)
		wantKind(t, "CreateSession duplicate id", s.CreateSession(ctx, newSSOSession("sess-1", "acct-2", t0)), fault.Conflict)
		dup := newSSOSession("sess-2", "acct-2", t0)
		dup.SecretHash = ss.SecretHash
		wantKind(t, "CreateSession duplicate secret", s.CreateSession(ctx, dup), fault.Conflict)
		_, err = s.SessionBySecret(ctx, grant.Hash("nope"))
		wantKind(t, "SessionBySecret unknown", err, fault.NotFound)
		_, err = s.SessionByID(ctx, "sess-nope")
		wantKind(t, "SessionByID unknown", err, fault.NotFound)
	}},
	{"Update", func(t *testing.T, s SessionStore) {
		ctx := t.Context()
		ss := newSSOSession("sess-1", "acct-1", t0)
		must(t, "CreateSession", s.CreateSession(ctx, ss))
		later := t0.Add(5 * time.Minute)
		got, err := s.UpdateSession(ctx, ss.ID, func(c *session.Session) error {
			*c = c.Touch(session.DefaultPolicy, later).Served("forms")
			return nil
		})
		must(t, "UpdateSession", err)
		want := ss.Touch(session.DefaultPolicy, later).Served("forms")
		equal(t, "updated session", want, got)
		equal(t, "stored session", want, must1(t, "SessionByID", func() (session.Session, error) { return s.SessionByID(ctx, ss.ID) }))
		_, err = s.UpdateSession(ctx, ss.ID, func(c *session.Session) error {
			c.AccountID = "acct-2"
			return nil
		})
		wantKind(t, "UpdateSession changing the member", err, fault.Invalid)
		refusal := fault.New(fault.Forbidden, "test", "no")
		if _, err := s.UpdateSession(ctx, ss.ID, func(*session.Session) error { return refusal }); err != refusal {
			t.Fatalf("UpdateSession with a refusing f: %v, want that very error", err)
		}
		_, err = s.UpdateSession(ctx, "sess-nope", func(*session.Session) error { return nil })
		wantKind(t, "UpdateSession unknown", err, fault.NotFound)
	}},
	{"EndRevokesItsFamiliesOnly", func(t *testing.T, s SessionStore) {
		ctx := t.Context()
		must(t, "CreateSession 1", s.CreateSession(ctx, newSSOSession("sess-1", "acct-1", t0)))
		must(t, "CreateSession 2", s.CreateSession(ctx, newSSOSession("sess-2", "acct-1", t0)))
		createSessionFamily(t, s, "fam-a", "sess-1", "portal")
		createSessionFamily(t, s, "fam-b", "sess-1", "forms")
		createSessionFamily(t, s, "fam-other", "sess-2", "portal")
		ended, first, err := s.EndSession(ctx, "sess-1", session.EndLogout, t0.Add(time.Minute))
		must(t, "EndSession", err)
		if !first || ended.EndReason != session.EndLogout || !ended.EndedAt.Equal(time.UnixMilli(t0.Add(time.Minute).UnixMilli())) {
			t.Fatalf("EndSession = %+v, first %v", ended, first)
		}
		if familyActive(t, s, "rt-fam-a") || familyActive(t, s, "rt-fam-b") {
			t.Fatal("a family of the ended session is still active")
		}
		if !familyActive(t, s, "rt-fam-other") {
			t.Fatal("a family of another session was revoked")
		}
		again, first, err := s.EndSession(ctx, "sess-1", session.EndDevice, t0.Add(2*time.Minute))
		must(t, "EndSession again", err)
		if first || again.EndReason != session.EndLogout || !again.EndedAt.Equal(ended.EndedAt) {
			t.Fatalf("a second end changed the first: %+v, first %v", again, first)
		}
		_, err = s.UpdateSession(ctx, "sess-1", func(c *session.Session) error { *c = c.Served("x"); return nil })
		wantKind(t, "UpdateSession of an ended session", err, fault.Conflict)
		err = s.CreateFamily(ctx, sessionFamily("fam-late", "sess-1", "portal"), nil, newAccessToken("at-late", "fam-late"))
		wantKind(t, "CreateFamily in an ended session", err, fault.Forbidden)
		err = s.CreateFamily(ctx, sessionFamily("fam-ghost", "sess-nope", "portal"), nil, newAccessToken("at-ghost", "fam-ghost"))
		wantKind(t, "CreateFamily in an unknown session", err, fault.Forbidden)
		_, _, err = s.EndSession(ctx, "sess-nope", session.EndLogout, t0)
		wantKind(t, "EndSession unknown", err, fault.NotFound)
	}},
	{"Active", func(t *testing.T, s SessionStore) {
		ctx := t.Context()
		older := newSSOSession("sess-older", "acct-1", t0.Add(-time.Minute))
		newer := newSSOSession("sess-newer", "acct-1", t0)
		idle := newSSOSession("sess-idle", "acct-1", t0.Add(-session.DefaultPolicy.Idle)) // idle until exactly t0
		gone := newSSOSession("sess-ended", "acct-1", t0)
		other := newSSOSession("sess-other", "acct-2", t0)
		for _, ss := range []session.Session{older, newer, idle, gone, other} {
			must(t, "CreateSession", s.CreateSession(ctx, ss))
		}
		_, _, err := s.EndSession(ctx, gone.ID, session.EndLogout, t0)
		must(t, "EndSession", err)
		got, err := s.ActiveSessions(ctx, "acct-1", t0)
		must(t, "ActiveSessions", err)
		equal(t, "active sessions", []session.Session{newer, older}, got)
		got, err = s.ActiveSessionsOfBinding(ctx, "bind-sess-newer", t0)
		must(t, "ActiveSessionsOfBinding", err)
		equal(t, "active sessions of a binding", []session.Session{newer}, got)
		_, err = s.ActiveSessionsOfBinding(ctx, "", t0)
		wantKind(t, "ActiveSessionsOfBinding without a binding", err, fault.Invalid)
	}},
	{"Expiry", func(t *testing.T, s SessionStore) {
		ctx := t.Context()
		ss := newSSOSession("sess-1", "acct-1", t0)
		must(t, "CreateSession", s.CreateSession(ctx, ss))
		// Kept long after its end, so that a late logout still finds it.
		_, err := s.DeleteExpired(ctx, ss.ExpiresAt.Add(24*time.Hour))
		must(t, "DeleteExpired", err)
		must1(t, "SessionByID after its end", func() (session.Session, error) { return s.SessionByID(ctx, ss.ID) })
		_, err = s.DeleteExpired(ctx, ss.ExpiresAt.Add(91*24*time.Hour))
		must(t, "DeleteExpired", err)
		_, err = s.SessionByID(ctx, ss.ID)
		wantKind(t, "SessionByID long after its end", err, fault.NotFound)
	}},
	{"RaceLogoutAgainstExchange", func(t *testing.T, s SessionStore) {
		// A logout racing the code exchange of a login in the session:
		// whatever the order, no family of the session stays active.
		ctx := t.Context()
		for round := range 10 {
			sid := "sess-race-" + string(rune('a'+round))
			must(t, "CreateSession", s.CreateSession(ctx, newSSOSession(sid, "acct-1", t0)))
			var created atomic.Bool
			var wg sync.WaitGroup
			fid := "fam-" + sid
			wg.Go(func() {
				err := s.CreateFamily(ctx, sessionFamily(fid, sid, "portal"), ptr(newRefreshToken("rt-"+fid, fid)), newAccessToken("at-"+fid, fid))
				if err == nil {
					created.Store(true)
				} else if !errors.Is(err, fault.Forbidden) {
					t.Errorf("CreateFamily: %v", err)
				}
			})
			wg.Go(func() {
				if _, _, err := s.EndSession(ctx, sid, session.EndLogout, t0); err != nil {
					t.Errorf("EndSession: %v", err)
				}
			})
			wg.Wait()
			if created.Load() && familyActive(t, s, "rt-"+fid) {
				t.Fatalf("round %d: a family outlived the logout of its session", round)
			}
		}
	}},
}

// must1 returns f's value, failing on its error.
func must1[T any](t *testing.T, what string, f func() (T, error)) T {
	t.Helper()
	v, err := f()
	must(t, what, err)
	return v
}

var consentTests = []test[SessionStore]{
	{"GrantGrowsAndReads", func(t *testing.T, s SessionStore) {
		ctx := t.Context()
		_, err := s.ConsentOf(ctx, "acct-1", "portal")
		wantKind(t, "ConsentOf before any grant", err, fault.NotFound)
		c, err := s.GrantConsent(ctx, "acct-1", "portal", []string{"openid", "profile"}, t0)
		must(t, "GrantConsent", err)
		if !slices.Equal(c.Scopes, []string{"openid", "profile"}) {
			t.Fatalf("scopes = %v", c.Scopes)
		}
		c, err = s.GrantConsent(ctx, "acct-1", "portal", []string{"email"}, t0.Add(time.Hour))
		must(t, "GrantConsent more", err)
		equal(t, "grown consent", c, must1(t, "ConsentOf", func() (any, error) { return s.ConsentOf(ctx, "acct-1", "portal") }))
		if !slices.Equal(c.Scopes, []string{"email", "openid", "profile"}) {
			t.Fatalf("scopes = %v, want the union", c.Scopes)
		}
		_, err = s.GrantConsent(ctx, "acct-1", "other", []string{"openid"}, t0)
		must(t, "GrantConsent other client", err)
		all, err := s.Consents(ctx, "acct-1")
		must(t, "Consents", err)
		if len(all) != 2 || all[0].ClientID != "other" || all[1].ClientID != "portal" {
			t.Fatalf("Consents = %+v", all)
		}
	}},
	{"ConcurrentGrantsLoseNothing", func(t *testing.T, s SessionStore) {
		ctx := t.Context()
		var wg sync.WaitGroup
		for i := range N {
			wg.Go(func() {
				if _, err := s.GrantConsent(ctx, "acct-1", "portal", []string{"scope-" + string(rune('a'+i))}, t0); err != nil {
					t.Errorf("GrantConsent %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		c, err := s.ConsentOf(ctx, "acct-1", "portal")
		must(t, "ConsentOf", err)
		if len(c.Scopes) != N {
			t.Fatalf("%d scopes stored of %d granted concurrently: %v", len(c.Scopes), N, c.Scopes)
		}
	}},
	{"RevokeEndsThatClientsTokens", func(t *testing.T, s SessionStore) {
		ctx := t.Context()
		_, err := s.GrantConsent(ctx, "acct-1", "portal", []string{"openid"}, t0)
		must(t, "GrantConsent", err)
		createSessionFamily(t, s, "fam-portal", "", "portal")
		createSessionFamily(t, s, "fam-forms", "", "forms")
		n, err := s.RevokeConsent(ctx, "acct-1", "portal", t0)
		must(t, "RevokeConsent", err)
		if n != 1 || familyActive(t, s, "rt-fam-portal") || !familyActive(t, s, "rt-fam-forms") {
			t.Fatalf("RevokeConsent revoked %d families; portal active %v, forms active %v", n,
				familyActive(t, s, "rt-fam-portal"), familyActive(t, s, "rt-fam-forms"))
		}
		_, err = s.ConsentOf(ctx, "acct-1", "portal")
		wantKind(t, "ConsentOf after revocation", err, fault.NotFound)
		_, err = s.RevokeConsent(ctx, "acct-1", "portal", t0)
		wantKind(t, "RevokeConsent again", err, fault.NotFound)
	}},
}
