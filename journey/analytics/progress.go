package analytics

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
)

// Attempt is one enrolment of an account in a journey (a restart is a new attempt) with its
// milestones in the order of its version.
type Attempt struct {
	EnrollmentID   uuid.UUID
	Attempt        int
	Version        int
	Status         string
	EnrolledAt     time.Time
	LastProgressAt time.Time
	CompletedAt    *time.Time
	CancelledAt    *time.Time
	Milestones     []MilestoneProgress
}

// MilestoneProgress is one milestone of an attempt: its status and the moments it changed.
type MilestoneProgress struct {
	Key         string
	Name        string
	Position    int
	Status      string
	StartedAt   *time.Time
	DueAt       *time.Time
	AtRiskAt    *time.Time
	BehindAt    *time.Time
	CompletedAt *time.Time
	SkippedAt   *time.Time
}

// progressRow is an attempt's milestone, joined with its enrolment.
type progressRow struct {
	EnrollmentID   uuid.UUID  `bun:"enrollment_id"`
	Attempt        int        `bun:"attempt"`
	Version        int        `bun:"version"`
	EStatus        string     `bun:"e_status"`
	EnrolledAt     time.Time  `bun:"enrolled_at"`
	LastProgressAt time.Time  `bun:"last_progress_at"`
	ECompletedAt   *time.Time `bun:"e_completed_at"`
	ECancelledAt   *time.Time `bun:"e_cancelled_at"`
	Key            *string    `bun:"milestone_key"`
	Name           *string    `bun:"name"`
	Position       *int       `bun:"position"`
	Status         *string    `bun:"status"`
	StartedAt      *time.Time `bun:"started_at"`
	DueAt          *time.Time `bun:"due_at"`
	AtRiskAt       *time.Time `bun:"at_risk_at"`
	BehindAt       *time.Time `bun:"behind_at"`
	CompletedAt    *time.Time `bun:"completed_at"`
	SkippedAt      *time.Time `bun:"skipped_at"`
}

// AccountProgress is the timeline of accountID in journeyID: every attempt, oldest first, with
// its milestones (names from the attempt's own version). A journey or account the workspace
// does not have is db.ErrNotFound; an account never enrolled has no attempts (an empty slice).
func AccountProgress(ctx context.Context, idb bun.IDB, t db.Tenant, journeyID, accountID uuid.UUID) ([]Attempt, error) {
	var found struct {
		Journey bool `bun:"journey"`
		Account bool `bun:"account"`
	}
	err := idb.NewRaw(`
		SELECT EXISTS (SELECT 1 FROM journeys WHERE workspace_id = ? AND id = ?) AS journey,
		       EXISTS (SELECT 1 FROM accounts WHERE workspace_id = ? AND id = ?) AS account`,
		t.WorkspaceID, journeyID, t.WorkspaceID, accountID).Scan(ctx, &found)
	if err != nil {
		return nil, mapErr("find journey and account", err)
	}
	if !found.Journey || !found.Account {
		return nil, mapErr("find journey and account", db.ErrNotFound)
	}
	var rows []progressRow
	err = idb.NewRaw(`
		SELECT e.id AS enrollment_id, e.attempt, e.version, e.status AS e_status, e.enrolled_at,
		       e.last_progress_at, e.completed_at AS e_completed_at, e.cancelled_at AS e_cancelled_at,
		       ms.milestone_key, coalesce(def.name, ms.milestone_key) AS name, ms.position, ms.status,
		       ms.started_at, ms.due_at, ms.at_risk_at, ms.behind_at, ms.completed_at, ms.skipped_at
		FROM journey_enrollments e
		LEFT JOIN journey_milestone_states ms ON ms.workspace_id = e.workspace_id AND ms.enrollment_id = e.id
		LEFT JOIN journey_versions v ON v.workspace_id = e.workspace_id AND v.journey_id = e.journey_id AND v.version = e.version
		LEFT JOIN LATERAL (
		    SELECT m->>'name' AS name
		    FROM jsonb_array_elements(
		        CASE WHEN jsonb_typeof(v.definition->'milestones') = 'array' THEN v.definition->'milestones' ELSE '[]'::jsonb END
		    ) AS m
		    WHERE m->>'key' = ms.milestone_key
		    LIMIT 1
		) def ON true
		WHERE e.workspace_id = ? AND e.journey_id = ? AND e.account_id = ?
		ORDER BY e.enrolled_at, e.attempt, e.id, ms.position, ms.milestone_key`,
		t.WorkspaceID, journeyID, accountID).Scan(ctx, &rows)
	if err != nil {
		return nil, mapErr("read account progress", err)
	}
	out := []Attempt{}
	for _, r := range rows {
		if len(out) == 0 || out[len(out)-1].EnrollmentID != r.EnrollmentID {
			out = append(out, Attempt{
				EnrollmentID: r.EnrollmentID, Attempt: r.Attempt, Version: r.Version, Status: r.EStatus,
				EnrolledAt: r.EnrolledAt, LastProgressAt: r.LastProgressAt,
				CompletedAt: r.ECompletedAt, CancelledAt: r.ECancelledAt,
			})
		}
		if r.Key == nil {
			continue
		}
		a := &out[len(out)-1]
		a.Milestones = append(a.Milestones, MilestoneProgress{
			Key: *r.Key, Name: *r.Name, Position: *r.Position, Status: *r.Status,
			StartedAt: r.StartedAt, DueAt: r.DueAt, AtRiskAt: r.AtRiskAt, BehindAt: r.BehindAt,
			CompletedAt: r.CompletedAt, SkippedAt: r.SkippedAt,
		})
	}
	return out, nil
}
