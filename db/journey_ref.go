package db

import (
	"context"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// The queries in this file are what plays and conditions ask about journeys: whether a key
// names a journey, and where an account stands in one. They read the journey tables with plain
// SQL so that plays do not depend on the journey definitions' models.

// LiveJourneyKeys returns those of keys that name a journey of the tenant that is not archived
// (in any other status: a play may be published before the journey it names).
func LiveJourneyKeys(ctx context.Context, idb bun.IDB, t Tenant, keys []string) ([]string, error) {
	out := []string{}
	if len(keys) == 0 {
		return out, nil
	}
	err := idb.NewSelect().TableExpr("journeys AS j").Column("j.key").
		Where("j.workspace_id = ? AND j.archived_at IS NULL AND j.key IN (?)", t.WorkspaceID, bun.In(keys)).
		OrderExpr("j.key").Scan(ctx, &out)
	if err != nil {
		return nil, mapErr("list journey keys", err)
	}
	return out, nil
}

// JourneyKeyByID returns the key of one journey of the tenant, archived or not.
func JourneyKeyByID(ctx context.Context, idb bun.IDB, t Tenant, id uuid.UUID) (string, error) {
	var key string
	err := idb.NewSelect().TableExpr("journeys AS j").Column("j.key").
		Where("j.workspace_id = ? AND j.id = ?", t.WorkspaceID, id).Scan(ctx, &key)
	if err != nil {
		return "", mapErr("get journey key", err)
	}
	return key, nil
}

// JourneyStanding is where an account stands in one journey: its latest enrolment (by
// enrolled_at, then id) and that enrolment's milestone states.
type JourneyStanding struct {
	// Key is the journey's key.
	Key          string
	EnrollmentID uuid.UUID
	// Status is the enrolment's status (ACTIVE, COMPLETED, CANCELLED, STALLED).
	Status string
	// Milestones maps milestone keys to their status in the enrolment.
	Milestones map[string]string
}

// LatestJourneyEnrollments returns, for each of keys naming a journey of the tenant that is not
// archived, the account's latest enrolment in it with its milestone states; a journey the
// account was never enrolled in is absent. Conditions read journey state through this, in the
// same order as their SQL form (ORDER BY enrolled_at DESC, id DESC).
func LatestJourneyEnrollments(ctx context.Context, idb bun.IDB, t Tenant, accountID uuid.UUID, keys []string) (map[string]*JourneyStanding, error) {
	out := map[string]*JourneyStanding{}
	if len(keys) == 0 {
		return out, nil
	}
	var rows []struct {
		Key    string    `bun:"key"`
		ID     uuid.UUID `bun:"id"`
		Status string    `bun:"status"`
	}
	err := idb.NewSelect().TableExpr("journeys AS j").
		ColumnExpr("j.key, e.id, e.status").
		Join(`JOIN LATERAL (SELECT je.id, je.status FROM journey_enrollments AS je
			WHERE je.workspace_id = j.workspace_id AND je.journey_id = j.id AND je.account_id = ?
			ORDER BY je.enrolled_at DESC, je.id DESC LIMIT 1) AS e ON true`, accountID).
		Where("j.workspace_id = ? AND j.archived_at IS NULL AND j.key IN (?)", t.WorkspaceID, bun.In(keys)).
		Scan(ctx, &rows)
	if err != nil {
		return nil, mapErr("load journey enrolments", err)
	}
	if len(rows) == 0 {
		return out, nil
	}
	ids := make([]uuid.UUID, len(rows))
	byID := map[uuid.UUID]*JourneyStanding{}
	for i, r := range rows {
		s := &JourneyStanding{Key: r.Key, EnrollmentID: r.ID, Status: r.Status, Milestones: map[string]string{}}
		out[r.Key], byID[r.ID], ids[i] = s, s, r.ID
	}
	var states []struct {
		EnrollmentID uuid.UUID `bun:"enrollment_id"`
		Key          string    `bun:"milestone_key"`
		Status       string    `bun:"status"`
	}
	err = idb.NewSelect().TableExpr("journey_milestone_states AS ms").
		ColumnExpr("ms.enrollment_id, ms.milestone_key, ms.status").
		Where("ms.workspace_id = ? AND ms.enrollment_id IN (?)", t.WorkspaceID, bun.In(ids)).
		Scan(ctx, &states)
	if err != nil {
		return nil, mapErr("load journey milestone states", err)
	}
	for _, s := range states {
		byID[s.EnrollmentID].Milestones[s.Key] = s.Status
	}
	return out, nil
}
