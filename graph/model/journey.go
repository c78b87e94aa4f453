package model

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Journey is a journey definition with its status. Draft is the raw draft (nil without pending
// edits); the draft field parses it.
type Journey struct {
	ID                string
	DBID              uuid.UUID
	Key               string
	Name              string
	Description       string
	Stage             string
	Status            JourneyStatus
	DraftJSON         json.RawMessage
	DraftUpdatedAt    *time.Time
	LatestVersion     int
	TriggerKind       *string
	CopiedFromID      *uuid.UUID
	CopiedFromVersion *int
	CreatedByID       *uuid.UUID
	CreatedAt         time.Time
	UpdatedAt         time.Time
	ArchivedAt        *time.Time
}

func (Journey) IsNode()         {}
func (j Journey) GetID() string { return j.ID }

// JourneyVersion is one frozen version of a journey's definition, converted.
type JourneyVersion struct {
	Version       int
	Definition    *JourneyDefinition
	PublishedAt   time.Time
	PublishedByID *uuid.UUID
}

// JourneyStep is one step of a milestone.
type JourneyStep struct {
	Key         string
	Kind        JourneyStepKind
	Required    bool
	Title       *string
	Description *string
	Assignee    *JourneyTaskAssignee
	DueIn       *string
	Priority    *TaskPriority
	Email       JSON
	Message     JSON
	PlayID      *uuid.UUID
	Condition   JSON
}

// JourneyTaskAssignee says who gets a journey task.
type JourneyTaskAssignee struct {
	Kind     string
	TeamRole *string
	UserID   *uuid.UUID
}
