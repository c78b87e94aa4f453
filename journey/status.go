package journey

import (
	"time"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/play"
)

// The status rules below are pure: a definition's numbers, a state and a time in, the next
// state out. The engine applies them under the enrolment's row lock; the periodic status job
// applies the time-driven ones when their time (stored beside the state) has come.

// Timing is a started milestone's clock: when it started, its target duration (zero: no
// target, so it never becomes AT_RISK or BEHIND) and the share of the target after which it
// is AT_RISK.
type Timing struct {
	Started     time.Time
	Target      time.Duration
	AtRiskShare float64
}

// DueAt is when the milestone is BEHIND (started + target); nil without a target.
func (tm Timing) DueAt() *time.Time {
	if tm.Target <= 0 {
		return nil
	}
	at := tm.Started.Add(tm.Target)
	return &at
}

// AtRiskAt is when the milestone is AT_RISK (started + share × target, rounded down to the
// microsecond PostgreSQL keeps); nil without a target. A share of 0 or 1 and above means
// "never at risk before behind": AT_RISK is then skipped.
func (tm Timing) AtRiskAt() *time.Time {
	if tm.Target <= 0 || tm.AtRiskShare <= 0 || tm.AtRiskShare >= 1 {
		return nil
	}
	at := tm.Started.Add(time.Duration(float64(tm.Target) * tm.AtRiskShare)).Truncate(time.Microsecond)
	return &at
}

// ProgressStatus is the status of an in-progress milestone at now (ON_TRACK, AT_RISK or
// BEHIND) and when it changes next (nil once BEHIND, or without a target). A threshold
// reached exactly at now counts as reached.
func ProgressStatus(tm Timing, now time.Time) (string, *time.Time) {
	due := tm.DueAt()
	if due == nil {
		return db.MilestoneOnTrack, nil
	}
	if !now.Before(*due) {
		return db.MilestoneBehind, nil
	}
	if risk := tm.AtRiskAt(); risk != nil {
		if !now.Before(*risk) {
			return db.MilestoneAtRisk, due
		}
		return db.MilestoneOnTrack, risk
	}
	return db.MilestoneOnTrack, due
}

// StepCount is what a started milestone's required steps look like.
type StepCount struct {
	Required int // required steps in the definition
	Settled  int // of which DONE or SKIPPED
}

// MilestoneComplete decides whether a started milestone is DONE:
//   - its completeWhen condition holds (hasCondition and conditionHolds), or
//   - it has required steps and all of them are DONE or SKIPPED, or
//   - it has neither required steps nor a condition: it completes as soon as it starts (its
//     optional tasks stay open and its automated steps still run once). Such a milestone is
//     a documented stage with nothing to wait for.
func MilestoneComplete(steps StepCount, hasCondition, conditionHolds bool) bool {
	if hasCondition && conditionHolds {
		return true
	}
	if steps.Required > 0 {
		return steps.Settled >= steps.Required
	}
	return !hasCondition
}

// NextMilestones decides what follows from an enrolment's milestone statuses (statuses[i] is
// milestone i in definition order; groups as Definition.Groups: sequential milestones alone,
// parallel ones together). The current group is the first whose milestones are not all DONE
// or SKIPPED; its NOT_STARTED milestones start now. With no such group the enrolment is
// complete.
func NextMilestones(groups [][]int, statuses []string) (start []int, complete bool) {
	for _, g := range groups {
		finished := true
		for _, i := range g {
			if statuses[i] != db.MilestoneDone && statuses[i] != db.MilestoneSkipped {
				finished = false
			}
		}
		if finished {
			continue
		}
		for _, i := range g {
			if statuses[i] == db.MilestoneNotStarted {
				start = append(start, i)
			}
		}
		return start, false
	}
	return nil, true
}

// StallAt is when an ACTIVE enrolment whose last progress was at last becomes STALLED; nil
// when stallAfter is not positive (never).
func StallAt(last time.Time, stallAfter time.Duration) *time.Time {
	if stallAfter <= 0 {
		return nil
	}
	at := last.Add(stallAfter)
	return &at
}

// ReentryAllows applies a journey's re-entry policy to an account's enrolment history at now:
// ONCE refuses any earlier enrolment; COOLDOWN refuses a live one or one that ended less than
// the cooldown ago; NOT_WHILE_ACTIVE (the default) refuses a live one. A live enrolment is
// refused whatever the policy (one live enrolment per journey and account).
func ReentryAllows(r play.Reentry, h db.EnrollmentHistory, now time.Time) bool {
	if h.Live {
		return false
	}
	switch r.Policy {
	case play.ReentryOnce:
		return !h.Any
	case play.ReentryCooldown:
		return h.LastEnded == nil || !now.Before(h.LastEnded.Add(r.Cooldown.Length()))
	}
	return true
}
