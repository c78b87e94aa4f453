package condition

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
)

// sqlBuilder collects the values of a compiled condition in placeholder order.
type sqlBuilder struct {
	args []any
}

// arg records v and returns its placeholder. Callers must call it in the order the
// placeholders appear in the text.
func (b *sqlBuilder) arg(v any) string {
	b.args = append(b.args, v)
	return "?"
}

// SQL compiles the condition, evaluated at now, into a boolean WHERE expression for bun
// (q.Where(where, args...)). The text holds only whitelisted columns, fixed SQL and ?
// placeholders; every value is in args. It reads these aliases, which the caller's query
// must provide:
//
//   - a: the accounts row (for a CONTACT condition, the contact's account);
//   - c: the contacts row (CONTACT conditions only).
//
// Activity predicates are correlated subqueries on events, timeline_entries, play_runs and
// the journey tables through a.workspace_id and a.id. The expression is never NULL. It does not restrict the workspace or
// skip archived rows: that is the caller's query's job, as in Matching.
func (c *Condition) SQL(now time.Time) (where string, args []any) {
	b := &sqlBuilder{}
	return b.expr(c.expr, instantAt(now)), b.args
}

func (b *sqlBuilder) expr(e *expr, at instant) string {
	switch e.kind {
	case exprAll, exprAny:
		parts := make([]string, len(e.kids))
		for i, k := range e.kids {
			parts[i] = b.expr(k, at)
		}
		sep := " AND "
		if e.kind == exprAny {
			sep = " OR "
		}
		return "(" + strings.Join(parts, sep) + ")"
	case exprNot:
		return "(NOT " + b.expr(e.kids[0], at) + ")"
	}
	// Folding NULL to false per predicate keeps the logic two-valued, so NOT means what the Go
	// evaluator's ! means.
	return "coalesce(" + e.pred.sql(b, at) + ", false)"
}

// Matching returns the ids of every live subject of the tenant the condition holds for at now,
// in id order, with one query: live accounts for an ACCOUNT condition; for a CONTACT condition,
// live contacts whose account is live too.
func (c *Condition) Matching(ctx context.Context, idb bun.IDB, t db.Tenant, now time.Time) ([]uuid.UUID, error) {
	where, args := c.SQL(now)
	var q *bun.SelectQuery
	switch c.scope {
	case ScopeAccount:
		q = t.Select(idb, (*db.Account)(nil)).Column("a.id").
			Where("a.archived_at IS NULL").OrderExpr("a.id")
	case ScopeContact:
		q = t.Select(idb, (*db.Contact)(nil)).Column("c.id").
			Join("JOIN accounts AS a ON a.workspace_id = c.workspace_id AND a.id = c.account_id").
			Where("c.archived_at IS NULL AND a.archived_at IS NULL").OrderExpr("c.id")
	default:
		return nil, fmt.Errorf("match condition: unknown scope %q", c.scope)
	}
	ids := []uuid.UUID{}
	if err := q.Where(where, args...).Scan(ctx, &ids); err != nil {
		return nil, fmt.Errorf("match condition: %w", err)
	}
	return ids, nil
}
