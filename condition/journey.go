package condition

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/stewardhq/steward/invalid"
)

// JourneyState names a journey and what a journey predicate asks about the subject's account's
// latest enrolment in it: either its status (Status) or the status of one of its milestones
// (Milestone with MilestoneStatus). See the package documentation.
type JourneyState struct {
	// Key is the journey's key ("onboarding").
	Key string `json:"key"`
	// Status lists enrolment statuses, of which the latest enrolment's must be one;
	// NotEnrolled stands for "never enrolled".
	Status []string `json:"status,omitempty"`
	// Milestone is a milestone's key; MilestoneStatus lists the statuses it must have.
	Milestone       string   `json:"milestone,omitempty"`
	MilestoneStatus []string `json:"milestoneStatus,omitempty"`
}

func (j *JourneyState) clone() *JourneyState {
	out := *j
	out.Status = slices.Clone(j.Status)
	out.MilestoneStatus = slices.Clone(j.MilestoneStatus)
	return &out
}

// NotEnrolled is the status a journey predicate sees for an account that was never enrolled in
// the journey (or only in an archived journey of that key).
const NotEnrolled = "NOT_ENROLLED"

// Enrolment and milestone statuses a journey predicate may list, in the order errors name them.
var (
	enrollmentStatuses = []string{NotEnrolled, "ACTIVE", "STALLED", "COMPLETED", "CANCELLED"}
	milestoneStatuses  = []string{"NOT_STARTED", "ON_TRACK", "AT_RISK", "BEHIND", "DONE", "SKIPPED"}
)

// journeyKeyPattern is what the journeys table accepts as a key, and what journey definitions
// accept as a milestone key.
var journeyKeyPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// JourneyFacts is where an account stands in one journey: its latest enrolment (by enrolment
// time, then id) in the journey of that key that is not archived.
type JourneyFacts struct {
	// Status is the latest enrolment's status; empty when the account was never enrolled.
	Status string
	// Milestones maps the milestone keys of that enrolment to their status.
	Milestones map[string]string
}

// journeyPred asks about the subject's account's latest enrolment in one journey.
type journeyPred struct {
	key       string
	statuses  []string // the enrolment statuses that hold; nil for a milestone predicate
	milestone string
	mstatuses []string
}

func buildJourney(_ *validator, n *Node, path string) (predicate, error) {
	j, jpath := n.Journey, path+".journey"
	switch {
	case n.Op != "":
		return nil, invalid.Field(path+".op", "is not used by a journey predicate")
	case n.Value != nil:
		return nil, invalid.Field(path+".value", "is not used by a journey predicate")
	case n.Duration != "":
		return nil, invalid.Field(path+".duration", "is not used by a journey predicate")
	case j.Key == "":
		return nil, invalid.Field(jpath+".key", "is required")
	case !journeyKeyPattern.MatchString(j.Key):
		return nil, invalid.Field(jpath+".key", "must be a journey key: 1 to 63 characters of a-z, 0-9, _ and -, starting with a letter or digit")
	}
	p := &journeyPred{key: j.Key}
	switch {
	case j.Status != nil && (j.Milestone != "" || j.MilestoneStatus != nil):
		k := "milestone"
		if j.Milestone == "" {
			k = "milestoneStatus"
		}
		return nil, invalid.Field(jpath+"."+k, "cannot be combined with status in one predicate (combine two predicates with all)")
	case j.Status != nil:
		list, err := statusList(j.Status, jpath+".status", enrollmentStatuses)
		if err != nil {
			return nil, err
		}
		p.statuses = list
		return p, nil
	case j.Milestone == "" && j.MilestoneStatus == nil:
		return nil, invalid.Field(jpath, "must have status, or milestone with milestoneStatus")
	case j.Milestone == "":
		return nil, invalid.Field(jpath+".milestone", "is required with milestoneStatus")
	case j.MilestoneStatus == nil:
		return nil, invalid.Field(jpath+".milestoneStatus", "is required with milestone")
	}
	m := j.Milestone
	if !journeyKeyPattern.MatchString(m) {
		return nil, invalid.Field(jpath+".milestone", "must be a milestone key: 1 to 63 characters of a-z, 0-9, _ and -, starting with a letter or digit")
	}
	list, err := statusList(j.MilestoneStatus, jpath+".milestoneStatus", milestoneStatuses)
	if err != nil {
		return nil, err
	}
	p.milestone, p.mstatuses = m, list
	return p, nil
}

// statusList validates a non-empty list of distinct statuses from allowed.
func statusList(list []string, path string, allowed []string) ([]string, error) {
	if len(list) == 0 {
		return nil, invalid.Field(path, "must hold at least one status")
	}
	for i, s := range list {
		switch {
		case !slices.Contains(allowed, s):
			return nil, invalid.Field(fmt.Sprintf("%s[%d]", path, i), "must be one of %s", strings.Join(allowed, ", "))
		case slices.Contains(list[:i], s):
			return nil, invalid.Field(fmt.Sprintf("%s[%d]", path, i), "is listed twice")
		}
	}
	return slices.Clone(list), nil
}

// latestFrom is the FROM and WHERE of the account's latest enrolment je (by enrolled_at, then
// id) in the journey of the key that is not archived (the key names at most one such journey),
// with extra joined in. "Latest" is an anti-join on a later enrolment rather than ORDER BY ...
// LIMIT 1, so that the planner can decorrelate the EXISTS around it (a hashed subplan) instead
// of sorting each account's enrolments in a subquery of its own.
func (p *journeyPred) latestFrom(b *sqlBuilder, extra string) string {
	return fmt.Sprintf(`FROM journey_enrollments AS je JOIN journeys AS j ON j.workspace_id = je.workspace_id AND j.id = je.journey_id%s
		WHERE je.workspace_id = a.workspace_id AND je.account_id = a.id AND j.key = %s::text AND j.archived_at IS NULL
		AND NOT EXISTS (SELECT 1 FROM journey_enrollments AS later WHERE later.workspace_id = je.workspace_id
			AND later.journey_id = je.journey_id AND later.account_id = je.account_id
			AND (later.enrolled_at, later.id) > (je.enrolled_at, je.id))`, extra, b.arg(p.key))
}

func (p *journeyPred) sql(b *sqlBuilder, _ instant) string {
	if p.statuses != nil {
		// NOT_ENROLLED in the list: no latest enrolment of another status; else: a latest
		// enrolment of one of the statuses.
		others := slices.DeleteFunc(slices.Clone(p.statuses), func(s string) bool { return s == NotEnrolled })
		from := p.latestFrom(b, "")
		if len(others) < len(p.statuses) {
			return fmt.Sprintf("NOT EXISTS (SELECT 1 %s AND je.status <> ALL(%s::text[]))", from, b.arg(pgdialect.Array(others)))
		}
		return fmt.Sprintf("EXISTS (SELECT 1 %s AND je.status = ANY(%s::text[]))", from, b.arg(pgdialect.Array(others)))
	}
	from := p.latestFrom(b, `
		JOIN journey_milestone_states AS ms ON ms.workspace_id = je.workspace_id AND ms.enrollment_id = je.id`)
	return fmt.Sprintf("EXISTS (SELECT 1 %s AND ms.milestone_key = %s::text AND ms.status = ANY(%s::text[]))",
		from, b.arg(p.milestone), b.arg(pgdialect.Array(p.mstatuses)))
}

func (p *journeyPred) need(n *needSet, _ instant) { n.journeys[p.key] = true }

func (p *journeyPred) eval(s Subject, _ instant) (bool, any, error) {
	f := s.Activity.Journey(p.key)
	if p.statuses != nil {
		status := f.Status
		if status == "" {
			status = NotEnrolled
		}
		return slices.Contains(p.statuses, status), status, nil
	}
	status, ok := f.Milestones[p.milestone]
	if f.Status == "" || !ok {
		return false, nil, nil
	}
	return slices.Contains(p.mstatuses, status), status, nil
}
