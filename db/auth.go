package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// This file holds the queries behind authentication and workspace administration: users,
// memberships, refresh tokens, API keys, workspaces and team roles.
//
// Three lookups are deliberately not scoped to a Tenant: a refresh token and an API key are
// found by the hash of their secret, and a user's first membership by the user id at login.
// In each case the credential is what tells us the workspace; every query after it goes through
// the Tenant that the row names.

// defaultTeamRoles are the account-team roles every new workspace starts with, in display order.
var defaultTeamRoles = []struct{ key, name string }{
	{"CSM", "CSM"},
	{"SALES", "Sales"},
	{"IMPLEMENTATION", "Implementation"},
	{"EXECUTIVE_SPONSOR", "Executive Sponsor"},
}

// memberColumns are the columns a Member is read with. The password hash is left out: nothing
// that lists or shows members needs it, so it never travels further than login.
const memberColumns = "u.id, u.email, u.name, u.created_at, u.updated_at, m.role, m.disabled_at"

// CreateWorkspace inserts a workspace named name together with the default team roles (CSM,
// Sales, Implementation, Executive Sponsor). Both happen in one transaction, or in a savepoint
// when idb already is one.
func CreateWorkspace(ctx context.Context, idb bun.IDB, name string) (*Workspace, error) {
	w := &Workspace{Name: name}
	err := idb.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(w).Returning("*").Exec(ctx); err != nil {
			return mapErr("insert workspace", err)
		}
		roles := make([]*TeamRole, len(defaultTeamRoles))
		for i, r := range defaultTeamRoles {
			roles[i] = &TeamRole{Key: r.key, Name: r.name, Position: i}
		}
		if _, err := Insert(Tenant{WorkspaceID: w.ID}, tx, roles...).Exec(ctx); err != nil {
			return mapErr("insert default team roles", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("create workspace: %w", err)
	}
	return w, nil
}

// GetWorkspace returns the workspace with id, or ErrNotFound.
func GetWorkspace(ctx context.Context, idb bun.IDB, id uuid.UUID) (*Workspace, error) {
	w := new(Workspace)
	if err := idb.NewSelect().Model(w).Where("w.id = ?", id).Scan(ctx); err != nil {
		return nil, mapErr("get workspace", err)
	}
	return w, nil
}

// GetUserByEmail returns the user whose email matches email case-insensitively (emails are
// unique regardless of case), or ErrNotFound. It is global: users belong to no one workspace.
func GetUserByEmail(ctx context.Context, idb bun.IDB, email string) (*User, error) {
	u := new(User)
	if err := idb.NewSelect().Model(u).Where("lower(u.email) = lower(?)", email).Scan(ctx); err != nil {
		return nil, mapErr("get user by email", err)
	}
	return u, nil
}

// GetUserByID returns the user with id, or ErrNotFound. It is global and says nothing about
// membership: use GetMember to read a user as the tenant sees them.
func GetUserByID(ctx context.Context, idb bun.IDB, id uuid.UUID) (*User, error) {
	u := new(User)
	if err := idb.NewSelect().Model(u).Where("u.id = ?", id).Scan(ctx); err != nil {
		return nil, mapErr("get user", err)
	}
	return u, nil
}

// InsertUser inserts u and fills in its generated id and timestamps. An email already taken
// (in any case) is ErrConflict.
func InsertUser(ctx context.Context, idb bun.IDB, u *User) error {
	if _, err := idb.NewInsert().Model(u).Returning("*").Exec(ctx); err != nil {
		return mapErr("insert user", err)
	}
	return nil
}

// EarliestActiveMembership returns the oldest membership of userID that is not disabled, in any
// workspace: the workspace a login lands in. ErrNotFound when the user has none.
func EarliestActiveMembership(ctx context.Context, idb bun.IDB, userID uuid.UUID) (*Membership, error) {
	m := new(Membership)
	err := idb.NewSelect().Model(m).
		Where("m.user_id = ?", userID).
		Where("m.disabled_at IS NULL").
		OrderExpr("m.created_at, m.workspace_id").
		Limit(1).
		Scan(ctx)
	if err != nil {
		return nil, mapErr("get earliest membership", err)
	}
	return m, nil
}

// GetMembership returns userID's membership in the tenant's workspace, disabled or not, or
// ErrNotFound.
func GetMembership(ctx context.Context, idb bun.IDB, t Tenant, userID uuid.UUID) (*Membership, error) {
	m := new(Membership)
	if err := t.Select(idb, m).Where("m.user_id = ?", userID).Scan(ctx); err != nil {
		return nil, mapErr("get membership", err)
	}
	return m, nil
}

// InsertMembership places m.UserID in the tenant's workspace. A user who already has a
// membership there (even a disabled one) is ErrConflict; an unknown user is ErrInvalidReference.
func InsertMembership(ctx context.Context, idb bun.IDB, t Tenant, m *Membership) error {
	if _, err := Insert(t, idb, m).Returning("*").Exec(ctx); err != nil {
		return mapErr("insert membership", err)
	}
	return nil
}

// SetMembershipRole changes userID's role in the tenant's workspace; ErrNotFound when they have
// no membership there.
func SetMembershipRole(ctx context.Context, idb bun.IDB, t Tenant, userID uuid.UUID, role string) error {
	res, err := t.Update(idb, (*Membership)(nil)).
		Set("role = ?", role).
		Where("m.user_id = ?", userID).
		Exec(ctx)
	return oneRow("set membership role", res, err)
}

// DisableMembership marks userID's membership disabled as of at. Disabling twice keeps the first
// time. ErrNotFound when they have no membership in the tenant's workspace.
func DisableMembership(ctx context.Context, idb bun.IDB, t Tenant, userID uuid.UUID, at time.Time) error {
	res, err := t.Update(idb, (*Membership)(nil)).
		Set("disabled_at = coalesce(m.disabled_at, ?)", at).
		Where("m.user_id = ?", userID).
		Exec(ctx)
	return oneRow("disable membership", res, err)
}

// LockActiveAdmins returns the ids of the workspace's active admins and locks their membership
// rows until the transaction ends. Call it before a change that could remove the last admin:
// two such changes then run one after the other, and the second sees the first's result.
func LockActiveAdmins(ctx context.Context, tx bun.Tx, t Tenant) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	err := t.Select(tx, (*Membership)(nil)).
		Column("m.user_id").
		Where("m.role = ?", RoleAdmin).
		Where("m.disabled_at IS NULL").
		OrderExpr("m.user_id").
		For("UPDATE").
		Scan(ctx, &ids)
	if err != nil {
		return nil, mapErr("lock active admins", err)
	}
	return ids, nil
}

// ListMembers returns every member of the tenant's workspace, disabled ones included, ordered
// by name. PasswordHash is left empty.
func ListMembers(ctx context.Context, idb bun.IDB, t Tenant) ([]Member, error) {
	var ms []Member
	err := membersQuery(idb, t).OrderExpr("lower(u.name), u.id").Scan(ctx, &ms)
	if err != nil {
		return nil, mapErr("list members", err)
	}
	return ms, nil
}

// GetMember returns userID as a member of the tenant's workspace; ErrNotFound when they are not
// one. PasswordHash is left empty.
func GetMember(ctx context.Context, idb bun.IDB, t Tenant, userID uuid.UUID) (*Member, error) {
	m := new(Member)
	if err := membersQuery(idb, t).Where("m.user_id = ?", userID).Scan(ctx, m); err != nil {
		return nil, mapErr("get member", err)
	}
	return m, nil
}

// UsersByIDs returns the members of the tenant's workspace among ids, in no particular order,
// for dataloaders. Ids of users who are not members of the workspace are silently left out, so
// a user of another workspace is indistinguishable from a missing one.
func UsersByIDs(ctx context.Context, idb bun.IDB, t Tenant, ids []uuid.UUID) ([]Member, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var ms []Member
	if err := membersQuery(idb, t).Where("m.user_id IN (?)", bun.List(ids)).Scan(ctx, &ms); err != nil {
		return nil, mapErr("users by ids", err)
	}
	return ms, nil
}

func membersQuery(idb bun.IDB, t Tenant) *bun.SelectQuery {
	return t.Select(idb, (*Membership)(nil)).
		ColumnExpr(memberColumns).
		Join("JOIN users AS u ON u.id = m.user_id")
}

// ListTeamRoles returns the workspace's team roles in display order.
func ListTeamRoles(ctx context.Context, idb bun.IDB, t Tenant) ([]TeamRole, error) {
	var rs []TeamRole
	if err := t.Select(idb, &rs).OrderExpr("tr.position, tr.key").Scan(ctx); err != nil {
		return nil, mapErr("list team roles", err)
	}
	return rs, nil
}

// TeamRolesByIDs returns the workspace's team roles among ids, in no particular order, for
// dataloaders; ids of other workspaces or of no role are left out.
func TeamRolesByIDs(ctx context.Context, idb bun.IDB, t Tenant, ids []uuid.UUID) ([]TeamRole, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var rs []TeamRole
	if err := t.Select(idb, &rs).Where("tr.id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return nil, mapErr("team roles by ids", err)
	}
	return rs, nil
}

// InsertRefreshToken stores rt (its hash, never the token) in the tenant's workspace and fills in
// its generated id.
func InsertRefreshToken(ctx context.Context, idb bun.IDB, t Tenant, rt *RefreshToken) error {
	if _, err := Insert(t, idb, rt).Returning("*").Exec(ctx); err != nil {
		return mapErr("insert refresh token", err)
	}
	return nil
}

// RefreshTokenByHash finds a refresh token by the hash of its secret, in whichever workspace it
// belongs to (the token is what names the workspace), or ErrNotFound. With forUpdate the row is
// locked until the transaction ends, so two refreshes of one token run one after the other.
func RefreshTokenByHash(ctx context.Context, idb bun.IDB, hash []byte, forUpdate bool) (*RefreshToken, error) {
	rt := new(RefreshToken)
	q := idb.NewSelect().Model(rt).Where("rt.token_hash = ?", hash)
	if forUpdate {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		return nil, mapErr("get refresh token", err)
	}
	return rt, nil
}

// MarkRefreshTokenUsed records that the token id was exchanged at at; ErrNotFound when it does
// not exist in the tenant's workspace.
func MarkRefreshTokenUsed(ctx context.Context, idb bun.IDB, t Tenant, id uuid.UUID, at time.Time) error {
	res, err := t.Update(idb, (*RefreshToken)(nil)).
		Set("used_at = ?", at).
		Where("rt.id = ?", id).
		Exec(ctx)
	return oneRow("mark refresh token used", res, err)
}

// RevokeRefreshFamily revokes, as of at, every token of the family that is not revoked yet, and
// reports how many it revoked. An unknown family revokes nothing and is not an error.
func RevokeRefreshFamily(ctx context.Context, idb bun.IDB, t Tenant, familyID uuid.UUID, at time.Time) (int, error) {
	res, err := t.Update(idb, (*RefreshToken)(nil)).
		Set("revoked_at = ?", at).
		Where("rt.family_id = ?", familyID).
		Where("rt.revoked_at IS NULL").
		Exec(ctx)
	return rowsAffected("revoke refresh token family", res, err)
}

// RevokeUserRefreshTokens revokes, as of at, every live refresh token userID holds in the
// tenant's workspace (tokens in other workspaces are untouched), and reports how many.
func RevokeUserRefreshTokens(ctx context.Context, idb bun.IDB, t Tenant, userID uuid.UUID, at time.Time) (int, error) {
	res, err := t.Update(idb, (*RefreshToken)(nil)).
		Set("revoked_at = ?", at).
		Where("rt.user_id = ?", userID).
		Where("rt.revoked_at IS NULL").
		Exec(ctx)
	return rowsAffected("revoke user refresh tokens", res, err)
}

// InsertAPIKey stores k (its hash, never the secret) in the tenant's workspace and fills in its
// generated id and timestamps.
func InsertAPIKey(ctx context.Context, idb bun.IDB, t Tenant, k *APIKey) error {
	if _, err := Insert(t, idb, k).Returning("*").Exec(ctx); err != nil {
		return mapErr("insert api key", err)
	}
	return nil
}

// APIKeyByHash finds an API key, revoked or not, by the hash of its secret in whichever
// workspace it belongs to (the key is what names the workspace), or ErrNotFound.
func APIKeyByHash(ctx context.Context, idb bun.IDB, hash []byte) (*APIKey, error) {
	k := new(APIKey)
	if err := idb.NewSelect().Model(k).Where("k.key_hash = ?", hash).Scan(ctx); err != nil {
		return nil, mapErr("get api key by hash", err)
	}
	return k, nil
}

// GetAPIKey returns the workspace's API key id, revoked or not, or ErrNotFound.
func GetAPIKey(ctx context.Context, idb bun.IDB, t Tenant, id uuid.UUID) (*APIKey, error) {
	k := new(APIKey)
	if err := t.Select(idb, k).Where("k.id = ?", id).Scan(ctx); err != nil {
		return nil, mapErr("get api key", err)
	}
	return k, nil
}

// ListAPIKeys returns the workspace's API keys, revoked ones included, newest first.
func ListAPIKeys(ctx context.Context, idb bun.IDB, t Tenant) ([]APIKey, error) {
	var ks []APIKey
	if err := t.Select(idb, &ks).OrderExpr("k.created_at DESC, k.id").Scan(ctx); err != nil {
		return nil, mapErr("list api keys", err)
	}
	return ks, nil
}

// RevokeAPIKey revokes the key id as of at and returns it. Revoking a revoked key keeps the
// first revocation time. ErrNotFound when the workspace has no such key.
func RevokeAPIKey(ctx context.Context, idb bun.IDB, t Tenant, id uuid.UUID, at time.Time) (*APIKey, error) {
	k := new(APIKey)
	err := t.Update(idb, k).
		Set("revoked_at = coalesce(k.revoked_at, ?)", at).
		Where("k.id = ?", id).
		Returning("*").
		Scan(ctx)
	if err != nil {
		return nil, mapErr("revoke api key", err)
	}
	return k, nil
}

// TouchAPIKey sets the key's last_used_at to at, unless it was already set after notBefore: a key
// used constantly is then written at most once per (at - notBefore), not once per request. It
// reports whether it wrote.
func TouchAPIKey(ctx context.Context, idb bun.IDB, t Tenant, id uuid.UUID, at, notBefore time.Time) (bool, error) {
	res, err := t.Update(idb, (*APIKey)(nil)).
		Set("last_used_at = ?", at).
		Where("k.id = ?", id).
		Where("k.last_used_at IS NULL OR k.last_used_at < ?", notBefore).
		Exec(ctx)
	n, err := rowsAffected("touch api key", res, err)
	return n > 0, err
}

// oneRow turns an UPDATE that matched nothing into ErrNotFound.
func oneRow(op string, res sql.Result, err error) error {
	n, err := rowsAffected(op, res, err)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	return nil
}

func rowsAffected(op string, res sql.Result, err error) (int, error) {
	if err != nil {
		return 0, mapErr(op, err)
	}
	if res == nil {
		return 0, fmt.Errorf("%s: %w", op, errors.New("no result"))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("%s: rows affected: %w", op, err)
	}
	return int(n), nil
}
