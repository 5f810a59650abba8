package sqlstore

import (
	"context"
	"database/sql"
	"sync"

	"github.com/jmoiron/sqlx"
)

// maxPrepared bounds the statements a pool keeps prepared. Pforte's
// statements are constants or built from a few fixed parts, so the bound
// is never reached; beyond it statements simply run unprepared.
const maxPrepared = 256

// pool is a connection pool whose single statements (GetContext,
// SelectContext, ExecContext) run as prepared statements when prepare is
// set: SQLite compiles every statement anew otherwise, which was about a
// tenth of the server's CPU time under load. PostgreSQL's driver (pgx)
// already caches prepared statements per connection, so its pool does not.
// Statements inside transactions run unprepared.
type pool struct {
	*sqlx.DB
	prepare bool

	mu    sync.RWMutex
	stmts map[string]*sqlx.Stmt
}

func newPool(db *sqlx.DB, prepare bool) *pool {
	return &pool{DB: db, prepare: prepare, stmts: make(map[string]*sqlx.Stmt)}
}

// stmt returns the prepared statement of query, preparing it once; nil
// when the pool does not prepare or the cache is full.
func (p *pool) stmt(ctx context.Context, query string) (*sqlx.Stmt, error) {
	if !p.prepare {
		return nil, nil
	}
	p.mu.RLock()
	st, ok := p.stmts[query]
	p.mu.RUnlock()
	if ok {
		return st, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if st, ok := p.stmts[query]; ok {
		return st, nil
	}
	if len(p.stmts) >= maxPrepared {
		return nil, nil
	}
	// The statement outlives this request: it must not be tied to ctx.
	st, err := p.DB.PreparexContext(context.WithoutCancel(ctx), query)
	if err != nil {
		return nil, err
	}
	p.stmts[query] = st
	return st, nil
}

// GetContext is sqlx.DB.GetContext through the statement cache.
func (p *pool) GetContext(ctx context.Context, dest any, query string, args ...any) error {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return err
	}
	if st == nil {
		return p.DB.GetContext(ctx, dest, query, args...)
	}
	return st.GetContext(ctx, dest, args...)
}

// SelectContext is sqlx.DB.SelectContext through the statement cache.
func (p *pool) SelectContext(ctx context.Context, dest any, query string, args ...any) error {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return err
	}
	if st == nil {
		return p.DB.SelectContext(ctx, dest, query, args...)
	}
	return st.SelectContext(ctx, dest, args...)
}

// ExecContext is sqlx.DB.ExecContext through the statement cache.
func (p *pool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return p.DB.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

// Close closes the prepared statements and the pool.
func (p *pool) Close() error {
	p.mu.Lock()
	for q, st := range p.stmts {
		st.Close()
		delete(p.stmts, q)
	}
	p.mu.Unlock()
	return p.DB.Close()
}
