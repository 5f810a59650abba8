package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/member"
)

type accountRow struct {
	ID           string        `db:"id"`
	KVNR         string        `db:"kvnr"`
	PasswordHash string        `db:"password_hash"`
	Status       string        `db:"status"`
	Proofing     string        `db:"proofing"`
	CreatedAt    sql.NullInt64 `db:"created_at"`
	UpdatedAt    sql.NullInt64 `db:"updated_at"`
}

const accountColumns = `id, kvnr, password_hash, status, proofing, created_at, updated_at`

func (r accountRow) account() (account.Account, error) {
	level, err := loa.ParseLevel(r.Proofing)
	if err != nil {
		return account.Account{}, err
	}
	return account.Account{
		ID:           r.ID,
		KVNR:         kvnr.KVNR(r.KVNR),
		PasswordHash: r.PasswordHash,
		Status:       account.Status(r.Status),
		Proofing:     level,
		CreatedAt:    fromMS(r.CreatedAt),
		UpdatedAt:    fromMS(r.UpdatedAt),
	}, nil
}

// CreateAccount inserts a. Errors: Conflict when the ID or KVNR exists.
func (s *Store) CreateAccount(ctx context.Context, a account.Account) error {
	return s.do(ctx, "sqlstore.CreateAccount", func() error {
		_, err := s.w.ExecContext(ctx, s.db.Rebind(`INSERT INTO accounts (`+accountColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?)`),
			a.ID, string(a.KVNR), a.PasswordHash, string(a.Status), a.Proofing.String(),
			ms(a.CreatedAt), ms(a.UpdatedAt))
		return err
	})
}

// AccountByID returns the account with id. Errors: NotFound.
func (s *Store) AccountByID(ctx context.Context, id string) (account.Account, error) {
	return s.account(ctx, "sqlstore.AccountByID", `id = ?`, id)
}

// AccountByKVNR returns the account of k. Errors: NotFound.
func (s *Store) AccountByKVNR(ctx context.Context, k kvnr.KVNR) (account.Account, error) {
	return s.account(ctx, "sqlstore.AccountByKVNR", `kvnr = ?`, string(k))
}

func (s *Store) account(ctx context.Context, op, where string, arg string) (account.Account, error) {
	var a account.Account
	err := s.do(ctx, op, func() error {
		var r accountRow
		if err := s.db.GetContext(ctx, &r, s.db.Rebind(`SELECT `+accountColumns+` FROM accounts WHERE `+where), arg); err != nil {
			return err
		}
		var err error
		a, err = r.account()
		return err
	})
	return a, err
}

// SetPasswordHash replaces the password hash of account id. Errors: NotFound.
func (s *Store) SetPasswordHash(ctx context.Context, id, hash string, now time.Time) error {
	const op = "sqlstore.SetPasswordHash"
	return s.do(ctx, op, func() error {
		n, err := exec(ctx, s.w, s.db.Rebind(`UPDATE accounts SET password_hash = ?, updated_at = ? WHERE id = ?`),
			hash, ms(now), id)
		if err == nil && n == 0 {
			return fault.New(fault.NotFound, op, "")
		}
		return err
	})
}

// SetAccountStatus changes the status of account id. Errors: NotFound.
func (s *Store) SetAccountStatus(ctx context.Context, id string, st account.Status, now time.Time) error {
	const op = "sqlstore.SetAccountStatus"
	return s.do(ctx, op, func() error {
		n, err := exec(ctx, s.w, s.db.Rebind(`UPDATE accounts SET status = ?, updated_at = ? WHERE id = ?`),
			string(st), ms(now), id)
		if err == nil && n == 0 {
			return fault.New(fault.NotFound, op, "")
		}
		return err
	})
}

type memberRow struct {
	KVNR         string        `db:"kvnr"`
	GivenName    string        `db:"given_name"`
	FamilyName   string        `db:"family_name"`
	BirthDate    string        `db:"birth_date"`
	Street       string        `db:"street"`
	PostalCode   string        `db:"postal_code"`
	Locality     string        `db:"locality"`
	Country      string        `db:"country"`
	Email        string        `db:"email"`
	InsuredFrom  sql.NullInt64 `db:"insured_from"`
	InsuredUntil sql.NullInt64 `db:"insured_until"`
	UpdatedAt    sql.NullInt64 `db:"updated_at"`
	RemovedAt    sql.NullInt64 `db:"removed_at"`
}

const memberColumns = `kvnr, given_name, family_name, birth_date, street, postal_code, locality, country,
	email, insured_from, insured_until, updated_at`

// UpsertMember inserts m or replaces the record with m's KVNR.
func (s *Store) UpsertMember(ctx context.Context, m member.Member) error {
	return s.do(ctx, "sqlstore.UpsertMember", func() error {
		_, err := s.w.ExecContext(ctx, s.db.Rebind(`INSERT INTO members (`+memberColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (kvnr) DO UPDATE SET
				given_name = excluded.given_name, family_name = excluded.family_name,
				birth_date = excluded.birth_date, street = excluded.street,
				postal_code = excluded.postal_code, locality = excluded.locality,
				country = excluded.country, email = excluded.email,
				insured_from = excluded.insured_from, insured_until = excluded.insured_until,
				updated_at = excluded.updated_at, removed_at = NULL`),
			string(m.KVNR), m.GivenName, m.FamilyName, m.BirthDate,
			m.Address.Street, m.Address.PostalCode, m.Address.Locality, m.Address.Country,
			m.Email, ms(m.InsuredFrom), ms(m.InsuredUntil), ms(m.UpdatedAt))
		return err
	})
}

// MemberByKVNR returns the member k. Errors: NotFound.
func (s *Store) MemberByKVNR(ctx context.Context, k kvnr.KVNR) (member.Member, error) {
	var m member.Member
	err := s.do(ctx, "sqlstore.MemberByKVNR", func() error {
		var r memberRow
		if err := s.db.GetContext(ctx, &r, s.db.Rebind(`SELECT `+memberColumns+`, removed_at FROM members WHERE kvnr = ?`), string(k)); err != nil {
			return err
		}
		m = r.member()
		return nil
	})
	return m, err
}

// MembersByBirthDate returns the members born on birthDate (YYYY-MM-DD),
// ordered by KVNR, at most limit (none when limit < 1).
func (s *Store) MembersByBirthDate(ctx context.Context, birthDate string, limit int) ([]member.Member, error) {
	var out []member.Member
	err := s.do(ctx, "sqlstore.MembersByBirthDate", func() error {
		out = nil
		if limit < 1 {
			return nil
		}
		var rows []memberRow
		if err := s.db.SelectContext(ctx, &rows, s.db.Rebind(`SELECT `+memberColumns+`, removed_at FROM members
				WHERE birth_date = ? ORDER BY kvnr LIMIT ?`), birthDate, limit); err != nil {
			return err
		}
		out = make([]member.Member, 0, len(rows))
		for _, r := range rows {
			out = append(out, r.member())
		}
		return nil
	})
	return out, err
}

func (r memberRow) member() member.Member {
	return member.Member{
		KVNR:       kvnr.KVNR(r.KVNR),
		GivenName:  r.GivenName,
		FamilyName: r.FamilyName,
		BirthDate:  r.BirthDate,
		Address: member.Address{
			Street:     r.Street,
			PostalCode: r.PostalCode,
			Locality:   r.Locality,
			Country:    r.Country,
		},
		Email:        r.Email,
		InsuredFrom:  fromMS(r.InsuredFrom),
		InsuredUntil: fromMS(r.InsuredUntil),
		UpdatedAt:    fromMS(r.UpdatedAt),
		RemovedAt:    fromMS(r.RemovedAt),
	}
}
