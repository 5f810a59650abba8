package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/logoutjob"
)

const logoutJobColumns = `id, session_id, client_id, subject, account_id, created_at, due_at, attempts, last_error`

type logoutJobRow struct {
	ID        string `db:"id"`
	SessionID string `db:"session_id"`
	ClientID  string `db:"client_id"`
	Subject   string `db:"subject"`
	AccountID string `db:"account_id"`
	CreatedAt int64  `db:"created_at"`
	DueAt     int64  `db:"due_at"`
	Attempts  int    `db:"attempts"`
	LastError string `db:"last_error"`
}

func (r logoutJobRow) job() logoutjob.Job {
	return logoutjob.Job{
		ID: r.ID, SessionID: r.SessionID, ClientID: r.ClientID, Subject: r.Subject, AccountID: r.AccountID,
		CreatedAt: fromMSInt(r.CreatedAt), DueAt: fromMSInt(r.DueAt), Attempts: r.Attempts, LastError: r.LastError,
	}
}

// EnqueueLogoutJobs stores jobs in one transaction, leaving out those
// whose session, client and subject are queued already (the unique index
// logout_jobs_target with ON CONFLICT … DO NOTHING, which both engines
// decide atomically). Errors: Invalid; Conflict on a duplicate ID.
func (s *Store) EnqueueLogoutJobs(ctx context.Context, jobs []logoutjob.Job) (int, error) {
	const op = "sqlstore.EnqueueLogoutJobs"
	for _, j := range jobs {
		if j.ID == "" || j.SessionID == "" || j.ClientID == "" {
			return 0, fault.New(fault.Invalid, op, "a logout job needs an id, a session and a client")
		}
	}
	var stored int
	err := s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		stored = 0
		for _, j := range jobs {
			n, err := exec(ctx, tx, tx.Rebind(`INSERT INTO logout_jobs (`+logoutJobColumns+`)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (session_id, client_id, subject) DO NOTHING`),
				j.ID, j.SessionID, j.ClientID, j.Subject, j.AccountID, msInt(j.CreatedAt), msInt(j.DueAt),
				j.Attempts, j.LastError)
			if err != nil {
				return err
			}
			stored += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return stored, nil
}

// ClaimLogoutJobs leases up to n due jobs whose lease is free at now, as
// ClaimLetters does (FOR UPDATE SKIP LOCKED on PostgreSQL, the IMMEDIATE
// transaction on SQLite), and sets claim and one more attempt on them in
// the same statement. Errors: Invalid for an empty claim.
func (s *Store) ClaimLogoutJobs(ctx context.Context, n int, claim string, now, leaseUntil time.Time) ([]logoutjob.Job, error) {
	const op = "sqlstore.ClaimLogoutJobs"
	if claim == "" {
		return nil, fault.New(fault.Invalid, op, "a claim is needed")
	}
	var out []logoutjob.Job
	err := s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		out = nil
		if n < 1 {
			return nil
		}
		const due = `due_at <= ? AND (lease_until IS NULL OR lease_until <= ?)`
		const set = `SET lease_until = ?, claim = ?, attempts = attempts + 1`
		var query string
		var args []any
		if s.driver == DriverPostgres {
			query = `WITH claimed AS (
					SELECT id AS claimed_id FROM logout_jobs WHERE ` + due + `
					ORDER BY due_at, id LIMIT ? FOR UPDATE SKIP LOCKED)
				UPDATE logout_jobs ` + set + ` FROM claimed WHERE id = claimed.claimed_id
				RETURNING ` + logoutJobColumns
			args = []any{msInt(now), msInt(now), n, msInt(leaseUntil), claim}
		} else {
			query = `UPDATE logout_jobs ` + set + ` WHERE id IN (
					SELECT id FROM logout_jobs WHERE ` + due + ` ORDER BY due_at, id LIMIT ?)
				RETURNING ` + logoutJobColumns
			args = []any{msInt(leaseUntil), claim, msInt(now), msInt(now), n}
		}
		var rows []logoutJobRow
		if err := tx.SelectContext(ctx, &rows, tx.Rebind(query), args...); err != nil {
			return err
		}
		out = make([]logoutjob.Job, 0, len(rows))
		for _, r := range rows {
			out = append(out, r.job())
		}
		// RETURNING has no order.
		slices.SortFunc(out, func(a, b logoutjob.Job) int {
			return cmp.Or(a.DueAt.Compare(b.DueAt), strings.Compare(a.ID, b.ID))
		})
		return nil
	})
	return out, err
}

// FinishLogoutJob removes job id if claim holds it, in one conditional
// DELETE. Errors: NotFound; Conflict (another claim holds it).
func (s *Store) FinishLogoutJob(ctx context.Context, id, claim string) error {
	const op = "sqlstore.FinishLogoutJob"
	return s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		n, err := exec(ctx, tx, tx.Rebind(`DELETE FROM logout_jobs WHERE id = ? AND claim = ? AND claim <> ''`), id, claim)
		if err != nil || n == 1 {
			return err
		}
		return lostClaim(ctx, tx, op, id)
	})
}

// RetryLogoutJob releases job id held under claim until dueAt, in one
// conditional UPDATE. Errors: NotFound; Conflict.
func (s *Store) RetryLogoutJob(ctx context.Context, id, claim string, dueAt time.Time, lastError string) error {
	const op = "sqlstore.RetryLogoutJob"
	return s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		n, err := exec(ctx, tx, tx.Rebind(`UPDATE logout_jobs SET due_at = ?, last_error = ?, lease_until = NULL, claim = ''
			WHERE id = ? AND claim = ? AND claim <> ''`), msInt(dueAt), lastError, id, claim)
		if err != nil || n == 1 {
			return err
		}
		return lostClaim(ctx, tx, op, id)
	})
}

// lostClaim names why a conditional change of job id matched no row:
// NotFound when it is gone, else Conflict.
func lostClaim(ctx context.Context, tx *sqlx.Tx, op, id string) error {
	var one int
	err := tx.GetContext(ctx, &one, tx.Rebind(`SELECT 1 FROM logout_jobs WHERE id = ?`), id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fault.New(fault.NotFound, op, "")
	case err != nil:
		return err
	}
	return fault.New(fault.Conflict, op, "the job is held under another claim")
}

// CountLogoutJobs returns the number of queued jobs.
func (s *Store) CountLogoutJobs(ctx context.Context) (int, error) {
	var n int
	err := s.do(ctx, "sqlstore.CountLogoutJobs", func() error {
		return s.db.GetContext(ctx, &n, `SELECT COUNT(*) FROM logout_jobs`)
	})
	return n, err
}
