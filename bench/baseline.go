package bench

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stewardhq/steward/auth"
	"github.com/stewardhq/steward/db"
)

// BaselinePath is where the hand-written handler answers.
const BaselinePath = "/accounts-page"

// Baseline is the yardstick the GraphQL API is measured against: a plain net/http handler that
// serves the accounts page (AccountsPageQuery's data, in the same JSON shape) the way a careful
// engineer would write it by hand for this one page. It authenticates the same bearer token
// with the same policy (VIEWER, read scope), runs one prepared pgx statement that fetches the
// page, owners, teams and first contacts together (correlated subqueries on the same indexes
// the GraphQL loaders use), and encodes structs with encoding/json. It ignores the request
// body: the page is fixed.
type Baseline struct {
	pool       *pgxpool.Pool
	issuer     *auth.Issuer
	statements atomic.Int64
}

// NewBaseline returns the hand-written handler on pool, verifying tokens with issuer.
func NewBaseline(pool *pgxpool.Pool, issuer *auth.Issuer) *Baseline {
	return &Baseline{pool: pool, issuer: issuer}
}

// Statements returns how many SQL statements the handler has run.
func (b *Baseline) Statements() int64 { return b.statements.Load() }

// accountsPageSQL reads one page of live accounts in the order of accounts(first:) (created
// at, then id) with the same semantics as the GraphQL resolvers: the owner only if they are a
// member of the workspace, the team ordered by role position then assignment time, and the
// first live contacts in creation order. $1 is the workspace, $2 the contacts per account, $3
// the page size.
const accountsPageSQL = `
SELECT u.name,
       ARRAY(SELECT tu.name
             FROM account_team_members atm
             JOIN team_roles tr ON tr.workspace_id = atm.workspace_id AND tr.id = atm.team_role_id
             JOIN memberships tm ON tm.workspace_id = atm.workspace_id AND tm.user_id = atm.user_id
             JOIN users tu ON tu.id = atm.user_id
             WHERE atm.workspace_id = a.workspace_id AND atm.account_id = a.id
             ORDER BY tr.position, atm.created_at),
       ARRAY(SELECT c.email
             FROM contacts c
             WHERE c.workspace_id = a.workspace_id AND c.account_id = a.id AND c.archived_at IS NULL
             ORDER BY c.created_at, c.id
             LIMIT $2)
FROM accounts a
LEFT JOIN memberships m ON m.workspace_id = a.workspace_id AND m.user_id = a.owner_id
LEFT JOIN users u ON u.id = m.user_id
WHERE a.workspace_id = $1 AND a.archived_at IS NULL
ORDER BY a.created_at, a.id
LIMIT $3`

// The response, shaped as GraphQL answers AccountsPageQuery.
type (
	pageResponse struct {
		Data pageData `json:"data"`
	}
	pageData struct {
		Accounts accountConnection `json:"accounts"`
	}
	accountConnection struct {
		Edges []accountEdge `json:"edges"`
	}
	accountEdge struct {
		Node accountNode `json:"node"`
	}
	accountNode struct {
		Owner    *userName         `json:"owner"`
		Team     []teamMember      `json:"team"`
		Contacts contactConnection `json:"contacts"`
	}
	userName struct {
		Name string `json:"name"`
	}
	teamMember struct {
		User userName `json:"user"`
	}
	contactConnection struct {
		Edges []contactEdge `json:"edges"`
	}
	contactEdge struct {
		Node contactNode `json:"node"`
	}
	contactNode struct {
		Email string `json:"email"`
	}
)

// ServeHTTP answers the accounts page for the bearer of the request's access token.
func (b *Baseline) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		writeError(w, http.StatusUnauthorized, "UNAUTHENTICATED")
		return
	}
	v, err := b.issuer.Verify(strings.TrimSpace(token))
	if err == nil {
		err = auth.Authorize(v, db.RoleViewer, auth.ScopeRead)
	}
	if err != nil {
		status, code := http.StatusForbidden, "FORBIDDEN"
		if errors.Is(err, auth.ErrUnauthenticated) {
			status, code = http.StatusUnauthorized, "UNAUTHENTICATED"
		}
		writeError(w, status, code)
		return
	}
	page, err := b.page(r.Context(), v.WorkspaceID)
	if err != nil {
		slog.ErrorContext(r.Context(), "baseline accounts page", slog.Any("error", err))
		writeError(w, http.StatusInternalServerError, "INTERNAL")
		return
	}
	out, err := json.Marshal(page)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "INTERNAL")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// page runs the one statement and shapes its rows.
func (b *Baseline) page(ctx context.Context, workspaceID uuid.UUID) (*pageResponse, error) {
	b.statements.Add(1)
	rows, err := b.pool.Query(ctx, accountsPageSQL, workspaceID, ContactsPerAccount, PageSize)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	edges := make([]accountEdge, 0, PageSize)
	var owner *string
	var team, emails []string
	for rows.Next() {
		if err := rows.Scan(&owner, &team, &emails); err != nil {
			return nil, err
		}
		n := accountNode{Team: make([]teamMember, len(team)), Contacts: contactConnection{Edges: make([]contactEdge, len(emails))}}
		if owner != nil {
			n.Owner = &userName{Name: *owner}
		}
		for i, name := range team {
			n.Team[i].User.Name = name
		}
		for i, email := range emails {
			n.Contacts.Edges[i].Node.Email = email
		}
		edges = append(edges, accountEdge{Node: n})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return &pageResponse{Data: pageData{Accounts: accountConnection{Edges: edges}}}, nil
}

// writeError answers as the GraphQL endpoint does: an errors list with extensions.code.
func writeError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"errors":[{"message":"` + strings.ToLower(code) + `","extensions":{"code":"` + code + `"}}]}`))
}
