package db

import (
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// Enrolment statuses. ACTIVE and STALLED are live (one live enrolment per journey and
// account); COMPLETED and CANCELLED are final.
const (
	EnrollmentActive    = "ACTIVE"
	EnrollmentCompleted = "COMPLETED"
	EnrollmentCancelled = "CANCELLED"
	EnrollmentStalled   = "STALLED"
)

// LiveEnrollmentStatuses are the statuses of an enrolment still in progress.
var LiveEnrollmentStatuses = []string{EnrollmentActive, EnrollmentStalled}

// How an enrolment began.
const (
	EnrollSourceManual  = "MANUAL"
	EnrollSourceTrigger = "TRIGGER"
	EnrollSourcePlay    = "PLAY"
)

// Milestone statuses within an enrolment. ON_TRACK, AT_RISK and BEHIND are "in progress".
const (
	MilestoneNotStarted = "NOT_STARTED"
	MilestoneOnTrack    = "ON_TRACK"
	MilestoneAtRisk     = "AT_RISK"
	MilestoneBehind     = "BEHIND"
	MilestoneDone       = "DONE"
	MilestoneSkipped    = "SKIPPED"
)

// InProgressMilestoneStatuses are the statuses of a started milestone that is not finished.
var InProgressMilestoneStatuses = []string{MilestoneOnTrack, MilestoneAtRisk, MilestoneBehind}

// Journey step statuses within an enrolment.
const (
	JourneyStepPending = "PENDING"
	JourneyStepDone    = "DONE"
	JourneyStepSkipped = "SKIPPED"
	JourneyStepFailed  = "FAILED"
)

// JourneyEnrollment is one account's pass through one pinned journey version.
type JourneyEnrollment struct {
	bun.BaseModel `bun:"table:journey_enrollments,alias:je"`
	Owned
	ID        uuid.UUID `bun:"id,pk,type:uuid,default:gen_random_uuid()"`
	JourneyID uuid.UUID `bun:"journey_id,type:uuid,notnull"`
	Version   int       `bun:"version,notnull"`
	AccountID uuid.UUID `bun:"account_id,type:uuid,notnull"`
	Status    string    `bun:"status,notnull"`
	// Attempt is 1 for a first enrolment; a restart increments it and sets RestartOf.
	Attempt        int        `bun:"attempt,notnull"`
	RestartOf      *uuid.UUID `bun:"restart_of,type:uuid"`
	Source         string     `bun:"source,notnull"`
	SourceRef      *string    `bun:"source_ref"`
	EnrolledBy     *uuid.UUID `bun:"enrolled_by,type:uuid"`
	EnrolledAt     time.Time  `bun:"enrolled_at,notnull"`
	LastProgressAt time.Time  `bun:"last_progress_at,notnull"`
	// StallAt is when an ACTIVE enrolment without progress becomes STALLED; nil otherwise.
	StallAt      *time.Time `bun:"stall_at"`
	CompletedAt  *time.Time `bun:"completed_at"`
	CancelledAt  *time.Time `bun:"cancelled_at"`
	CancelledBy  *uuid.UUID `bun:"cancelled_by,type:uuid"`
	CancelReason *string    `bun:"cancel_reason"`
	UpdatedAt    time.Time  `bun:"updated_at,notnull,default:now()"`
}

// Live reports whether the enrolment is still in progress (ACTIVE or STALLED).
func (e *JourneyEnrollment) Live() bool {
	return e.Status == EnrollmentActive || e.Status == EnrollmentStalled
}

// JourneyMilestoneState is one milestone of an enrolment. JourneyID, Version, AccountID and
// EnrolledAt repeat the enrolment's so analytics read one table.
type JourneyMilestoneState struct {
	bun.BaseModel `bun:"table:journey_milestone_states,alias:jms"`
	Owned
	EnrollmentID uuid.UUID  `bun:"enrollment_id,pk,type:uuid"`
	MilestoneKey string     `bun:"milestone_key,pk"`
	JourneyID    uuid.UUID  `bun:"journey_id,type:uuid,notnull"`
	Version      int        `bun:"version,notnull"`
	AccountID    uuid.UUID  `bun:"account_id,type:uuid,notnull"`
	EnrolledAt   time.Time  `bun:"enrolled_at,notnull"`
	Position     int        `bun:"position,notnull"`
	Status       string     `bun:"status,notnull"`
	StartedAt    *time.Time `bun:"started_at"`
	DueAt        *time.Time `bun:"due_at"`
	AtRiskAt     *time.Time `bun:"at_risk_at"`
	BehindAt     *time.Time `bun:"behind_at"`
	NextStatusAt *time.Time `bun:"next_status_at"`
	NextCheckAt  *time.Time `bun:"next_check_at"`
	CompletedAt  *time.Time `bun:"completed_at"`
	SkippedAt    *time.Time `bun:"skipped_at"`
	UpdatedAt    time.Time  `bun:"updated_at,notnull,default:now()"`
}

// InProgress reports whether the milestone has started and is neither done nor skipped.
func (m *JourneyMilestoneState) InProgress() bool {
	return m.Status == MilestoneOnTrack || m.Status == MilestoneAtRisk || m.Status == MilestoneBehind
}

// Finished reports whether the milestone is DONE or SKIPPED.
func (m *JourneyMilestoneState) Finished() bool {
	return m.Status == MilestoneDone || m.Status == MilestoneSkipped
}

// JourneyStepState is one step of a started milestone: its task, automated effect or
// checkpoint.
type JourneyStepState struct {
	bun.BaseModel `bun:"table:journey_step_states,alias:jss"`
	Owned
	EnrollmentID   uuid.UUID  `bun:"enrollment_id,pk,type:uuid"`
	StepKey        string     `bun:"step_key,pk"`
	MilestoneKey   string     `bun:"milestone_key,notnull"`
	Kind           string     `bun:"kind,notnull"`
	Required       bool       `bun:"required,notnull"`
	Status         string     `bun:"status,notnull"`
	TaskID         *uuid.UUID `bun:"task_id,type:uuid"`
	PlayRunID      *uuid.UUID `bun:"play_run_id,type:uuid"`
	OutboxID       *uuid.UUID `bun:"outbox_id,type:uuid"`
	InAppMessageID *uuid.UUID `bun:"in_app_message_id,type:uuid"`
	Error          *string    `bun:"error"`
	CreatedAt      time.Time  `bun:"created_at,notnull,default:now()"`
	DoneAt         *time.Time `bun:"done_at"`
}

// Settled reports whether the step no longer holds its milestone back (DONE or SKIPPED).
func (s *JourneyStepState) Settled() bool {
	return s.Status == JourneyStepDone || s.Status == JourneyStepSkipped
}
