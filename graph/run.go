package graph

import (
	"context"

	"github.com/google/uuid"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/graph/model"
	"github.com/stewardhq/steward/play"
)

// Converters and helpers for play runs, in-app messages and the dev mailbox.

func toGraphPlayRun(r *db.PlayRun) *model.PlayRun {
	return &model.PlayRun{
		ID:          globalID(kindPlayRun, r.ID),
		DBID:        r.ID,
		PlayID:      r.PlayID,
		AccountID:   r.AccountID,
		ContactID:   r.ContactID,
		Version:     r.Version,
		Status:      model.PlayRunStatus(r.Status),
		CurrentStep: r.CurrentStep,
		NextWakeAt:  r.NextWakeAt,
		Trigger:     model.JSON(r.Trigger),
		StartedAt:   r.StartedAt,
		FinishedAt:  r.FinishedAt,
		Outcome:     r.Outcome,
		Error:       r.Error,
	}
}

func toGraphPlayStepRun(s *db.PlayStepRun) *model.PlayStepRun {
	return &model.PlayStepRun{
		StepID: s.StepID, Kind: s.Kind, Iteration: s.Iteration, Attempt: s.Attempt, Status: s.Status,
		StartedAt: s.StartedAt, FinishedAt: s.FinishedAt, Outcome: s.Outcome, Error: s.Error, TaskID: s.TaskID,
	}
}

func toGraphInAppMessage(m *db.InAppMessage) *model.InAppMessage {
	return &model.InAppMessage{
		ID: globalID(kindInAppMessage, m.ID), DBID: m.ID, ContactID: m.ContactID, Title: m.Title, Body: m.Body,
		Style: m.Style, Status: model.InAppMessageStatus(m.Status), CreatedAt: m.CreatedAt,
	}
}

func toGraphMailboxMessage(m *db.MailboxMessage) *model.MailboxMessage {
	return &model.MailboxMessage{
		ID: globalID(kindMailbox, m.ID), From: m.From, To: m.To, Subject: m.Subject, TextBody: m.TextBody, ReceivedAt: m.ReceivedAt,
	}
}

func toRunFilter(f *model.PlayRunFilter) (play.RunFilter, error) {
	var out play.RunFilter
	if f == nil {
		return out, nil
	}
	var err error
	if out.PlayID, err = parseOptionalInputID(f.PlayID, kindPlay, "filter.playId"); err != nil {
		return out, err
	}
	if out.AccountID, err = parseOptionalInputID(f.AccountID, kindAccount, "filter.accountId"); err != nil {
		return out, err
	}
	for _, s := range f.Status {
		out.Statuses = append(out.Statuses, string(s))
	}
	return out, nil
}

// toRunQuery decodes the playRuns connection's arguments.
func toRunQuery(first *int, after *string, filter *model.PlayRunFilter) (play.RunFilter, play.Page, error) {
	n, err := pageSize(first)
	if err != nil {
		return play.RunFilter{}, play.Page{}, err
	}
	f, err := toRunFilter(filter)
	if err != nil {
		return f, play.Page{}, err
	}
	cursor, err := decodeCursor(after, "runs")
	return f, play.Page{First: n, After: cursor}, err
}

func toPlayRunConnection(rows []db.PlayRun, hasNext bool) *model.PlayRunConnection {
	conn := &model.PlayRunConnection{Edges: make([]*model.PlayRunEdge, len(rows)), PageInfo: &model.PageInfo{HasNextPage: hasNext}}
	for i := range rows {
		cur := encodeCursor("runs", rows[i].StartedAt.Format(pgTimestamp), rows[i].ID)
		conn.Edges[i] = &model.PlayRunEdge{Cursor: cur, Node: toGraphPlayRun(&rows[i])}
		conn.PageInfo.EndCursor = &cur
	}
	return conn
}

// runAction runs one change on a run given by global id.
func runAction(ctx context.Context, id string, act func(t db.Tenant, id uuid.UUID) (*db.PlayRun, error)) (*model.PlayRun, error) {
	return action(ctx, id, kindPlayRun, act, toGraphPlayRun)
}
