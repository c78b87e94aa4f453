// Package db holds Steward's bun models, the query functions every other package goes through,
// the embedded SQL migrations and the mapping of driver errors to domain sentinels. It imports
// nothing else of Steward's.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// Domain sentinels. Query functions map driver errors to these so that callers never inspect
// SQLSTATE codes and no SQL text reaches a client.
var (
	// ErrNotFound means the row does not exist in the caller's workspace (a row of another
	// workspace is reported exactly the same way).
	ErrNotFound = errors.New("not found")
	// ErrConflict means a unique key already holds the value (e.g. a duplicate externalId).
	ErrConflict = errors.New("conflict")
	// ErrInvalidReference means a foreign key points at a missing row.
	ErrInvalidReference = errors.New("invalid reference")
	// ErrInvalidValue means PostgreSQL rejected a value (a damaged cursor key, an out-of-range
	// number): the caller's input, not a server fault.
	ErrInvalidValue = errors.New("invalid value")
)

// PoolConfig tunes the connection pool.
type PoolConfig struct {
	// MaxConns caps open connections; 0 keeps pgxpool's default (max(4, NumCPU)).
	MaxConns int32
}

// Open connects to url and returns bun over pgx's database/sql adapter, sharing one pgxpool.Pool
// that the caller also uses for COPY and LISTEN. Close the bun.DB first, then the pool.
func Open(ctx context.Context, url string, cfg PoolConfig) (*bun.DB, *pgxpool.Pool, error) {
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, nil, fmt.Errorf("parse database url: %w", err)
	}
	if cfg.MaxConns > 0 {
		pcfg.MaxConns = cfg.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, nil, fmt.Errorf("open pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("ping database: %w", err)
	}
	// database/sql keeps no idle connections of its own (OpenDBFromPool's setting): every
	// connection goes back to the one pgxpool, which River, COPY and /readyz also draw from.
	sqldb := stdlib.OpenDBFromPool(pool)
	return bun.NewDB(sqldb, pgdialect.New()), pool, nil
}

// mapErr translates driver errors into the domain sentinels, keeping the original for logs.
func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%s: %w (%s)", op, ErrConflict, pgErr.ConstraintName)
		case "23503": // foreign_key_violation
			return fmt.Errorf("%s: %w (%s)", op, ErrInvalidReference, pgErr.ConstraintName)
		}
		if strings.HasPrefix(pgErr.Code, "22") { // class 22: data exception
			return fmt.Errorf("%s: %w (%s)", op, ErrInvalidValue, pgErr.Message)
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// InTx runs fn in one transaction: every multi-row change goes through here so nothing is
// half-written.
func InTx(ctx context.Context, b *bun.DB, fn func(ctx context.Context, tx bun.Tx) error) error {
	return b.RunInTx(ctx, nil, fn)
}
