package journey

import (
	"encoding/json"

	"github.com/google/uuid"

	"github.com/stewardhq/steward/condition"
	"github.com/stewardhq/steward/play"
)

// Limits on one definition. They keep a journey readable and an enrolment's state small.
const (
	// MaxMilestones bounds the milestones of a definition.
	MaxMilestones = 30
	// MaxStepsPerMilestone bounds the steps of one milestone.
	MaxStepsPerMilestone = 30
	// MaxSteps bounds the steps of a whole definition.
	MaxSteps = 200
	// MaxDefinitionBytes bounds the JSON text of a definition.
	MaxDefinitionBytes = 256 << 10
	// MaxMilestoneNameLen and MaxMilestoneDescriptionLen bound a milestone's texts.
	MaxMilestoneNameLen        = 200
	MaxMilestoneDescriptionLen = 2000
)

// Defaults filled in when a definition leaves them out.
const (
	// DefaultStallAfter is how long an ACTIVE enrolment may go without progress before it is
	// STALLED.
	DefaultStallAfter play.Duration = "14d"
	// DefaultAtRiskShare is the share of a milestone's target after which an ON_TRACK milestone
	// is AT_RISK.
	DefaultAtRiskShare = 0.75
)

// Definition is one version of a journey: how accounts enter it and the milestones they go
// through. Build one with ParseDefinition or ParseDraft, store it with json.Marshal; parsing
// the stored JSON gives back an equal definition that marshals to the same bytes.
type Definition struct {
	// Trigger enrols accounts automatically (EVENT, FIELD_CHANGE) or not (MANUAL: enrolment
	// through the API or a play step); nil only in a draft.
	Trigger *play.Trigger `json:"trigger,omitempty"`
	// Reentry says whether an account may go through the journey again: ONCE, NOT_WHILE_ACTIVE
	// (the default) or COOLDOWN.
	Reentry play.Reentry `json:"reentry"`
	// StallAfter: an ACTIVE enrolment with no progress for this long is STALLED (default 14d).
	StallAfter play.Duration `json:"stallAfter,omitempty"`
	// AtRiskShare is the share of a milestone's target (in (0,1), default 0.75) after which an
	// ON_TRACK milestone becomes AT_RISK; past the whole target it is BEHIND.
	AtRiskShare float64 `json:"atRiskShare"`
	// Milestones run in order, parallel groups together (see Groups).
	Milestones []Milestone `json:"milestones"`
}

// Milestone is one stage of a journey with a target duration and the steps that get it done.
type Milestone struct {
	// Key is stable across versions and copies (it is how enrolments map onto a new version):
	// ^[a-z0-9][a-z0-9_-]{0,62}$, unique among the definition's milestones. A milestone written
	// without a key gets one made from its name.
	Key         string `json:"key"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Target is the target duration from the milestone's start.
	Target play.Duration `json:"target"`
	// Parallel: the milestone starts together with the previous one (they form one group, see
	// Groups). The first milestone cannot be parallel.
	Parallel bool `json:"parallel,omitempty"`
	// CompleteWhen, an ACCOUNT-scope condition, completes the milestone as soon as it holds;
	// without it (or before it holds) the milestone completes when its required steps are done.
	CompleteWhen *condition.Condition `json:"completeWhen,omitempty"`
	Steps        []Step               `json:"steps"`
}

// StepKind is what a journey step does.
type StepKind string

// Step kinds. TASK and CHECKPOINT are done by people or by the account's data and may be
// required; the others are automated and run when their milestone starts.
const (
	// StepTask creates a task, due DueIn after the milestone's start.
	StepTask StepKind = "TASK"
	// StepSendEmail sends an email as a play's SEND_EMAIL step does.
	StepSendEmail StepKind = "SEND_EMAIL"
	// StepInAppMessage shows an in-app message as a play's IN_APP_MESSAGE step does.
	StepInAppMessage StepKind = "IN_APP_MESSAGE"
	// StepLaunchPlay launches an ACCOUNT-scope play for the account.
	StepLaunchPlay StepKind = "LAUNCH_PLAY"
	// StepCheckpoint is done once its condition holds for the account.
	StepCheckpoint StepKind = "CHECKPOINT"
)

// StepKinds lists the kinds in the order error messages name them.
var StepKinds = []StepKind{StepTask, StepSendEmail, StepInAppMessage, StepLaunchPlay, StepCheckpoint}

// Automated reports whether steps of the kind run by themselves (and so are never required).
func (k StepKind) Automated() bool {
	return k == StepSendEmail || k == StepInAppMessage || k == StepLaunchPlay
}

// Step is one thing to do within a milestone. Exactly the field of Kind is set.
type Step struct {
	// Key is unique across the whole definition and stable across versions and copies. A step
	// written without one gets one made from its title or kind.
	Key  string   `json:"key"`
	Kind StepKind `json:"kind"`
	// Required: the milestone is not done until this step is (TASK and CHECKPOINT only; they
	// are required unless the definition says "required": false).
	Required bool `json:"required"`
	// Task (TASK): title, description, assignee (TEAM_ROLE key such as "CSM", USER, OWNER),
	// dueIn (after the milestone's start) and priority, as in a play's CREATE_TASK step.
	Task *play.Task `json:"task,omitempty"`
	// Email (SEND_EMAIL), as in a play's SEND_EMAIL step.
	Email *play.Email `json:"email,omitempty"`
	// Message (IN_APP_MESSAGE), as in a play's IN_APP_MESSAGE step.
	Message *play.InAppMessage `json:"message,omitempty"`
	// PlayID (LAUNCH_PLAY) is an ACCOUNT-scope play.
	PlayID *uuid.UUID `json:"playId,omitempty"`
	// Condition (CHECKPOINT), ACCOUNT scope: the step is done when it holds.
	Condition *condition.Condition `json:"condition,omitempty"`
}

// MarshalJSON writes the stored form (empty lists as []).
func (d Definition) MarshalJSON() ([]byte, error) {
	type plain Definition
	p := plain(d)
	if p.Milestones == nil {
		p.Milestones = []Milestone{}
	}
	return json.Marshal(p)
}

// MarshalJSON writes the stored form (an empty step list as []).
func (m Milestone) MarshalJSON() ([]byte, error) {
	type plain Milestone
	p := plain(m)
	if p.Steps == nil {
		p.Steps = []Step{}
	}
	return json.Marshal(p)
}

// Groups returns the milestones' indexes grouped for execution, in order: a milestone with
// Parallel joins the group of the one before it; the next group starts when every milestone
// of the previous one is done (or skipped).
func (d *Definition) Groups() [][]int {
	var out [][]int
	for i := range d.Milestones {
		if i > 0 && d.Milestones[i].Parallel {
			out[len(out)-1] = append(out[len(out)-1], i)
			continue
		}
		out = append(out, []int{i})
	}
	return out
}

// GroupOf returns the index in Groups of the group that holds milestone i.
func (d *Definition) GroupOf(i int) int {
	g := -1
	for j := 0; j <= i && j < len(d.Milestones); j++ {
		if j == 0 || !d.Milestones[j].Parallel {
			g++
		}
	}
	return g
}

// Milestone finds a milestone by key, with its index.
func (d *Definition) Milestone(key string) (*Milestone, int, bool) {
	for i := range d.Milestones {
		if d.Milestones[i].Key == key {
			return &d.Milestones[i], i, true
		}
	}
	return nil, -1, false
}

// Step finds a step by key, with the milestone that holds it.
func (d *Definition) Step(key string) (*Step, *Milestone, bool) {
	for i := range d.Milestones {
		m := &d.Milestones[i]
		for j := range m.Steps {
			if m.Steps[j].Key == key {
				return &m.Steps[j], m, true
			}
		}
	}
	return nil, nil, false
}

// ParseDefinition decodes a definition to publish or run and validates it completely:
// everything an enrolment needs must be present. Decoding is strict (unknown keys, wrong JSON
// types, bad durations are refused). Every refusal is an *invalid.Error whose Field is a path
// rooted at "definition", e.g. "definition.milestones[1].steps[0].task.title". Defaults are
// filled in and missing keys generated, so the result marshals to the stored form.
func ParseDefinition(raw []byte) (*Definition, error) {
	return parse(raw, true)
}

// ParseDraft is ParseDefinition for a draft: every value present is validated the same way,
// but a draft may leave things out (no trigger, no milestones, a milestone without a target,
// a step without its task...). Publishing then requires them.
func ParseDraft(raw []byte) (*Definition, error) {
	return parse(raw, false)
}
