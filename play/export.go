package play

import (
	"github.com/stewardhq/steward/condition"
	"github.com/stewardhq/steward/invalid"
	"github.com/stewardhq/steward/strictjson"
)

// The Decode functions below let another definition format (journeys) embed parts of a play
// definition and validate them exactly as plays do. Each takes a value decoded by
// strictjson.Decode, the path it sits at (errors are *invalid.Error under that path) and
// complete: false validates what is present, as for a draft; true also requires what a run
// needs. Parts are validated in ACCOUNT scope, the only scope journeys have.

// DecodeTrigger validates a trigger object. The caller restricts the kinds it accepts.
func DecodeTrigger(v any, path string, complete bool) (*Trigger, error) {
	return exported(complete).trigger(v, path)
}

// DecodeReentry validates a re-entry object ({"policy": ..., "cooldown": ...}); a missing
// policy is NOT_WHILE_ACTIVE.
func DecodeReentry(v any, path string, complete bool) (Reentry, error) {
	return exported(complete).reentry(v, path)
}

// DecodeTask validates a task object with the keys of a CREATE_TASK step (title, description,
// assignee, dueIn, priority). A complete task has a title and an assignee.
func DecodeTask(v any, path string, complete bool) (*Task, error) {
	f, err := strictjson.AsObject(v, path)
	if err != nil {
		return nil, err
	}
	if err := f.Only(" of tasks", stepKeys[StepCreateTask]...); err != nil {
		return nil, err
	}
	return exported(complete).task(f)
}

// DecodeEmail validates an email object with the keys of a SEND_EMAIL step (to, personas,
// subject, body).
func DecodeEmail(v any, path string, complete bool) (*Email, error) {
	f, err := strictjson.AsObject(v, path)
	if err != nil {
		return nil, err
	}
	if err := f.Only(" of emails", stepKeys[StepSendEmail]...); err != nil {
		return nil, err
	}
	return exported(complete).email(f)
}

// DecodeInAppMessage validates an in-app message object with the keys of an IN_APP_MESSAGE
// step (to, personas, title, body, style).
func DecodeInAppMessage(v any, path string, complete bool) (*InAppMessage, error) {
	f, err := strictjson.AsObject(v, path)
	if err != nil {
		return nil, err
	}
	if err := f.Only(" of in-app messages", stepKeys[StepInAppMessage]...); err != nil {
		return nil, err
	}
	return exported(complete).inApp(f)
}

// DecodeCondition validates an ACCOUNT-scope condition tree at path.
func DecodeCondition(v any, path string) (*condition.Condition, error) {
	return exported(false).condition(v, path)
}

// DecodeDuration validates a duration text ("3d", "2w") at path.
func DecodeDuration(v any, path string) (Duration, error) {
	s, ok := v.(string)
	if !ok {
		return "", invalid.Field(path, "must be a duration such as \"3d\"")
	}
	if _, err := condition.ParseDuration(s); err != nil {
		return "", invalid.Field(path, "%s", err)
	}
	return Duration(s), nil
}

func exported(complete bool) *parser {
	return &parser{scope: condition.ScopeAccount, complete: complete, ids: map[string]string{}}
}
