package graph

import (
	"time"

	"github.com/google/uuid"

	"github.com/stewardhq/steward/graph/model"
	"github.com/stewardhq/steward/journey/analytics"
)

// Converters for the journey roadblock analytics.

func toGraphJourneyAnalytics(r *analytics.Report) *model.JourneyAnalytics {
	q := r.Query
	out := &model.JourneyAnalytics{
		JourneyID:   globalID(kindJourney, q.JourneyID),
		Version:     q.Version,
		From:        q.From,
		To:          q.To,
		AsOf:        q.Now,
		Enrollments: r.Enrollments,
	}
	for _, m := range r.Milestones {
		out.Milestones = append(out.Milestones, &model.JourneyMilestoneFigures{
			Key: m.Key, Name: m.Name, Position: m.Position,
			Entered: m.Entered, Completed: m.Completed, Skipped: m.Skipped,
			EverBehind: m.EverBehind, BehindShare: m.BehindShare,
			MedianSeconds: analyticsSeconds(m.DurationMedian), P90Seconds: analyticsSeconds(m.DurationP90),
			MedianOverrunSeconds: analyticsSeconds(m.OverrunMedian), P90OverrunSeconds: analyticsSeconds(m.OverrunP90),
		})
	}
	for _, c := range r.Current {
		out.Current = append(out.Current, &model.JourneyMilestonePosition{
			MilestoneKey: c.MilestoneKey, Status: c.Status, Count: c.Count, Stalled: c.Stalled,
		})
	}
	out.OverdueTasksByTeamRole = make([]*model.OverdueCount, len(r.OverdueByTeamRole))
	for i, g := range r.OverdueByTeamRole {
		out.OverdueTasksByTeamRole[i] = &model.OverdueCount{TeamRoleID: g.ID, Count: g.Count}
	}
	out.OverdueTasksByAssignee = make([]*model.OverdueCount, len(r.OverdueByAssignee))
	for i, g := range r.OverdueByAssignee {
		out.OverdueTasksByAssignee[i] = &model.OverdueCount{UserID: g.ID, Count: g.Count}
	}
	for _, b := range r.Roadblocks {
		out.Roadblocks = append(out.Roadblocks, &model.JourneyRoadblock{
			MilestoneKey: b.MilestoneKey, Name: b.Name, Behind: b.Behind, Stalled: b.Stalled, Stuck: b.Stuck,
			MedianOverrunSeconds: analyticsSeconds(b.MedianOverrun),
		})
	}
	for _, c := range r.Cohorts {
		out.Cohorts = append(out.Cohorts, &model.JourneyCohort{
			Month: model.Date{Time: c.Month}, Enrolled: c.Enrolled, Completed: c.Completed,
			Active: c.Active, Stalled: c.Stalled, Cancelled: c.Cancelled,
			MedianDaysToComplete: c.MedianDaysToComplete,
		})
	}
	// Lists are never null, even when empty.
	out.Milestones = analyticsList(out.Milestones)
	out.Current = analyticsList(out.Current)
	out.Roadblocks = analyticsList(out.Roadblocks)
	out.Cohorts = analyticsList(out.Cohorts)
	return out
}

func toGraphAccountJourneyTimeline(accountID, journeyID uuid.UUID, attempts []analytics.Attempt) *model.AccountJourneyTimeline {
	out := &model.AccountJourneyTimeline{
		AccountID: accountID,
		JourneyID: globalID(kindJourney, journeyID),
		Attempts:  make([]*model.JourneyAttempt, len(attempts)),
	}
	for i, a := range attempts {
		ga := &model.JourneyAttempt{
			EnrollmentID: globalID(kindEnrollment, a.EnrollmentID),
			Attempt:      a.Attempt, Version: a.Version, Status: a.Status,
			EnrolledAt: a.EnrolledAt, LastProgressAt: a.LastProgressAt,
			CompletedAt: a.CompletedAt, CancelledAt: a.CancelledAt,
			Milestones: make([]*model.JourneyMilestoneProgress, len(a.Milestones)),
		}
		for j, m := range a.Milestones {
			ga.Milestones[j] = &model.JourneyMilestoneProgress{
				Key: m.Key, Name: m.Name, Position: m.Position, Status: m.Status,
				StartedAt: m.StartedAt, DueAt: m.DueAt, AtRiskAt: m.AtRiskAt, BehindAt: m.BehindAt,
				CompletedAt: m.CompletedAt, SkippedAt: m.SkippedAt,
			}
		}
		out.Attempts[i] = ga
	}
	return out
}

// analyticsSeconds is a duration in seconds, or nil.
func analyticsSeconds(d *time.Duration) *float64 {
	if d == nil {
		return nil
	}
	s := d.Seconds()
	return &s
}

func analyticsList[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
