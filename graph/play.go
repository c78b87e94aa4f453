package graph

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"

	"github.com/stewardhq/steward/condition"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/graph/model"
	"github.com/stewardhq/steward/play"
)

// Converters and helpers for plays.

func toGraphPlay(p *db.Play) *model.Play {
	return &model.Play{
		ID:             globalID(kindPlay, p.ID),
		DBID:           p.ID,
		Name:           p.Name,
		Description:    p.Description,
		Scope:          model.PlayScope(p.Scope),
		Status:         model.PlayStatus(p.Status),
		Draft:          model.JSON(p.Draft),
		DraftUpdatedAt: p.DraftUpdatedAt,
		LatestVersion:  p.LatestVersion,
		TriggerKind:    p.TriggerKind,
		CreatedAt:      p.CreatedAt,
		UpdatedAt:      p.UpdatedAt,
		ArchivedAt:     p.ArchivedAt,
	}
}

func toGraphPlayVersion(v *db.PlayVersion) *model.PlayVersion {
	return &model.PlayVersion{Version: v.Version, Definition: model.JSON(v.Definition), PublishedAt: v.PublishedAt, PublishedByID: v.PublishedBy}
}

func toNewPlay(in model.CreatePlayInput) play.NewPlay {
	out := play.NewPlay{Name: in.Name, Scope: condition.Scope(in.Scope), Definition: json.RawMessage(in.Definition)}
	if in.Description != nil {
		out.Description = *in.Description
	}
	return out
}

func toPlayPatch(in model.UpdatePlayInput) play.Patch {
	return play.Patch{Name: in.Name, Description: in.Description, Definition: json.RawMessage(in.Definition)}
}

func toPlayFilter(f *model.PlayFilter) play.ListFilter {
	var out play.ListFilter
	if f == nil {
		return out
	}
	if f.Status != nil {
		out.Status = string(*f.Status)
	}
	if f.Scope != nil {
		out.Scope = condition.Scope(*f.Scope)
	}
	return out
}

// playAction runs one change on a play given by global id.
func playAction(ctx context.Context, id string, act func(t db.Tenant, id uuid.UUID) (*db.Play, error)) (*model.Play, error) {
	return action(ctx, id, kindPlay, act, toGraphPlay)
}
