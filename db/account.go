package db

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// AccountFilter narrows an account listing; zero fields do not filter.
type AccountFilter struct {
	Search          string
	OwnerID         *uuid.UUID
	Stages          []string
	HealthBelow     *int
	LastLoginBefore *time.Time
	RenewalBefore   *time.Time
	Tag             string
	IncludeArchived bool
}

// Account sort orders. Each sorts by an expression, then by id, so keyset cursors are total.
const (
	AccountOrderCreatedAt   = "CREATED_AT"
	AccountOrderName        = "NAME"
	AccountOrderHealthScore = "HEALTH_SCORE"
	AccountOrderRenewalDate = "RENEWAL_DATE"
)

// accountSortExpr is the SQL sort expression and its type per order; NULLs are folded to a
// value so that row comparison (expr, id) > (cursor) stays total.
var accountSortExpr = map[string]struct{ expr, typ string }{
	AccountOrderCreatedAt:   {"a.created_at", "timestamptz"},
	AccountOrderName:        {"lower(a.name)", "text"},
	AccountOrderHealthScore: {"coalesce(a.health_score, -1)", "int"},
	AccountOrderRenewalDate: {"coalesce(a.renewal_date, 'infinity'::date)", "date"},
}

// PageCursor is a keyset position: the sort key as PostgreSQL prints it, and the row id.
type PageCursor struct {
	Key string
	ID  uuid.UUID
}

// AccountPage asks for one page of accounts.
type AccountPage struct {
	Filter     AccountFilter
	Order      string // one of AccountOrder*; empty means CreatedAt
	Descending bool
	First      int
	After      *PageCursor
}

// AccountRow is an account with its keyset position in the requested order.
type AccountRow struct {
	Account `bun:",extend"`
	SortKey string `bun:"sort_key"`
}

// ListAccounts returns one page (up to p.First rows) and whether more follow.
func ListAccounts(ctx context.Context, idb bun.IDB, t Tenant, p AccountPage) ([]AccountRow, bool, error) {
	sort, ok := accountSortExpr[p.Order]
	if !ok {
		sort = accountSortExpr[AccountOrderCreatedAt]
	}
	var rows []AccountRow
	q := t.Select(idb, &rows).ColumnExpr("a.*").ColumnExpr(sort.expr + "::text AS sort_key")
	applyAccountFilter(q, p.Filter)
	dir, cmp := "ASC", ">"
	if p.Descending {
		dir, cmp = "DESC", "<"
	}
	if p.After != nil {
		q.Where(fmt.Sprintf("(%s, a.id) %s (?::%s, ?)", sort.expr, cmp, sort.typ), p.After.Key, p.After.ID)
	}
	q.OrderExpr(fmt.Sprintf("%s %s, a.id %s", sort.expr, dir, dir)).Limit(int64(p.First + 1))
	if err := q.Scan(ctx); err != nil {
		return nil, false, mapErr("list accounts", err)
	}
	hasNext := len(rows) > p.First
	if hasNext {
		rows = rows[:p.First]
	}
	return rows, hasNext, nil
}

// CountAccounts counts the accounts a filter matches.
func CountAccounts(ctx context.Context, idb bun.IDB, t Tenant, f AccountFilter) (int, error) {
	q := t.Select(idb, (*Account)(nil))
	applyAccountFilter(q, f)
	n, err := q.Count(ctx)
	if err != nil {
		return 0, mapErr("count accounts", err)
	}
	return int(n), nil
}

func applyAccountFilter(q *bun.SelectQuery, f AccountFilter) {
	if !f.IncludeArchived {
		q.Where("a.archived_at IS NULL")
	}
	if s := strings.TrimSpace(f.Search); s != "" {
		// Matches the trigram index expression in the migration.
		q.Where("(a.name || ' ' || coalesce(a.domain, '')) ILIKE ?", "%"+escapeLike(s)+"%")
	}
	if f.OwnerID != nil {
		q.Where("a.owner_id = ?", *f.OwnerID)
	}
	if len(f.Stages) > 0 {
		q.Where("a.stage IN (?)", bun.In(f.Stages))
	}
	if f.HealthBelow != nil {
		q.Where("a.health_score < ?", *f.HealthBelow)
	}
	if f.LastLoginBefore != nil {
		q.Where("(a.last_login_at IS NULL OR a.last_login_at < ?)", *f.LastLoginBefore)
	}
	if f.RenewalBefore != nil {
		q.Where("a.renewal_date < ?", *f.RenewalBefore)
	}
	if f.Tag != "" {
		q.Where("a.tags @> ARRAY[?]::text[]", f.Tag)
	}
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// GetAccount loads one account of the tenant.
func GetAccount(ctx context.Context, idb bun.IDB, t Tenant, id uuid.UUID) (*Account, error) {
	a := new(Account)
	if err := t.Select(idb, a).Where("a.id = ?", id).Scan(ctx); err != nil {
		return nil, mapErr("get account", err)
	}
	return a, nil
}

// GetAccountForUpdate loads and row-locks one account inside tx.
func GetAccountForUpdate(ctx context.Context, tx bun.Tx, t Tenant, id uuid.UUID) (*Account, error) {
	a := new(Account)
	if err := t.Select(tx, a).Where("a.id = ?", id).For("UPDATE").Scan(ctx); err != nil {
		return nil, mapErr("lock account", err)
	}
	return a, nil
}

// GetAccountByExternalID loads the account a partner knows by externalID.
func GetAccountByExternalID(ctx context.Context, idb bun.IDB, t Tenant, externalID string) (*Account, error) {
	a := new(Account)
	if err := t.Select(idb, a).Where("a.external_id = ?", externalID).Scan(ctx); err != nil {
		return nil, mapErr("get account by external id", err)
	}
	return a, nil
}

// AccountsByIDs loads accounts by id; missing ids are simply absent from the result.
func AccountsByIDs(ctx context.Context, idb bun.IDB, t Tenant, ids []uuid.UUID) ([]Account, error) {
	var rows []Account
	if err := t.Select(idb, &rows).Where("a.id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
		return nil, mapErr("load accounts", err)
	}
	return rows, nil
}

// AccountsByExternalIDs loads accounts by external id.
func AccountsByExternalIDs(ctx context.Context, idb bun.IDB, t Tenant, ids []string) ([]Account, error) {
	var rows []Account
	if err := t.Select(idb, &rows).Where("a.external_id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
		return nil, mapErr("load accounts by external id", err)
	}
	return rows, nil
}

// InsertAccount stores a new account and fills its generated columns.
func InsertAccount(ctx context.Context, idb bun.IDB, t Tenant, a *Account) error {
	if _, err := Insert(t, idb, a).Returning("*").Exec(ctx); err != nil {
		return mapErr("insert account", err)
	}
	return nil
}

// UpdateAccount writes every column of a back and refreshes updated_at.
func UpdateAccount(ctx context.Context, idb bun.IDB, t Tenant, a *Account) error {
	res, err := t.Update(idb, a).
		ExcludeColumn("workspace_id", "id", "created_at", "updated_at").
		Set("updated_at = now()").
		WherePK().Returning("*").Exec(ctx)
	if err != nil {
		return mapErr("update account", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("update account: %w", ErrNotFound)
	}
	return nil
}

// TeamMembersByAccountIDs loads the team members of several accounts at once.
func TeamMembersByAccountIDs(ctx context.Context, idb bun.IDB, t Tenant, ids []uuid.UUID) ([]AccountTeamMember, error) {
	var rows []AccountTeamMember
	err := t.Select(idb, &rows).
		Join("JOIN team_roles AS tr ON tr.workspace_id = atm.workspace_id AND tr.id = atm.team_role_id").
		Where("atm.account_id IN (?)", bun.In(ids)).
		OrderExpr("atm.account_id, tr.position, atm.created_at").Scan(ctx)
	if err != nil {
		return nil, mapErr("load account teams", err)
	}
	return rows, nil
}

// ReplaceAccountTeam makes the account's team exactly members; run it inside a transaction.
// Members who stay keep their row (and so when they joined, which decides who gets a role's
// tasks); only removed members are deleted and only new ones inserted.
func ReplaceAccountTeam(ctx context.Context, tx bun.Tx, t Tenant, accountID uuid.UUID, members []AccountTeamMember) error {
	roles := make([]uuid.UUID, len(members))
	users := make([]uuid.UUID, len(members))
	for i, m := range members {
		roles[i], users[i] = m.TeamRoleID, m.UserID
	}
	if _, err := t.Delete(tx, (*AccountTeamMember)(nil)).Where("atm.account_id = ?", accountID).
		Where("(atm.team_role_id, atm.user_id) NOT IN (SELECT * FROM unnest(?::uuid[], ?::uuid[]))",
			pgdialect.Array(roles), pgdialect.Array(users)).Exec(ctx); err != nil {
		return mapErr("remove account team members", err)
	}
	if len(members) == 0 {
		return nil
	}
	rows := make([]*AccountTeamMember, len(members))
	for i := range members {
		members[i].AccountID = accountID
		rows[i] = &members[i]
	}
	if _, err := Insert(t, tx, rows...).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
		return mapErr("insert account team members", err)
	}
	return nil
}
