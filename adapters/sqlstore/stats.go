package sqlstore

import (
	"context"
	"database/sql"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/letter"
)

// Pools returns the connection pools by role for pool statistics: "read"
// and, on SQLite, "write" (its single writer connection); on PostgreSQL
// one pool serves both, named "read_write". The pools belong to the store:
// callers read their Stats and never close or query them.
func (s *Store) Pools() map[string]*sql.DB {
	if s.w == s.db {
		return map[string]*sql.DB{"read_write": s.db.DB.DB}
	}
	return map[string]*sql.DB{"read": s.db.DB.DB, "write": s.w.DB.DB}
}

// LetterCounts counts the letters in each state (states without letters
// are absent), for the operator's view of the letter backlog. It reads
// only the state column, never member data. Errors: Unavailable.
func (s *Store) LetterCounts(ctx context.Context) (map[letter.State]int, error) {
	const op = "sqlstore.LetterCounts"
	var rows []struct {
		State string `db:"state"`
		N     int    `db:"n"`
	}
	if err := s.db.SelectContext(ctx, &rows, `SELECT state, COUNT(*) AS n FROM letters GROUP BY state`); err != nil {
		return nil, fault.Wrap(fault.Unavailable, op, err)
	}
	out := make(map[letter.State]int, len(rows))
	for _, r := range rows {
		out[letter.State(r.State)] = r.N
	}
	return out, nil
}
