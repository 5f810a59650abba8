package storetest

import (
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/ports/store"
)

var accountTests = []test[store.Accounts]{
	{"RoundTrip", func(t *testing.T, s store.Accounts) {
		ctx := t.Context()
		a := newAccount(1)
		must(t, "CreateAccount", s.CreateAccount(ctx, a))
		got, err := s.AccountByID(ctx, a.ID)
		must(t, "AccountByID", err)
		equal(t, "AccountByID", a, got)
		got, err = s.AccountByKVNR(ctx, a.KVNR)
		must(t, "AccountByKVNR", err)
		equal(t, "AccountByKVNR", a, got)
	}},
	{"ZeroValues", func(t *testing.T, s store.Accounts) {
		ctx := t.Context()
		a := account.Account{ID: "acct-zero", KVNR: kvnrOf(2), Status: account.Pending, Proofing: loa.None}
		must(t, "CreateAccount", s.CreateAccount(ctx, a))
		got, err := s.AccountByID(ctx, a.ID)
		must(t, "AccountByID", err)
		equal(t, "AccountByID", a, got)
		if !got.CreatedAt.IsZero() || !got.UpdatedAt.IsZero() {
			t.Errorf("zero times came back as %v, %v", got.CreatedAt, got.UpdatedAt)
		}
	}},
	{"UTCRoundTrip", func(t *testing.T, s store.Accounts) {
		ctx := t.Context()
		a := newAccount(3)
		a.CreatedAt = time.Date(2030, 12, 31, 23, 59, 59, 999_400_000, time.FixedZone("UTC-11", -11*3600))
		must(t, "CreateAccount", s.CreateAccount(ctx, a))
		got, err := s.AccountByID(ctx, a.ID)
		must(t, "AccountByID", err)
		sameInstant(t, "CreatedAt", a.CreatedAt, got.CreatedAt)
		if got.CreatedAt.Year() != 2031 || got.CreatedAt.Hour() != 10 {
			t.Errorf("CreatedAt %v: want 2031-01-01 10:59:59.999 UTC", got.CreatedAt)
		}
	}},
	{"NotFound", func(t *testing.T, s store.Accounts) {
		ctx := t.Context()
		_, err := s.AccountByID(ctx, "nobody")
		wantKind(t, "AccountByID", err, fault.NotFound)
		_, err = s.AccountByKVNR(ctx, kvnrOf(4))
		wantKind(t, "AccountByKVNR", err, fault.NotFound)
		wantKind(t, "SetPasswordHash", s.SetPasswordHash(ctx, "nobody", "h", t0), fault.NotFound)
		wantKind(t, "SetAccountStatus", s.SetAccountStatus(ctx, "nobody", account.Blocked, t0), fault.NotFound)
	}},
	{"Conflict", func(t *testing.T, s store.Accounts) {
		ctx := t.Context()
		a := newAccount(5)
		must(t, "CreateAccount", s.CreateAccount(ctx, a))
		sameID := newAccount(6)
		sameID.ID = a.ID
		wantKind(t, "CreateAccount same ID", s.CreateAccount(ctx, sameID), fault.Conflict)
		sameKVNR := newAccount(5)
		sameKVNR.ID = "acct-other"
		wantKind(t, "CreateAccount same KVNR", s.CreateAccount(ctx, sameKVNR), fault.Conflict)
		got, err := s.AccountByID(ctx, a.ID)
		must(t, "AccountByID", err)
		equal(t, "account after conflicts", a, got)
	}},
	{"Updates", func(t *testing.T, s store.Accounts) {
		ctx := t.Context()
		a := newAccount(7)
		must(t, "CreateAccount", s.CreateAccount(ctx, a))
		later := t0.Add(time.Hour)
		must(t, "SetPasswordHash", s.SetPasswordHash(ctx, a.ID, "$argon2id$new", later))
		a.PasswordHash, a.UpdatedAt = "$argon2id$new", later
		got, err := s.AccountByID(ctx, a.ID)
		must(t, "AccountByID", err)
		equal(t, "after SetPasswordHash", a, got)

		later = later.Add(time.Hour)
		must(t, "SetAccountStatus", s.SetAccountStatus(ctx, a.ID, account.Blocked, later))
		a.Status, a.UpdatedAt = account.Blocked, later
		got, err = s.AccountByKVNR(ctx, a.KVNR)
		must(t, "AccountByKVNR", err)
		equal(t, "after SetAccountStatus", a, got)
	}},
}

var memberTests = []test[MemberStore]{
	{"Upsert", func(t *testing.T, s MemberStore) {
		ctx := t.Context()
		m := newMember(1)
		must(t, "UpsertMember insert", s.UpsertMember(ctx, m))
		got, err := s.MemberByKVNR(ctx, m.KVNR)
		must(t, "MemberByKVNR", err)
		equal(t, "inserted member", m, got)
		if !got.InsuredUntil.IsZero() {
			t.Errorf("open-ended InsuredUntil came back as %v", got.InsuredUntil)
		}

		m.Address.Street = "Am Wall 2"
		m.Email = ""
		m.InsuredUntil = time.Date(2031, 12, 31, 0, 0, 0, 0, time.UTC)
		m.UpdatedAt = t0.Add(time.Hour)
		must(t, "UpsertMember replace", s.UpsertMember(ctx, m))
		got, err = s.MemberByKVNR(ctx, m.KVNR)
		must(t, "MemberByKVNR", err)
		equal(t, "replaced member", m, got)
	}},
	{"NotFound", func(t *testing.T, s MemberStore) {
		_, err := s.MemberByKVNR(t.Context(), kvnrOf(9))
		wantKind(t, "MemberByKVNR", err, fault.NotFound)
	}},
}

var clientTests = []test[store.Clients]{
	{"RoundTrip", func(t *testing.T, s store.Clients) {
		ctx := t.Context()
		c := newClient("portal")
		must(t, "CreateClient", s.CreateClient(ctx, c))
		got, err := s.ClientByID(ctx, c.ID)
		must(t, "ClientByID", err)
		equal(t, "ClientByID", c, got)
		if got.AccessTokenTTL != c.AccessTokenTTL || got.IDTokenTTL != c.IDTokenTTL {
			t.Errorf("TTLs: got %v/%v, want %v/%v", got.AccessTokenTTL, got.IDTokenTTL, c.AccessTokenTTL, c.IDTokenTTL)
		}
	}},
	{"EmptyFields", func(t *testing.T, s store.Clients) {
		ctx := t.Context()
		c := client.Client{ID: "svc", Kind: client.Service, AuthMethod: client.AuthSecretBasic,
			SecretHash: "hmac-sha256:x", GrantTypes: []string{client.GrantClientCredentials}}
		must(t, "CreateClient", s.CreateClient(ctx, c))
		got, err := s.ClientByID(ctx, c.ID)
		must(t, "ClientByID", err)
		equal(t, "ClientByID", c, got)
	}},
	{"Conflict", func(t *testing.T, s store.Clients) {
		ctx := t.Context()
		c := newClient("portal")
		must(t, "CreateClient", s.CreateClient(ctx, c))
		other := newClient("portal")
		other.Name = "someone else"
		wantKind(t, "CreateClient duplicate", s.CreateClient(ctx, other), fault.Conflict)
		got, err := s.ClientByID(ctx, c.ID)
		must(t, "ClientByID", err)
		equal(t, "client after conflict", c, got)
	}},
	{"Put", func(t *testing.T, s store.Clients) {
		ctx := t.Context()
		c := newClient("web")
		must(t, "PutClient insert", s.PutClient(ctx, c))
		c.Name = "Renamed"
		c.JWKS = nil
		c.RedirectURIs = []string{"https://web.example/only"}
		c.PostLogoutRedirectURIs = nil
		c.IntrospectionAudiences = []string{"postfach-api"}
		c.AccessTokenTTL = 0
		c.CreatedAt = t0.Add(time.Hour)
		must(t, "PutClient replace", s.PutClient(ctx, c))
		got, err := s.ClientByID(ctx, c.ID)
		must(t, "ClientByID", err)
		equal(t, "replaced client", c, got)
	}},
	{"ListOrderedByID", func(t *testing.T, s store.Clients) {
		ctx := t.Context()
		list, err := s.ListClients(ctx)
		must(t, "ListClients empty", err)
		if len(list) != 0 {
			t.Fatalf("empty store lists %d clients", len(list))
		}
		// Byte order: upper case before lower case, "-" before letters.
		for _, id := range []string{"b", "a-1", "B", "a"} {
			must(t, "CreateClient "+id, s.CreateClient(ctx, newClient(id)))
		}
		list, err = s.ListClients(ctx)
		must(t, "ListClients", err)
		var ids []string
		for _, c := range list {
			ids = append(ids, c.ID)
		}
		equal(t, "ListClients order", []string{"B", "a", "a-1", "b"}, ids)
		equal(t, "listed client", newClient("B"), list[0])
	}},
	{"Delete", func(t *testing.T, s store.Clients) {
		ctx := t.Context()
		must(t, "CreateClient", s.CreateClient(ctx, newClient("gone")))
		must(t, "DeleteClient", s.DeleteClient(ctx, "gone"))
		_, err := s.ClientByID(ctx, "gone")
		wantKind(t, "ClientByID after delete", err, fault.NotFound)
		wantKind(t, "DeleteClient again", s.DeleteClient(ctx, "gone"), fault.NotFound)
		must(t, "CreateClient after delete", s.CreateClient(ctx, newClient("gone")))
	}},
}
