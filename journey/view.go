package journey

import (
	"context"
	"slices"

	"github.com/google/uuid"

	"github.com/stewardhq/steward/db"
)

// View is an enrolment with its milestones in order, each with its name from the pinned
// version and its started steps in definition order: what the API shows.
type View struct {
	Enrollment db.JourneyEnrollment
	Milestones []MilestoneView
}

// MilestoneView is one milestone of a View.
type MilestoneView struct {
	State db.JourneyMilestoneState
	// Name is the milestone's name in the enrolment's version (its key when a migration
	// dropped it).
	Name  string
	Steps []db.JourneyStepState
}

// Views loads the milestones and steps of enrolments in three queries whatever their number
// (plus one parse per journey version, cached), in the order given.
func (e *Engine) Views(ctx context.Context, t db.Tenant, enrs []db.JourneyEnrollment) ([]View, error) {
	ids := make([]uuid.UUID, len(enrs))
	for i := range enrs {
		ids[i] = enrs[i].ID
	}
	states, err := db.MilestoneStatesOf(ctx, e.DB, t, ids)
	if err != nil {
		return nil, err
	}
	steps, err := db.StepStates(ctx, e.DB, t, ids)
	if err != nil {
		return nil, err
	}
	byEnr := map[uuid.UUID][]db.JourneyMilestoneState{}
	for _, s := range states {
		byEnr[s.EnrollmentID] = append(byEnr[s.EnrollmentID], s)
	}
	stepsOf := map[uuid.UUID][]db.JourneyStepState{}
	for _, s := range steps {
		stepsOf[s.EnrollmentID] = append(stepsOf[s.EnrollmentID], s)
	}
	type version struct {
		journey uuid.UUID
		v       int
	}
	defs := map[version]*Definition{}
	out := make([]View, len(enrs))
	for i, enr := range enrs {
		k := version{enr.JourneyID, enr.Version}
		def, ok := defs[k]
		if !ok {
			pub, err := e.Definitions.Load(ctx, e.DB, t, enr.JourneyID, enr.Version)
			if err != nil {
				return nil, err
			}
			def, defs[k] = pub.Definition, pub.Definition
		}
		v := View{Enrollment: enr}
		for _, st := range byEnr[enr.ID] {
			mv := MilestoneView{State: st, Name: st.MilestoneKey}
			var order []string
			if m, _, ok := def.Milestone(st.MilestoneKey); ok {
				mv.Name = m.Name
				for _, s := range m.Steps {
					order = append(order, s.Key)
				}
			}
			for _, s := range stepsOf[enr.ID] {
				if s.MilestoneKey == st.MilestoneKey {
					mv.Steps = append(mv.Steps, s)
				}
			}
			slices.SortStableFunc(mv.Steps, func(a, b db.JourneyStepState) int {
				return rank(order, a.StepKey) - rank(order, b.StepKey)
			})
			v.Milestones = append(v.Milestones, mv)
		}
		out[i] = v
	}
	return out, nil
}

// rank is a key's index in order; keys not in it sort last.
func rank(order []string, key string) int {
	if i := slices.Index(order, key); i >= 0 {
		return i
	}
	return len(order)
}

// View loads one enrolment with its milestones and steps.
func (e *Engine) View(ctx context.Context, t db.Tenant, id uuid.UUID) (*View, error) {
	enr, err := db.GetEnrollment(ctx, e.DB, t, id)
	if err != nil {
		return nil, err
	}
	vs, err := e.Views(ctx, t, []db.JourneyEnrollment{*enr})
	if err != nil {
		return nil, err
	}
	return &vs[0], nil
}

// ListViews returns one page of enrolments, newest first, with their milestones and steps.
func (e *Engine) ListViews(ctx context.Context, t db.Tenant, f db.EnrollmentFilter, first int, after *db.PageCursor) ([]View, bool, error) {
	rows, hasNext, err := db.ListEnrollments(ctx, e.DB, t, f, first, after)
	if err != nil {
		return nil, false, err
	}
	vs, err := e.Views(ctx, t, rows)
	return vs, hasNext, err
}
