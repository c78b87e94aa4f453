package graph

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/feed"
	"github.com/stewardhq/steward/graph/model"
	"github.com/stewardhq/steward/invalid"
)

// Converters and helpers for the live feeds (subscriptions).

// CodeFeedInterrupted ends a subscription the server could not continue (the client fell too
// far behind, or the server is shutting down): subscribe again with the last cursor.
const CodeFeedInterrupted = "FEED_INTERRUPTED"

// subscribe starts a feed of the viewer's workspace with filter f (or returns err, the
// filter's lookup error), resuming after the cursor when given. A bad or expired cursor is
// bad input on "after". When the hub ends the subscription early the client receives an
// error with code FEED_INTERRUPTED.
func subscribe[T any](ctx context.Context, hub *feed.Hub, f feed.Filter, err error, after *string, convert func(*feed.Event) T) (<-chan T, error) {
	if ctx.Err() != nil {
		// The client ended the subscription while it was being set up: nothing to report.
		ch := make(chan T)
		close(ch)
		return ch, nil
	}
	if err != nil {
		return nil, err
	}
	end := feedEndFrom(ctx)
	req := feed.Request{Tenant: viewer(ctx).Tenant(), Filter: f, OnEnd: func(err error) {
		if err != nil && end != nil {
			end.set(&gqlerror.Error{Message: err.Error(), Extensions: map[string]any{"code": CodeFeedInterrupted}})
		}
	}}
	if after != nil {
		req.After = *after
	}
	ch, err := feed.Subscribe(ctx, hub, req, convert)
	if errors.Is(err, feed.ErrBadCursor) || errors.Is(err, feed.ErrCursorExpired) {
		return nil, invalid.Field("after", "%s: subscribe without it and reload", err.Error())
	}
	return ch, err
}

// feedEnd carries why the hub ended a subscription from the feed's goroutine (which sets it
// before closing the channel) to the response after the last event (see NewHandler's
// AroundResponses), which sends it as the subscription's final error. gqlgen's
// AddSubscriptionError is not used: it races with the transport when the socket closes at
// the same moment.
type feedEnd struct {
	mu  sync.Mutex
	err *gqlerror.Error
}

type feedEndKey struct{}

func withFeedEnd(ctx context.Context) context.Context {
	return context.WithValue(ctx, feedEndKey{}, &feedEnd{})
}

func feedEndFrom(ctx context.Context) *feedEnd {
	e, _ := ctx.Value(feedEndKey{}).(*feedEnd)
	return e
}

func (e *feedEnd) set(err *gqlerror.Error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.err = err
}

// take returns the error once.
func (e *feedEnd) take() *gqlerror.Error {
	if e == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	err := e.err
	e.err = nil
	return err
}

// toTaskFeedAssignee decodes taskFeed's assignee argument.
func toTaskFeedAssignee(ctx context.Context, in model.TaskFeedAssignee) (feed.Assignee, error) {
	var a feed.Assignee
	set := 0
	if in.Me != nil && *in.Me {
		set++
		if a.UserID = viewerUserID(ctx); a.UserID == nil {
			return a, invalid.Field("assignee.me", "an API key has no tasks of its own")
		}
	}
	if in.UserID != nil {
		set++
		var err error
		if a.UserID, err = parseOptionalInputID(in.UserID, kindUser, "assignee.userId"); err != nil {
			return a, err
		}
	}
	if in.TeamRole != nil {
		set++
		a.TeamRoleKey = *in.TeamRole
	}
	if set != 1 {
		return a, invalid.Field("assignee", "give exactly one of me, userId and teamRole")
	}
	return a, nil
}

func idOrNil(p *uuid.UUID) uuid.UUID {
	if p == nil {
		return uuid.Nil
	}
	return *p
}

func factTime(ev *feed.Event, key string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, ev.Fact(key))
	return t
}

func factPtr(ev *feed.Event, key string) *string {
	if s := ev.Fact(key); s != "" {
		return &s
	}
	return nil
}

func toGraphTaskFeedEvent(ev *feed.Event) *model.TaskFeedEvent {
	c := ev.Change
	return &model.TaskFeedEvent{Cursor: ev.Cursor, Kind: c.Kind, At: c.CreatedAt,
		Status: model.TaskStatus(ev.Fact("status")), TaskID: idOrNil(c.SubjectID)}
}

func toGraphAccountActivityEvent(ev *feed.Event) *model.AccountActivityEvent {
	c := ev.Change
	out := &model.AccountActivityEvent{Cursor: ev.Cursor, Kind: c.Topic + "." + c.Kind, At: c.CreatedAt, AccountID: idOrNil(c.AccountID)}
	switch c.Topic {
	case db.TopicTimeline:
		out.TimelineEntryID = c.SubjectID
	case db.TopicPlayRun:
		out.PlayRunID = c.SubjectID
	case db.TopicEvent:
		out.Event = &model.RecordedEvent{ID: globalIDOf(kindEvent, ev.Fact("eventId")),
			ClientEventID: ev.Fact("clientEventId"), Name: ev.Fact("name"),
			OccurredAt: factTime(ev, "occurredAt"), ContactID: c.ContactID}
	case db.TopicJourney:
		out.Journey = toGraphJourneyProgressEvent(ev)
	}
	return out
}

func toGraphPlayRunFeedEvent(ev *feed.Event) *model.PlayRunFeedEvent {
	c := ev.Change
	return &model.PlayRunFeedEvent{Cursor: ev.Cursor, Kind: c.Kind, At: c.CreatedAt,
		Status: model.PlayRunStatus(ev.Fact("status")), PlayRunID: idOrNil(c.SubjectID)}
}

// toGraphJourneyProgressEvent reads a journey row: journey_id, account_id, subject_id = the
// enrolment, and the facts "milestone" and "status" when the journey engine wrote them.
func toGraphJourneyProgressEvent(ev *feed.Event) *model.JourneyProgressEvent {
	c := ev.Change
	out := &model.JourneyProgressEvent{Cursor: ev.Cursor, Kind: c.Kind, At: c.CreatedAt,
		JourneyID: globalID(kindJourney, idOrNil(c.JourneyID)), AccountID: c.AccountID,
		Milestone: factPtr(ev, "milestone"), Status: factPtr(ev, "status"), Facts: model.JSON(c.Payload)}
	if c.SubjectID != nil {
		id := globalID(kindEnrollment, *c.SubjectID)
		out.EnrollmentID = &id
	}
	return out
}

// toGraphInAppMessageEvent builds the message from the row's facts (see play's in-app step).
func toGraphInAppMessageEvent(ev *feed.Event) *model.InAppMessageEvent {
	c := ev.Change
	id := idOrNil(c.SubjectID)
	return &model.InAppMessageEvent{Cursor: ev.Cursor, Kind: c.Kind, At: c.CreatedAt, Message: &model.InAppMessage{
		ID: globalID(kindInAppMessage, id), DBID: id, ContactID: idOrNil(c.ContactID),
		Title: ev.Fact("title"), Body: ev.Fact("body"), Style: ev.Fact("style"),
		Status: model.InAppMessageStatus(ev.Fact("status")), CreatedAt: factTime(ev, "createdAt"),
	}}
}
