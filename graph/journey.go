package graph

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/graph/model"
	"github.com/stewardhq/steward/journey"
)

// Converters and helpers for journey definitions.

func toGraphJourney(j *db.Journey) *model.Journey {
	return &model.Journey{
		ID:                globalID(kindJourney, j.ID),
		DBID:              j.ID,
		Key:               j.Key,
		Name:              j.Name,
		Description:       j.Description,
		Stage:             j.Stage,
		Status:            model.JourneyStatus(j.Status),
		DraftJSON:         j.Draft,
		DraftUpdatedAt:    j.DraftUpdatedAt,
		LatestVersion:     j.LatestVersion,
		TriggerKind:       j.TriggerKind,
		CopiedFromID:      j.CopiedFromID,
		CopiedFromVersion: j.CopiedFromVersion,
		CreatedByID:       j.CreatedBy,
		CreatedAt:         j.CreatedAt,
		UpdatedAt:         j.UpdatedAt,
		ArchivedAt:        j.ArchivedAt,
	}
}

// toGraphJourneyVersion converts a stored version, parsing its definition.
func toGraphJourneyVersion(v *db.JourneyVersion) (*model.JourneyVersion, error) {
	d, err := journey.ParseDefinition(v.Definition)
	if err != nil {
		return nil, fmt.Errorf("parse journey %s version %d: %w", v.JourneyID, v.Version, err)
	}
	def, err := toGraphJourneyDefinition(d)
	if err != nil {
		return nil, err
	}
	return &model.JourneyVersion{Version: v.Version, Definition: def, PublishedAt: v.PublishedAt, PublishedByID: v.PublishedBy}, nil
}

// toGraphJourneyDraft converts a journey's raw draft; nil without one.
func toGraphJourneyDraft(raw json.RawMessage) (*model.JourneyDefinition, error) {
	if raw == nil {
		return nil, nil
	}
	d, err := journey.ParseDraft(raw)
	if err != nil {
		return nil, fmt.Errorf("parse journey draft: %w", err)
	}
	return toGraphJourneyDefinition(d)
}

func toGraphJourneyDefinition(d *journey.Definition) (*model.JourneyDefinition, error) {
	out := &model.JourneyDefinition{StallAfter: string(d.StallAfter), AtRiskShare: d.AtRiskShare}
	var err error
	if out.JSON, err = jsonOf(d); err != nil {
		return nil, err
	}
	if d.Trigger != nil {
		if out.Trigger, err = jsonOf(d.Trigger); err != nil {
			return nil, err
		}
	}
	if out.Reentry, err = jsonOf(d.Reentry); err != nil {
		return nil, err
	}
	for i := range d.Milestones {
		m, err := toGraphMilestone(&d.Milestones[i], d.GroupOf(i))
		if err != nil {
			return nil, err
		}
		out.Milestones = append(out.Milestones, m)
	}
	if out.Milestones == nil {
		out.Milestones = []*model.Milestone{}
	}
	return out, nil
}

func toGraphMilestone(m *journey.Milestone, group int) (*model.Milestone, error) {
	out := &model.Milestone{Key: m.Key, Name: m.Name, Description: m.Description, Parallel: m.Parallel, Group: group, Steps: []*model.JourneyStep{}}
	if m.Target != "" {
		target := string(m.Target)
		out.TargetDuration = &target
	}
	var err error
	if m.CompleteWhen != nil {
		if out.CompleteWhen, err = jsonOf(m.CompleteWhen); err != nil {
			return nil, err
		}
	}
	for i := range m.Steps {
		s, err := toGraphJourneyStep(&m.Steps[i])
		if err != nil {
			return nil, err
		}
		out.Steps = append(out.Steps, s)
	}
	return out, nil
}

func toGraphJourneyStep(s *journey.Step) (*model.JourneyStep, error) {
	out := &model.JourneyStep{Key: s.Key, Kind: model.JourneyStepKind(s.Kind), Required: s.Required, PlayID: s.PlayID}
	var err error
	if t := s.Task; t != nil {
		title, desc, priority := string(t.Title), string(t.Description), model.TaskPriority(t.Priority)
		out.Title, out.Description, out.Priority = &title, &desc, &priority
		if t.DueIn != "" {
			due := string(t.DueIn)
			out.DueIn = &due
		}
		if a := t.Assignee; a != nil {
			out.Assignee = &model.JourneyTaskAssignee{Kind: string(a.Kind), UserID: a.UserID}
			if a.TeamRole != "" {
				role := a.TeamRole
				out.Assignee.TeamRole = &role
			}
		}
	}
	if s.Email != nil {
		if out.Email, err = jsonOf(s.Email); err != nil {
			return nil, err
		}
	}
	if s.Message != nil {
		if out.Message, err = jsonOf(s.Message); err != nil {
			return nil, err
		}
	}
	if s.Condition != nil {
		if out.Condition, err = jsonOf(s.Condition); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func jsonOf(v any) (model.JSON, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	return model.JSON(b), nil
}

func toNewJourney(in model.CreateJourneyInput) journey.NewJourney {
	return journey.NewJourney{Key: deref(in.Key), Name: in.Name, Description: deref(in.Description), Stage: in.Stage, Definition: json.RawMessage(in.Definition)}
}

func toJourneyPatch(in model.UpdateJourneyInput) journey.Patch {
	return journey.Patch{Name: in.Name, Description: in.Description, Stage: in.Stage}
}

func toJourneySettings(in model.JourneySettingsInput) journey.Settings {
	return journey.Settings{
		Trigger: omittableJSON(in.Trigger), Reentry: omittableJSON(in.Reentry),
		StallAfter: in.StallAfter, AtRiskShare: in.AtRiskShare,
	}
}

func toMilestoneInput(in model.MilestoneInput) journey.MilestoneInput {
	return journey.MilestoneInput{
		Key: deref(in.Key), Name: in.Name, Description: deref(in.Description), Target: deref(in.TargetDuration),
		Parallel: in.Parallel != nil && *in.Parallel, CompleteWhen: json.RawMessage(in.CompleteWhen),
	}
}

func toMilestonePatch(in model.UpdateMilestoneInput) journey.MilestonePatch {
	return journey.MilestonePatch{
		Name: in.Name, Description: in.Description, Target: in.TargetDuration, Parallel: in.Parallel,
		CompleteWhen: omittableJSON(in.CompleteWhen),
	}
}

func toStepInput(in model.JourneyStepInput) (journey.StepInput, error) {
	playID, err := parseOptionalInputID(in.PlayID, kindPlay, "input.playId")
	return journey.StepInput{
		Key: deref(in.Key), Kind: journey.StepKind(in.Kind), Required: in.Required, PlayID: playID,
		Task: json.RawMessage(in.Task), Email: json.RawMessage(in.Email), Message: json.RawMessage(in.Message),
		Condition: json.RawMessage(in.Condition),
	}, err
}

func toStepPatch(in model.UpdateJourneyStepInput) (journey.StepPatch, error) {
	playID, err := parseOptionalInputID(in.PlayID, kindPlay, "input.playId")
	return journey.StepPatch{
		Required: in.Required, PlayID: playID,
		Task: json.RawMessage(in.Task), Email: json.RawMessage(in.Email), Message: json.RawMessage(in.Message),
		Condition: json.RawMessage(in.Condition),
	}, err
}

// omittableJSON is nil when the field was absent, the JSON null when it was null.
func omittableJSON(o graphql.Omittable[model.JSON]) json.RawMessage {
	v, set := o.ValueOK()
	switch {
	case !set:
		return nil
	case v == nil:
		return json.RawMessage("null")
	}
	return json.RawMessage(v)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// journeyAction runs one change on a journey given by global id.
func journeyAction(ctx context.Context, id string, act func(t db.Tenant, id uuid.UUID) (*db.Journey, error)) (*model.Journey, error) {
	return action(ctx, id, kindJourney, act, toGraphJourney)
}

func loadJourney(ctx context.Context, id *uuid.UUID) (*model.Journey, error) {
	if id == nil {
		return nil, nil
	}
	j, err := loadersFrom(ctx).journeys.Load(ctx, *id)
	return convertOrErr(j, err, toGraphJourney)
}

// toGraphJourneyVersions converts stored versions, or passes their error on.
func toGraphJourneyVersions(rows []db.JourneyVersion, err error) ([]*model.JourneyVersion, error) {
	if err != nil {
		return nil, err
	}
	out := make([]*model.JourneyVersion, len(rows))
	for i := range rows {
		if out[i], err = toGraphJourneyVersion(&rows[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func toJourneyFilter(status *model.JourneyStatus, stage *string) journey.ListFilter {
	f := journey.ListFilter{Stage: deref(stage)}
	if status != nil {
		f.Status = string(*status)
	}
	return f
}
