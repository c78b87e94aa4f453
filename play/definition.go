package play

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/stewardhq/steward/condition"
)

// Limits on one definition. They keep a play readable and a run's state small.
const (
	// MaxSteps bounds the steps of a whole tree, containers and nested steps included.
	MaxSteps = 50
	// MaxNesting bounds how deep steps nest: top-level steps are at level 1, the steps of a
	// BRANCH or REPEAT_UNTIL one level below their container.
	MaxNesting = 5
	// MaxRepeatTimes bounds a REPEAT_UNTIL's maxTimes.
	MaxRepeatTimes = 100
	// MaxDefinitionBytes bounds the JSON text of a definition.
	MaxDefinitionBytes = 256 << 10
)

// Definition is one version of a play: when it starts, for whom, when it stops and what it
// does. The play's scope (ACCOUNT or CONTACT) is not part of it: it is stored on the play,
// and a definition is parsed for it. Build one with ParseDefinition or ParseDraft, store it
// with json.Marshal; parsing the stored JSON gives back an equal definition that marshals to
// the same bytes.
type Definition struct {
	// Trigger starts runs; nil only in a draft.
	Trigger *Trigger `json:"trigger,omitempty"`
	// Entry, when set, must hold for a subject when a run would start.
	Entry *condition.Condition `json:"entry,omitempty"`
	// Reentry says whether a subject may run the play again.
	Reentry Reentry `json:"reentry"`
	// Goal, when set, ends a run as GOAL_MET as soon as it holds.
	Goal *Check `json:"goal,omitempty"`
	// Exit, when set, ends a run as EXITED as soon as it holds.
	Exit *Check `json:"exit,omitempty"`
	// Steps run in order.
	Steps []Step `json:"steps"`
}

// MarshalJSON writes the stored form (an empty step list as []).
func (d Definition) MarshalJSON() ([]byte, error) {
	type plain Definition
	p := plain(d)
	if p.Steps == nil {
		p.Steps = []Step{}
	}
	return json.Marshal(p)
}

// ReentryPolicy says when a subject that already ran a play may start it again.
type ReentryPolicy string

// Re-entry policies; NOT_WHILE_ACTIVE is the default.
const (
	// ReentryOnce: a subject runs the play at most once, ever (across versions).
	ReentryOnce ReentryPolicy = "ONCE"
	// ReentryNotWhileActive: a subject may start again once its previous run has ended.
	ReentryNotWhileActive ReentryPolicy = "NOT_WHILE_ACTIVE"
	// ReentryCooldown: as NOT_WHILE_ACTIVE, and only once Cooldown has passed since the
	// previous run ended.
	ReentryCooldown ReentryPolicy = "COOLDOWN"
)

// Reentry is a definition's re-entry policy.
type Reentry struct {
	Policy ReentryPolicy `json:"policy"`
	// Cooldown is set with COOLDOWN only.
	Cooldown Duration `json:"cooldown,omitempty"`
}

// Check is what a running play watches (its goal and exit, and WAIT_UNTIL, BRANCH and
// REPEAT_UNTIL steps): either a condition on the subject, or EventSinceStart, which holds once
// the account has an event of that name that occurred at or after the run started ("logged in
// since the run started"). Exactly one is set. In JSON a Check is the condition itself, or
// {"eventSinceStart": "login"}.
type Check struct {
	Condition       *condition.Condition
	EventSinceStart string
}

// MarshalJSON writes the condition, or {"eventSinceStart": name}.
func (c Check) MarshalJSON() ([]byte, error) {
	if c.EventSinceStart != "" {
		return json.Marshal(struct {
			EventSinceStart string `json:"eventSinceStart"`
		}{c.EventSinceStart})
	}
	if c.Condition == nil {
		return nil, errors.New("marshal check: neither a condition nor eventSinceStart")
	}
	return json.Marshal(c.Condition)
}

// Needs returns the activity facts Eval reads at now; load the subject with them
// (condition.LoadSubject) and evaluate at the same now.
func (c *Check) Needs(now time.Time) condition.Needs {
	if c.EventSinceStart != "" {
		return condition.Needs{Events: []string{c.EventSinceStart}}
	}
	return c.Condition.Needs(now)
}

// Eval decides the check for a run that started at started, at now. EventSinceStart compares
// the account's last event of its name with started (both at microsecond precision, as stored),
// so it agrees with the SQL form
//
//	EXISTS (SELECT 1 FROM events ev WHERE ev.workspace_id = $ws AND ev.account_id = $account
//	        AND ev.name = $name AND ev.occurred_at >= $started)
//
// An event that arrives late with an occurred_at before started does not count.
func (c *Check) Eval(s condition.Subject, started, now time.Time) (bool, error) {
	if c.EventSinceStart == "" {
		return c.Condition.Eval(s, now)
	}
	if s.Account == nil || s.Activity == nil {
		return false, errors.New("evaluate eventSinceStart: the subject has no account activity")
	}
	last, ok := s.Activity.LastEvent(c.EventSinceStart)
	return ok && !last.Truncate(time.Microsecond).Before(started.Truncate(time.Microsecond)), nil
}

// ParseDefinition decodes a definition to publish or run and validates it completely for
// scope: everything a run needs must be present. Decoding is strict (unknown keys, wrong JSON
// types, bad durations and unknown template variables are refused). Every refusal is an
// *invalid.Error whose Field is a path rooted at "definition", e.g.
// "definition.steps[1].until.any[0].duration". Steps without an id get one (see the package
// documentation); defaults are filled in, so the result marshals to the stored form.
func ParseDefinition(raw []byte, scope condition.Scope) (*Definition, error) {
	return parse(raw, scope, true)
}

// ParseDraft is ParseDefinition for a draft: every value present is validated the same way,
// but a draft may leave things out (no trigger, no steps, a step without its subject...).
// Publishing then requires them.
func ParseDraft(raw []byte, scope condition.Scope) (*Definition, error) {
	return parse(raw, scope, false)
}

// Walk calls fn for every step in document order, a container before its steps (a BRANCH's
// then list before its else list), with the step's path ("definition.steps[1].then[0]"). It
// stops at the first error fn returns and returns it.
func (d *Definition) Walk(fn func(path string, s *Step) error) error {
	return walkSteps(d.Steps, rootPath+".steps", fn)
}

func walkSteps(steps []Step, path string, fn func(string, *Step) error) error {
	for i := range steps {
		s := &steps[i]
		p := fmt.Sprintf("%s[%d]", path, i)
		if err := fn(p, s); err != nil {
			return err
		}
		var err error
		switch {
		case s.Branch != nil:
			if err = walkSteps(s.Branch.Then, p+".then", fn); err == nil {
				err = walkSteps(s.Branch.Else, p+".else", fn)
			}
		case s.Repeat != nil:
			err = walkSteps(s.Repeat.Steps, p+".steps", fn)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Position is where a step sits in a definition's tree.
type Position struct {
	// Step is the step itself.
	Step *Step
	// Parent is the BRANCH or REPEAT_UNTIL whose list holds Step; nil at the top level.
	Parent *Step
	// List is the list that holds Step: the definition's steps, a branch's then or else, or a
	// repeat's steps. The step after Step, if any, is List[Index+1]; after the last one the
	// run goes back to Parent (a BRANCH is then done; a REPEAT_UNTIL decides on another
	// round), or at the top level the run is complete.
	List  []Step
	Index int
}

// Locate finds the step with id anywhere in the tree.
func (d *Definition) Locate(id string) (Position, bool) {
	return locate(d.Steps, nil, id)
}

func locate(list []Step, parent *Step, id string) (Position, bool) {
	for i := range list {
		s := &list[i]
		if s.ID == id {
			return Position{Step: s, Parent: parent, List: list, Index: i}, true
		}
		var kids [][]Step
		switch {
		case s.Branch != nil:
			kids = [][]Step{s.Branch.Then, s.Branch.Else}
		case s.Repeat != nil:
			kids = [][]Step{s.Repeat.Steps}
		}
		for _, k := range kids {
			if pos, ok := locate(k, s, id); ok {
				return pos, true
			}
		}
	}
	return Position{}, false
}
