package analytics

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/db/dbtest"
	"github.com/stewardhq/steward/invalid"
)

// world is the hand-made fixture every figure below is computed from by hand.
//
// Journey J, version 1: kickoff "Kickoff", setup "Technical setup", golive "Go-live";
// version 2: kickoff "Kickoff call", setup, training "Training", golive. Targets: kickoff 2 d,
// setup 7 d, training 5 d, golive 3 d. Now is 2026-03-20 12:00. Enrolments (all 2026 unless
// said; "d" is days in the milestone, "+" the overrun past due):
//
//	E1  v1 01-05 COMPLETED 01-20  kickoff DONE 1d+0 | setup DONE 9d+2 (behind) | golive DONE 5d+2 (behind)
//	E2  v1 01-10 COMPLETED 01-18  kickoff DONE 2d+0 | setup DONE 4d+0          | golive DONE 2d+0
//	E3  v1 01-20 CANCELLED 02-01  kickoff DONE 1.5d+0 | setup BEHIND | golive NOT_STARTED   (account a3)
//	E4  v1 02-03 ACTIVE (restart of E3, attempt 2)
//	                              kickoff DONE 3d+1 (behind) | setup BEHIND | golive NOT_STARTED
//	E5  v2 02-10 ACTIVE           kickoff DONE 1d | setup DONE 6d+0 (at risk) | training AT_RISK | golive NS
//	E6  v2 02-15 STALLED          kickoff DONE 1d | setup BEHIND | training NS | golive NS
//	E7  v2 03-15 ACTIVE           kickoff SKIPPED | setup ON_TRACK | training NS | golive NS
//	E8  v2 03-01 COMPLETED 03-18  kickoff DONE 1d | setup DONE 10d+3 (behind) | training DONE 4d | golive DONE 2d
//	E9  v2 03-05 STALLED          kickoff AT_RISK | setup NS | training NS | golive NS
//	E10 v1 2025-12-20 COMPLETED 01-01: kickoff DONE 1d | setup DONE 9d+2 (behind) | golive DONE 2d
//
// Tasks from steps: T1 E4 setup OPEN due 03-01 (CSM, u1) overdue; T2 E4 setup OPEN due 03-25
// (SALES, u2) not yet due; T3 E6 setup SNOOZED until 03-10 due 02-25 (CSM, u2) overdue (the
// snooze ran out); T4 E9 kickoff SNOOZED until 03-25 due 03-06 (CSM, u1) not overdue; T5 E5
// training OPEN due 03-01 (IMPLEMENTATION, nobody) overdue; T6 E1 setup DONE; T7 E10 setup
// OPEN due 01-01 (SALES, u1) overdue; T8 a manual task of a3 OPEN due 03-01, from no journey.
//
// A second workspace holds a journey with J's very id and an enrolment with an overdue task,
// in range: it must never count.
type world struct {
	f          *fixture
	journey    uuid.UUID
	now        time.Time
	u1, u2     uuid.UUID
	csm, sales uuid.UUID
	impl       uuid.UUID
	a3         uuid.UUID
	e3, e4     uuid.UUID
	loner      uuid.UUID
	otherWS    *fixture
}

func setupWorld(t *testing.T) *world {
	t.Helper()
	d := dbtest.DB(t)
	f := newFixture(t, d.Bun, "Analytics")
	w := &world{f: f, now: at(t, "2026-03-20 12:00")}
	v1 := []fxMilestone{{"kickoff", "Kickoff", "2d"}, {"setup", "Technical setup", "7d"}, {"golive", "Go-live", "3d"}}
	v2 := []fxMilestone{{"kickoff", "Kickoff call", "2d"}, {"setup", "Technical setup", "7d"}, {"training", "Training", "5d"}, {"golive", "Go-live", "3d"}}
	w.journey = f.journey(uuid.Nil, v1, v2)
	w.u1, w.u2 = f.member(), f.member()
	w.csm, w.sales, w.impl = f.role("CSM"), f.role("SALES"), f.role("IMPLEMENTATION")
	w.loner = f.account()

	ts := func(s string) time.Time { return at(t, s) }
	done := func(key, start, due, end string) fxState {
		return fxState{Key: key, Status: StatusDone, Started: ts(start), Due: ts(due), Completed: ts(end)}
	}
	late := func(key, start, due, end string) fxState {
		s := done(key, start, due, end)
		s.Behind = s.Due
		return s
	}
	ns := func(key string) fxState { return fxState{Key: key, Status: StatusNotStarted} }
	behind := func(key, start, due string) fxState {
		return fxState{Key: key, Status: StatusBehind, Started: ts(start), Due: ts(due), AtRisk: ts(due).Add(-2 * day), Behind: ts(due)}
	}
	J := w.journey

	f.enroll(fxEnrollment{Journey: J, Version: 1, Account: f.account(), Status: "COMPLETED", EnrolledAt: ts("2026-01-05 00:00"), Ended: ts("2026-01-20 00:00"),
		Milestones: []fxState{done("kickoff", "2026-01-05 00:00", "2026-01-07 00:00", "2026-01-06 00:00"),
			late("setup", "2026-01-06 00:00", "2026-01-13 00:00", "2026-01-15 00:00"),
			late("golive", "2026-01-15 00:00", "2026-01-18 00:00", "2026-01-20 00:00")}})
	a2 := f.account()
	f.enroll(fxEnrollment{Journey: J, Version: 1, Account: a2, Status: "COMPLETED", EnrolledAt: ts("2026-01-10 00:00"), Ended: ts("2026-01-18 00:00"),
		Milestones: []fxState{done("kickoff", "2026-01-10 00:00", "2026-01-12 00:00", "2026-01-12 00:00"),
			done("setup", "2026-01-12 00:00", "2026-01-19 00:00", "2026-01-16 00:00"),
			done("golive", "2026-01-16 00:00", "2026-01-19 00:00", "2026-01-18 00:00")}})
	w.a3 = f.account()
	w.e3 = f.enroll(fxEnrollment{Journey: J, Version: 1, Account: w.a3, Status: "CANCELLED", EnrolledAt: ts("2026-01-20 00:00"), Ended: ts("2026-02-01 00:00"),
		Milestones: []fxState{done("kickoff", "2026-01-20 00:00", "2026-01-22 00:00", "2026-01-21 12:00"),
			behind("setup", "2026-01-21 12:00", "2026-01-28 12:00"), ns("golive")}})
	kick4 := late("kickoff", "2026-02-03 00:00", "2026-02-05 00:00", "2026-02-06 00:00")
	w.e4 = f.enroll(fxEnrollment{Journey: J, Version: 1, Account: w.a3, Status: "ACTIVE", Attempt: 2, RestartOf: &w.e3, EnrolledAt: ts("2026-02-03 00:00"),
		Milestones: []fxState{kick4, behind("setup", "2026-02-06 00:00", "2026-02-13 00:00"), ns("golive")}})
	setup5 := done("setup", "2026-02-11 00:00", "2026-02-18 00:00", "2026-02-17 00:00")
	setup5.AtRisk = ts("2026-02-16 00:00")
	e5 := f.enroll(fxEnrollment{Journey: J, Version: 2, Account: f.account(), Status: "ACTIVE", EnrolledAt: ts("2026-02-10 00:00"),
		Milestones: []fxState{done("kickoff", "2026-02-10 00:00", "2026-02-12 00:00", "2026-02-11 00:00"), setup5,
			{Key: "training", Status: StatusAtRisk, Started: ts("2026-02-17 00:00"), Due: ts("2026-02-22 00:00"), AtRisk: ts("2026-02-21 00:00")},
			ns("golive")}})
	e6 := f.enroll(fxEnrollment{Journey: J, Version: 2, Account: f.account(), Status: "STALLED", EnrolledAt: ts("2026-02-15 00:00"),
		Milestones: []fxState{done("kickoff", "2026-02-15 00:00", "2026-02-17 00:00", "2026-02-16 00:00"),
			behind("setup", "2026-02-16 00:00", "2026-02-23 00:00"), ns("training"), ns("golive")}})
	f.enroll(fxEnrollment{Journey: J, Version: 2, Account: f.account(), Status: "ACTIVE", EnrolledAt: ts("2026-03-15 00:00"),
		Milestones: []fxState{{Key: "kickoff", Status: StatusSkipped, Skipped: ts("2026-03-15 00:00")},
			{Key: "setup", Status: StatusOnTrack, Started: ts("2026-03-15 00:00"), Due: ts("2026-03-22 00:00")}, ns("training"), ns("golive")}})
	f.enroll(fxEnrollment{Journey: J, Version: 2, Account: f.account(), Status: "COMPLETED", EnrolledAt: ts("2026-03-01 00:00"), Ended: ts("2026-03-18 00:00"),
		Milestones: []fxState{done("kickoff", "2026-03-01 00:00", "2026-03-03 00:00", "2026-03-02 00:00"),
			late("setup", "2026-03-02 00:00", "2026-03-09 00:00", "2026-03-12 00:00"),
			done("training", "2026-03-12 00:00", "2026-03-17 00:00", "2026-03-16 00:00"),
			done("golive", "2026-03-16 00:00", "2026-03-19 00:00", "2026-03-18 00:00")}})
	a9 := f.account()
	e9 := f.enroll(fxEnrollment{Journey: J, Version: 2, Account: a9, Status: "STALLED", EnrolledAt: ts("2026-03-05 00:00"),
		Milestones: []fxState{{Key: "kickoff", Status: StatusAtRisk, Started: ts("2026-03-05 00:00"), Due: ts("2026-03-07 00:00"), AtRisk: ts("2026-03-06 00:00")},
			ns("setup"), ns("training"), ns("golive")}})
	e10 := f.enroll(fxEnrollment{Journey: J, Version: 1, Account: a2, Status: "COMPLETED", Attempt: 1, EnrolledAt: ts("2025-12-20 00:00"), Ended: ts("2026-01-01 00:00"),
		Milestones: []fxState{done("kickoff", "2025-12-20 00:00", "2025-12-22 00:00", "2025-12-21 00:00"),
			late("setup", "2025-12-21 00:00", "2025-12-28 00:00", "2025-12-30 00:00"),
			done("golive", "2025-12-30 00:00", "2026-01-02 00:00", "2026-01-01 00:00")}})

	e1 := w.enrollmentAt(t, "2026-01-05 00:00")
	f.task(fxTask{Enrollment: &w.e4, Milestone: "setup", Account: w.a3, Status: "OPEN", Due: ts("2026-03-01 00:00"), TeamRole: &w.csm, Assignee: &w.u1})
	f.task(fxTask{Enrollment: &w.e4, Milestone: "setup", Account: w.a3, Status: "OPEN", Due: ts("2026-03-25 00:00"), TeamRole: &w.sales, Assignee: &w.u2})
	f.task(fxTask{Enrollment: &e6, Milestone: "setup", Account: w.a3, Status: "SNOOZED", SnoozedUntil: ts("2026-03-10 00:00"), Due: ts("2026-02-25 00:00"), TeamRole: &w.csm, Assignee: &w.u2})
	f.task(fxTask{Enrollment: &e9, Milestone: "kickoff", Account: a9, Status: "SNOOZED", SnoozedUntil: ts("2026-03-25 00:00"), Due: ts("2026-03-06 00:00"), TeamRole: &w.csm, Assignee: &w.u1})
	f.task(fxTask{Enrollment: &e5, Milestone: "training", Account: a9, Status: "OPEN", Due: ts("2026-03-01 00:00"), TeamRole: &w.impl})
	f.task(fxTask{Enrollment: &e1, Milestone: "setup", Account: a9, Status: "DONE", Due: ts("2026-01-10 00:00"), TeamRole: &w.csm, Assignee: &w.u1})
	f.task(fxTask{Enrollment: &e10, Milestone: "setup", Account: a2, Status: "OPEN", Due: ts("2026-01-01 00:00"), TeamRole: &w.sales, Assignee: &w.u1})
	f.task(fxTask{Account: w.a3, Status: "OPEN", Due: ts("2026-03-01 00:00"), TeamRole: &w.csm, Assignee: &w.u1})

	// Another workspace: the same journey id, one in-range enrolment stuck and an overdue task.
	o := newFixture(t, d.Bun, "Analytics other")
	o.journey(J, v1)
	oa := o.account()
	oe := o.enroll(fxEnrollment{Journey: J, Version: 1, Account: oa, Status: "ACTIVE", EnrolledAt: ts("2026-01-06 00:00"),
		Milestones: []fxState{late("kickoff", "2026-01-06 00:00", "2026-01-08 00:00", "2026-01-20 00:00"),
			behind("setup", "2026-01-20 00:00", "2026-01-27 00:00"), ns("golive")}})
	o.task(fxTask{Enrollment: &oe, Milestone: "setup", Account: oa, Status: "OPEN", Due: ts("2026-02-01 00:00")})
	w.otherWS = o
	return w
}

// enrollmentAt finds the fixture's enrolment enrolled at s.
func (w *world) enrollmentAt(t *testing.T, s string) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	require.NoError(t, w.f.db.NewRaw(`SELECT id FROM journey_enrollments WHERE workspace_id = ? AND enrolled_at = ?`,
		w.f.tenant.WorkspaceID, at(t, s)).Scan(w.f.ctx, &id))
	return id
}

func (w *world) report(t *testing.T, q Query) (*Report, error) {
	t.Helper()
	q.JourneyID = w.journey
	q.Now = w.now
	tx, err := w.f.db.BeginTx(w.f.ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback() //nolint:errcheck // read only
	return Roadblocks(w.f.ctx, tx, w.f.tenant, q)
}

func dur(d time.Duration) *time.Duration { return &d }

// requireNear asserts a reported percentile against its exact value (percentile_cont): within
// PercentileBound of it, plus at most 30 s where values under a minute (one bucket) are
// involved; exactly when zero or absent.
func requireNear[T time.Duration | float64](t *testing.T, want, got *T, what string) {
	t.Helper()
	if want == nil || *want == 0 {
		require.Equal(t, want, got, what)
		return
	}
	require.NotNil(t, got, what)
	w, g := float64(*want), float64(*got)
	slack := float64(30 * time.Second) // a time.Duration
	if _, days := any(*want).(float64); days {
		slack = 30.0 / 86400
	}
	require.LessOrEqual(t, math.Abs(g-w), PercentileBound*w+slack, "%s: want %v, got %v", what, *want, *got)
}

// requireMilestones compares milestones: counts exactly, percentiles with requireNear.
func requireMilestones(t *testing.T, want, got []Milestone) {
	t.Helper()
	require.Len(t, got, len(want))
	strip := func(ms []Milestone) []Milestone {
		out := slices.Clone(ms)
		for i := range out {
			out[i].DurationMedian, out[i].DurationP90, out[i].OverrunMedian, out[i].OverrunP90 = nil, nil, nil, nil
		}
		return out
	}
	require.Equal(t, strip(want), strip(got))
	for i, w := range want {
		g := got[i]
		requireNear(t, w.DurationMedian, g.DurationMedian, w.Key+" duration median")
		requireNear(t, w.DurationP90, g.DurationP90, w.Key+" duration p90")
		requireNear(t, w.OverrunMedian, g.OverrunMedian, w.Key+" overrun median")
		requireNear(t, w.OverrunP90, g.OverrunP90, w.Key+" overrun p90")
	}
}

// requireRoadblocks compares roadblocks: counts and order exactly, the overrun with requireNear.
func requireRoadblocks(t *testing.T, want, got []Roadblock) {
	t.Helper()
	require.Len(t, got, len(want))
	for i, w := range want {
		g := got[i]
		requireNear(t, w.MedianOverrun, g.MedianOverrun, w.MilestoneKey+" median overrun")
		w.MedianOverrun, g.MedianOverrun = nil, nil
		require.Equal(t, w, g)
	}
}

// requireCohorts compares cohorts: counts exactly, the median with requireNear.
func requireCohorts(t *testing.T, want, got []Cohort) {
	t.Helper()
	require.Len(t, got, len(want))
	for i, w := range want {
		g := got[i]
		requireNear(t, w.MedianDaysToComplete, g.MedianDaysToComplete, "cohort median days")
		w.MedianDaysToComplete, g.MedianDaysToComplete = nil, nil
		require.Equal(t, w, g)
	}
}
func fl(v float64) *float64 { return &v }

func TestRoadblocksAllVersions(t *testing.T) {
	t.Parallel()
	w := setupWorld(t)
	rep, err := w.report(t, Query{From: at(t, "2026-01-01 00:00"), To: at(t, "2026-04-01 00:00")})
	require.NoError(t, err)

	// E1..E9; E10 was enrolled in December.
	require.Equal(t, 9, rep.Enrollments)
	requireMilestones(t, []Milestone{
		// Entered: all but E7 (skipped, never started). Durations 1,2,1.5,3,1,1,1 d sorted
		// 1,1,1,1,1.5,2,3: median the 4th = 1 d; p90 at rank 5.4 = 2 + 0.4×(3−2) = 2.4 d.
		// Overruns six 0 and one 1 d: median 0, p90 = 0 + 0.4×1 = 0.4 d. Behind: E4 of 8.
		{Key: "kickoff", Name: "Kickoff call", Position: 1, Entered: 8, Completed: 7, Skipped: 1, EverBehind: 1, BehindShare: 1.0 / 8,
			DurationMedian: dur(1 * day), DurationP90: dur(2*day + 2*day/5), OverrunMedian: dur(0), OverrunP90: dur(2 * day / 5)},
		// Entered E1..E8; done E1 9d+2, E2 4d+0, E5 6d+0, E8 10d+3. Durations 4,6,9,10: median
		// (6+9)/2 = 7.5 d, p90 at rank 2.7 = 9 + 0.7 = 9.7 d. Overruns 0,0,2,3: median 1 d,
		// p90 = 2 + 0.7×1 = 2.7 d. Ever behind E1, E3, E4, E6, E8: 5 of 8.
		{Key: "setup", Name: "Technical setup", Position: 2, Entered: 8, Completed: 4, EverBehind: 5, BehindShare: 5.0 / 8,
			DurationMedian: dur(7*day + day/2), DurationP90: dur(9*day + 7*day/10), OverrunMedian: dur(day), OverrunP90: dur(2*day + 7*day/10)},
		// v2 only: E5 in progress, E8 done in 4 d on time.
		{Key: "training", Name: "Training", Position: 3, Entered: 2, Completed: 1,
			DurationMedian: dur(4 * day), DurationP90: dur(4 * day), OverrunMedian: dur(0), OverrunP90: dur(0)},
		// E1 5d+2, E2 2d+0, E8 2d+0: durations 2,2,5 median 2 d, p90 at rank 1.8 = 2 + 0.8×3 =
		// 4.4 d; overruns 0,0,2: median 0, p90 = 0.8×2 = 1.6 d. Behind: E1 of 3.
		{Key: "golive", Name: "Go-live", Position: 4, Entered: 3, Completed: 3, EverBehind: 1, BehindShare: 1.0 / 3,
			DurationMedian: dur(2 * day), DurationP90: dur(4*day + 2*day/5), OverrunMedian: dur(0), OverrunP90: dur(day + 3*day/5)},
	}, rep.Milestones)

	// Live: E4 setup BEHIND, E5 training AT_RISK, E6 (stalled) setup BEHIND, E7 setup ON_TRACK,
	// E9 (stalled) kickoff AT_RISK. E3 is cancelled: its BEHIND setup is not current.
	require.Equal(t, []Current{
		{MilestoneKey: "kickoff", Status: StatusAtRisk, Count: 1, Stalled: 1},
		{MilestoneKey: "setup", Status: StatusOnTrack, Count: 1},
		{MilestoneKey: "setup", Status: StatusBehind, Count: 2, Stalled: 1},
		{MilestoneKey: "training", Status: StatusAtRisk, Count: 1},
	}, rep.Current)

	// Setup: E4 and E6 behind (E6 also stalled) → 2 stuck; kickoff: E9 stalled → 1.
	requireRoadblocks(t, []Roadblock{
		{MilestoneKey: "setup", Name: "Technical setup", Behind: 2, Stalled: 1, Stuck: 2, MedianOverrun: dur(day)},
		{MilestoneKey: "kickoff", Name: "Kickoff call", Stalled: 1, Stuck: 1, MedianOverrun: dur(0)},
	}, rep.Roadblocks)

	// Overdue: T1 (CSM, u1), T3 (CSM, u2; its snooze ran out), T5 (IMPLEMENTATION, nobody).
	require.Equal(t, []OverdueGroup{{ID: &w.csm, Count: 2}, {ID: &w.impl, Count: 1}}, rep.OverdueByTeamRole)
	require.Len(t, rep.OverdueByAssignee, 3)
	require.ElementsMatch(t, []OverdueGroup{{ID: &w.u1, Count: 1}, {ID: &w.u2, Count: 1}}, rep.OverdueByAssignee[:2])
	require.Equal(t, OverdueGroup{Count: 1}, rep.OverdueByAssignee[2])

	// January: E1 (15 d), E2 (8 d) completed, E3 cancelled: median 11.5 d. February: E4, E5
	// active, E6 stalled. March: E7 active, E8 completed in 17 d, E9 stalled.
	requireCohorts(t, []Cohort{
		{Month: at(t, "2026-01-01 00:00"), Enrolled: 3, Completed: 2, Cancelled: 1, MedianDaysToComplete: fl(11.5)},
		{Month: at(t, "2026-02-01 00:00"), Enrolled: 3, Active: 2, Stalled: 1},
		{Month: at(t, "2026-03-01 00:00"), Enrolled: 3, Completed: 1, Active: 1, Stalled: 1, MedianDaysToComplete: fl(17)},
	}, rep.Cohorts)
}

func TestRoadblocksVersionFilter(t *testing.T) {
	t.Parallel()
	w := setupWorld(t)
	rep, err := w.report(t, Query{From: at(t, "2026-01-01 00:00"), To: at(t, "2026-04-01 00:00"), Version: new(1)})
	require.NoError(t, err)

	// E1..E4, with version 1's names and order (no training).
	require.Equal(t, 4, rep.Enrollments)
	requireMilestones(t, []Milestone{
		// Durations 1,1.5,2,3: median 1.75 d, p90 at rank 2.7 = 2 + 0.7 = 2.7 d. Overruns
		// 0,0,0,1: median 0, p90 0.7 d.
		{Key: "kickoff", Name: "Kickoff", Position: 1, Entered: 4, Completed: 4, EverBehind: 1, BehindShare: 0.25,
			DurationMedian: dur(day + 3*day/4), DurationP90: dur(2*day + 7*day/10), OverrunMedian: dur(0), OverrunP90: dur(7 * day / 10)},
		// Done E1 9d+2, E2 4d+0: median 6.5 d, p90 = 4 + 0.9×5 = 8.5 d; overruns median 1 d,
		// p90 1.8 d. Behind E1, E3, E4 of 4.
		{Key: "setup", Name: "Technical setup", Position: 2, Entered: 4, Completed: 2, EverBehind: 3, BehindShare: 0.75,
			DurationMedian: dur(6*day + day/2), DurationP90: dur(8*day + day/2), OverrunMedian: dur(day), OverrunP90: dur(day + 4*day/5)},
		// E1 5d+2, E2 2d+0: median 3.5 d, p90 = 2 + 0.9×3 = 4.7 d; overruns median 1 d, p90 1.8 d.
		{Key: "golive", Name: "Go-live", Position: 3, Entered: 2, Completed: 2, EverBehind: 1, BehindShare: 0.5,
			DurationMedian: dur(3*day + day/2), DurationP90: dur(4*day + 7*day/10), OverrunMedian: dur(day), OverrunP90: dur(day + 4*day/5)},
	}, rep.Milestones)
	require.Equal(t, []Current{{MilestoneKey: "setup", Status: StatusBehind, Count: 1}}, rep.Current)
	requireRoadblocks(t, []Roadblock{{MilestoneKey: "setup", Name: "Technical setup", Behind: 1, Stuck: 1, MedianOverrun: dur(day)}}, rep.Roadblocks)
	require.Equal(t, []OverdueGroup{{ID: &w.csm, Count: 1}}, rep.OverdueByTeamRole)
	require.Equal(t, []OverdueGroup{{ID: &w.u1, Count: 1}}, rep.OverdueByAssignee)
	requireCohorts(t, []Cohort{
		{Month: at(t, "2026-01-01 00:00"), Enrolled: 3, Completed: 2, Cancelled: 1, MedianDaysToComplete: fl(11.5)},
		{Month: at(t, "2026-02-01 00:00"), Enrolled: 1, Active: 1},
	}, rep.Cohorts)
}

func TestRoadblocksDateRange(t *testing.T) {
	t.Parallel()
	w := setupWorld(t)

	// December to mid-January: E10, E1, E2.
	rep, err := w.report(t, Query{From: at(t, "2025-12-01 00:00"), To: at(t, "2026-01-15 00:00")})
	require.NoError(t, err)
	require.Equal(t, 3, rep.Enrollments)
	requireCohorts(t, []Cohort{
		{Month: at(t, "2025-12-01 00:00"), Enrolled: 1, Completed: 1, MedianDaysToComplete: fl(12)},
		{Month: at(t, "2026-01-01 00:00"), Enrolled: 2, Completed: 2, MedianDaysToComplete: fl(11.5)},
	}, rep.Cohorts)
	require.Equal(t, 3, rep.Milestones[0].Entered)
	require.Empty(t, rep.Current)
	require.Empty(t, rep.Roadblocks)
	// T7 of E10 is the only overdue task; T6 of E1 is done.
	require.Equal(t, []OverdueGroup{{ID: &w.sales, Count: 1}}, rep.OverdueByTeamRole)
	require.Equal(t, []OverdueGroup{{ID: &w.u1, Count: 1}}, rep.OverdueByAssignee)

	// From is inclusive, To exclusive: E1 at 01-05 00:00 is in, E2 at 01-10 00:00 is out.
	rep, err = w.report(t, Query{From: at(t, "2026-01-05 00:00"), To: at(t, "2026-01-10 00:00")})
	require.NoError(t, err)
	require.Equal(t, 1, rep.Enrollments)
	require.Equal(t, 1, rep.Milestones[0].Completed)

	// A range with nothing in it: every milestone of the definitions, all zero.
	rep, err = w.report(t, Query{From: at(t, "2024-01-01 00:00"), To: at(t, "2024-02-01 00:00")})
	require.NoError(t, err)
	require.Zero(t, rep.Enrollments)
	require.Len(t, rep.Milestones, 4)
	for _, m := range rep.Milestones {
		require.Zero(t, m.Entered)
		require.Nil(t, m.DurationMedian)
		require.Zero(t, m.BehindShare)
	}
	require.Empty(t, rep.Cohorts)
	require.Empty(t, rep.OverdueByTeamRole)
}

func TestRoadblocksRejects(t *testing.T) {
	t.Parallel()
	w := setupWorld(t)
	from := at(t, "2026-01-01 00:00")
	requireInvalid := func(q Query, field string) {
		t.Helper()
		_, err := w.report(t, q)
		in, ok := invalid.As(err)
		require.True(t, ok, "want invalid %s, got %v", field, err)
		require.Equal(t, field, in.Field)
	}
	requireInvalid(Query{From: from, To: from}, "to")
	requireInvalid(Query{From: from, To: from.Add(-time.Hour)}, "to")
	requireInvalid(Query{From: from, To: from.Add(MaxRange + time.Hour)}, "to")
	requireInvalid(Query{To: from}, "from")
	requireInvalid(Query{From: from, To: from.Add(day), Version: new(0)}, "version")
	requireInvalid(Query{From: from, To: from.Add(day), Version: new(3)}, "version")
	_, err := w.report(t, Query{From: from, To: from.Add(MaxRange)})
	require.NoError(t, err)

	// Unknown journey, and a journey only another workspace has: not found alike.
	other := w.otherWS.journey(uuid.Nil, []fxMilestone{{"a", "A", "1d"}})
	for _, id := range []uuid.UUID{uuid.New(), other} {
		_, err := Roadblocks(w.f.ctx, w.f.db, w.f.tenant, Query{JourneyID: id, From: from, To: from.Add(day), Now: w.now})
		require.True(t, errors.Is(err, db.ErrNotFound), "got %v", err)
	}
}

func TestAccountProgress(t *testing.T) {
	t.Parallel()
	w := setupWorld(t)
	ctx, tx, tn := w.f.ctx, w.f.db, w.f.tenant

	attempts, err := AccountProgress(ctx, tx, tn, w.journey, w.a3)
	require.NoError(t, err)
	ts := func(s string) *time.Time { v := at(t, s); return &v }
	require.Equal(t, []Attempt{
		{EnrollmentID: w.e3, Attempt: 1, Version: 1, Status: "CANCELLED", EnrolledAt: *ts("2026-01-20 00:00"), LastProgressAt: *ts("2026-01-20 00:00"),
			CancelledAt: ts("2026-02-01 00:00"), Milestones: []MilestoneProgress{
				{Key: "kickoff", Name: "Kickoff", Position: 1, Status: StatusDone, StartedAt: ts("2026-01-20 00:00"), DueAt: ts("2026-01-22 00:00"), CompletedAt: ts("2026-01-21 12:00")},
				{Key: "setup", Name: "Technical setup", Position: 2, Status: StatusBehind, StartedAt: ts("2026-01-21 12:00"), DueAt: ts("2026-01-28 12:00"),
					AtRiskAt: ts("2026-01-26 12:00"), BehindAt: ts("2026-01-28 12:00")},
				{Key: "golive", Name: "Go-live", Position: 3, Status: StatusNotStarted},
			}},
		{EnrollmentID: w.e4, Attempt: 2, Version: 1, Status: "ACTIVE", EnrolledAt: *ts("2026-02-03 00:00"), LastProgressAt: *ts("2026-02-03 00:00"),
			Milestones: []MilestoneProgress{
				{Key: "kickoff", Name: "Kickoff", Position: 1, Status: StatusDone, StartedAt: ts("2026-02-03 00:00"), DueAt: ts("2026-02-05 00:00"),
					BehindAt: ts("2026-02-05 00:00"), CompletedAt: ts("2026-02-06 00:00")},
				{Key: "setup", Name: "Technical setup", Position: 2, Status: StatusBehind, StartedAt: ts("2026-02-06 00:00"), DueAt: ts("2026-02-13 00:00"),
					AtRiskAt: ts("2026-02-11 00:00"), BehindAt: ts("2026-02-13 00:00")},
				{Key: "golive", Name: "Go-live", Position: 3, Status: StatusNotStarted},
			}},
	}, normalize(attempts))

	// Never enrolled: no attempts. Unknown account, or the other workspace asking: not found.
	attempts, err = AccountProgress(ctx, tx, tn, w.journey, w.loner)
	require.NoError(t, err)
	require.Empty(t, attempts)
	_, err = AccountProgress(ctx, tx, tn, w.journey, uuid.New())
	require.ErrorIs(t, err, db.ErrNotFound)
	_, err = AccountProgress(ctx, tx, w.otherWS.tenant, w.journey, w.a3)
	require.ErrorIs(t, err, db.ErrNotFound)
	_, err = AccountProgress(ctx, tx, tn, uuid.New(), w.a3)
	require.ErrorIs(t, err, db.ErrNotFound)
}

// normalize puts every time of attempts in UTC, as the fixture writes them.
func normalize(attempts []Attempt) []Attempt {
	utc := func(p *time.Time) *time.Time {
		if p == nil {
			return nil
		}
		v := p.UTC()
		return &v
	}
	for i := range attempts {
		a := &attempts[i]
		a.EnrolledAt, a.LastProgressAt = a.EnrolledAt.UTC(), a.LastProgressAt.UTC()
		a.CompletedAt, a.CancelledAt = utc(a.CompletedAt), utc(a.CancelledAt)
		for j := range a.Milestones {
			m := &a.Milestones[j]
			m.StartedAt, m.DueAt, m.AtRiskAt, m.BehindAt = utc(m.StartedAt), utc(m.DueAt), utc(m.AtRiskAt), utc(m.BehindAt)
			m.CompletedAt, m.SkippedAt = utc(m.CompletedAt), utc(m.SkippedAt)
		}
	}
	return attempts
}
