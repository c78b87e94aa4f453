package account

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
)

// Limits on recorded events.
const (
	// MaxEventsPerCall bounds one recordEvents call.
	MaxEventsPerCall       = 1000
	maxEventNameLen        = 100
	maxClientEventIDLen    = 200
	maxEventPropertiesSize = 8 << 10
	// LoginEvent is the event name that advances lastLoginAt.
	LoginEvent = "login"
)

// EventInput is one usage event sent by a partner or the product.
type EventInput struct {
	ClientEventID     string
	AccountID         *uuid.UUID
	AccountExternalID *string
	ContactEmail      *string
	Name              string
	OccurredAt        time.Time
	Properties        json.RawMessage
}

// RecordResult says how many events were stored and how many were repeats.
type RecordResult struct {
	Accepted   int
	Duplicates int
}

// RecordEvents stores a batch of events in one transaction. Repeated client event ids (in
// this call, earlier calls or a concurrent call) are stored once; only stored events advance
// accounts' lastLoginAt/lastActivityAt and contacts' lastSeenAt. Any bad event rejects the
// whole batch, naming its index.
func (s *Service) RecordEvents(ctx context.Context, t db.Tenant, in []EventInput) (RecordResult, error) {
	if len(in) == 0 {
		return RecordResult{}, nil
	}
	if len(in) > MaxEventsPerCall {
		return RecordResult{}, invalid.Field("events", "at most %d events per call", MaxEventsPerCall)
	}
	for i, e := range in {
		if err := validateEvent(e, s.Now()); err != nil {
			return RecordResult{}, invalid.Prefix(fmt.Sprintf("events[%d]", i), err)
		}
	}
	var res RecordResult
	err := db.InTx(ctx, s.DB, func(ctx context.Context, tx bun.Tx) error {
		rows, err := s.resolveSubjects(ctx, tx, t, in)
		if err != nil {
			return err
		}
		// A fixed insert order keeps concurrent batches from deadlocking on the unique key.
		slices.SortFunc(rows, func(a, b *db.Event) int { return cmp.Compare(a.ClientEventID, b.ClientEventID) })
		rows = slices.CompactFunc(rows, func(a, b *db.Event) bool { return a.ClientEventID == b.ClientEventID })
		stored, err := db.InsertEvents(ctx, tx, t, rows)
		if err != nil {
			return err
		}
		res = RecordResult{Accepted: len(stored), Duplicates: len(in) - len(stored)}
		if err := advanceActivity(ctx, tx, t, stored); err != nil {
			return err
		}
		if err := db.AppendChanges(ctx, tx, t, db.EventChanges(stored)...); err != nil {
			return err
		}
		if s.Hooks.EventsRecorded != nil && len(stored) > 0 {
			return s.Hooks.EventsRecorded(ctx, tx, t, stored)
		}
		return nil
	})
	return res, err
}

func validateEvent(e EventInput, now time.Time) error {
	if e.ClientEventID == "" || len(e.ClientEventID) > maxClientEventIDLen {
		return invalid.Field("clientEventId", "must be 1 to %d characters", maxClientEventIDLen)
	}
	if (e.AccountID == nil) == (e.AccountExternalID == nil) {
		return invalid.Field("accountId", "give exactly one of accountId and accountExternalId")
	}
	name := strings.TrimSpace(e.Name)
	if name == "" || len(name) > maxEventNameLen {
		return invalid.Field("name", "must be 1 to %d characters", maxEventNameLen)
	}
	if e.OccurredAt.IsZero() || e.OccurredAt.After(now.Add(24*time.Hour)) {
		return invalid.Field("occurredAt", "must be a time no later than a day from now")
	}
	if len(e.Properties) > maxEventPropertiesSize {
		return invalid.Field("properties", "must be at most %d bytes of JSON", maxEventPropertiesSize)
	}
	return nil
}

// resolveSubjects finds each event's account (by id or externalId) and contact (by email),
// with one query per kind of lookup.
func (s *Service) resolveSubjects(ctx context.Context, tx bun.Tx, t db.Tenant, in []EventInput) ([]*db.Event, error) {
	var ids []uuid.UUID
	var externalIDs []string
	for _, e := range in {
		if e.AccountID != nil {
			ids = append(ids, *e.AccountID)
		} else {
			externalIDs = append(externalIDs, *e.AccountExternalID)
		}
	}
	known := map[uuid.UUID]bool{}
	byExternal := map[string]uuid.UUID{}
	if len(ids) > 0 {
		accounts, err := db.AccountsByIDs(ctx, tx, t, ids)
		if err != nil {
			return nil, err
		}
		for _, a := range accounts {
			known[a.ID] = true
		}
	}
	if len(externalIDs) > 0 {
		accounts, err := db.AccountsByExternalIDs(ctx, tx, t, externalIDs)
		if err != nil {
			return nil, err
		}
		for _, a := range accounts {
			byExternal[*a.ExternalID] = a.ID
		}
	}
	rows := make([]*db.Event, len(in))
	var accountIDs []uuid.UUID
	var emails []string
	for i, e := range in {
		var accountID uuid.UUID
		if e.AccountID != nil {
			if !known[*e.AccountID] {
				return nil, invalid.Field(fmt.Sprintf("events[%d].accountId", i), "no such account")
			}
			accountID = *e.AccountID
		} else {
			id, ok := byExternal[*e.AccountExternalID]
			if !ok {
				return nil, invalid.Field(fmt.Sprintf("events[%d].accountExternalId", i), "no such account")
			}
			accountID = id
		}
		props := e.Properties
		if len(props) == 0 {
			props = json.RawMessage("{}")
		}
		rows[i] = &db.Event{ClientEventID: e.ClientEventID, AccountID: accountID, Name: strings.TrimSpace(e.Name), OccurredAt: e.OccurredAt, Properties: props}
		if e.ContactEmail != nil {
			accountIDs = append(accountIDs, accountID)
			emails = append(emails, strings.ToLower(strings.TrimSpace(*e.ContactEmail)))
		}
	}
	if len(emails) == 0 {
		return rows, nil
	}
	contacts, err := db.ContactsByEmails(ctx, tx, t, accountIDs, emails)
	if err != nil {
		return nil, err
	}
	type key struct {
		account uuid.UUID
		email   string
	}
	byEmail := map[key]uuid.UUID{}
	for _, c := range contacts {
		byEmail[key{c.AccountID, strings.ToLower(c.Email)}] = c.ID
	}
	for i, e := range in {
		if e.ContactEmail == nil {
			continue
		}
		id, ok := byEmail[key{rows[i].AccountID, strings.ToLower(strings.TrimSpace(*e.ContactEmail))}]
		if !ok {
			return nil, invalid.Field(fmt.Sprintf("events[%d].contactEmail", i), "no contact with this email on the account")
		}
		rows[i].ContactID = &id
	}
	return rows, nil
}

// advanceActivity moves the derived activity times forward for the events just stored.
func advanceActivity(ctx context.Context, tx bun.Tx, t db.Tenant, stored []db.Event) error {
	accounts := map[uuid.UUID]*db.ActivityAdvance{}
	contacts := map[uuid.UUID]time.Time{}
	for _, e := range stored {
		a := accounts[e.AccountID]
		if a == nil {
			a = &db.ActivityAdvance{AccountID: e.AccountID, LastActivity: e.OccurredAt}
			accounts[e.AccountID] = a
		}
		if e.OccurredAt.After(a.LastActivity) {
			a.LastActivity = e.OccurredAt
		}
		if e.Name == LoginEvent && (a.LastLogin == nil || e.OccurredAt.After(*a.LastLogin)) {
			at := e.OccurredAt
			a.LastLogin = &at
		}
		if e.ContactID != nil && e.OccurredAt.After(contacts[*e.ContactID]) {
			contacts[*e.ContactID] = e.OccurredAt
		}
	}
	advances := make([]db.ActivityAdvance, 0, len(accounts))
	for _, a := range accounts {
		advances = append(advances, *a)
	}
	if err := db.AdvanceAccountActivity(ctx, tx, t, advances); err != nil {
		return err
	}
	ids := make([]uuid.UUID, 0, len(contacts))
	seen := make([]time.Time, 0, len(contacts))
	for id, at := range contacts {
		ids = append(ids, id)
		seen = append(seen, at)
	}
	return db.AdvanceContactSeen(ctx, tx, t, ids, seen)
}

// invalidIfMissing reports a missing referenced row as bad input on field.
func invalidIfMissing(err error, field, msg string) error {
	if errors.Is(err, db.ErrNotFound) {
		return invalid.Field(field, "%s", msg)
	}
	return err
}
