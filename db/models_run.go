package db

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// Play run statuses. RUNNING and WAITING are active; the others are final.
const (
	RunRunning   = "RUNNING"
	RunWaiting   = "WAITING"
	RunCompleted = "COMPLETED"
	RunGoalMet   = "GOAL_MET"
	RunExited    = "EXITED"
	RunFailed    = "FAILED"
	RunCancelled = "CANCELLED"
)

// Step log statuses.
const (
	StepRunning = "RUNNING"
	StepDone    = "DONE"
	StepFailed  = "FAILED"
	StepSkipped = "SKIPPED"
)

// In-app message statuses.
const (
	InAppPending   = "PENDING"
	InAppDisplayed = "DISPLAYED"
	InAppDismissed = "DISMISSED"
	InAppClicked   = "CLICKED"
)

// PlayRun is one execution of a published play version for one subject.
type PlayRun struct {
	bun.BaseModel `bun:"table:play_runs,alias:r"`
	Owned
	ID      uuid.UUID `bun:"id,pk,type:uuid,default:gen_random_uuid()"`
	PlayID  uuid.UUID `bun:"play_id,type:uuid,notnull"`
	Version int       `bun:"version,notnull"`
	// SubjectKind is ACCOUNT or CONTACT, the play's scope when the run started.
	SubjectKind string     `bun:"subject_kind,notnull"`
	AccountID   uuid.UUID  `bun:"account_id,type:uuid,notnull"`
	ContactID   *uuid.UUID `bun:"contact_id,type:uuid"`
	Status      string     `bun:"status,notnull"`
	// CurrentStep is the step to execute next (or being waited in); nil once finished.
	CurrentStep *string `bun:"current_step"`
	// Iterations maps REPEAT_UNTIL step ids to the round the run is in.
	Iterations map[string]int `bun:"iterations,type:jsonb,notnull"`
	NextWakeAt *time.Time     `bun:"next_wake_at"`
	// Trigger says why the run started, with the values seen.
	Trigger    json.RawMessage `bun:"trigger,type:jsonb,notnull"`
	StartedAt  time.Time       `bun:"started_at,notnull"`
	FinishedAt *time.Time      `bun:"finished_at"`
	UpdatedAt  time.Time       `bun:"updated_at,notnull,default:now()"`
	Outcome    *string         `bun:"outcome"`
	Error      *string         `bun:"error"`
}

// Active reports whether the run is still going (RUNNING or WAITING).
func (r *PlayRun) Active() bool { return r.Status == RunRunning || r.Status == RunWaiting }

// PlayStepRun is one line of a run's step log: one step in one round.
type PlayStepRun struct {
	bun.BaseModel `bun:"table:play_step_runs,alias:sr"`
	Owned
	RunID          uuid.UUID  `bun:"run_id,pk,type:uuid"`
	StepID         string     `bun:"step_id,pk"`
	Iteration      int        `bun:"iteration,pk"`
	Kind           string     `bun:"kind,notnull"`
	Attempt        int        `bun:"attempt,notnull"`
	Status         string     `bun:"status,notnull"`
	StartedAt      time.Time  `bun:"started_at,notnull"`
	FinishedAt     *time.Time `bun:"finished_at"`
	Outcome        *string    `bun:"outcome"`
	Error          *string    `bun:"error"`
	TaskID         *uuid.UUID `bun:"task_id,type:uuid"`
	OutboxID       *uuid.UUID `bun:"outbox_id,type:uuid"`
	InAppMessageID *uuid.UUID `bun:"in_app_message_id,type:uuid"`
}

// InAppMessage is a message shown to a contact inside the product.
type InAppMessage struct {
	bun.BaseModel `bun:"table:in_app_messages,alias:iam"`
	Owned
	ID             uuid.UUID  `bun:"id,pk,type:uuid,default:gen_random_uuid()"`
	AccountID      uuid.UUID  `bun:"account_id,type:uuid,notnull"`
	ContactID      uuid.UUID  `bun:"contact_id,type:uuid,notnull"`
	RunID          *uuid.UUID `bun:"run_id,type:uuid"`
	StepID         *string    `bun:"step_id"`
	Title          string     `bun:"title,notnull"`
	Body           string     `bun:"body,notnull"`
	Style          string     `bun:"style,notnull"`
	Status         string     `bun:"status,notnull"`
	IdempotencyKey string     `bun:"idempotency_key,notnull"`
	CreatedAt      time.Time  `bun:"created_at,notnull"`
	DisplayedAt    *time.Time `bun:"displayed_at"`
	DismissedAt    *time.Time `bun:"dismissed_at"`
	ClickedAt      *time.Time `bun:"clicked_at"`
}
