package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/member"
)

const letterColumns = `id, kvnr, recipient, state, password_hash, code_hash, failed_attempts,
	created_at, expires_at, rendered_at, handed_over_at, activated_at, voided_at, void_reason, outbox_name`

type letterRow struct {
	ID             string        `db:"id"`
	KVNR           string        `db:"kvnr"`
	Recipient      string        `db:"recipient"`
	State          string        `db:"state"`
	PasswordHash   string        `db:"password_hash"`
	CodeHash       string        `db:"code_hash"`
	FailedAttempts int           `db:"failed_attempts"`
	CreatedAt      int64         `db:"created_at"`
	ExpiresAt      int64         `db:"expires_at"`
	RenderedAt     sql.NullInt64 `db:"rendered_at"`
	HandedOverAt   sql.NullInt64 `db:"handed_over_at"`
	ActivatedAt    sql.NullInt64 `db:"activated_at"`
	VoidedAt       sql.NullInt64 `db:"voided_at"`
	VoidReason     string        `db:"void_reason"`
	OutboxName     string        `db:"outbox_name"`
}

func (r letterRow) letter() (letter.Letter, error) {
	rec, err := decodeRecipient(r.Recipient)
	if err != nil {
		return letter.Letter{}, err
	}
	return letter.Letter{
		ID:             r.ID,
		KVNR:           kvnr.KVNR(r.KVNR),
		Recipient:      rec,
		State:          letter.State(r.State),
		PasswordHash:   r.PasswordHash,
		CodeHash:       r.CodeHash,
		FailedAttempts: r.FailedAttempts,
		CreatedAt:      fromMSInt(r.CreatedAt),
		ExpiresAt:      fromMSInt(r.ExpiresAt),
		RenderedAt:     fromMS(r.RenderedAt),
		HandedOverAt:   fromMS(r.HandedOverAt),
		ActivatedAt:    fromMS(r.ActivatedAt),
		VoidedAt:       fromMS(r.VoidedAt),
		VoidReason:     r.VoidReason,
		OutboxName:     r.OutboxName,
	}, nil
}

func lettersOf(rows []letterRow) ([]letter.Letter, error) {
	out := make([]letter.Letter, 0, len(rows))
	for _, r := range rows {
		l, err := r.letter()
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// addressJSON is the stored form of a postal address. The JSON names are
// the storage format: they must not change with the Go field names.
type addressJSON struct {
	Street     string `json:"street"`
	PostalCode string `json:"postal_code"`
	Locality   string `json:"locality"`
	Country    string `json:"country"`
}

func toAddressJSON(a member.Address) addressJSON {
	return addressJSON{Street: a.Street, PostalCode: a.PostalCode, Locality: a.Locality, Country: a.Country}
}

func (a addressJSON) address() member.Address {
	return member.Address{Street: a.Street, PostalCode: a.PostalCode, Locality: a.Locality, Country: a.Country}
}

type recipientJSON struct {
	Name    string      `json:"name"`
	Address addressJSON `json:"address"`
}

func encodeRecipient(r letter.Recipient) string {
	b, err := json.Marshal(recipientJSON{Name: r.Name, Address: toAddressJSON(r.Address)})
	if err != nil {
		// Marshalling strings cannot fail.
		panic(err)
	}
	return string(b)
}

func decodeRecipient(s string) (letter.Recipient, error) {
	var r recipientJSON
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return letter.Recipient{}, err
	}
	return letter.Recipient{Name: r.Name, Address: r.Address.address()}, nil
}

// CreateLetter inserts l in state Requested and voids (reason superseded)
// every earlier letter of l.KVNR that is neither activated nor voided, in
// one transaction, unless a letter of l.KVNR was created at or after
// notBefore; a letter voided by wrong attempts does not count (see
// store.Letters). Errors: Conflict (too soon, or a duplicate ID).
//
// The check and the insert must not interleave with another CreateLetter
// for the same member, or two requests at once would both find no recent
// letter and leave two valid letters. On SQLite the transaction begins
// IMMEDIATE and so holds the database's write lock from the start. On
// PostgreSQL (READ COMMITTED) the transaction first takes an advisory lock
// on the member number, held until commit: the second caller waits for it,
// and its check then runs on a snapshot that contains the first letter. An
// advisory lock works whether or not the member is in the directory.
func (s *Store) CreateLetter(ctx context.Context, l letter.Letter, notBefore, now time.Time) error {
	const op = "sqlstore.CreateLetter"
	return s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		if err := s.lockLetters(ctx, tx, l.KVNR); err != nil {
			return err
		}
		var recent int
		if err := tx.GetContext(ctx, &recent, tx.Rebind(`SELECT COUNT(*) FROM letters WHERE kvnr = ? AND created_at >= ?
				AND NOT (state = ? AND void_reason = ?)`),
			string(l.KVNR), msInt(notBefore), string(letter.Voided), letter.ReasonAttempts); err != nil {
			return err
		}
		if recent > 0 {
			return fault.New(fault.Conflict, op, "")
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE letters SET state = ?, void_reason = ?, voided_at = ?
			WHERE kvnr = ? AND state NOT IN (?, ?)`),
			string(letter.Voided), letter.ReasonSuperseded, ms(now),
			string(l.KVNR), string(letter.Activated), string(letter.Voided)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO letters (`+letterColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			l.ID, string(l.KVNR), encodeRecipient(l.Recipient), string(letter.Requested),
			l.PasswordHash, l.CodeHash, l.FailedAttempts, msInt(l.CreatedAt), msInt(l.ExpiresAt),
			ms(l.RenderedAt), ms(l.HandedOverAt), ms(l.ActivatedAt), ms(l.VoidedAt), l.VoidReason, l.OutboxName)
		return err
	})
}

// lockLetters serialises CreateLetter per member on PostgreSQL with a
// transaction-scoped advisory lock on a hash of the member number (see
// CreateLetter). A hash collision between two members only makes them
// wait for each other. On SQLite it does nothing: the IMMEDIATE
// transaction holds the write lock already.
func (s *Store) lockLetters(ctx context.Context, tx *sqlx.Tx, k kvnr.KVNR) error {
	if s.driver != DriverPostgres {
		return nil
	}
	h := fnv.New64a()
	h.Write([]byte("pforte-letters:" + string(k)))
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(h.Sum64()))
	return err
}

// LetterByID returns letter id. Errors: NotFound.
func (s *Store) LetterByID(ctx context.Context, id string) (letter.Letter, error) {
	return s.oneLetter(ctx, "sqlstore.LetterByID", `id = ?`, id)
}

// LatestLetter returns the newest letter of k (by creation time, then ID).
// Errors: NotFound.
func (s *Store) LatestLetter(ctx context.Context, k kvnr.KVNR) (letter.Letter, error) {
	// Of letters created in the same millisecond (a letter and the one
	// that superseded it), the one not voided is the newer.
	return s.oneLetter(ctx, "sqlstore.LatestLetter", `kvnr = ? ORDER BY created_at DESC,
		CASE WHEN state = '`+string(letter.Voided)+`' THEN 1 ELSE 0 END, id DESC LIMIT 1`, string(k))
}

func (s *Store) oneLetter(ctx context.Context, op, where, arg string) (letter.Letter, error) {
	var l letter.Letter
	err := s.do(ctx, op, func() error {
		var r letterRow
		if err := s.db.GetContext(ctx, &r, s.db.Rebind(`SELECT `+letterColumns+` FROM letters WHERE `+where), arg); err != nil {
			return err
		}
		var err error
		l, err = r.letter()
		return err
	})
	return l, err
}

// ListLetters returns letters in state (all states when empty), newest
// first, at most limit (none when limit < 1).
func (s *Store) ListLetters(ctx context.Context, state letter.State, limit int) ([]letter.Letter, error) {
	var out []letter.Letter
	err := s.do(ctx, "sqlstore.ListLetters", func() error {
		if limit < 1 {
			return ctx.Err()
		}
		var rows []letterRow
		var err error
		if state == "" {
			err = s.db.SelectContext(ctx, &rows, s.db.Rebind(`SELECT `+letterColumns+` FROM letters
				ORDER BY created_at DESC, id DESC LIMIT ?`), limit)
		} else {
			err = s.db.SelectContext(ctx, &rows, s.db.Rebind(`SELECT `+letterColumns+` FROM letters
				WHERE state = ? ORDER BY created_at DESC, id DESC LIMIT ?`), string(state), limit)
		}
		if err != nil {
			return err
		}
		out, err = lettersOf(rows)
		return err
	})
	return out, err
}

// ClaimLetters leases up to n letters in state Requested or Rendered whose
// lease is free at now (none, or lease_until <= now), oldest first, until
// leaseUntil. Concurrent claimers never get the same letter while its lease
// runs: on PostgreSQL the candidates are locked with FOR UPDATE SKIP LOCKED,
// so a second claimer passes over the rows the first holds (and re-checks
// the lease of rows committed meanwhile); on SQLite the statement runs in
// an IMMEDIATE transaction, one claimer after the other.
func (s *Store) ClaimLetters(ctx context.Context, n int, now, leaseUntil time.Time) ([]letter.Letter, error) {
	const op = "sqlstore.ClaimLetters"
	var out []letter.Letter
	err := s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		out = nil
		if n < 1 {
			return nil
		}
		var rows []letterRow
		err := tx.SelectContext(ctx, &rows, tx.Rebind(s.claimSQL("letters", letterColumns,
			`state IN (?, ?) AND (lease_until IS NULL OR lease_until <= ?)`, `created_at, id`)),
			msInt(leaseUntil), string(letter.Requested), string(letter.Rendered), msInt(now), n)
		if err != nil {
			return err
		}
		if out, err = lettersOf(rows); err != nil {
			return err
		}
		// RETURNING has no order.
		slices.SortFunc(out, func(a, b letter.Letter) int {
			return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
		})
		return nil
	})
	return out, err
}

// claimSQL is the statement that leases rows of table: it sets lease_until
// (the first parameter) on up to LIMIT (the last parameter) rows matching
// where, chosen in the order orderBy, and returns their columns.
func (s *Store) claimSQL(table, columns, where, orderBy string) string {
	if s.driver == DriverPostgres {
		// The new lease rides along as a constant column, so that the
		// parameters come in the same order as in the SQLite statement.
		return `WITH claimed AS (
				SELECT CAST(? AS BIGINT) AS new_lease, id AS claimed_id FROM ` + table + `
				WHERE (` + where + `) ORDER BY ` + orderBy + ` LIMIT ? FOR UPDATE SKIP LOCKED)
			UPDATE ` + table + ` SET lease_until = claimed.new_lease FROM claimed WHERE id = claimed.claimed_id
			RETURNING ` + columns
	}
	return `UPDATE ` + table + ` SET lease_until = ? WHERE id IN (
			SELECT id FROM ` + table + ` WHERE (` + where + `) ORDER BY ` + orderBy + ` LIMIT ?)
		RETURNING ` + columns
}

// MarkRendered stores the hashes of newly drawn secrets and the outbox file
// name and sets state Rendered, only from Requested or Rendered.
// Errors: NotFound; Conflict in any other state.
func (s *Store) MarkRendered(ctx context.Context, id, passwordHash, codeHash, outboxName string, now time.Time) error {
	return s.moveLetter(ctx, "sqlstore.MarkRendered", id, `password_hash = ?, code_hash = ?, outbox_name = ?, state = ?, rendered_at = ?`,
		`state IN (?, ?)`,
		[]any{passwordHash, codeHash, outboxName, string(letter.Rendered), ms(now)},
		[]any{string(letter.Requested), string(letter.Rendered)})
}

// MarkHandedOver sets Rendered → HandedOver. Errors: NotFound; Conflict.
func (s *Store) MarkHandedOver(ctx context.Context, id string, now time.Time) error {
	return s.moveLetter(ctx, "sqlstore.MarkHandedOver", id, `state = ?, handed_over_at = ?`, `state = ?`,
		[]any{string(letter.HandedOver), ms(now)}, []any{string(letter.Rendered)})
}

// ActivateLetter sets HandedOver → Activated if fewer than max activations
// failed and the letter has not expired at now, in one conditional UPDATE:
// exactly one of concurrent callers changes the row. Errors: NotFound;
// Conflict otherwise.
func (s *Store) ActivateLetter(ctx context.Context, id string, max int, now time.Time) error {
	return s.moveLetter(ctx, "sqlstore.ActivateLetter", id, `state = ?, activated_at = ?`,
		`state = ? AND failed_attempts < ? AND expires_at > ?`,
		[]any{string(letter.Activated), ms(now)}, []any{string(letter.HandedOver), max, msInt(now)})
}

// moveLetter runs UPDATE letters SET set WHERE id = ? AND cond; when it
// changes no row, the letter is missing (NotFound) or not in a state the
// change allows (Conflict). Letters are never deleted, so the second look
// cannot mistake a lost race for a missing letter.
// VoidLetter voids letter id with reason at now unless it is Activated or
// Voided. Errors: NotFound; Conflict.
func (s *Store) VoidLetter(ctx context.Context, id, reason string, now time.Time) error {
	return s.moveLetter(ctx, "sqlstore.VoidLetter", id, `state = ?, void_reason = ?, voided_at = ?`, `state NOT IN (?, ?)`,
		[]any{string(letter.Voided), reason, msInt(now)}, []any{string(letter.Activated), string(letter.Voided)})
}

func (s *Store) moveLetter(ctx context.Context, op, id, set, cond string, setArgs, condArgs []any) error {
	return s.do(ctx, op, func() error {
		args := append(append(slices.Clone(setArgs), id), condArgs...)
		n, err := exec(ctx, s.w, s.db.Rebind(`UPDATE letters SET `+set+` WHERE id = ? AND `+cond), args...)
		if err != nil || n > 0 {
			return err
		}
		return s.letterExists(ctx, op, id)
	})
}

// letterExists returns NotFound when letter id does not exist and Conflict
// when it does: the answer after a conditional change matched no row.
func (s *Store) letterExists(ctx context.Context, op, id string) error {
	var count int
	if err := s.db.GetContext(ctx, &count, s.db.Rebind(`SELECT COUNT(*) FROM letters WHERE id = ?`), id); err != nil {
		return err
	}
	if count == 0 {
		return fault.New(fault.NotFound, op, "")
	}
	return fault.New(fault.Conflict, op, "")
}

// FailActivation counts one wrong activation of letter id if it is
// HandedOver and voids it (reason attempts) when the new count reaches max,
// in one UPDATE: the increment, the voiding and the check of the state are
// evaluated on the row under its write lock, so N concurrent calls add
// exactly N (as far as the letter stays HandedOver). Returns the new count.
// Errors: NotFound; Conflict when the letter is not HandedOver.
func (s *Store) FailActivation(ctx context.Context, id string, max int, now time.Time) (int, error) {
	const op = "sqlstore.FailActivation"
	var count int
	err := s.do(ctx, op, func() error {
		err := s.w.GetContext(ctx, &count, s.db.Rebind(`UPDATE letters SET
				failed_attempts = failed_attempts + 1,
				state = CASE WHEN failed_attempts + 1 >= ? THEN ? ELSE state END,
				void_reason = CASE WHEN failed_attempts + 1 >= ? THEN ? ELSE void_reason END,
				voided_at = CASE WHEN failed_attempts + 1 >= ? THEN ? ELSE voided_at END
			WHERE id = ? AND state = ?
			RETURNING failed_attempts`),
			max, string(letter.Voided), max, letter.ReasonAttempts, max, msInt(now),
			id, string(letter.HandedOver))
		if errors.Is(err, sql.ErrNoRows) {
			return s.letterExists(ctx, op, id)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	return count, nil
}
