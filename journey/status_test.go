package journey

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/play"
)

func TestProgressStatus(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { v := start.Add(d); return &v }
	tests := []struct {
		name   string
		tm     Timing
		now    time.Time
		status string
		next   *time.Time
	}{
		{"no target stays on track", Timing{Started: start, AtRiskShare: 0.75}, start.Add(1000 * time.Hour), db.MilestoneOnTrack, nil},
		{"fresh", Timing{start, 10 * time.Hour, 0.75}, start, db.MilestoneOnTrack, at(450 * time.Minute)},
		{"just before at risk", Timing{start, 10 * time.Hour, 0.75}, start.Add(450*time.Minute - time.Nanosecond), db.MilestoneOnTrack, at(450 * time.Minute)},
		{"at risk exactly at the share", Timing{start, 10 * time.Hour, 0.75}, start.Add(450 * time.Minute), db.MilestoneAtRisk, at(10 * time.Hour)},
		{"behind exactly at the target", Timing{start, 10 * time.Hour, 0.75}, start.Add(10 * time.Hour), db.MilestoneBehind, nil},
		{"long behind", Timing{start, 10 * time.Hour, 0.75}, start.Add(100 * time.Hour), db.MilestoneBehind, nil},
		{"share 0 skips at risk", Timing{start, 10 * time.Hour, 0}, start.Add(9 * time.Hour), db.MilestoneOnTrack, at(10 * time.Hour)},
		{"share 1 skips at risk", Timing{start, 10 * time.Hour, 1}, start.Add(9 * time.Hour), db.MilestoneOnTrack, at(10 * time.Hour)},
		{"jumping past both", Timing{start, time.Hour, 0.5}, start.Add(2 * time.Hour), db.MilestoneBehind, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, next := ProgressStatus(tc.tm, tc.now)
			require.Equal(t, tc.status, status)
			if tc.next == nil {
				require.Nil(t, next)
			} else {
				require.NotNil(t, next)
				require.True(t, tc.next.Equal(*next), "next %v, want %v", *next, *tc.next)
			}
		})
	}
}

func TestMilestoneComplete(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		steps       StepCount
		cond, holds bool
		want        bool
	}{
		{"nothing to wait for completes at once", StepCount{}, false, false, true},
		{"required steps pending", StepCount{Required: 2, Settled: 1}, false, false, false},
		{"required steps settled", StepCount{Required: 2, Settled: 2}, false, false, true},
		{"condition alone, not holding", StepCount{}, true, false, false},
		{"condition alone, holding", StepCount{}, true, true, true},
		{"condition holds before the steps are done", StepCount{Required: 3}, true, true, true},
		{"steps done while the condition does not hold", StepCount{Required: 1, Settled: 1}, true, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, MilestoneComplete(tc.steps, tc.cond, tc.holds))
		})
	}
}

func TestNextMilestones(t *testing.T) {
	t.Parallel()
	const (
		ns = db.MilestoneNotStarted
		on = db.MilestoneOnTrack
		bh = db.MilestoneBehind
		dn = db.MilestoneDone
		sk = db.MilestoneSkipped
	)
	// Milestones 0; 1 and 2 in parallel; 3.
	groups := [][]int{{0}, {1, 2}, {3}}
	tests := []struct {
		name     string
		statuses []string
		start    []int
		complete bool
	}{
		{"first starts", []string{ns, ns, ns, ns}, []int{0}, false},
		{"first in progress", []string{on, ns, ns, ns}, nil, false},
		{"parallel group starts together", []string{dn, ns, ns, ns}, []int{1, 2}, false},
		{"waits for the whole group", []string{dn, dn, bh, ns}, nil, false},
		{"skipped counts as finished", []string{dn, sk, dn, ns}, []int{3}, false},
		{"one member skipped ahead of time", []string{dn, ns, sk, ns}, []int{1}, false},
		{"all finished", []string{dn, dn, sk, dn}, nil, true},
		{"skipped in advance is not restarted", []string{on, ns, ns, sk}, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start, complete := NextMilestones(groups, tc.statuses)
			require.Equal(t, tc.start, start)
			require.Equal(t, tc.complete, complete)
		})
	}
	start, complete := NextMilestones(nil, nil)
	require.Nil(t, start)
	require.True(t, complete, "a journey without milestones is complete at once")
}

func TestStallAt(t *testing.T) {
	t.Parallel()
	last := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	require.Nil(t, StallAt(last, 0))
	got := StallAt(last, 14*24*time.Hour)
	require.NotNil(t, got)
	require.True(t, got.Equal(last.Add(14*24*time.Hour)))
}

func TestReentryAllows(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 10, 0, 0, 0, 0, time.UTC)
	ended := func(d time.Duration) *time.Time { v := now.Add(-d); return &v }
	once := play.Reentry{Policy: play.ReentryOnce}
	notWhile := play.Reentry{Policy: play.ReentryNotWhileActive}
	cool := play.Reentry{Policy: play.ReentryCooldown, Cooldown: "72h"}
	tests := []struct {
		name string
		r    play.Reentry
		h    db.EnrollmentHistory
		want bool
	}{
		{"first time, once", once, db.EnrollmentHistory{}, true},
		{"second time, once", once, db.EnrollmentHistory{Any: true, LastEnded: ended(time.Hour)}, false},
		{"live, not while active", notWhile, db.EnrollmentHistory{Any: true, Live: true}, false},
		{"ended, not while active", notWhile, db.EnrollmentHistory{Any: true, LastEnded: ended(time.Minute)}, true},
		{"default policy is not while active", play.Reentry{}, db.EnrollmentHistory{Any: true, LastEnded: ended(time.Minute)}, true},
		{"inside the cooldown", cool, db.EnrollmentHistory{Any: true, LastEnded: ended(71 * time.Hour)}, false},
		{"cooldown over", cool, db.EnrollmentHistory{Any: true, LastEnded: ended(72 * time.Hour)}, true},
		{"live, cooldown", cool, db.EnrollmentHistory{Any: true, Live: true}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, ReentryAllows(tc.r, tc.h, now))
		})
	}
}
