package model

import (
	"time"

	"github.com/google/uuid"
)

// JourneyEnrollment is one account's pass through a journey version. Milestones are converted
// with the enrolment (the engine loads them for a whole page at once); the journey, account,
// the attempt it restarts and who enrolled it resolve through loaders from the ids kept here.
type JourneyEnrollment struct {
	ID             string
	DBID           uuid.UUID
	JourneyID      uuid.UUID
	AccountID      uuid.UUID
	RestartOfID    *uuid.UUID
	EnrolledByID   *uuid.UUID
	Version        int
	Status         JourneyEnrollmentStatus
	Attempt        int
	Source         JourneyEnrollmentSource
	SourceRef      *string
	EnrolledAt     time.Time
	LastProgressAt time.Time
	StallAt        *time.Time
	CompletedAt    *time.Time
	CancelledAt    *time.Time
	CancelReason   *string
	Milestones     []*MilestoneProgress
}

func (JourneyEnrollment) IsNode()         {}
func (e JourneyEnrollment) GetID() string { return e.ID }

// StepProgress is a step of a started milestone; its task resolves through the task loader.
type StepProgress struct {
	Key      string
	Kind     JourneyStepKind
	Required bool
	Status   JourneyStepStatus
	TaskID   *uuid.UUID
	Error    *string
	DoneAt   *time.Time
}
