package db

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// Journey statuses, as for plays: a journey starts as a DRAFT, becomes ACTIVE when first
// published, may be PAUSED and resumed, and ends ARCHIVED, which is final.
const (
	JourneyDraft    = "DRAFT"
	JourneyActive   = "ACTIVE"
	JourneyPaused   = "PAUSED"
	JourneyArchived = "ARCHIVED"
)

// Journey is the documented process of one stage of a customer's life cycle (onboarding,
// adoption, renewal...). What is edited in place lives here: the key, name, stage, status and
// the pending draft; published definitions live in JourneyVersion rows, which never change.
type Journey struct {
	bun.BaseModel `bun:"table:journeys,alias:j"`
	Owned
	ID uuid.UUID `bun:"id,pk,type:uuid,default:gen_random_uuid()"`
	// Key is the short stable handle ("onboarding") triggers and conditions name the journey
	// by; unique among the workspace's journeys that are not archived.
	Key         string `bun:"key,notnull"`
	Name        string `bun:"name,notnull"`
	Description string `bun:"description,notnull"`
	// Stage is the life-cycle stage the journey covers, free text like accounts.stage.
	Stage  string `bun:"stage,notnull"`
	Status string `bun:"status,notnull"`
	// Draft is the pending definition (JSON), nil when there are no unpublished edits.
	Draft          json.RawMessage `bun:"draft,type:jsonb,nullzero"`
	DraftUpdatedAt *time.Time      `bun:"draft_updated_at"`
	// LatestVersion is the newest published version; 0 until the first publish.
	LatestVersion int `bun:"latest_version,notnull"`
	// TriggerKind, TriggerEvent and TriggerField copy the latest published version's trigger
	// (nil before the first publish; event and field only for their kinds), for lookups by
	// trigger without reading JSON.
	TriggerKind  *string `bun:"trigger_kind"`
	TriggerEvent *string `bun:"trigger_event"`
	TriggerField *string `bun:"trigger_field"`
	// CopiedFromID and CopiedFromVersion name the journey this one was copied from and the
	// version copied (0 when its draft was).
	CopiedFromID      *uuid.UUID `bun:"copied_from_id,type:uuid"`
	CopiedFromVersion *int       `bun:"copied_from_version"`
	CreatedBy         *uuid.UUID `bun:"created_by,type:uuid"`
	CreatedAt         time.Time  `bun:"created_at,notnull,default:now()"`
	UpdatedAt         time.Time  `bun:"updated_at,notnull,default:now()"`
	ArchivedAt        *time.Time `bun:"archived_at"`
}

// JourneyVersion is one published definition of a journey, frozen: the database refuses to
// update it, and enrolments pin the version they run on.
type JourneyVersion struct {
	bun.BaseModel `bun:"table:journey_versions,alias:jv"`
	Owned
	JourneyID uuid.UUID `bun:"journey_id,pk,type:uuid"`
	Version   int       `bun:"version,pk"`
	// Definition is the normalised definition JSON, as the journey package stores it.
	Definition  json.RawMessage `bun:"definition,type:jsonb,notnull"`
	PublishedAt time.Time       `bun:"published_at,notnull"`
	PublishedBy *uuid.UUID      `bun:"published_by,type:uuid"`
}

// PublishedJourney is a journey together with its latest published version.
type PublishedJourney struct {
	Journey `bun:",extend"`
	Current *JourneyVersion `bun:"rel:has-one,join:workspace_id=workspace_id,join:id=journey_id,join:latest_version=version"`
}
