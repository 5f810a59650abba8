package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/ports/store"
)

// SupportStore is what RunSupport needs: the member search, the audit
// query and the client updates of support's tasks.
type SupportStore interface {
	store.MemberSearch
	store.MemberImport
	store.AuditQuery
	store.Audit
	store.ClientUpdates
	store.Clients
}

// RunSupport checks store.MemberSearch, store.AuditQuery and
// store.ClientUpdates.
func RunSupport[S SupportStore](t *testing.T, open func(t *testing.T) S) {
	runTests(t, func(t *testing.T) SupportStore { return open(t) }, supportTests)
}

var supportTests = []test[SupportStore]{
	{"MembersByBirthDate", func(t *testing.T, s SupportStore) {
		ctx := t.Context()
		a, b, c := newMember(3), newMember(1), newMember(2)
		c.BirthDate = "1981-02-03"
		must(t, "UpsertMembers", s.UpsertMembers(ctx, []member.Member{a, b, c}))
		got, err := s.MembersByBirthDate(ctx, "1970-01-31", 10)
		must(t, "MembersByBirthDate", err)
		if len(got) != 2 || got[0].KVNR != b.KVNR || got[1].KVNR != a.KVNR {
			t.Fatalf("MembersByBirthDate: got %v, want %s then %s", got, b.KVNR, a.KVNR)
		}
		equal(t, "member as stored", b.Address, got[0].Address)
		if got[0].FamilyName != b.FamilyName || got[0].GivenName != b.GivenName || got[0].Email != b.Email {
			t.Errorf("member read back as %+v", got[0])
		}
		got, err = s.MembersByBirthDate(ctx, "1970-01-31", 1)
		must(t, "MembersByBirthDate limit 1", err)
		if len(got) != 1 || got[0].KVNR != b.KVNR {
			t.Errorf("limit 1: got %v", got)
		}
		for _, limit := range []int{0, -1} {
			got, err = s.MembersByBirthDate(ctx, "1970-01-31", limit)
			must(t, "MembersByBirthDate limit < 1", err)
			if len(got) != 0 {
				t.Errorf("limit %d: %d members", limit, len(got))
			}
		}
		got, err = s.MembersByBirthDate(ctx, "1999-12-31", 10)
		must(t, "MembersByBirthDate nobody", err)
		if len(got) != 0 {
			t.Errorf("nobody born then: got %v", got)
		}
	}},
	{"QueryAudit", func(t *testing.T, s SupportStore) {
		ctx := t.Context()
		e1 := newEvent("ev-1", "acct-1", t0)
		e2 := newEvent("ev-2", "acct-1", t0.Add(time.Minute))
		e2.Kind = audit.AppLogin
		e3 := newEvent("ev-3", "acct-2", t0.Add(2*time.Minute))
		e3.Kind = audit.AppLogin
		e4 := newEvent("ev-4", "acct-1", t0.Add(3*time.Minute))
		e4.Kind = audit.WebLogin
		for _, e := range []audit.Event{e3, e1, e4, e2} {
			must(t, "AppendAudit", s.AppendAudit(ctx, e))
		}
		for _, tc := range []struct {
			name string
			q    audit.Query
			want []audit.Event
		}{
			{"everything", audit.Query{Limit: 10}, []audit.Event{e4, e3, e2, e1}},
			{"limit", audit.Query{Limit: 2}, []audit.Event{e4, e3}},
			{"one account", audit.Query{AccountID: "acct-1", Limit: 10}, []audit.Event{e4, e2, e1}},
			{"kinds", audit.Query{Kinds: []audit.Kind{audit.AppLogin, audit.WebLogin}, Limit: 10}, []audit.Event{e4, e3, e2}},
			{"account and kind", audit.Query{AccountID: "acct-1", Kinds: []audit.Kind{audit.AppLogin}, Limit: 10}, []audit.Event{e2}},
			{"from inclusive", audit.Query{From: t0.Add(time.Minute), Limit: 10}, []audit.Event{e4, e3, e2}},
			{"to exclusive", audit.Query{To: t0.Add(2 * time.Minute), Limit: 10}, []audit.Event{e2, e1}},
			{"range", audit.Query{From: t0.Add(time.Minute), To: t0.Add(3 * time.Minute), Limit: 10}, []audit.Event{e3, e2}},
			{"empty range", audit.Query{From: t0.Add(time.Hour), Limit: 10}, []audit.Event{}},
			{"unknown account", audit.Query{AccountID: "nobody", Limit: 10}, []audit.Event{}},
			{"limit 0", audit.Query{Limit: 0}, nil},
		} {
			got, err := s.QueryAudit(ctx, tc.q)
			must(t, "QueryAudit "+tc.name, err)
			if len(tc.want) == 0 {
				if len(got) != 0 {
					t.Errorf("%s: got %d events, want none", tc.name, len(got))
				}
				continue
			}
			equal(t, tc.name, tc.want, got)
		}
	}},
	{"UpdateClient", func(t *testing.T, s SupportStore) {
		ctx := t.Context()
		c := newClient("portal")
		must(t, "CreateClient", s.CreateClient(ctx, c))
		until := t0.Add(72 * time.Hour)
		got, err := s.UpdateClient(ctx, "portal", func(x *client.Client) error {
			x.Name, x.RedirectURIs = "Neues Portal", []string{"https://portal.example/new"}
			x.PreviousSecretHash, x.SecretHash, x.PreviousSecretUntil = x.SecretHash, "hmac-sha256:new", until
			x.CreatedAt = t0.Add(time.Hour) // cannot change
			return nil
		})
		must(t, "UpdateClient", err)
		want := c
		want.Name, want.RedirectURIs = "Neues Portal", []string{"https://portal.example/new"}
		want.PreviousSecretHash, want.SecretHash, want.PreviousSecretUntil = c.SecretHash, "hmac-sha256:new", until
		equal(t, "UpdateClient's result", want, got)
		stored, err := s.ClientByID(ctx, "portal")
		must(t, "ClientByID", err)
		equal(t, "stored client", want, stored)

		refused := errors.New("refused")
		_, err = s.UpdateClient(ctx, "portal", func(x *client.Client) error {
			x.Name = "half written"
			return refused
		})
		if !errors.Is(err, refused) {
			t.Fatalf("UpdateClient refused by f: got %v, want f's error", err)
		}
		_, err = s.UpdateClient(ctx, "portal", func(x *client.Client) error { x.ID = "other"; return nil })
		wantKind(t, "UpdateClient changing the id", err, fault.Invalid)
		stored, err = s.ClientByID(ctx, "portal")
		must(t, "ClientByID after refusals", err)
		equal(t, "client unchanged by refused updates", want, stored)
		_, err = s.UpdateClient(ctx, "nope", func(*client.Client) error { return nil })
		wantKind(t, "UpdateClient unknown", err, fault.NotFound)

		// PutClient (the clients file) replaces the rollover too.
		must(t, "PutClient", s.PutClient(ctx, c))
		stored, err = s.ClientByID(ctx, "portal")
		must(t, "ClientByID after PutClient", err)
		equal(t, "client as put", c, stored)
	}},
	{"UpdateClientRace", func(t *testing.T, s SupportStore) {
		ctx := t.Context()
		c := newClient("portal")
		c.Scopes = nil
		must(t, "CreateClient", s.CreateClient(ctx, c))
		var wg sync.WaitGroup
		errs := make([]error, N)
		for i := range N {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.UpdateClient(ctx, "portal", func(x *client.Client) error {
					x.Scopes = append(x.Scopes, "s")
					return nil
				})
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if !errors.Is(err, fault.Unavailable) {
				t.Errorf("concurrent UpdateClient: %v", err)
			}
		}
		stored, err := s.ClientByID(ctx, "portal")
		must(t, "ClientByID", err)
		if len(stored.Scopes) != ok {
			t.Errorf("%d updates succeeded, the client has %d scopes: an update was lost", ok, len(stored.Scopes))
		}
	}},
}
