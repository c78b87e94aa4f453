package play

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
)

// JourneyEventKind is a change in an account's journey that JOURNEY triggers listen to.
type JourneyEventKind string

// Journey event kinds: enrolment-level first, then milestone-level (Milestone set).
const (
	JourneyEntered     JourneyEventKind = "ENTERED"
	JourneyCompleted   JourneyEventKind = "COMPLETED"
	JourneyCancelled   JourneyEventKind = "CANCELLED"
	JourneyStalled     JourneyEventKind = "STALLED"
	MilestoneStarted   JourneyEventKind = "MILESTONE_STARTED"
	MilestoneCompleted JourneyEventKind = "MILESTONE_COMPLETED"
	MilestoneSkipped   JourneyEventKind = "MILESTONE_SKIPPED"
	MilestoneAtRisk    JourneyEventKind = "AT_RISK"
	MilestoneBehind    JourneyEventKind = "BEHIND"
)

// JourneyEvent is what the journey engine reports, inside the transaction of the change, so
// plays with a JOURNEY trigger start in that same transaction.
type JourneyEvent struct {
	Kind         JourneyEventKind
	JourneyID    uuid.UUID
	JourneyKey   string
	EnrollmentID uuid.UUID
	AccountID    uuid.UUID
	// Milestone is the milestone's key; empty for enrolment-level kinds.
	Milestone string
	At        time.Time
}

// JourneyEnroller enrols an account in a journey for an ENROLL_IN_JOURNEY step, in the step's
// transaction. The journey engine implements it; play cannot import journey (journey builds
// on play), so the server wires it into Engine.Journeys.
type JourneyEnroller interface {
	// EnrollFromPlay enrols accountID in the active journey with key journeyKey; ref names
	// the run and step. It returns nil (and no error) when the journey's re-entry policy or a
	// live enrolment refuses, and db.ErrNotFound when no active journey has the key.
	EnrollFromPlay(ctx context.Context, tx bun.Tx, t db.Tenant, journeyKey string, accountID uuid.UUID, ref string) (*uuid.UUID, error)
}
