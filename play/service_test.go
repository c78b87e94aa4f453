package play

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/condition"
	"github.com/stewardhq/steward/db"
)

func TestCreate(t *testing.T) {
	t.Parallel()
	b := setup(t)

	p, err := b.svc.Create(b.ctx, b.tenant, b.user, NewPlay{Name: "  Onboarding nudge ", Description: "d", Scope: condition.ScopeContact,
		Definition: json.RawMessage(`{"steps": [{"kind": "SEND_EMAIL", "to": "CONTACT"}]}`)})
	require.NoError(t, err)
	require.Equal(t, "Onboarding nudge", p.Name)
	require.Equal(t, db.PlayDraft, p.Status)
	require.Equal(t, "CONTACT", p.Scope)
	require.Equal(t, 0, p.LatestVersion)
	require.Nil(t, p.TriggerKind)
	require.Equal(t, b.user, *p.CreatedBy)
	require.Equal(t, b.clock.Now(), p.DraftUpdatedAt.UTC())
	// The draft is stored normalised: ids and defaults filled in.
	require.JSONEq(t, `{"reentry": {"policy": "NOT_WHILE_ACTIVE"}, "steps": [{"id": "send-email-1", "kind": "SEND_EMAIL", "to": "CONTACT"}]}`, string(p.Draft))

	empty, err := b.svc.Create(b.ctx, b.tenant, uuid.Nil, NewPlay{Name: "Empty", Scope: condition.ScopeAccount})
	require.NoError(t, err)
	require.Nil(t, empty.CreatedBy, "an API key has no user")
	require.JSONEq(t, `{"reentry": {"policy": "NOT_WHILE_ACTIVE"}, "steps": []}`, string(empty.Draft))

	_, err = b.svc.Create(b.ctx, b.tenant, b.user, NewPlay{Name: " ", Scope: condition.ScopeAccount})
	requireInvalid(t, err, "name", "must be 1 to 200 characters")
	_, err = b.svc.Create(b.ctx, b.tenant, b.user, NewPlay{Name: "x", Scope: "ACCOUNTS"})
	requireInvalid(t, err, "scope", "must be ACCOUNT or CONTACT")
	_, err = b.svc.Create(b.ctx, b.tenant, b.user, NewPlay{Name: "x", Scope: condition.ScopeAccount,
		Definition: json.RawMessage(`{"steps": [{"kind": "WAIT", "duration": "forever"}]}`)})
	requireInvalid(t, err, "definition.steps[0].duration", durationHint)

	// Names are unique among live plays, ignoring case.
	_, err = b.svc.Create(b.ctx, b.tenant, b.user, NewPlay{Name: "ONBOARDING NUDGE", Scope: condition.ScopeAccount})
	requireInvalid(t, err, "name", "another play already has this name")
	require.True(t, errors.Is(err, db.ErrConflict))
	_, err = b.svc.Archive(b.ctx, b.tenant, p.ID)
	require.NoError(t, err)
	_, err = b.svc.Create(b.ctx, b.tenant, b.user, NewPlay{Name: "Onboarding nudge", Scope: condition.ScopeAccount})
	require.NoError(t, err, "an archived play's name is free again")
}

func TestPublishFreezesVersions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.createPlay(t, playOpts{Definition: `{"steps": [{"kind": "WAIT", "duration": "1d"}]}`})

	// Publishing requires a complete definition.
	_, err := b.svc.Publish(b.ctx, b.tenant, p.ID, b.user)
	requireInvalid(t, err, "definition.trigger", "is required")

	v1Def := `{"trigger": {"kind": "EVENT", "event": "login"}, "steps": [{"id": "wait", "kind": "WAIT", "duration": "1d"}]}`
	_, err = b.svc.UpdateDraft(b.ctx, b.tenant, p.ID, Patch{Definition: json.RawMessage(v1Def)})
	require.NoError(t, err)
	b.clock.Advance(time.Hour)
	v1, err := b.svc.Publish(b.ctx, b.tenant, p.ID, b.user)
	require.NoError(t, err)
	require.Equal(t, 1, v1.Version)
	require.Equal(t, b.clock.Now(), v1.PublishedAt.UTC())
	require.Equal(t, b.user, *v1.PublishedBy)

	p, err = b.svc.Get(b.ctx, b.tenant, p.ID)
	require.NoError(t, err)
	require.Equal(t, db.PlayActive, p.Status)
	require.Equal(t, 1, p.LatestVersion)
	require.Nil(t, p.Draft, "publishing clears the draft")
	require.Nil(t, p.DraftUpdatedAt)
	require.Equal(t, "EVENT", *p.TriggerKind)
	require.Equal(t, "login", *p.TriggerEvent)
	require.Nil(t, p.TriggerField)

	// Nothing left to publish.
	_, err = b.svc.Publish(b.ctx, b.tenant, p.ID, b.user)
	requireInvalid(t, err, "status", "the play has no unpublished changes")
	require.True(t, errors.Is(err, ErrTransition))
	require.True(t, errors.Is(err, db.ErrConflict))

	// Editing a published play makes a new draft; the play keeps running version 1.
	v2Def := `{"trigger": {"kind": "FIELD_CHANGE", "field": "account.stage", "to": "AT_RISK"},
		"steps": [{"id": "wait", "kind": "WAIT", "duration": "2d"}, {"kind": "ADD_TIMELINE_NOTE", "body": "At risk"}]}`
	p, err = b.svc.UpdateDraft(b.ctx, b.tenant, p.ID, Patch{Definition: json.RawMessage(v2Def)})
	require.NoError(t, err)
	require.NotNil(t, p.Draft)
	require.Equal(t, db.PlayActive, p.Status)
	require.Equal(t, 1, p.LatestVersion)
	require.Equal(t, "EVENT", *p.TriggerKind, "the trigger columns follow the published version")

	v2, err := b.svc.Publish(b.ctx, b.tenant, p.ID, uuid.Nil)
	require.NoError(t, err)
	require.Equal(t, 2, v2.Version)
	require.Nil(t, v2.PublishedBy)
	require.NotEqual(t, string(v1.Definition), string(v2.Definition))

	p, err = b.svc.Get(b.ctx, b.tenant, p.ID)
	require.NoError(t, err)
	require.Equal(t, "FIELD_CHANGE", *p.TriggerKind)
	require.Nil(t, p.TriggerEvent)
	require.Equal(t, "account.stage", *p.TriggerField)

	// Version 1 is unchanged and still loadable as runs pinned to it need it.
	got, err := b.svc.Version(b.ctx, b.tenant, p.ID, 1)
	require.NoError(t, err)
	require.JSONEq(t, string(v1.Definition), string(got.Definition))
	pub, err := b.svc.Load(b.ctx, b.db.Bun, b.tenant, p.ID, 1)
	require.NoError(t, err)
	require.Equal(t, TriggerEvent, pub.Definition.Trigger.Kind)
	require.Equal(t, Duration("1d"), pub.Definition.Steps[0].Wait.Duration)
	pub, err = b.svc.Load(b.ctx, b.db.Bun, b.tenant, p.ID, 2)
	require.NoError(t, err)
	require.Equal(t, Duration("2d"), pub.Definition.Steps[0].Wait.Duration)
	require.Equal(t, "add-timeline-note-1", pub.Definition.Steps[1].ID)
	_, err = b.svc.Version(b.ctx, b.tenant, p.ID, 3)
	require.True(t, errors.Is(err, db.ErrNotFound))

	versions, err := b.svc.Versions(b.ctx, b.tenant, p.ID)
	require.NoError(t, err)
	require.Len(t, versions, 2)
	require.Equal(t, 2, versions[0].Version)

	// The database refuses to rewrite a version.
	_, err = b.db.Bun.NewUpdate().Model((*db.PlayVersion)(nil)).Set("definition = '{}'").
		Where("workspace_id = ? AND play_id = ? AND version = 1", b.tenant.WorkspaceID, p.ID).Exec(b.ctx)
	require.ErrorContains(t, err, "play versions are immutable")
}

func TestPublishChecksReferences(t *testing.T) {
	t.Parallel()
	b := setup(t)
	task := func(assignee string) string {
		return manual(`{"kind": "CREATE_TASK", "title": "t", "assignee": ` + assignee + `}`)
	}
	stranger := uuid.New()
	disabled := b.createMember(t)
	require.NoError(t, db.DisableMembership(b.ctx, b.db.Bun, b.tenant, disabled, b.clock.Now()))
	for _, tt := range []struct {
		def, field, message string
	}{
		{task(`{"kind": "TEAM_ROLE", "teamRole": "SUPPORT"}`), "definition.steps[0].assignee.teamRole", "no such team role in this workspace"},
		{task(`{"kind": "USER", "userId": "` + stranger.String() + `"}`), "definition.steps[0].assignee.userId", "no such user in this workspace"},
		{task(`{"kind": "USER", "userId": "` + disabled.String() + `"}`), "definition.steps[0].assignee.userId", "is a disabled member of this workspace"},
		{manual(`{"kind": "BRANCH", "if": {"eventSinceStart": "login"}, "else": [{"kind": "UPDATE_ACCOUNT",
			"operations": [{"op": "addTag", "tag": "x"}, {"op": "setField", "field": "owner", "value": "` + stranger.String() + `"}]}]}`),
			"definition.steps[0].else[0].operations[1].value", "no such user in this workspace"},
	} {
		p := b.createPlay(t, playOpts{Definition: tt.def})
		_, err := b.svc.Publish(b.ctx, b.tenant, p.ID, b.user)
		requireInvalid(t, err, tt.field, tt.message)
	}
	for _, assignee := range []string{`{"kind": "TEAM_ROLE", "teamRole": "CSM"}`, `{"kind": "USER", "userId": "` + b.user.String() + `"}`} {
		p := b.createPlay(t, playOpts{Definition: task(assignee)})
		_, err := b.svc.Publish(b.ctx, b.tenant, p.ID, b.user)
		require.NoError(t, err, assignee)
	}
}

func TestStatusTransitions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	type action struct {
		name string
		do   func(id uuid.UUID) (*db.Play, error)
	}
	pause := action{"pause", func(id uuid.UUID) (*db.Play, error) { return b.svc.Pause(b.ctx, b.tenant, id) }}
	resume := action{"resume", func(id uuid.UUID) (*db.Play, error) { return b.svc.Resume(b.ctx, b.tenant, id) }}
	archive := action{"archive", func(id uuid.UUID) (*db.Play, error) { return b.svc.Archive(b.ctx, b.tenant, id) }}
	edit := action{"edit", func(id uuid.UUID) (*db.Play, error) {
		return b.svc.UpdateDraft(b.ctx, b.tenant, id, Patch{Definition: json.RawMessage(minimalDefinition)})
	}}
	discard := action{"discard", func(id uuid.UUID) (*db.Play, error) { return b.svc.DiscardDraft(b.ctx, b.tenant, id) }}
	publish := action{"publish", func(id uuid.UUID) (*db.Play, error) {
		if _, err := b.svc.Publish(b.ctx, b.tenant, id, b.user); err != nil {
			return nil, err
		}
		return b.svc.Get(b.ctx, b.tenant, id)
	}}

	// playIn returns a play in status, with a pending draft.
	playIn := func(status string) uuid.UUID {
		p := b.createPlay(t, playOpts{})
		switch status {
		case db.PlayActive, db.PlayPaused:
			_, err := publish.do(p.ID)
			require.NoError(t, err)
			_, err = edit.do(p.ID)
			require.NoError(t, err)
			if status == db.PlayPaused {
				_, err = pause.do(p.ID)
				require.NoError(t, err)
			}
		case db.PlayArchived:
			_, err := archive.do(p.ID)
			require.NoError(t, err)
		}
		return p.ID
	}

	for _, tt := range []struct {
		from   string
		action action
		want   string // the status after, or "" when refused
		why    string
	}{
		{db.PlayDraft, pause, "", "a DRAFT play has nothing to pause; publish it first"},
		{db.PlayDraft, resume, "", "a DRAFT play is activated by publishing it"},
		{db.PlayDraft, discard, "", "a play that was never published has only its draft; archive the play instead"},
		{db.PlayDraft, edit, db.PlayDraft, ""},
		{db.PlayDraft, publish, db.PlayActive, ""},
		{db.PlayDraft, archive, db.PlayArchived, ""},
		{db.PlayActive, pause, db.PlayPaused, ""},
		{db.PlayActive, resume, db.PlayActive, ""},
		{db.PlayActive, discard, db.PlayActive, ""},
		{db.PlayActive, publish, db.PlayActive, ""},
		{db.PlayActive, archive, db.PlayArchived, ""},
		{db.PlayPaused, pause, db.PlayPaused, ""},
		{db.PlayPaused, resume, db.PlayActive, ""},
		{db.PlayPaused, publish, db.PlayPaused, ""},
		{db.PlayPaused, edit, db.PlayPaused, ""},
		{db.PlayPaused, archive, db.PlayArchived, ""},
		{db.PlayArchived, pause, "", "an archived play cannot be paused"},
		{db.PlayArchived, resume, "", "an archived play cannot be resumed"},
		{db.PlayArchived, edit, "", "an archived play cannot be edited"},
		{db.PlayArchived, discard, "", "an archived play cannot be edited"},
		{db.PlayArchived, publish, "", "an archived play cannot be published"},
		{db.PlayArchived, archive, db.PlayArchived, ""},
	} {
		id := playIn(tt.from)
		before, err := b.svc.Get(b.ctx, b.tenant, id)
		require.NoError(t, err)
		p, err := tt.action.do(id)
		if tt.want == "" {
			requireInvalid(t, err, "status", tt.why)
			require.True(t, errors.Is(err, ErrTransition), "%s %s", tt.from, tt.action.name)
			after, err := b.svc.Get(b.ctx, b.tenant, id)
			require.NoError(t, err)
			require.Equal(t, before, after, "a refused change changes nothing")
			continue
		}
		require.NoError(t, err, "%s %s", tt.from, tt.action.name)
		require.Equal(t, tt.want, p.Status, "%s %s", tt.from, tt.action.name)
		require.Equal(t, tt.want == db.PlayArchived, p.ArchivedAt != nil)
		if tt.action.name == "discard" {
			require.Nil(t, p.Draft)
		}
	}
}

func TestUpdateDraftNameAndDescription(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.createPlay(t, playOpts{Name: "First"})
	other := b.createPlay(t, playOpts{Name: "Second"})
	draft := p.Draft

	name, desc := " Renamed ", "Why it exists"
	p, err := b.svc.UpdateDraft(b.ctx, b.tenant, p.ID, Patch{Name: &name, Description: &desc})
	require.NoError(t, err)
	require.Equal(t, "Renamed", p.Name)
	require.Equal(t, desc, p.Description)
	require.JSONEq(t, string(draft), string(p.Draft), "the draft is untouched without a definition")

	taken := "second"
	_, err = b.svc.UpdateDraft(b.ctx, b.tenant, p.ID, Patch{Name: &taken})
	requireInvalid(t, err, "name", "another play already has this name")
	_, err = b.svc.UpdateDraft(b.ctx, b.tenant, other.ID, Patch{Definition: json.RawMessage(`{"trigger": {"kind": "SOMETIMES"}}`)})
	requireInvalid(t, err, "definition.trigger.kind", "must be one of MANUAL, EVENT, FIELD_CHANGE, SCHEDULE, JOURNEY")
	long := string(make([]rune, MaxDescriptionLen+1))
	_, err = b.svc.UpdateDraft(b.ctx, b.tenant, p.ID, Patch{Description: &long})
	requireInvalid(t, err, "description", "must be at most 2000 characters")
}

func TestList(t *testing.T) {
	t.Parallel()
	b := setup(t)
	beta := b.createPlay(t, playOpts{Name: "beta", Scope: condition.ScopeContact})
	alpha := b.createPlay(t, playOpts{Name: "Alpha"})
	gone := b.createPlay(t, playOpts{Name: "Gone"})
	_, err := b.svc.Archive(b.ctx, b.tenant, gone.ID)
	require.NoError(t, err)
	_, err = b.svc.Publish(b.ctx, b.tenant, alpha.ID, b.user)
	require.NoError(t, err)

	names := func(f ListFilter) []string {
		plays, err := b.svc.List(b.ctx, b.tenant, f)
		require.NoError(t, err)
		out := []string{}
		for _, p := range plays {
			out = append(out, p.Name)
		}
		return out
	}
	require.Equal(t, []string{"Alpha", "beta"}, names(ListFilter{}))
	require.Equal(t, []string{"Gone"}, names(ListFilter{Status: db.PlayArchived}))
	require.Equal(t, []string{"Alpha"}, names(ListFilter{Status: db.PlayActive}))
	require.Equal(t, []string{beta.Name}, names(ListFilter{Scope: condition.ScopeContact}))
	require.Equal(t, []string{}, names(ListFilter{Status: db.PlayPaused}))
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	other := setup(t)
	p := b.createPlay(t, playOpts{Definition: `{"trigger": {"kind": "EVENT", "event": "login"}, "steps": [{"kind": "WAIT", "duration": "1d"}]}`})
	_, err := b.svc.Publish(b.ctx, b.tenant, p.ID, b.user)
	require.NoError(t, err)

	// The other workspace sees nothing, and cannot change anything.
	ot := other.tenant
	_, err = other.svc.Get(b.ctx, ot, p.ID)
	require.True(t, errors.Is(err, db.ErrNotFound))
	_, err = other.svc.Version(b.ctx, ot, p.ID, 1)
	require.True(t, errors.Is(err, db.ErrNotFound))
	_, err = other.svc.Load(b.ctx, other.db.Bun, ot, p.ID, 1)
	require.True(t, errors.Is(err, db.ErrNotFound))
	versions, err := other.svc.Versions(b.ctx, ot, p.ID)
	require.NoError(t, err)
	require.Empty(t, versions)
	for name, do := range map[string]func() error{
		"edit": func() error {
			_, err := other.svc.UpdateDraft(b.ctx, ot, p.ID, Patch{Definition: json.RawMessage(minimalDefinition)})
			return err
		},
		"publish": func() error { _, err := other.svc.Publish(b.ctx, ot, p.ID, other.user); return err },
		"pause":   func() error { _, err := other.svc.Pause(b.ctx, ot, p.ID); return err },
		"resume":  func() error { _, err := other.svc.Resume(b.ctx, ot, p.ID); return err },
		"archive": func() error { _, err := other.svc.Archive(b.ctx, ot, p.ID); return err },
		"discard": func() error { _, err := other.svc.DiscardDraft(b.ctx, ot, p.ID); return err },
	} {
		require.True(t, errors.Is(do(), db.ErrNotFound), name)
	}
	plays, err := other.svc.List(b.ctx, ot, ListFilter{})
	require.NoError(t, err)
	require.Empty(t, plays)
	active, err := other.svc.ActiveByEvent(b.ctx, other.db.Bun, ot, "login")
	require.NoError(t, err)
	require.Empty(t, active)

	// The same name is free in another workspace.
	other.createPlay(t, playOpts{Name: p.Name})

	got, err := b.svc.Get(b.ctx, b.tenant, p.ID)
	require.NoError(t, err)
	require.Equal(t, db.PlayActive, got.Status)
	require.Nil(t, got.Draft)
}

func TestActivePlaysByTrigger(t *testing.T) {
	t.Parallel()
	b := setup(t)
	publish := func(name, def string) *db.Play {
		p := b.createPlay(t, playOpts{Name: name, Definition: def})
		_, err := b.svc.Publish(b.ctx, b.tenant, p.ID, b.user)
		require.NoError(t, err)
		return p
	}
	steps := `"steps": [{"kind": "WAIT", "duration": "1d"}]`
	onLogin := publish("On login", `{"trigger": {"kind": "EVENT", "event": "login"}, `+steps+`}`)
	onProLogin := publish("On pro login", `{"trigger": {"kind": "EVENT", "event": "login", "properties": {"plan": "pro"}}, `+steps+`}`)
	pausedLogin := publish("Paused on login", `{"trigger": {"kind": "EVENT", "event": "login"}, `+steps+`}`)
	_, err := b.svc.Pause(b.ctx, b.tenant, pausedLogin.ID)
	require.NoError(t, err)
	draftLogin := b.createPlay(t, playOpts{Definition: `{"trigger": {"kind": "EVENT", "event": "login"}, ` + steps + `}`})
	onStage := publish("On stage", `{"trigger": {"kind": "FIELD_CHANGE", "field": "account.stage", "to": "AT_RISK"}, `+steps+`}`)
	schedule := publish("Scheduled", `{"trigger": {"kind": "SCHEDULE", "condition": {"event": "login", "op": "notWithin", "duration": "14d"}}, `+steps+`}`)
	publish("By hand", minimalDefinition)

	// A play whose latest version listens to something else no longer answers for login.
	moved := publish("Moved", `{"trigger": {"kind": "EVENT", "event": "login"}, `+steps+`}`)
	_, err = b.svc.UpdateDraft(b.ctx, b.tenant, moved.ID, Patch{Definition: json.RawMessage(`{"trigger": {"kind": "EVENT", "event": "export"}, ` + steps + `}`)})
	require.NoError(t, err)
	_, err = b.svc.Publish(b.ctx, b.tenant, moved.ID, b.user)
	require.NoError(t, err)

	ids := func(ps []Published) []uuid.UUID {
		out := []uuid.UUID{}
		for _, p := range ps {
			require.Equal(t, p.Play.LatestVersion, p.Version.Version)
			require.Equal(t, p.Play.ID, p.Version.PlayID)
			out = append(out, p.Play.ID)
		}
		return out
	}
	got, err := b.svc.ActiveByEvent(b.ctx, b.db.Bun, b.tenant, "login")
	require.NoError(t, err)
	require.ElementsMatch(t, []uuid.UUID{onLogin.ID, onProLogin.ID}, ids(got))
	require.NotContains(t, ids(got), draftLogin.ID)
	for _, p := range got {
		match, err := p.Definition.Trigger.MatchesEvent("login", json.RawMessage(`{"plan": "free"}`))
		require.NoError(t, err)
		require.Equal(t, p.Play.ID == onLogin.ID, match)
	}
	got, err = b.svc.ActiveByEvent(b.ctx, b.db.Bun, b.tenant, "export")
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{moved.ID}, ids(got))
	require.Equal(t, 2, got[0].Version.Version)

	got, err = b.svc.ActiveByField(b.ctx, b.db.Bun, b.tenant, "account.stage")
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{onStage.ID}, ids(got))
	require.Equal(t, "AT_RISK", got[0].Definition.Trigger.To)

	// The sweeper sees every workspace.
	other := setup(t)
	elsewhere := other.createPlay(t, playOpts{Definition: `{"trigger": {"kind": "SCHEDULE", "condition": {"field": "account.healthScore", "op": "lt", "value": 40}}, ` + steps + `}`})
	_, err = other.svc.Publish(b.ctx, other.tenant, elsewhere.ID, other.user)
	require.NoError(t, err)
	all, err := b.svc.ActiveSchedules(b.ctx, b.db.Bun)
	require.NoError(t, err)
	require.Subset(t, ids(all), []uuid.UUID{schedule.ID, elsewhere.ID})
	for _, p := range all {
		require.Equal(t, TriggerSchedule, p.Definition.Trigger.Kind)
		if p.Play.ID == elsewhere.ID {
			require.Equal(t, other.tenant.WorkspaceID, p.Play.WorkspaceID)
		}
	}
	_, err = b.svc.Pause(b.ctx, b.tenant, schedule.ID)
	require.NoError(t, err)
	all, err = b.svc.ActiveSchedules(b.ctx, b.db.Bun)
	require.NoError(t, err)
	require.NotContains(t, ids(all), schedule.ID)
}

func TestExamplesPublish(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, ex := range Examples() {
		p, err := b.svc.Create(b.ctx, b.tenant, b.user, ex)
		require.NoError(t, err, ex.Name)
		v, err := b.svc.Publish(b.ctx, b.tenant, p.ID, b.user)
		require.NoError(t, err, ex.Name)
		pub, err := b.svc.Load(b.ctx, b.db.Bun, b.tenant, p.ID, v.Version)
		require.NoError(t, err)
		want := mustParse(t, string(ex.Definition), ex.Scope)
		require.Equal(t, marshal(t, want), marshal(t, pub.Definition), "the stored version reads back as written")
	}
	schedules, err := b.svc.ActiveSchedules(b.ctx, b.db.Bun)
	require.NoError(t, err)
	n := 0
	for _, p := range schedules {
		if p.Play.WorkspaceID == b.tenant.WorkspaceID {
			n++
		}
	}
	require.Equal(t, 3, n, "three of the four demo plays run on a schedule")
}

func TestConcurrentPublish(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.createPlay(t, playOpts{})
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = b.svc.Publish(b.ctx, b.tenant, p.ID, b.user)
		})
	}
	wg.Wait()
	published := 0
	for _, err := range errs {
		if err == nil {
			published++
			continue
		}
		require.True(t, errors.Is(err, ErrTransition), "%v", err)
	}
	require.Equal(t, 1, published, "the draft is published once")
	versions, err := b.svc.Versions(b.ctx, b.tenant, p.ID)
	require.NoError(t, err)
	require.Len(t, versions, 1)
}
