package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
)

const fxRecordEventsOp = `mutation($e: [EventInput!]!) { recordEvents(events: $e) { accepted duplicates } }`

// fxRecorded is a RecordEventsPayload.
type fxRecorded struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
}

func (f *fx) recordEvents(events []map[string]any) fxRecorded {
	f.t.Helper()
	var out struct {
		RecordEvents fxRecorded `json:"recordEvents"`
	}
	f.do(fxRecordEventsOp, map[string]any{"e": events}).Decode(f.t, &out)
	return out.RecordEvents
}

// eventCount counts the workspace's stored events in the database.
func (f *fx) eventCount() int {
	f.t.Helper()
	n, err := f.ws.Tenant.Select(f.env.Bun, (*db.Event)(nil)).Count(context.Background())
	require.NoError(f.t, err)
	return int(n)
}

// activity reads an account's derived activity times through the API.
func (f *fx) activity(accountID string) (lastLogin, lastActivity *time.Time) {
	f.t.Helper()
	var out struct {
		Account fxAccount `json:"account"`
	}
	f.do(`query($id: ID!) { account(id: $id) { `+fxAccountFields+` } }`, map[string]any{"id": accountID}).Decode(f.t, &out)
	return out.Account.LastLoginAt, out.Account.LastActivityAt
}

// lastSeen reads a contact's lastSeenAt through the API.
func (f *fx) lastSeen(contactID string) *time.Time {
	f.t.Helper()
	var out struct {
		Contact struct {
			LastSeenAt *time.Time `json:"lastSeenAt"`
		} `json:"contact"`
	}
	f.do(`query($id: ID!) { contact(id: $id) { lastSeenAt } }`, map[string]any{"id": contactID}).Decode(f.t, &out)
	return out.Contact.LastSeenAt
}

func fxRequireTime(t testing.TB, want time.Time, got *time.Time, what string) {
	t.Helper()
	require.NotNil(t, got, what)
	require.True(t, want.Equal(*got), "%s: want %s, got %s", what, want, *got)
}

// fxEvent is one EventInput as a variable.
func fxEvent(id, accountID, name string, at time.Time) map[string]any {
	return map[string]any{"clientEventId": id, "accountId": accountID, "name": name, "occurredAt": at.Format(time.RFC3339Nano)}
}

func TestRecordEventsBatchLimit(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	a := f.createAccount(map[string]any{"name": "Busy"})
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	batch := make([]map[string]any, 1001)
	for i := range batch {
		batch[i] = fxEvent(fmt.Sprintf("evt-%04d", i), a.ID, "feature_used", at.Add(time.Duration(i)*time.Second))
	}

	before := f.state()
	fxRequireError(t, f.do(fxRecordEventsOp, map[string]any{"e": batch}), "BAD_USER_INPUT", "events")
	f.requireUnchanged(before)

	require.Equal(t, fxRecorded{Accepted: 1000}, f.recordEvents(batch[:1000]))
	require.Equal(t, 1000, f.eventCount())
	_, activity := f.activity(a.ID)
	fxRequireTime(t, at.Add(999*time.Second), activity, "lastActivityAt")

	require.Equal(t, fxRecorded{}, f.recordEvents([]map[string]any{}), "an empty batch is fine")
}

func TestRecordEventsFindsAccountsAndContacts(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	byID := f.createAccount(map[string]any{"name": "By id"})
	byExt := f.createAccount(map[string]any{"name": "By external id", "externalId": "crm-42"})
	other := f.createAccount(map[string]any{"name": "Other"})
	ana := f.createContact(byExt.ID, "Ana", "Ana.Lopez@Example.com")
	anaElsewhere := f.createContact(other.ID, "Ana", "ana.lopez@example.com")
	at := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Microsecond)

	res := f.recordEvents([]map[string]any{
		fxEvent("a-1", byID.ID, "login", at),
		{"clientEventId": "b-1", "accountExternalId": "crm-42", "contactEmail": "ANA.LOPEZ@example.COM", "name": "login",
			"occurredAt": at.Add(time.Minute), "properties": map[string]any{"plan": "pro"}},
		{"clientEventId": "b-2", "accountExternalId": "crm-42", "contactEmail": "  ana.lopez@example.com ", "name": "export",
			"occurredAt": at.Add(2 * time.Minute)},
	})
	require.Equal(t, fxRecorded{Accepted: 3}, res)

	login, activity := f.activity(byID.ID)
	fxRequireTime(t, at, login, "by id: lastLoginAt")
	fxRequireTime(t, at, activity, "by id: lastActivityAt")
	login, activity = f.activity(byExt.ID)
	fxRequireTime(t, at.Add(time.Minute), login, "by externalId: lastLoginAt")
	fxRequireTime(t, at.Add(2*time.Minute), activity, "by externalId: lastActivityAt")
	fxRequireTime(t, at.Add(2*time.Minute), f.lastSeen(ana), "the contact is found whatever the case of the email")
	require.Nil(t, f.lastSeen(anaElsewhere), "the same email on another account is another contact")
	login, activity = f.activity(other.ID)
	require.Nil(t, login)
	require.Nil(t, activity)

	var rows []db.Event
	require.NoError(t, f.ws.Tenant.Select(f.env.Bun, &rows).OrderExpr("e.client_event_id").Scan(context.Background()))
	require.Len(t, rows, 3)
	require.Equal(t, fxDBID(t, "Account", byID.ID), rows[0].AccountID)
	require.Nil(t, rows[0].ContactID)
	require.Equal(t, fxDBID(t, "Account", byExt.ID), rows[1].AccountID)
	require.NotNil(t, rows[1].ContactID)
	require.Equal(t, fxDBID(t, "Contact", ana), *rows[1].ContactID)
	require.JSONEq(t, `{"plan":"pro"}`, string(rows[1].Properties))
	require.JSONEq(t, `{}`, string(rows[2].Properties))
}

func TestRecordEventsConcurrentRepeatsAreStoredOnce(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	accounts := []fxAccount{
		f.createAccount(map[string]any{"name": "One"}),
		f.createAccount(map[string]any{"name": "Two", "externalId": "crm-two"}),
		f.createAccount(map[string]any{"name": "Three"}),
	}
	contacts := []string{
		f.createContact(accounts[0].ID, "Ana", "ana@one.example"),
		f.createContact(accounts[1].ID, "Bo", "bo@two.example"),
	}
	base := time.Now().UTC().Add(-72 * time.Hour).Truncate(time.Microsecond)

	// 240 events: 3 accounts, logins and other events at scattered times, some naming a
	// contact, and 20 ids repeated inside the batch.
	var batch []map[string]any
	wantLogin := map[int]time.Time{}
	wantActivity := map[int]time.Time{}
	wantSeen := map[int]time.Time{}
	later := func(m map[int]time.Time, k int, at time.Time) {
		if at.After(m[k]) {
			m[k] = at
		}
	}
	for i := range 220 {
		acc := i % 3
		at := base.Add(time.Duration((i*7919)%(60*24)) * time.Minute).Add(time.Duration(i) * time.Microsecond)
		name := "feature_used"
		if i%4 == 0 {
			name = "login"
			later(wantLogin, acc, at)
		}
		later(wantActivity, acc, at)
		ev := fxEvent(fmt.Sprintf("c-%03d", i), accounts[acc].ID, name, at)
		if acc == 1 {
			delete(ev, "accountId")
			ev["accountExternalId"] = "crm-two"
		}
		if acc < 2 && i%5 == 0 {
			ev["contactEmail"] = []string{"ANA@one.example", "bo@TWO.example"}[acc]
			later(wantSeen, acc, at)
		}
		batch = append(batch, ev)
	}
	for i := range 20 {
		batch = append(batch, batch[i*11]) // the same event again, in the same batch
	}
	const distinct = 220

	const workers = 8
	results := make([]fxRecorded, workers)
	errs := make([]error, workers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	client, url := f.env.Server.Client(), f.env.URL+"/graphql"
	for w := range workers {
		wg.Go(func() {
			<-start
			errs[w] = fxPostDecode(client, url, f.token, fxRecordEventsOp, map[string]any{"e": batch}, &struct {
				RecordEvents *fxRecorded `json:"recordEvents"`
			}{&results[w]})
		})
	}
	close(start)
	wg.Wait()
	var accepted, duplicates int
	for w := range workers {
		require.NoError(t, errs[w], "worker %d", w)
		accepted += results[w].Accepted
		duplicates += results[w].Duplicates
		require.Equal(t, len(batch), results[w].Accepted+results[w].Duplicates, "worker %d: every event is accepted or a duplicate", w)
		require.GreaterOrEqual(t, results[w].Duplicates, 20, "worker %d: repeats inside the batch are duplicates", w)
	}
	require.Equal(t, distinct, accepted, "each distinct event is accepted by exactly one call")
	require.Equal(t, workers*len(batch)-distinct, duplicates)
	require.Equal(t, distinct, f.eventCount(), "each distinct event is stored once")

	for i, a := range accounts {
		login, activity := f.activity(a.ID)
		fxRequireTime(t, wantLogin[i], login, fmt.Sprintf("account %d lastLoginAt", i))
		fxRequireTime(t, wantActivity[i], activity, fmt.Sprintf("account %d lastActivityAt", i))
	}
	for i, c := range contacts {
		fxRequireTime(t, wantSeen[i], f.lastSeen(c), fmt.Sprintf("contact %d lastSeenAt", i))
	}

	// Older events afterwards are stored but move nothing backwards.
	old := base.Add(-24 * time.Hour)
	older := []map[string]any{
		fxEvent("old-login", accounts[0].ID, "login", old),
		fxEvent("old-use", accounts[2].ID, "feature_used", old),
		{"clientEventId": "old-seen", "accountExternalId": "crm-two", "contactEmail": "bo@two.example", "name": "login", "occurredAt": old},
	}
	require.Equal(t, fxRecorded{Accepted: 3}, f.recordEvents(older))
	for i, a := range accounts {
		login, activity := f.activity(a.ID)
		fxRequireTime(t, wantLogin[i], login, fmt.Sprintf("account %d lastLoginAt after older events", i))
		fxRequireTime(t, wantActivity[i], activity, fmt.Sprintf("account %d lastActivityAt after older events", i))
	}
	fxRequireTime(t, wantSeen[1], f.lastSeen(contacts[1]), "lastSeenAt after an older event")
	require.Equal(t, distinct+3, f.eventCount())

	// A repeat with a newer time is still a repeat: it moves nothing.
	newer := time.Now().UTC().Truncate(time.Microsecond)
	require.Equal(t, fxRecorded{Duplicates: 1}, f.recordEvents([]map[string]any{fxEvent("old-login", accounts[0].ID, "login", newer)}))
	login, _ := f.activity(accounts[0].ID)
	fxRequireTime(t, wantLogin[0], login, "a repeated id does not move lastLoginAt")

	// Repeats inside one new batch are counted as duplicates.
	x := fxEvent("dup-x", accounts[2].ID, "login", newer)
	y := fxEvent("dup-y", accounts[2].ID, "feature_used", newer.Add(-time.Second))
	require.Equal(t, fxRecorded{Accepted: 2, Duplicates: 2}, f.recordEvents([]map[string]any{x, x, y, x}))
	login, activity := f.activity(accounts[2].ID)
	fxRequireTime(t, newer, login, "a newer login moves lastLoginAt")
	fxRequireTime(t, newer, activity, "a newer event moves lastActivityAt")
	require.Equal(t, distinct+5, f.eventCount())
}

// fxPostDecode runs one operation without a testing.TB (for goroutines) and decodes its data
// into out; GraphQL errors are returned as an error.
func fxPostDecode(client *http.Client, url, token, query string, vars map[string]any, out any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var r struct {
		Data   json.RawMessage   `json:"data"`
		Errors []json.RawMessage `json:"errors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return fmt.Errorf("status %d: %w", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK || len(r.Errors) > 0 {
		return fmt.Errorf("status %d, errors %s", resp.StatusCode, r.Errors)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(r.Data, out)
}
