package play

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/stewardhq/steward/condition"
)

// TriggerKind is what starts runs of a play.
type TriggerKind string

// Trigger kinds.
const (
	// TriggerManual plays are launched through the API on chosen accounts or contacts.
	TriggerManual TriggerKind = "MANUAL"
	// TriggerEvent plays start when an event called Event (with Properties, if given) is
	// recorded.
	TriggerEvent TriggerKind = "EVENT"
	// TriggerFieldChange plays start when a mutation changes Field (from From, to To, if
	// given).
	TriggerFieldChange TriggerKind = "FIELD_CHANGE"
	// TriggerSchedule plays start for every subject that Condition holds for when a timer
	// checks it.
	TriggerSchedule TriggerKind = "SCHEDULE"
	// TriggerJourney plays start when the journey engine reports a change (one of On) in an
	// account's enrolment in the journey with key Journey (and milestone Milestone, if given).
	TriggerJourney TriggerKind = "JOURNEY"
)

// triggerKinds lists the kinds in the order error messages name them.
var triggerKinds = []TriggerKind{TriggerManual, TriggerEvent, TriggerFieldChange, TriggerSchedule, TriggerJourney}

// journeyEventKinds lists the journey event kinds in the order error messages name them.
var journeyEventKinds = []JourneyEventKind{JourneyEntered, JourneyCompleted, JourneyCancelled, JourneyStalled,
	MilestoneStarted, MilestoneCompleted, MilestoneSkipped, MilestoneAtRisk, MilestoneBehind}

// milestoneEventKinds are the kinds about one milestone (JourneyEvent.Milestone is set).
var milestoneEventKinds = []JourneyEventKind{MilestoneStarted, MilestoneCompleted, MilestoneSkipped, MilestoneAtRisk, MilestoneBehind}

// Trigger says when runs start. Only the fields of Kind are set. Whatever the trigger, a run
// starts only if the definition's entry condition holds and the re-entry policy allows it.
type Trigger struct {
	Kind TriggerKind `json:"kind"`

	// Event is the event name of an EVENT trigger.
	Event string `json:"event,omitempty"`
	// Properties, on an EVENT trigger, are values that top-level properties of the event must
	// equal: a string, a number (json.Number, compared by value: 2 equals 2.0) or a bool.
	Properties map[string]any `json:"properties,omitempty"`

	// Field is the field of a FIELD_CHANGE trigger, named as in conditions: "account.stage",
	// "account.custom.plan", "contact.persona". In a CONTACT play an account field change
	// concerns every live contact of the account.
	Field string `json:"field,omitempty"`
	// From and To, when set, are the values the field must have had before and have after
	// the change, normalised as in a condition's value (string, int64, bool, a date
	// "2006-01-02", a canonical user id). A missing value cannot be matched.
	From any `json:"from,omitempty"`
	To   any `json:"to,omitempty"`

	// Condition is what a SCHEDULE trigger checks, in the play's scope.
	Condition *condition.Condition `json:"condition,omitempty"`

	// Journey is the key of the journey a JOURNEY trigger listens to ("onboarding").
	Journey string `json:"journey,omitempty"`
	// On lists the journey event kinds that start the play (at least one, no repeats).
	On []JourneyEventKind `json:"on,omitempty"`
	// Milestone, when set, is the key of the one milestone whose events start the play; every
	// kind in On is then a milestone kind.
	Milestone string `json:"milestone,omitempty"`

	// from and to are From and To compiled into eq conditions on Field.
	from, to *condition.Condition
}

// MatchesEvent reports whether an event called name with the given properties (a JSON object;
// empty means none) starts the play: the trigger is an EVENT trigger on name, and every
// property it lists is present in the event with an equal value of the same JSON type.
func (t *Trigger) MatchesEvent(name string, properties json.RawMessage) (bool, error) {
	if t.Kind != TriggerEvent || t.Event != name {
		return false, nil
	}
	if len(t.Properties) == 0 {
		return true, nil
	}
	var props map[string]any
	if len(bytes.TrimSpace(properties)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(properties))
		dec.UseNumber()
		if err := dec.Decode(&props); err != nil {
			return false, fmt.Errorf("match event properties: %w", err)
		}
	}
	for key, want := range t.Properties {
		got, ok := props[key]
		if !ok || !sameJSONValue(want, got) {
			return false, nil
		}
	}
	return true, nil
}

// MatchesJourney reports whether a journey event starts the play: the trigger is a JOURNEY
// trigger on the event's journey, lists its kind, and names its milestone or none.
func (t *Trigger) MatchesJourney(ev JourneyEvent) bool {
	return t.Kind == TriggerJourney && t.Journey == ev.JourneyKey && slices.Contains(t.On, ev.Kind) &&
		(t.Milestone == "" || t.Milestone == ev.Milestone)
}

// sameJSONValue compares two decoded JSON scalars: strings and bools exactly, numbers by value.
func sameJSONValue(a, b any) bool {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		rx, okx := new(big.Rat).SetString(string(x))
		ry, oky := new(big.Rat).SetString(string(y))
		return okx && oky && rx.Cmp(ry) == 0
	}
	return false
}

// MatchesChange reports whether a change of Field, seen as the subject before and after it,
// starts the play: From (if set) held before and To (if set) holds after. The caller knows
// the field changed; this only filters by values. For an account field the subjects need only
// Account; for a contact field, Contact and its Account.
func (t *Trigger) MatchesChange(before, after condition.Subject, now time.Time) (bool, error) {
	if t.Kind != TriggerFieldChange {
		return false, nil
	}
	if t.from != nil {
		ok, err := t.from.Eval(before, now)
		if err != nil || !ok {
			return false, err
		}
	}
	if t.to != nil {
		ok, err := t.to.Eval(after, now)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}
