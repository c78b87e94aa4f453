package journey

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
)

// Draft editing: each operation changes one part of the draft and validates the whole draft
// again (ParseDraft), in one transaction with the journey locked. Errors in the new content
// name its path in the definition ("definition.milestones[2].target"); errors in the
// operation's own arguments name the argument ("milestoneKey", "position"). Editing a
// published journey without pending edits starts its draft from the latest version.

// MilestoneInput is a new milestone. Key is made from Name when empty; CompleteWhen is an
// ACCOUNT-scope condition as JSON (nil for none).
type MilestoneInput struct {
	Key          string
	Name         string
	Description  string
	Target       string
	Parallel     bool
	CompleteWhen json.RawMessage
}

// MilestonePatch changes a milestone; nil fields are left unchanged. An empty Target removes
// it (allowed in a draft); a JSON null CompleteWhen removes the condition.
type MilestonePatch struct {
	Name         *string
	Description  *string
	Target       *string
	Parallel     *bool
	CompleteWhen json.RawMessage
}

// StepInput is a new step. Key is made from the task's title or the kind when empty. Only the
// parameter of Kind may be set: Task (TASK), Email (SEND_EMAIL), Message (IN_APP_MESSAGE),
// PlayID (LAUNCH_PLAY), Condition (CHECKPOINT); they are JSON as in a definition. Required nil
// means the kind's default (TASK and CHECKPOINT are required).
type StepInput struct {
	Key       string
	Kind      StepKind
	Required  *bool
	Task      json.RawMessage
	Email     json.RawMessage
	Message   json.RawMessage
	PlayID    *uuid.UUID
	Condition json.RawMessage
}

// StepPatch changes a step; nil fields are left unchanged. Task, Email and Message are merged
// key by key into the step's object (a key set to null is removed), so {"title": "Call"}
// changes only the title; Condition replaces the checkpoint's condition. The kind of a step
// does not change: delete it and add another.
type StepPatch struct {
	Required  *bool
	Task      json.RawMessage
	Email     json.RawMessage
	Message   json.RawMessage
	PlayID    *uuid.UUID
	Condition json.RawMessage
}

// AddMilestone inserts a milestone at position (0 is first; nil or the number of milestones
// appends it).
func (s *Definitions) AddMilestone(ctx context.Context, t db.Tenant, id uuid.UUID, in MilestoneInput, position *int) (*db.Journey, error) {
	return s.editDraft(ctx, t, id, func(d *draftDoc) error {
		at := len(d.milestones)
		if position != nil {
			if *position < 0 || *position > len(d.milestones) {
				return invalid.Field("position", "must be from 0 to %d", len(d.milestones))
			}
			at = *position
		}
		if in.Key != "" {
			if _, err := d.milestone(in.Key, "key"); err == nil {
				return invalid.Field("key", "another milestone of the journey already has this key")
			}
		}
		m := object{"name": mustJSON(in.Name), "steps": json.RawMessage("[]")}
		if in.Key != "" {
			m["key"] = mustJSON(in.Key)
		}
		if in.Description != "" {
			m["description"] = mustJSON(in.Description)
		}
		if in.Target != "" {
			m["target"] = mustJSON(in.Target)
		}
		if in.Parallel {
			m["parallel"] = json.RawMessage("true")
		}
		if in.CompleteWhen != nil {
			m["completeWhen"] = in.CompleteWhen
		}
		d.milestones = slices.Insert(d.milestones, at, &milestoneDoc{fields: m})
		return nil
	})
}

// UpdateMilestone changes the milestone with key.
func (s *Definitions) UpdateMilestone(ctx context.Context, t db.Tenant, id uuid.UUID, key string, patch MilestonePatch) (*db.Journey, error) {
	return s.editDraft(ctx, t, id, func(d *draftDoc) error {
		i, err := d.milestone(key, "key")
		if err != nil {
			return err
		}
		m := d.milestones[i].fields
		if patch.Name != nil {
			m["name"] = mustJSON(*patch.Name)
		}
		if patch.Description != nil {
			m.setOrDelete("description", *patch.Description)
		}
		if patch.Target != nil {
			m.setOrDelete("target", *patch.Target)
		}
		if patch.Parallel != nil {
			m["parallel"] = mustJSON(*patch.Parallel)
		}
		if patch.CompleteWhen != nil {
			m["completeWhen"] = patch.CompleteWhen
		}
		return nil
	})
}

// MoveMilestone moves the milestone with key to position (0 is first), keeping its steps. A
// parallel milestone that ends up first becomes sequential, since the first cannot be
// parallel.
func (s *Definitions) MoveMilestone(ctx context.Context, t db.Tenant, id uuid.UUID, key string, position int) (*db.Journey, error) {
	return s.editDraft(ctx, t, id, func(d *draftDoc) error {
		i, err := d.milestone(key, "key")
		if err != nil {
			return err
		}
		if position < 0 || position >= len(d.milestones) {
			return invalid.Field("position", "must be from 0 to %d", len(d.milestones)-1)
		}
		m := d.milestones[i]
		d.milestones = slices.Insert(slices.Delete(d.milestones, i, i+1), position, m)
		d.fixFirst()
		return nil
	})
}

// DeleteMilestone removes the milestone with key and its steps.
func (s *Definitions) DeleteMilestone(ctx context.Context, t db.Tenant, id uuid.UUID, key string) (*db.Journey, error) {
	return s.editDraft(ctx, t, id, func(d *draftDoc) error {
		i, err := d.milestone(key, "key")
		if err != nil {
			return err
		}
		d.milestones = slices.Delete(d.milestones, i, i+1)
		d.fixFirst()
		return nil
	})
}

// AddStep inserts a step into the milestone with milestoneKey at position (0 is first; nil or
// the number of its steps appends it).
func (s *Definitions) AddStep(ctx context.Context, t db.Tenant, id uuid.UUID, milestoneKey string, in StepInput, position *int) (*db.Journey, error) {
	return s.editDraft(ctx, t, id, func(d *draftDoc) error {
		i, err := d.milestone(milestoneKey, "milestoneKey")
		if err != nil {
			return err
		}
		m := d.milestones[i]
		at := len(m.steps)
		if position != nil {
			if *position < 0 || *position > len(m.steps) {
				return invalid.Field("position", "must be from 0 to %d", len(m.steps))
			}
			at = *position
		}
		if in.Key != "" {
			if _, _, err := d.step(in.Key, "key"); err == nil {
				return invalid.Field("key", "another step of the journey already has this key")
			}
		}
		st := object{"kind": mustJSON(in.Kind)}
		if in.Key != "" {
			st["key"] = mustJSON(in.Key)
		}
		if in.Required != nil {
			st["required"] = mustJSON(*in.Required)
		}
		for k, v := range map[string]json.RawMessage{"task": in.Task, "email": in.Email, "message": in.Message, "condition": in.Condition} {
			if v != nil {
				st[k] = v
			}
		}
		if in.PlayID != nil {
			st["playId"] = mustJSON(in.PlayID.String())
		}
		m.steps = slices.Insert(m.steps, at, st)
		return nil
	})
}

// UpdateStep changes the step with key.
func (s *Definitions) UpdateStep(ctx context.Context, t db.Tenant, id uuid.UUID, key string, patch StepPatch) (*db.Journey, error) {
	return s.editDraft(ctx, t, id, func(d *draftDoc) error {
		i, j, err := d.step(key, "key")
		if err != nil {
			return err
		}
		st := d.milestones[i].steps[j]
		if patch.Required != nil {
			st["required"] = mustJSON(*patch.Required)
		}
		for k, v := range map[string]json.RawMessage{"task": patch.Task, "email": patch.Email, "message": patch.Message} {
			if v == nil {
				continue
			}
			merged, err := mergeObject(st[k], v, k)
			if err != nil {
				return err
			}
			st[k] = merged
		}
		if patch.Condition != nil {
			st["condition"] = patch.Condition
		}
		if patch.PlayID != nil {
			st["playId"] = mustJSON(patch.PlayID.String())
		}
		return nil
	})
}

// MoveStep moves the step with key to position in the milestone with toMilestoneKey (its own
// milestone or another one).
func (s *Definitions) MoveStep(ctx context.Context, t db.Tenant, id uuid.UUID, key, toMilestoneKey string, position int) (*db.Journey, error) {
	return s.editDraft(ctx, t, id, func(d *draftDoc) error {
		i, j, err := d.step(key, "key")
		if err != nil {
			return err
		}
		to, err := d.milestone(toMilestoneKey, "toMilestoneKey")
		if err != nil {
			return err
		}
		st := d.milestones[i].steps[j]
		d.milestones[i].steps = slices.Delete(d.milestones[i].steps, j, j+1)
		target := d.milestones[to]
		if position < 0 || position > len(target.steps) {
			return invalid.Field("position", "must be from 0 to %d", len(target.steps))
		}
		target.steps = slices.Insert(target.steps, position, st)
		return nil
	})
}

// DeleteStep removes the step with key.
func (s *Definitions) DeleteStep(ctx context.Context, t db.Tenant, id uuid.UUID, key string) (*db.Journey, error) {
	return s.editDraft(ctx, t, id, func(d *draftDoc) error {
		i, j, err := d.step(key, "key")
		if err != nil {
			return err
		}
		d.milestones[i].steps = slices.Delete(d.milestones[i].steps, j, j+1)
		return nil
	})
}

// editDraft loads the journey's draft (or its latest version), lets edit change it, validates
// the result as a draft and stores it, in one transaction.
func (s *Definitions) editDraft(ctx context.Context, t db.Tenant, id uuid.UUID, edit func(*draftDoc) error) (*db.Journey, error) {
	return s.modify(ctx, t, id, func(ctx context.Context, tx bun.Tx, j *db.Journey) error {
		if j.Status == db.JourneyArchived {
			return refuse("an archived journey cannot be edited")
		}
		raw := j.Draft
		if raw == nil {
			raw = json.RawMessage("{}")
			if j.LatestVersion > 0 {
				v, err := db.GetJourneyVersion(ctx, tx, t, j.ID, j.LatestVersion)
				if err != nil {
					return err
				}
				raw = v.Definition
			}
		}
		d, err := decodeDraft(raw)
		if err != nil {
			return fmt.Errorf("read draft of journey %s: %w", j.ID, err)
		}
		if err := edit(d); err != nil {
			return err
		}
		enc, err := d.encode()
		if err != nil {
			return err
		}
		draft, err := draftJSON(enc)
		if err != nil {
			return err
		}
		now := s.Now()
		j.Draft, j.DraftUpdatedAt = draft, &now
		return nil
	})
}

// object is one JSON object of a draft, values kept as written.
type object map[string]json.RawMessage

// setOrDelete sets key to the string v, or removes it when v is empty.
func (o object) setOrDelete(key, v string) {
	if v == "" {
		delete(o, key)
		return
	}
	o[key] = mustJSON(v)
}

// draftDoc is a stored draft opened for editing: the top-level settings, and the milestones
// with their steps as lists that operations reorder.
type draftDoc struct {
	top        object
	milestones []*milestoneDoc
}

type milestoneDoc struct {
	fields object
	steps  []object
}

func (d *draftDoc) set(key string, v json.RawMessage) { d.top[key] = v }

func decodeDraft(raw json.RawMessage) (*draftDoc, error) {
	var top object
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, err
	}
	if top == nil {
		top = object{}
	}
	d := &draftDoc{top: top}
	if ms, ok := top["milestones"]; ok {
		var list []object
		if err := json.Unmarshal(ms, &list); err != nil {
			return nil, err
		}
		for _, m := range list {
			md := &milestoneDoc{fields: m}
			if st, ok := m["steps"]; ok {
				if err := json.Unmarshal(st, &md.steps); err != nil {
					return nil, err
				}
			}
			d.milestones = append(d.milestones, md)
		}
	}
	return d, nil
}

func (d *draftDoc) encode() (json.RawMessage, error) {
	ms := make([]object, len(d.milestones))
	for i, m := range d.milestones {
		steps := m.steps
		if steps == nil {
			steps = []object{}
		}
		b, err := json.Marshal(steps)
		if err != nil {
			return nil, invalid.Field(fmt.Sprintf("%s.milestones[%d].steps", rootPath, i), "must be valid JSON: %s", err)
		}
		m.fields["steps"] = b
		ms[i] = m.fields
	}
	b, err := json.Marshal(ms)
	if err != nil {
		return nil, invalid.Field(rootPath+".milestones", "must be valid JSON: %s", err)
	}
	d.top["milestones"] = b
	out, err := json.Marshal(d.top)
	if err != nil {
		// The stored draft is valid JSON, so the offending part is a value the operation got.
		return nil, invalid.Field(rootPath, "must be valid JSON: %s", err)
	}
	return out, nil
}

// milestone finds a milestone by key; field names the argument that gave the key.
func (d *draftDoc) milestone(key, field string) (int, error) {
	want := mustJSON(key)
	for i, m := range d.milestones {
		if bytes.Equal(m.fields["key"], want) {
			return i, nil
		}
	}
	return -1, invalid.Field(field, "no milestone with key %q in the draft", key)
}

// step finds a step by key: the index of its milestone and its index there.
func (d *draftDoc) step(key, field string) (int, int, error) {
	want := mustJSON(key)
	for i, m := range d.milestones {
		for j, st := range m.steps {
			if bytes.Equal(st["key"], want) {
				return i, j, nil
			}
		}
	}
	return -1, -1, invalid.Field(field, "no step with key %q in the draft", key)
}

// fixFirst makes the first milestone sequential, as it must be.
func (d *draftDoc) fixFirst() {
	if len(d.milestones) > 0 {
		delete(d.milestones[0].fields, "parallel")
	}
}

// mergeObject merges the keys of patch into base (a null value removes the key). Both must be
// JSON objects (base may be absent).
func mergeObject(base, patch json.RawMessage, field string) (json.RawMessage, error) {
	var p map[string]json.RawMessage
	if err := json.Unmarshal(patch, &p); err != nil || p == nil {
		return nil, invalid.Field(field, "must be a JSON object")
	}
	out := map[string]json.RawMessage{}
	if len(base) > 0 && !bytes.Equal(base, []byte("null")) {
		if err := json.Unmarshal(base, &out); err != nil || out == nil {
			out = map[string]json.RawMessage{}
		}
	}
	for k, v := range p {
		if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return json.Marshal(out)
}
