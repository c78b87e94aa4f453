package account

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
)

// maxBodyLen bounds a timeline entry's body.
const maxBodyLen = 20_000

// TimelineKinds are the kinds of timeline entries.
var TimelineKinds = []string{db.TimelineNote, db.TimelineCall, db.TimelineMeeting, db.TimelineEmail, db.TimelineBusinessReview, db.TimelineSystem}

// TimelineInput is a new timeline entry; a zero OccurredAt means now.
type TimelineInput struct {
	AccountID  uuid.UUID
	Kind       string
	Body       string
	OccurredAt time.Time
	AuthorID   *uuid.UUID
}

// AddTimelineEntry records an entry in an account's history.
func (s *Service) AddTimelineEntry(ctx context.Context, t db.Tenant, in TimelineInput) (*db.TimelineEntry, error) {
	if !slices.Contains(TimelineKinds, in.Kind) {
		return nil, invalid.Field("kind", "must be one of %s", strings.Join(TimelineKinds, ", "))
	}
	body := strings.TrimSpace(in.Body)
	if body == "" || len(body) > maxBodyLen {
		return nil, invalid.Field("body", "must be 1 to %d characters", maxBodyLen)
	}
	if in.OccurredAt.IsZero() {
		in.OccurredAt = s.Now()
	}
	e := &db.TimelineEntry{AccountID: in.AccountID, Kind: in.Kind, Body: body, OccurredAt: in.OccurredAt, AuthorID: in.AuthorID}
	err := db.InTx(ctx, s.DB, func(ctx context.Context, tx bun.Tx) error {
		if _, err := db.GetAccount(ctx, tx, t, in.AccountID); err != nil {
			return invalidIfMissing(err, "accountId", "no such account")
		}
		if err := db.InsertTimelineEntry(ctx, tx, t, e); err != nil {
			return err
		}
		if err := db.AppendChanges(ctx, tx, t, db.TimelineChange(e)); err != nil {
			return err
		}
		if s.Hooks.TimelineAdded != nil {
			return s.Hooks.TimelineAdded(ctx, tx, t, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// GetTimelineEntry loads one entry.
func (s *Service) GetTimelineEntry(ctx context.Context, t db.Tenant, id uuid.UUID) (*db.TimelineEntry, error) {
	return db.GetTimelineEntry(ctx, s.DB, t, id)
}

// TimelinePage lists an account's timeline, newest first, after a keyset cursor.
func (s *Service) TimelinePage(ctx context.Context, t db.Tenant, accountID uuid.UUID, kinds []string, first int, after *db.PageCursor) ([]db.TimelineEntry, bool, error) {
	return db.TimelinePage(ctx, s.DB, t, accountID, kinds, first, after)
}
