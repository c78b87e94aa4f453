package journey

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/condition"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/play"
)

func ptr[T any](v T) *T { return &v }

func TestCreateKeysNamesAndStage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j := b.createJourney(t, journeyOpts{Name: "Onboarding"})
	require.Equal(t, "onboarding", j.Key)
	require.Equal(t, db.JourneyDraft, j.Status)
	require.Equal(t, 0, j.LatestVersion)

	// Another name that makes the same key gets the next free one.
	j2 := b.createJourney(t, journeyOpts{Name: "Onboarding!"})
	require.Equal(t, "onboarding-2", j2.Key)

	_, err := b.svc.Create(b.ctx, b.tenant, b.user, NewJourney{Name: "ONBOARDING", Stage: "ONBOARDING"})
	require.ErrorIs(t, err, db.ErrConflict)
	requireInvalid(t, err, "name", "another journey already has this name")

	_, err = b.svc.Create(b.ctx, b.tenant, b.user, NewJourney{Key: "onboarding", Name: "Other", Stage: "ONBOARDING"})
	require.ErrorIs(t, err, db.ErrConflict)
	requireInvalid(t, err, "key", "another journey already has this key")

	_, err = b.svc.Create(b.ctx, b.tenant, b.user, NewJourney{Key: "Bad Key", Name: "Other", Stage: "ONBOARDING"})
	requireInvalid(t, err, "key", keyHint)
	_, err = b.svc.Create(b.ctx, b.tenant, b.user, NewJourney{Name: "Other", Stage: "onboarding"})
	requireInvalid(t, err, "stage", "")
	_, err = b.svc.Create(b.ctx, b.tenant, b.user, NewJourney{Name: "  ", Stage: "ONBOARDING"})
	requireInvalid(t, err, "name", "")
	_, err = b.svc.Create(b.ctx, b.tenant, b.user, NewJourney{Name: "Other", Stage: "ONBOARDING", Definition: json.RawMessage(`{"milestones": 3}`)})
	requireInvalid(t, err, "definition.milestones", "must be a list of milestones")

	list, err := b.svc.List(b.ctx, b.tenant, ListFilter{})
	require.NoError(t, err)
	require.Len(t, list, 2)

	j, err = b.svc.Update(b.ctx, b.tenant, j.ID, Patch{Name: ptr("Enterprise onboarding"), Stage: ptr("RELAUNCH"), Description: ptr("For big ones")})
	require.NoError(t, err)
	require.Equal(t, "Enterprise onboarding", j.Name)
	require.Equal(t, "onboarding", j.Key, "the key stays when the name changes")
	list, err = b.svc.List(b.ctx, b.tenant, ListFilter{Stage: "RELAUNCH"})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, j.ID, list[0].ID)
}

func TestDraftMilestoneOps(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j := b.createJourney(t, journeyOpts{Definition: `{}`})

	var err error
	for _, name := range []string{"Kickoff", "Setup", "Go live"} {
		j, err = b.svc.AddMilestone(b.ctx, b.tenant, j.ID, MilestoneInput{Name: name, Target: "7d"}, nil)
		require.NoError(t, err)
	}
	j, err = b.svc.AddMilestone(b.ctx, b.tenant, j.ID, MilestoneInput{Key: "training", Name: "Training", Target: "14d", Parallel: true}, ptr(2))
	require.NoError(t, err)
	require.Equal(t, []string{"kickoff:", "setup:", "training:", "go-live:"}, keys(draft(t, j)))
	require.True(t, draft(t, j).Milestones[2].Parallel)

	// Bad content is refused at its path in the definition and changes nothing.
	before := j.Draft
	_, err = b.svc.AddMilestone(b.ctx, b.tenant, j.ID, MilestoneInput{Name: "Extra", Target: "a while"}, ptr(1))
	requireInvalid(t, err, "definition.milestones[1].target", "")
	_, err = b.svc.AddMilestone(b.ctx, b.tenant, j.ID, MilestoneInput{Name: "Extra", Parallel: true}, ptr(0))
	requireInvalid(t, err, "definition.milestones[0].parallel", "")
	_, err = b.svc.AddMilestone(b.ctx, b.tenant, j.ID, MilestoneInput{Key: "setup", Name: "Extra"}, nil)
	requireInvalid(t, err, "key", "another milestone of the journey already has this key")
	_, err = b.svc.AddMilestone(b.ctx, b.tenant, j.ID, MilestoneInput{Name: "Extra"}, ptr(9))
	requireInvalid(t, err, "position", "must be from 0 to 4")
	_, err = b.svc.UpdateMilestone(b.ctx, b.tenant, j.ID, "nope", MilestonePatch{Name: ptr("x")})
	requireInvalid(t, err, "key", `no milestone with key "nope" in the draft`)
	_, err = b.svc.UpdateMilestone(b.ctx, b.tenant, j.ID, "setup", MilestonePatch{CompleteWhen: json.RawMessage(`{"field": "account.nope", "op": "eq", "value": 1}`)})
	requireInvalid(t, err, "definition.milestones[1].completeWhen.field", "")
	got, err := b.svc.Get(b.ctx, b.tenant, j.ID)
	require.NoError(t, err)
	require.JSONEq(t, string(before), string(got.Draft))

	j, err = b.svc.UpdateMilestone(b.ctx, b.tenant, j.ID, "setup", MilestonePatch{
		Name: ptr("Technical setup"), Target: ptr("21d"),
		CompleteWhen: json.RawMessage(`{"event": "integration_connected", "op": "exists"}`),
	})
	require.NoError(t, err)
	m, _, _ := draft(t, j).Milestone("setup")
	require.Equal(t, "Technical setup", m.Name)
	require.Equal(t, play.Duration("21d"), m.Target)
	require.NotNil(t, m.CompleteWhen)
	j, err = b.svc.UpdateMilestone(b.ctx, b.tenant, j.ID, "setup", MilestonePatch{CompleteWhen: json.RawMessage(`null`), Target: ptr("")})
	require.NoError(t, err)
	m, _, _ = draft(t, j).Milestone("setup")
	require.Nil(t, m.CompleteWhen)
	require.Empty(t, m.Target)

	// Moving the parallel milestone first makes it sequential.
	j, err = b.svc.MoveMilestone(b.ctx, b.tenant, j.ID, "training", 0)
	require.NoError(t, err)
	require.Equal(t, []string{"training:", "kickoff:", "setup:", "go-live:"}, keys(draft(t, j)))
	require.False(t, draft(t, j).Milestones[0].Parallel)
	j, err = b.svc.MoveMilestone(b.ctx, b.tenant, j.ID, "training", 3)
	require.NoError(t, err)
	require.Equal(t, []string{"kickoff:", "setup:", "go-live:", "training:"}, keys(draft(t, j)))
	_, err = b.svc.MoveMilestone(b.ctx, b.tenant, j.ID, "training", 4)
	requireInvalid(t, err, "position", "must be from 0 to 3")

	j, err = b.svc.UpdateMilestone(b.ctx, b.tenant, j.ID, "setup", MilestonePatch{Parallel: ptr(true)})
	require.NoError(t, err)
	j, err = b.svc.DeleteMilestone(b.ctx, b.tenant, j.ID, "kickoff")
	require.NoError(t, err)
	require.Equal(t, []string{"setup:", "go-live:", "training:"}, keys(draft(t, j)))
	require.False(t, draft(t, j).Milestones[0].Parallel, "the new first milestone is sequential")
}

func TestDraftStepOps(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j := b.createJourney(t, journeyOpts{Definition: `{"milestones": [{"key": "a", "name": "A"}, {"key": "b", "name": "B"}]}`})

	task := func(title string) json.RawMessage {
		return json.RawMessage(`{"title": "` + title + `", "assignee": {"kind": "TEAM_ROLE", "teamRole": "CSM"}, "dueIn": "3d"}`)
	}
	var err error
	j, err = b.svc.AddStep(b.ctx, b.tenant, j.ID, "a", StepInput{Kind: StepTask, Task: task("Kickoff call")}, nil)
	require.NoError(t, err)
	j, err = b.svc.AddStep(b.ctx, b.tenant, j.ID, "a", StepInput{Kind: StepTask, Task: task("Kickoff call")}, nil)
	require.NoError(t, err)
	j, err = b.svc.AddStep(b.ctx, b.tenant, j.ID, "a", StepInput{Key: "welcome", Kind: StepSendEmail,
		Email: json.RawMessage(`{"to": "CONTACTS", "subject": "Welcome", "body": "Hi {{contact.firstName}}"}`)}, ptr(0))
	require.NoError(t, err)
	j, err = b.svc.AddStep(b.ctx, b.tenant, j.ID, "b", StepInput{Key: "connected", Kind: StepCheckpoint, Required: ptr(false),
		Condition: json.RawMessage(`{"event": "integration_connected", "op": "exists"}`)}, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"a:welcome,kickoff-call,kickoff-call-2", "b:connected"}, keys(draft(t, j)))
	st, _, _ := draft(t, j).Step("connected")
	require.False(t, st.Required)

	before := j.Draft
	_, err = b.svc.AddStep(b.ctx, b.tenant, j.ID, "a", StepInput{Kind: StepTask, Task: json.RawMessage(`{"title": "x", "dueIn": "later"}`)}, nil)
	requireInvalid(t, err, "definition.milestones[0].steps[3].task.dueIn", "")
	_, err = b.svc.AddStep(b.ctx, b.tenant, j.ID, "a", StepInput{Kind: "WAIT"}, nil)
	requireInvalid(t, err, "definition.milestones[0].steps[3].kind", "")
	_, err = b.svc.AddStep(b.ctx, b.tenant, j.ID, "a", StepInput{Kind: StepSendEmail, Required: ptr(true)}, nil)
	requireInvalid(t, err, "definition.milestones[0].steps[3].required", "")
	_, err = b.svc.AddStep(b.ctx, b.tenant, j.ID, "a", StepInput{Key: "connected", Kind: StepCheckpoint}, nil)
	requireInvalid(t, err, "key", "another step of the journey already has this key")
	_, err = b.svc.AddStep(b.ctx, b.tenant, j.ID, "zz", StepInput{Kind: StepCheckpoint}, nil)
	requireInvalid(t, err, "milestoneKey", "")
	_, err = b.svc.UpdateStep(b.ctx, b.tenant, j.ID, "welcome", StepPatch{Task: task("x")})
	requireInvalid(t, err, "definition.milestones[0].steps[0].task", "is not a known key of SEND_EMAIL steps")
	got, err := b.svc.Get(b.ctx, b.tenant, j.ID)
	require.NoError(t, err)
	require.JSONEq(t, string(before), string(got.Draft))

	// Task patches merge key by key; null removes a key.
	j, err = b.svc.UpdateStep(b.ctx, b.tenant, j.ID, "kickoff-call", StepPatch{Task: json.RawMessage(`{"title": "Hold the kickoff call", "dueIn": null, "priority": "HIGH"}`)})
	require.NoError(t, err)
	st, _, _ = draft(t, j).Step("kickoff-call")
	require.Equal(t, play.Template("Hold the kickoff call"), st.Task.Title)
	require.Empty(t, st.Task.DueIn)
	require.Equal(t, play.PriorityHigh, st.Task.Priority)
	require.Equal(t, "CSM", st.Task.Assignee.TeamRole)

	j, err = b.svc.MoveStep(b.ctx, b.tenant, j.ID, "kickoff-call-2", "b", 0)
	require.NoError(t, err)
	require.Equal(t, []string{"a:welcome,kickoff-call", "b:kickoff-call-2,connected"}, keys(draft(t, j)))
	j, err = b.svc.MoveStep(b.ctx, b.tenant, j.ID, "welcome", "a", 1)
	require.NoError(t, err)
	require.Equal(t, []string{"a:kickoff-call,welcome", "b:kickoff-call-2,connected"}, keys(draft(t, j)))
	_, err = b.svc.MoveStep(b.ctx, b.tenant, j.ID, "welcome", "b", 3)
	requireInvalid(t, err, "position", "must be from 0 to 2")
	j, err = b.svc.DeleteStep(b.ctx, b.tenant, j.ID, "kickoff-call-2")
	require.NoError(t, err)
	require.Equal(t, []string{"a:kickoff-call,welcome", "b:connected"}, keys(draft(t, j)))
	_, err = b.svc.DeleteStep(b.ctx, b.tenant, j.ID, "kickoff-call-2")
	requireInvalid(t, err, "key", `no step with key "kickoff-call-2" in the draft`)

	j, err = b.svc.UpdateSettings(b.ctx, b.tenant, j.ID, Settings{
		Trigger: json.RawMessage(`{"kind": "FIELD_CHANGE", "field": "account.stage", "to": "ONBOARDING"}`),
		Reentry: json.RawMessage(`{"policy": "COOLDOWN", "cooldown": "30d"}`), StallAfter: ptr("10d"), AtRiskShare: ptr(0.5),
	})
	require.NoError(t, err)
	d := draft(t, j)
	require.Equal(t, play.TriggerFieldChange, d.Trigger.Kind)
	require.Equal(t, play.ReentryCooldown, d.Reentry.Policy)
	require.Equal(t, play.Duration("10d"), d.StallAfter)
	require.InDelta(t, 0.5, d.AtRiskShare, 1e-9)
	_, err = b.svc.UpdateSettings(b.ctx, b.tenant, j.ID, Settings{AtRiskShare: ptr(1.5)})
	requireInvalid(t, err, "definition.atRiskShare", "")
	_, err = b.svc.UpdateSettings(b.ctx, b.tenant, j.ID, Settings{Trigger: json.RawMessage(`{"kind": "JOURNEY"}`)})
	requireInvalid(t, err, "definition.trigger.kind", "")
	j, err = b.svc.UpdateSettings(b.ctx, b.tenant, j.ID, Settings{Trigger: json.RawMessage(`null`)})
	require.NoError(t, err)
	require.Nil(t, draft(t, j).Trigger)
}

func TestPublishFreezesVersions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j := b.createJourney(t, journeyOpts{Name: "Onboarding", Definition: `{"milestones": [{"key": "kickoff", "name": "Kickoff"}]}`})

	_, err := b.svc.Publish(b.ctx, b.tenant, j.ID, b.user)
	requireInvalid(t, err, "definition.trigger", "is required")
	_, err = b.svc.UpdateSettings(b.ctx, b.tenant, j.ID, Settings{Trigger: json.RawMessage(`{"kind": "EVENT", "event": "deal_closed"}`)})
	require.NoError(t, err)
	_, err = b.svc.Publish(b.ctx, b.tenant, j.ID, b.user)
	requireInvalid(t, err, "definition.milestones[0].target", "is required")
	_, err = b.svc.UpdateMilestone(b.ctx, b.tenant, j.ID, "kickoff", MilestonePatch{Target: ptr("7d")})
	require.NoError(t, err)
	_, err = b.svc.AddStep(b.ctx, b.tenant, j.ID, "kickoff", StepInput{Key: "call", Kind: StepTask,
		Task: json.RawMessage(`{"title": "Kickoff call", "assignee": {"kind": "TEAM_ROLE", "teamRole": "CSM"}}`)}, nil)
	require.NoError(t, err)

	j, err = b.svc.Publish(b.ctx, b.tenant, j.ID, b.user)
	require.NoError(t, err)
	require.Equal(t, db.JourneyActive, j.Status)
	require.Equal(t, 1, j.LatestVersion)
	require.Nil(t, j.Draft)
	require.Equal(t, "EVENT", *j.TriggerKind)
	require.Equal(t, "deal_closed", *j.TriggerEvent)
	require.Nil(t, j.TriggerField)
	_, err = b.svc.Publish(b.ctx, b.tenant, j.ID, b.user)
	require.ErrorIs(t, err, ErrTransition)

	// Editing the published journey starts a draft from version 1; version 1 stays.
	j, err = b.svc.AddMilestone(b.ctx, b.tenant, j.ID, MilestoneInput{Key: "golive", Name: "Go live", Target: "30d",
		CompleteWhen: json.RawMessage(`{"field": "account.stage", "op": "eq", "value": "ADOPTION"}`)}, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"kickoff:call", "golive:"}, keys(draft(t, j)))
	p1, err := b.svc.Load(b.ctx, b.db.Bun, b.tenant, j.ID, 1)
	require.NoError(t, err)
	require.Equal(t, []string{"kickoff:call"}, keys(p1.Definition))

	j, err = b.svc.Publish(b.ctx, b.tenant, j.ID, b.user)
	require.NoError(t, err)
	require.Equal(t, 2, j.LatestVersion)
	versions, err := b.svc.Versions(b.ctx, b.tenant, j.ID)
	require.NoError(t, err)
	require.Len(t, versions, 2)
	require.Equal(t, 2, versions[0].Version)
	require.Equal(t, b.user, *versions[0].PublishedBy)
	p1again, err := b.svc.Load(b.ctx, b.db.Bun, b.tenant, j.ID, 1)
	require.NoError(t, err)
	require.Equal(t, []string{"kickoff:call"}, keys(p1again.Definition))
	require.Same(t, p1.Definition, p1again.Definition, "a version is parsed once")

	// The database refuses to change a version.
	_, err = b.db.Bun.NewUpdate().Model((*db.JourneyVersion)(nil)).Set("definition = '{}'").
		Where("journey_id = ? AND version = 1", j.ID).Exec(b.ctx)
	require.ErrorContains(t, err, "immutable")

	// Lookups for enrolment.
	byEvent, err := b.svc.ActiveByEvent(b.ctx, b.db.Bun, b.tenant, "deal_closed")
	require.NoError(t, err)
	require.Len(t, byEvent, 1)
	require.Equal(t, 2, byEvent[0].Version.Version)
	require.Equal(t, []string{"kickoff:call", "golive:"}, keys(byEvent[0].Definition))
	none, err := b.svc.ActiveByEvent(b.ctx, b.db.Bun, b.tenant, "login")
	require.NoError(t, err)
	require.Empty(t, none)
	byKey, err := b.svc.ByKey(b.ctx, b.db.Bun, b.tenant, "onboarding")
	require.NoError(t, err)
	require.Equal(t, j.ID, byKey.Journey.ID)
	require.Equal(t, 2, byKey.Version.Version)

	// Paused journeys do not enrol.
	_, err = b.svc.Pause(b.ctx, b.tenant, j.ID)
	require.NoError(t, err)
	_, err = b.svc.ByKey(b.ctx, b.db.Bun, b.tenant, "onboarding")
	require.ErrorIs(t, err, db.ErrNotFound)
	byEvent, err = b.svc.ActiveByEvent(b.ctx, b.db.Bun, b.tenant, "deal_closed")
	require.NoError(t, err)
	require.Empty(t, byEvent)
}

func TestFieldChangeTriggerLookup(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := `{"trigger": {"kind": "FIELD_CHANGE", "field": "account.stage", "to": "RENEWAL"}, "milestones": [{"key": "m", "name": "M", "target": "7d",
	  "completeWhen": {"field": "account.stage", "op": "eq", "value": "GROWTH"}}]}`
	j := b.createJourney(t, journeyOpts{Definition: def, Stage: "RENEWAL"})
	j, err := b.svc.Publish(b.ctx, b.tenant, j.ID, uuid.Nil)
	require.NoError(t, err)
	require.Equal(t, "account.stage", *j.TriggerField)
	got, err := b.svc.ActiveByField(b.ctx, b.db.Bun, b.tenant, "account.stage")
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "RENEWAL", got[0].Definition.Trigger.To)
	require.Nil(t, got[0].Version.PublishedBy, "an API key publishes without a user")
}

func TestPublishChecksReferences(t *testing.T) {
	t.Parallel()
	b := setup(t)
	withStep := func(step string) string {
		return `{"trigger": {"kind": "MANUAL"}, "milestones": [{"key": "m", "name": "M", "target": "7d", "steps": [
		  {"kind": "CHECKPOINT", "condition": {"event": "x", "op": "exists"}}, ` + step + `]}]}`
	}
	contactPlay, err := (&play.Definitions{DB: b.db.Bun, Now: b.clock.Now}).Create(b.ctx, b.tenant, b.user,
		play.NewPlay{Name: "Contact play", Scope: condition.ScopeContact})
	require.NoError(t, err)
	accountPlay, err := (&play.Definitions{DB: b.db.Bun, Now: b.clock.Now}).Create(b.ctx, b.tenant, b.user,
		play.NewPlay{Name: "Account play", Scope: condition.ScopeAccount})
	require.NoError(t, err)
	tests := []struct {
		name, step, field, message string
	}{
		{"unknown team role", `{"kind": "TASK", "task": {"title": "x", "assignee": {"kind": "TEAM_ROLE", "teamRole": "CTO"}}}`,
			"definition.milestones[0].steps[1].task.assignee.teamRole", "no such team role in this workspace"},
		{"unknown user", `{"kind": "TASK", "task": {"title": "x", "assignee": {"kind": "USER", "userId": "` + uuid.NewString() + `"}}}`,
			"definition.milestones[0].steps[1].task.assignee.userId", "no such user in this workspace"},
		{"unknown play", `{"kind": "LAUNCH_PLAY", "playId": "` + uuid.NewString() + `"}`,
			"definition.milestones[0].steps[1].playId", "no such play in this workspace"},
		{"contact play", `{"kind": "LAUNCH_PLAY", "playId": "` + contactPlay.ID.String() + `"}`,
			"definition.milestones[0].steps[1].playId", "is a CONTACT play; a journey launches ACCOUNT plays"},
	}
	for _, tt := range tests {
		j := b.createJourney(t, journeyOpts{Definition: withStep(tt.step)})
		_, err := b.svc.Publish(b.ctx, b.tenant, j.ID, b.user)
		requireInvalid(t, err, tt.field, tt.message)
		got, err := b.svc.Get(b.ctx, b.tenant, j.ID)
		require.NoError(t, err)
		require.Equal(t, db.JourneyDraft, got.Status, tt.name)
	}
	j := b.createJourney(t, journeyOpts{Definition: withStep(`{"kind": "LAUNCH_PLAY", "playId": "` + accountPlay.ID.String() + `"},
	  {"kind": "TASK", "task": {"title": "x", "assignee": {"kind": "USER", "userId": "` + b.user.String() + `"}}}`)})
	_, err = b.svc.Publish(b.ctx, b.tenant, j.ID, b.user)
	require.NoError(t, err)
}

func TestCopyIsIndependent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	src := b.createJourney(t, journeyOpts{Name: "Onboarding", Stage: "ONBOARDING"})
	src, err := b.svc.Publish(b.ctx, b.tenant, src.ID, b.user)
	require.NoError(t, err)

	// No pending edits: the copy starts from the latest version.
	cp, err := b.svc.Copy(b.ctx, b.tenant, src.ID, "Onboarding — Analytics add-on", "", b.user)
	require.NoError(t, err)
	require.Equal(t, "onboarding-analytics-add-on", cp.Key)
	require.Equal(t, db.JourneyDraft, cp.Status)
	require.Equal(t, "ONBOARDING", cp.Stage)
	require.Equal(t, src.ID, *cp.CopiedFromID)
	require.Equal(t, 1, *cp.CopiedFromVersion)
	require.Equal(t, []string{"only:call"}, keys(draft(t, cp)))

	cp, err = b.svc.AddMilestone(b.ctx, b.tenant, cp.ID, MilestoneInput{Key: "addon", Name: "Add-on setup", Target: "7d"}, nil)
	require.NoError(t, err)
	cp, err = b.svc.UpdateStep(b.ctx, b.tenant, cp.ID, "call", StepPatch{Task: json.RawMessage(`{"title": "Add-on kickoff call"}`)})
	require.NoError(t, err)
	src, err = b.svc.Get(b.ctx, b.tenant, src.ID)
	require.NoError(t, err)
	require.Nil(t, src.Draft, "editing the copy leaves the original alone")

	src, err = b.svc.DeleteStep(b.ctx, b.tenant, src.ID, "call")
	require.NoError(t, err)
	require.Equal(t, []string{"only:"}, keys(draft(t, src)))
	cp, err = b.svc.Get(b.ctx, b.tenant, cp.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"only:call", "addon:"}, keys(draft(t, cp)))
	st, _, _ := draft(t, cp).Step("call")
	require.Equal(t, play.Template("Add-on kickoff call"), st.Task.Title)

	// With pending edits, the copy takes the draft (version 0).
	cp2, err := b.svc.Copy(b.ctx, b.tenant, src.ID, "Onboarding light", "light", b.user)
	require.NoError(t, err)
	require.Equal(t, "light", cp2.Key)
	require.Equal(t, 0, *cp2.CopiedFromVersion)
	require.Equal(t, []string{"only:"}, keys(draft(t, cp2)))

	_, err = b.svc.Copy(b.ctx, b.tenant, src.ID, "onboarding", "", b.user)
	requireInvalid(t, err, "name", "another journey already has this name")
	_, err = b.svc.Copy(b.ctx, b.tenant, uuid.New(), "x", "", b.user)
	require.ErrorIs(t, err, db.ErrNotFound)
}

func TestStatusTransitions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j := b.createJourney(t, journeyOpts{Name: "Renewal", Stage: "RENEWAL"})
	_, err := b.svc.Pause(b.ctx, b.tenant, j.ID)
	require.ErrorIs(t, err, ErrTransition)
	require.ErrorIs(t, err, db.ErrConflict)
	requireInvalid(t, err, "status", "")
	_, err = b.svc.Resume(b.ctx, b.tenant, j.ID)
	require.ErrorIs(t, err, ErrTransition)
	_, err = b.svc.DiscardDraft(b.ctx, b.tenant, j.ID)
	require.ErrorIs(t, err, ErrTransition)

	j, err = b.svc.Publish(b.ctx, b.tenant, j.ID, b.user)
	require.NoError(t, err)
	j, err = b.svc.Pause(b.ctx, b.tenant, j.ID)
	require.NoError(t, err)
	require.Equal(t, db.JourneyPaused, j.Status)
	j, err = b.svc.Pause(b.ctx, b.tenant, j.ID)
	require.NoError(t, err)
	require.Equal(t, db.JourneyPaused, j.Status)
	j, err = b.svc.Resume(b.ctx, b.tenant, j.ID)
	require.NoError(t, err)
	require.Equal(t, db.JourneyActive, j.Status)

	j, err = b.svc.UpdateMilestone(b.ctx, b.tenant, j.ID, "only", MilestonePatch{Name: ptr("Renamed")})
	require.NoError(t, err)
	require.NotNil(t, j.Draft)
	j, err = b.svc.DiscardDraft(b.ctx, b.tenant, j.ID)
	require.NoError(t, err)
	require.Nil(t, j.Draft)

	b.clock.Advance(3600e9)
	j, err = b.svc.Archive(b.ctx, b.tenant, j.ID)
	require.NoError(t, err)
	require.Equal(t, db.JourneyArchived, j.Status)
	require.True(t, j.ArchivedAt.Equal(b.clock.Now()))
	for _, op := range []func() error{
		func() error { _, err := b.svc.Resume(b.ctx, b.tenant, j.ID); return err },
		func() error { _, err := b.svc.Publish(b.ctx, b.tenant, j.ID, b.user); return err },
		func() error { _, err := b.svc.Update(b.ctx, b.tenant, j.ID, Patch{Name: ptr("x")}); return err },
		func() error {
			_, err := b.svc.AddMilestone(b.ctx, b.tenant, j.ID, MilestoneInput{Name: "x"}, nil)
			return err
		},
	} {
		require.True(t, errors.Is(op(), ErrTransition))
	}
	// The key and name are free again.
	again := b.createJourney(t, journeyOpts{Name: "Renewal", Stage: "RENEWAL"})
	require.Equal(t, "renewal", again.Key)
	list, err := b.svc.List(b.ctx, b.tenant, ListFilter{Status: db.JourneyArchived})
	require.NoError(t, err)
	require.Len(t, list, 1)
}

func TestConcurrentEditsAreNotLost(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j := b.createJourney(t, journeyOpts{Definition: `{}`})
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := b.svc.AddMilestone(b.ctx, b.tenant, j.ID, MilestoneInput{Key: fmt.Sprintf("m%d", i), Name: fmt.Sprintf("M%d", i)}, nil)
			errs <- err
		}()
	}
	for range n {
		require.NoError(t, <-errs)
	}
	got, err := b.svc.Get(b.ctx, b.tenant, j.ID)
	require.NoError(t, err)
	require.Len(t, draft(t, got).Milestones, n, "each edit locks the journey, so none overwrites another")
}
