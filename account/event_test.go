package account

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
)

// createContact adds a contact to an account through the service.
func (b *testBundle) createContact(t *testing.T, accountID uuid.UUID, email string) *db.Contact {
	t.Helper()
	c, err := b.svc.CreateContact(b.ctx, b.tenant, accountID, ContactPatch{Name: ptr("Contact"), Email: &email})
	require.NoError(t, err)
	return c
}

func (b *testBundle) countEvents(t *testing.T) int {
	t.Helper()
	n, err := b.tenant.Select(b.db.Bun, (*db.Event)(nil)).Count(b.ctx)
	require.NoError(t, err)
	return int(n)
}

// requireTime asserts a nullable time equals want.
func requireTime(t *testing.T, want time.Time, got *time.Time, what string) {
	t.Helper()
	require.NotNil(t, got, what)
	require.True(t, want.Equal(*got), "%s: want %s, got %s", what, want, *got)
}

func TestRecordEventsNeverMovesActivityBackwards(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.createAccount(t, accountOpts{Patch: Patch{ExternalID: set("ext-1")}})
	c := b.createContact(t, a.ID, "Ana@Example.com")
	base := b.clock.Now().Add(-48 * time.Hour)
	at := func(h int) time.Time { return base.Add(time.Duration(h) * time.Hour) }
	ev := func(id, name string, h int) EventInput {
		return EventInput{ClientEventID: id, AccountID: &a.ID, Name: name, OccurredAt: at(h)}
	}
	record := func(in ...EventInput) RecordResult {
		t.Helper()
		res, err := b.svc.RecordEvents(b.ctx, b.tenant, in)
		require.NoError(t, err)
		return res
	}

	// A batch with a login and other events, out of order.
	login := ev("e1", "login", 10)
	login.ContactEmail = ptr("ana@EXAMPLE.com")
	res := record(ev("e2", "report_viewed", 12), login, ev("e3", "login", 5))
	require.Equal(t, RecordResult{Accepted: 3}, res)
	got := b.reload(t, a.ID)
	requireTime(t, at(10), got.LastLoginAt, "lastLoginAt is the latest login")
	requireTime(t, at(12), got.LastActivityAt, "lastActivityAt is the latest event")
	contact, err := db.GetContact(b.ctx, b.db.Bun, b.tenant, c.ID)
	require.NoError(t, err)
	requireTime(t, at(10), contact.LastSeenAt, "lastSeenAt")

	// Older events afterwards are stored but move nothing back.
	old := ev("e4", "login", 1)
	old.ContactEmail = ptr("ana@example.com")
	res = record(old, ev("e5", "export", 2))
	require.Equal(t, RecordResult{Accepted: 2}, res)
	got = b.reload(t, a.ID)
	requireTime(t, at(10), got.LastLoginAt, "lastLoginAt after older events")
	requireTime(t, at(12), got.LastActivityAt, "lastActivityAt after older events")
	contact, err = db.GetContact(b.ctx, b.db.Bun, b.tenant, c.ID)
	require.NoError(t, err)
	requireTime(t, at(10), contact.LastSeenAt, "lastSeenAt after an older event")

	// A newer non-login event moves activity only.
	record(ev("e6", "export", 20))
	got = b.reload(t, a.ID)
	requireTime(t, at(10), got.LastLoginAt, "a non-login event leaves lastLoginAt")
	requireTime(t, at(20), got.LastActivityAt, "a newer event moves lastActivityAt")

	// A repeat of a recorded id, even with a newer time, is a duplicate and moves nothing.
	res = record(ev("e1", "login", 30), ev("e6", "export", 31))
	require.Equal(t, RecordResult{Duplicates: 2}, res)
	got = b.reload(t, a.ID)
	requireTime(t, at(10), got.LastLoginAt, "a duplicate does not move lastLoginAt")
	requireTime(t, at(20), got.LastActivityAt, "a duplicate does not move lastActivityAt")
	require.Equal(t, 6, b.countEvents(t))

	// By externalId, with repeats inside one batch counted as duplicates.
	byExt := EventInput{ClientEventID: "e7", AccountExternalID: ptr("ext-1"), Name: "login", OccurredAt: at(40)}
	res = record(byExt, byExt, byExt)
	require.Equal(t, RecordResult{Accepted: 1, Duplicates: 2}, res)
	got = b.reload(t, a.ID)
	requireTime(t, at(40), got.LastLoginAt, "login by externalId")
	require.Equal(t, 7, b.countEvents(t))
}

func TestRecordEventsRejectsWholeBatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.createAccount(t, accountOpts{})
	now := b.clock.Now()
	good := func(id string) EventInput {
		return EventInput{ClientEventID: id, AccountID: &a.ID, Name: "login", OccurredAt: now.Add(-time.Hour)}
	}
	missing := uuid.New()
	tests := map[string]struct {
		bad   EventInput
		field string
	}{
		"no client id":       {EventInput{AccountID: &a.ID, Name: "x", OccurredAt: now}, "events[2].clientEventId"},
		"no account":         {EventInput{ClientEventID: "b", Name: "x", OccurredAt: now}, "events[2].accountId"},
		"both account keys":  {EventInput{ClientEventID: "b", AccountID: &a.ID, AccountExternalID: ptr("x"), Name: "x", OccurredAt: now}, "events[2].accountId"},
		"blank name":         {EventInput{ClientEventID: "b", AccountID: &a.ID, Name: " ", OccurredAt: now}, "events[2].name"},
		"far future":         {EventInput{ClientEventID: "b", AccountID: &a.ID, Name: "x", OccurredAt: now.Add(25 * time.Hour)}, "events[2].occurredAt"},
		"zero time":          {EventInput{ClientEventID: "b", AccountID: &a.ID, Name: "x"}, "events[2].occurredAt"},
		"unknown account":    {EventInput{ClientEventID: "b", AccountID: &missing, Name: "x", OccurredAt: now}, "events[2].accountId"},
		"unknown externalId": {EventInput{ClientEventID: "b", AccountExternalID: ptr("nope"), Name: "x", OccurredAt: now}, "events[2].accountExternalId"},
		"unknown contact":    {EventInput{ClientEventID: "b", AccountID: &a.ID, ContactEmail: ptr("x@example.com"), Name: "x", OccurredAt: now}, "events[2].contactEmail"},
		"huge properties":    {EventInput{ClientEventID: "b", AccountID: &a.ID, Name: "x", OccurredAt: now, Properties: json.RawMessage(`{"p":"` + string(make([]byte, 9000)) + `"}`)}, "events[2].properties"},
	}
	for name, tt := range tests {
		_, err := b.svc.RecordEvents(b.ctx, b.tenant, []EventInput{good(name + "-1"), good(name + "-2"), tt.bad})
		requireInvalid(t, err, tt.field)
		require.Zero(t, b.countEvents(t), "%s: none of the batch is stored", name)
		require.Nil(t, b.reload(t, a.ID).LastLoginAt, "%s: activity is not advanced", name)
	}

	tooMany := make([]EventInput, MaxEventsPerCall+1)
	for i := range tooMany {
		tooMany[i] = good(uuid.NewString())
	}
	_, err := b.svc.RecordEvents(b.ctx, b.tenant, tooMany)
	requireInvalid(t, err, "events")
	require.Zero(t, b.countEvents(t))

	res, err := b.svc.RecordEvents(b.ctx, b.tenant, tooMany[:MaxEventsPerCall])
	require.NoError(t, err)
	require.Equal(t, RecordResult{Accepted: MaxEventsPerCall}, res)
}
