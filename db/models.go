package db

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// Workspace is a tenant: one customer-success team's data.
type Workspace struct {
	bun.BaseModel `bun:"table:workspaces,alias:w"`
	ID            uuid.UUID `bun:"id,pk,type:uuid,default:gen_random_uuid()"`
	Name          string    `bun:"name,notnull"`
	CreatedAt     time.Time `bun:"created_at,notnull,default:now()"`
}

// User is a person who can log in; a Membership places them in a workspace with a role.
type User struct {
	bun.BaseModel `bun:"table:users,alias:u"`
	ID            uuid.UUID `bun:"id,pk,type:uuid,default:gen_random_uuid()"`
	Email         string    `bun:"email,notnull"`
	Name          string    `bun:"name,notnull"`
	PasswordHash  string    `bun:"password_hash,notnull"`
	CreatedAt     time.Time `bun:"created_at,notnull,default:now()"`
	UpdatedAt     time.Time `bun:"updated_at,notnull,default:now()"`
}

// Membership roles, most powerful first.
const (
	RoleAdmin   = "ADMIN"
	RoleManager = "MANAGER"
	RoleCSM     = "CSM"
	RoleViewer  = "VIEWER"
)

// Membership is a user's role in one workspace.
type Membership struct {
	bun.BaseModel `bun:"table:memberships,alias:m"`
	Owned
	UserID     uuid.UUID  `bun:"user_id,pk,type:uuid"`
	Role       string     `bun:"role,notnull"`
	CreatedAt  time.Time  `bun:"created_at,notnull,default:now()"`
	DisabledAt *time.Time `bun:"disabled_at"`
}

// Member is a user together with their membership in the tenant's workspace.
type Member struct {
	User
	Role       string     `bun:"role"`
	DisabledAt *time.Time `bun:"disabled_at"`
}

// RefreshToken is a stored (hashed) refresh token; tokens of one login share FamilyID.
type RefreshToken struct {
	bun.BaseModel `bun:"table:refresh_tokens,alias:rt"`
	Owned
	ID        uuid.UUID  `bun:"id,pk,type:uuid,default:gen_random_uuid()"`
	FamilyID  uuid.UUID  `bun:"family_id,type:uuid,notnull"`
	UserID    uuid.UUID  `bun:"user_id,type:uuid,notnull"`
	TokenHash []byte     `bun:"token_hash,notnull"`
	CreatedAt time.Time  `bun:"created_at,notnull,default:now()"`
	ExpiresAt time.Time  `bun:"expires_at,notnull"`
	UsedAt    *time.Time `bun:"used_at"`
	RevokedAt *time.Time `bun:"revoked_at"`
}

// APIKey is a partner integration's credential; only a hash of the secret is stored.
type APIKey struct {
	bun.BaseModel `bun:"table:api_keys,alias:k"`
	Owned
	ID         uuid.UUID  `bun:"id,pk,type:uuid,default:gen_random_uuid()"`
	Name       string     `bun:"name,notnull"`
	Prefix     string     `bun:"prefix,notnull"`
	KeyHash    []byte     `bun:"key_hash,notnull"`
	Scopes     []string   `bun:"scopes,array,notnull"`
	CreatedBy  *uuid.UUID `bun:"created_by,type:uuid"`
	CreatedAt  time.Time  `bun:"created_at,notnull,default:now()"`
	LastUsedAt *time.Time `bun:"last_used_at"`
	RevokedAt  *time.Time `bun:"revoked_at"`
}

// TeamRole is a workspace-defined role on an account team (CSM, Sales, Implementation...).
type TeamRole struct {
	bun.BaseModel `bun:"table:team_roles,alias:tr"`
	Owned
	ID       uuid.UUID `bun:"id,pk,type:uuid,default:gen_random_uuid()"`
	Key      string    `bun:"key,notnull"`
	Name     string    `bun:"name,notnull"`
	Position int       `bun:"position,notnull"`
}

// Account is a customer company.
type Account struct {
	bun.BaseModel `bun:"table:accounts,alias:a"`
	Owned
	ID             uuid.UUID       `bun:"id,pk,type:uuid,default:gen_random_uuid()"`
	Name           string          `bun:"name,notnull"`
	Domain         *string         `bun:"domain"`
	ExternalID     *string         `bun:"external_id"`
	OwnerID        *uuid.UUID      `bun:"owner_id,type:uuid"`
	Stage          string          `bun:"stage,notnull"`
	ARRMinor       int64           `bun:"arr_minor,notnull"`
	ARRCurrency    string          `bun:"arr_currency,notnull"`
	RenewalDate    *time.Time      `bun:"renewal_date,type:date"`
	HealthScore    *int            `bun:"health_score"`
	Tags           []string        `bun:"tags,array,notnull"`
	Custom         json.RawMessage `bun:"custom,type:jsonb,notnull"`
	LastLoginAt    *time.Time      `bun:"last_login_at"`
	LastActivityAt *time.Time      `bun:"last_activity_at"`
	CreatedAt      time.Time       `bun:"created_at,notnull,default:now()"`
	UpdatedAt      time.Time       `bun:"updated_at,notnull,default:now()"`
	ArchivedAt     *time.Time      `bun:"archived_at"`
}

// AccountTeamMember places a user on an account's team in a team role.
type AccountTeamMember struct {
	bun.BaseModel `bun:"table:account_team_members,alias:atm"`
	Owned
	AccountID  uuid.UUID `bun:"account_id,pk,type:uuid"`
	TeamRoleID uuid.UUID `bun:"team_role_id,pk,type:uuid"`
	UserID     uuid.UUID `bun:"user_id,pk,type:uuid"`
	CreatedAt  time.Time `bun:"created_at,notnull,default:now()"`
}

// Contact is a person at an account.
type Contact struct {
	bun.BaseModel `bun:"table:contacts,alias:c"`
	Owned
	ID          uuid.UUID       `bun:"id,pk,type:uuid,default:gen_random_uuid()"`
	AccountID   uuid.UUID       `bun:"account_id,type:uuid,notnull"`
	Name        string          `bun:"name,notnull"`
	Email       string          `bun:"email,notnull"`
	Title       *string         `bun:"title"`
	Persona     *string         `bun:"persona"`
	LastSeenAt  *time.Time      `bun:"last_seen_at"`
	EmailOptOut bool            `bun:"email_opt_out,notnull"`
	Custom      json.RawMessage `bun:"custom,type:jsonb,notnull"`
	CreatedAt   time.Time       `bun:"created_at,notnull,default:now()"`
	UpdatedAt   time.Time       `bun:"updated_at,notnull,default:now()"`
	ArchivedAt  *time.Time      `bun:"archived_at"`
}

// Event is one recorded usage event.
type Event struct {
	bun.BaseModel `bun:"table:events,alias:e"`
	Owned
	ID            int64           `bun:"id,pk,autoincrement"`
	ClientEventID string          `bun:"client_event_id,notnull"`
	AccountID     uuid.UUID       `bun:"account_id,type:uuid,notnull"`
	ContactID     *uuid.UUID      `bun:"contact_id,type:uuid"`
	Name          string          `bun:"name,notnull"`
	OccurredAt    time.Time       `bun:"occurred_at,notnull"`
	Properties    json.RawMessage `bun:"properties,type:jsonb,notnull"`
	ReceivedAt    time.Time       `bun:"received_at,notnull,default:now()"`
}

// Timeline entry kinds.
const (
	TimelineNote           = "NOTE"
	TimelineCall           = "CALL"
	TimelineMeeting        = "MEETING"
	TimelineEmail          = "EMAIL"
	TimelineBusinessReview = "BUSINESS_REVIEW"
	TimelineSystem         = "SYSTEM"
)

// TimelineEntry is one entry in an account's history.
type TimelineEntry struct {
	bun.BaseModel `bun:"table:timeline_entries,alias:te"`
	Owned
	ID         uuid.UUID  `bun:"id,pk,type:uuid,default:gen_random_uuid()"`
	AccountID  uuid.UUID  `bun:"account_id,type:uuid,notnull"`
	Kind       string     `bun:"kind,notnull"`
	AuthorID   *uuid.UUID `bun:"author_id,type:uuid"`
	OccurredAt time.Time  `bun:"occurred_at,notnull"`
	Body       string     `bun:"body,notnull"`
	CreatedAt  time.Time  `bun:"created_at,notnull,default:now()"`
}
