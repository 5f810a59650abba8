package sqlstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/member"
)

// BenchmarkLogin runs the store side of one code-flow login: create the
// request, record the login, issue and redeem the code, create the token
// family. go test -run '^$' -bench Login ./adapters/sqlstore/
func BenchmarkLogin(b *testing.B) {
	for _, e := range engines() {
		b.Run(e.name, func(b *testing.B) {
			s := migrated(b, e.open(b))
			ctx := b.Context()
			now := time.Now()
			// Logins wait on the database, not on the CPU: model many
			// concurrent requests per core.
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					id := grant.NewID()
					r := grant.AuthRequest{ID: id, ClientID: "c", RedirectURI: "https://x/cb", Scopes: []string{"openid"},
						CodeChallenge: "x", CodeChallengeMethod: "S256", CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
					check(b, s.CreateAuthRequest(ctx, r))
					l := grant.Login{Subject: "acct", AuthTime: now, AMR: []string{"pwd"}, ACR: "low"}
					check(b, s.CompleteAuthRequest(ctx, id, l, now))
					r.Login = &l
					code := grant.Code{Hash: grant.Hash(id), Request: r, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
					check(b, s.IssueCode(ctx, code))
					_, err := s.RedeemCode(ctx, code.Hash, now)
					check(b, err)
					f := grant.Family{ID: id, ClientID: "c", Subject: "acct", CodeHash: code.Hash, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
					rt := grant.RefreshToken{Hash: "rt" + id, FamilyID: id, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
					at := grant.AccessToken{JTI: "at" + id, FamilyID: id, ClientID: "c", Subject: "acct", IssuedAt: now, ExpiresAt: now.Add(5 * time.Minute)}
					check(b, s.CreateFamily(ctx, f, &rt, at))
				}
			})
		})
	}
}

// BenchmarkAccessToken looks up access tokens by JTI (introspection).
func BenchmarkAccessToken(b *testing.B) {
	for _, e := range engines() {
		b.Run(e.name, func(b *testing.B) {
			s := migrated(b, e.open(b))
			ctx := b.Context()
			now := time.Now()
			const n = 1000
			for i := range n {
				at := grant.AccessToken{JTI: fmt.Sprint(i), ClientID: "c", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
				check(b, s.CreateAccessToken(ctx, at))
			}
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					_, err := s.AccessToken(ctx, fmt.Sprint(i%n))
					check(b, err)
					i++
				}
			})
		})
	}
}

func check(b *testing.B, err error) {
	if err != nil {
		b.Error(err)
	}
}

// BenchmarkUpsertMembers imports 100,000 members in batches of 1,000 (one
// transaction each, as `pforte members import` does) and reports rows/s:
// "new" inserts fresh members, "unchanged" imports the same rows again.
// go test -run '^$' -bench UpsertMembers -benchtime 1x ./adapters/sqlstore/
func BenchmarkUpsertMembers(b *testing.B) {
	const rows, batch = 100_000, 1000
	for _, e := range engines() {
		b.Run(e.name, func(b *testing.B) {
			s := migrated(b, e.open(b))
			ctx := b.Context()
			now := time.Now().UTC()
			members := func(round int) []member.Member {
				ms := make([]member.Member, rows)
				for i := range ms {
					k, err := kvnr.WithCheckDigit(fmt.Sprintf("M%08d", round*rows+i))
					if err != nil {
						b.Fatal(err)
					}
					ms[i] = member.Member{
						KVNR: k, GivenName: "Erika", FamilyName: fmt.Sprintf("Mustermann-%d", i), BirthDate: "1964-08-12",
						Address: member.Address{Street: "Heidestraße 17", PostalCode: "51147", Locality: "Köln", Country: "DE"},
						Email:   fmt.Sprintf("erika.%d@example.org", i), InsuredFrom: time.Date(2001, 4, 1, 0, 0, 0, 0, time.UTC),
						UpdatedAt: now,
					}
				}
				return ms
			}
			load := func(b *testing.B, ms []member.Member) {
				start := time.Now()
				for i := 0; i < len(ms); i += batch {
					check(b, s.UpsertMembers(ctx, ms[i:min(i+batch, len(ms))]))
				}
				b.ReportMetric(float64(len(ms))/time.Since(start).Seconds(), "rows/s")
			}
			b.Run("new", func(b *testing.B) {
				round := 0
				for b.Loop() {
					b.StopTimer()
					ms := members(round)
					round++
					b.StartTimer()
					load(b, ms)
				}
			})
			b.Run("unchanged", func(b *testing.B) {
				ms := members(0)
				for b.Loop() {
					load(b, ms)
				}
			})
		})
	}
}
