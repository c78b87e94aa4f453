package graph

import (
	"context"

	"github.com/google/uuid"

	"github.com/stewardhq/steward/condition"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/graph/model"
	"github.com/stewardhq/steward/invalid"
	"github.com/stewardhq/steward/journey"
)

// Converters and helpers for journey enrolments and their progress.

func toGraphEnrollment(v *journey.View) *model.JourneyEnrollment {
	e := &v.Enrollment
	out := &model.JourneyEnrollment{
		ID: globalID(kindEnrollment, e.ID), DBID: e.ID, JourneyID: e.JourneyID, AccountID: e.AccountID,
		RestartOfID: e.RestartOf, EnrolledByID: e.EnrolledBy, Version: e.Version,
		Status: model.JourneyEnrollmentStatus(e.Status), Attempt: e.Attempt,
		Source: model.JourneyEnrollmentSource(e.Source), SourceRef: e.SourceRef, EnrolledAt: e.EnrolledAt,
		LastProgressAt: e.LastProgressAt, StallAt: e.StallAt, CompletedAt: e.CompletedAt,
		CancelledAt: e.CancelledAt, CancelReason: e.CancelReason,
		Milestones: make([]*model.MilestoneProgress, len(v.Milestones)),
	}
	for i, m := range v.Milestones {
		st := m.State
		mp := &model.MilestoneProgress{
			Key: st.MilestoneKey, Name: m.Name, Position: st.Position, Status: model.MilestoneStatus(st.Status),
			StartedAt: st.StartedAt, DueAt: st.DueAt, AtRiskAt: st.AtRiskAt, BehindAt: st.BehindAt,
			CompletedAt: st.CompletedAt, SkippedAt: st.SkippedAt, Steps: make([]*model.StepProgress, len(m.Steps)),
		}
		for j, s := range m.Steps {
			mp.Steps[j] = &model.StepProgress{
				Key: s.StepKey, Kind: model.JourneyStepKind(s.Kind), Required: s.Required,
				Status: model.JourneyStepStatus(s.Status), TaskID: s.TaskID, Error: s.Error, DoneAt: s.DoneAt,
			}
		}
		out.Milestones[i] = mp
	}
	return out
}

// enrollmentView converts the result of a change to one enrolment, loading its progress.
func (r *Resolver) enrollmentView(ctx context.Context, e *db.JourneyEnrollment, err error) (*model.JourneyEnrollment, error) {
	if err != nil {
		return nil, err
	}
	v, err := r.JourneyEngine.View(ctx, viewer(ctx).Tenant(), e.ID)
	return convertOrErr(v, err, toGraphEnrollment)
}

// enrollmentViews converts the enrolments of a change, loading their progress.
func (r *Resolver) enrollmentViews(ctx context.Context, rows []db.JourneyEnrollment, err error) ([]*model.JourneyEnrollment, error) {
	if err != nil {
		return nil, err
	}
	vs, err := r.JourneyEngine.Views(ctx, viewer(ctx).Tenant(), rows)
	return convertAll(vs, err, toGraphEnrollment)
}

// enrollmentAction runs one change on an enrolment given by global id (argument field).
func (r *Resolver) enrollmentAction(ctx context.Context, id, field string, act func(t db.Tenant, id uuid.UUID) (*db.JourneyEnrollment, error)) (*model.JourneyEnrollment, error) {
	enrID, err := parseID(id, kindEnrollment)
	if err != nil {
		return nil, invalid.Rename("id", field, err)
	}
	e, err := act(viewer(ctx).Tenant(), enrID)
	return r.enrollmentView(ctx, e, err)
}

// enrollmentStatuses converts a status filter.
func enrollmentStatuses(in []model.JourneyEnrollmentStatus) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = string(s)
	}
	return out
}

// toEnrollmentQuery decodes the journeyEnrollments connection's arguments.
func toEnrollmentQuery(journeyID, accountID *string, status []model.JourneyEnrollmentStatus, first *int, after *string) (db.EnrollmentFilter, int, *db.PageCursor, error) {
	var f db.EnrollmentFilter
	n, err := pageSize(first)
	if err != nil {
		return f, 0, nil, err
	}
	if f.JourneyID, err = parseOptionalInputID(journeyID, kindJourney, "journeyId"); err != nil {
		return f, 0, nil, err
	}
	if f.AccountID, err = parseOptionalInputID(accountID, kindAccount, "accountId"); err != nil {
		return f, 0, nil, err
	}
	f.Statuses = enrollmentStatuses(status)
	cursor, err := decodeCursor(after, "enrollments")
	return f, n, cursor, err
}

func toEnrollmentConnection(vs []journey.View, hasNext bool) *model.JourneyEnrollmentConnection {
	conn := &model.JourneyEnrollmentConnection{Edges: make([]*model.JourneyEnrollmentEdge, len(vs)), PageInfo: &model.PageInfo{HasNextPage: hasNext}}
	for i := range vs {
		e := &vs[i].Enrollment
		cur := encodeCursor("enrollments", e.EnrolledAt.Format(pgTimestamp), e.ID)
		conn.Edges[i] = &model.JourneyEnrollmentEdge{Cursor: cur, Node: toGraphEnrollment(&vs[i])}
		conn.PageInfo.EndCursor = &cur
	}
	return conn
}

// toEnrollMatching decodes enrollMatching's filter and condition.
func toEnrollMatching(filter *model.AccountFilter, cond model.JSON) (db.AccountFilter, *condition.Condition, error) {
	f, err := toAccountFilter(filter)
	if err != nil {
		return f, nil, invalid.Prefix("filter", err)
	}
	if len(cond) == 0 || string(cond) == "null" {
		return f, nil, nil
	}
	c, err := condition.Parse(cond, condition.ScopeAccount)
	if err != nil {
		return f, nil, err
	}
	return f, c, nil
}
