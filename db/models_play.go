package db

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// Play statuses. A play starts as a DRAFT, becomes ACTIVE when first published, may be PAUSED
// and resumed, and ends ARCHIVED, which is final.
const (
	PlayDraft    = "DRAFT"
	PlayActive   = "ACTIVE"
	PlayPaused   = "PAUSED"
	PlayArchived = "ARCHIVED"
)

// Play is a situational automation for accounts or contacts. What is edited in place lives
// here: the name, the status and the pending draft; published definitions live in
// PlayVersion rows, which never change.
type Play struct {
	bun.BaseModel `bun:"table:plays,alias:p"`
	Owned
	ID          uuid.UUID `bun:"id,pk,type:uuid,default:gen_random_uuid()"`
	Name        string    `bun:"name,notnull"`
	Description string    `bun:"description,notnull"`
	// Scope is ACCOUNT or CONTACT: what one run of the play is about.
	Scope  string `bun:"scope,notnull"`
	Status string `bun:"status,notnull"`
	// Draft is the pending definition (JSON), nil when there are no unpublished edits.
	Draft          json.RawMessage `bun:"draft,type:jsonb,nullzero"`
	DraftUpdatedAt *time.Time      `bun:"draft_updated_at"`
	// LatestVersion is the newest published version; 0 until the first publish.
	LatestVersion int `bun:"latest_version,notnull"`
	// TriggerKind, TriggerEvent, TriggerField and TriggerJourney copy the latest published
	// version's trigger (nil before the first publish; event, field and journey key only for
	// their kinds), for lookups by trigger without reading JSON.
	TriggerKind    *string    `bun:"trigger_kind"`
	TriggerEvent   *string    `bun:"trigger_event"`
	TriggerField   *string    `bun:"trigger_field"`
	TriggerJourney *string    `bun:"trigger_journey"`
	CreatedBy      *uuid.UUID `bun:"created_by,type:uuid"`
	CreatedAt      time.Time  `bun:"created_at,notnull,default:now()"`
	UpdatedAt      time.Time  `bun:"updated_at,notnull,default:now()"`
	ArchivedAt     *time.Time `bun:"archived_at"`
}

// PlayVersion is one published definition of a play, frozen: the database refuses to update
// it, and runs pin the version they started on.
type PlayVersion struct {
	bun.BaseModel `bun:"table:play_versions,alias:pv"`
	Owned
	PlayID  uuid.UUID `bun:"play_id,pk,type:uuid"`
	Version int       `bun:"version,pk"`
	// Definition is the normalised definition JSON, as the play package stores it.
	Definition  json.RawMessage `bun:"definition,type:jsonb,notnull"`
	PublishedAt time.Time       `bun:"published_at,notnull"`
	PublishedBy *uuid.UUID      `bun:"published_by,type:uuid"`
}

// PublishedPlay is a play together with its latest published version.
type PublishedPlay struct {
	Play    `bun:",extend"`
	Current *PlayVersion `bun:"rel:has-one,join:workspace_id=workspace_id,join:id=play_id,join:latest_version=version"`
}
