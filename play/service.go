package play

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/condition"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
)

// Limits on a play's own fields.
const (
	MaxNameLen        = 200
	MaxDescriptionLen = 2000
)

// ErrTransition means the play's status does not allow the change asked for (pausing a DRAFT,
// editing an ARCHIVED play...). Such errors also wrap db.ErrConflict and an *invalid.Error on
// "status" that says why, so the API answers CONFLICT with a readable message.
var ErrTransition = errors.New("play status does not allow this change")

// Definitions stores plays and their versions: drafts, publishing, status changes, and the
// published definitions the executor reads. It is named for what it owns, so the executor's
// own service (runs, River workers) can sit beside it in this package. Each change runs in one
// transaction with the play's row locked. Now is the clock; Log receives warnings about stored
// versions that no longer parse (nil means slog.Default()).
type Definitions struct {
	DB  *bun.DB
	Now func() time.Time
	Log *slog.Logger
}

// NewPlay is what Create needs. Definition may be nil (an empty draft) or an incomplete draft.
type NewPlay struct {
	Name        string
	Description string
	Scope       condition.Scope
	Definition  json.RawMessage
}

// Patch lists a play's changes; nil fields are left unchanged. Name and Description apply at
// once (they are not versioned); Definition replaces the draft, to be published later.
type Patch struct {
	Name        *string
	Description *string
	Definition  json.RawMessage
}

// ListFilter narrows List; zero fields do not filter.
type ListFilter struct {
	// Status keeps plays of one status; empty keeps every status but ARCHIVED.
	Status string
	Scope  condition.Scope
}

// Published is a published version of a play, parsed, as the executor runs it.
type Published struct {
	Play       *db.Play
	Version    *db.PlayVersion
	Definition *Definition
}

// Create stores a new play in DRAFT status. Its definition is validated as a draft (values that
// are present must be valid; missing parts are only required when publishing).
func (s *Definitions) Create(ctx context.Context, t db.Tenant, by uuid.UUID, in NewPlay) (*db.Play, error) {
	name, err := checkPlayName(in.Name)
	if err != nil {
		return nil, err
	}
	if err := checkDescription(in.Description); err != nil {
		return nil, err
	}
	if in.Scope != condition.ScopeAccount && in.Scope != condition.ScopeContact {
		return nil, invalid.Field("scope", "must be ACCOUNT or CONTACT")
	}
	raw := in.Definition
	if len(raw) == 0 {
		raw = json.RawMessage("{}")
	}
	draft, err := draftJSON(raw, in.Scope)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	p := &db.Play{
		Name: name, Description: in.Description, Scope: string(in.Scope), Status: db.PlayDraft,
		Draft: draft, DraftUpdatedAt: &now, CreatedBy: optionalUser(by),
	}
	if err := db.InsertPlay(ctx, s.DB, t, p); err != nil {
		return nil, nameConflict(err)
	}
	return p, nil
}

// UpdateDraft changes a play's name or description and replaces its draft. Editing a
// published play this way starts a new draft; the published versions stay as they are until
// Publish. An ARCHIVED play cannot be edited.
func (s *Definitions) UpdateDraft(ctx context.Context, t db.Tenant, id uuid.UUID, patch Patch) (*db.Play, error) {
	return s.modify(ctx, t, id, func(_ context.Context, _ bun.Tx, p *db.Play) error {
		if p.Status == db.PlayArchived {
			return refuse("an archived play cannot be edited")
		}
		if patch.Name != nil {
			name, err := checkPlayName(*patch.Name)
			if err != nil {
				return err
			}
			p.Name = name
		}
		if patch.Description != nil {
			if err := checkDescription(*patch.Description); err != nil {
				return err
			}
			p.Description = *patch.Description
		}
		if patch.Definition != nil {
			draft, err := draftJSON(patch.Definition, condition.Scope(p.Scope))
			if err != nil {
				return err
			}
			now := s.Now()
			p.Draft, p.DraftUpdatedAt = draft, &now
		}
		return nil
	})
}

// DiscardDraft drops a published play's pending edits. A play that was never published has
// nothing but its draft, so it is refused there (archive the play instead); a play without
// pending edits is returned unchanged.
func (s *Definitions) DiscardDraft(ctx context.Context, t db.Tenant, id uuid.UUID) (*db.Play, error) {
	return s.modify(ctx, t, id, func(_ context.Context, _ bun.Tx, p *db.Play) error {
		switch p.Status {
		case db.PlayArchived:
			return refuse("an archived play cannot be edited")
		case db.PlayDraft:
			return refuse("a play that was never published has only its draft; archive the play instead")
		}
		p.Draft, p.DraftUpdatedAt = nil, nil
		return nil
	})
}

// Publish freezes the play's draft as its next version (latest + 1) and returns it. The draft
// must be a complete, valid definition (errors name paths under "definition"), and the team
// roles and users it names must exist in the workspace. A DRAFT play becomes ACTIVE; an ACTIVE
// or PAUSED one keeps its status, and runs that already started stay on their version.
func (s *Definitions) Publish(ctx context.Context, t db.Tenant, id uuid.UUID, by uuid.UUID) (*db.PlayVersion, error) {
	var out *db.PlayVersion
	_, err := s.modify(ctx, t, id, func(ctx context.Context, tx bun.Tx, p *db.Play) error {
		if p.Status == db.PlayArchived {
			return refuse("an archived play cannot be published")
		}
		if p.Draft == nil {
			return refuse("the play has no unpublished changes")
		}
		def, err := ParseDefinition(p.Draft, condition.Scope(p.Scope))
		if err != nil {
			return err
		}
		if err := checkReferences(ctx, tx, t, def); err != nil {
			return err
		}
		stored, err := json.Marshal(def)
		if err != nil {
			return fmt.Errorf("encode definition: %w", err)
		}
		v := &db.PlayVersion{
			PlayID: p.ID, Version: p.LatestVersion + 1, Definition: stored,
			PublishedAt: s.Now(), PublishedBy: optionalUser(by),
		}
		if err := db.InsertPlayVersion(ctx, tx, t, v); err != nil {
			return err
		}
		kind := string(def.Trigger.Kind)
		p.LatestVersion = v.Version
		p.Draft, p.DraftUpdatedAt = nil, nil
		p.TriggerKind, p.TriggerEvent, p.TriggerField, p.TriggerJourney = &kind, nil, nil, nil
		switch def.Trigger.Kind {
		case TriggerEvent:
			p.TriggerEvent = &def.Trigger.Event
		case TriggerFieldChange:
			p.TriggerField = &def.Trigger.Field
		case TriggerJourney:
			p.TriggerJourney = &def.Trigger.Journey
		}
		if p.Status == db.PlayDraft {
			p.Status = db.PlayActive
		}
		out = v
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Pause stops an ACTIVE play from starting runs; pausing a PAUSED play changes nothing. A DRAFT
// play has nothing to pause and an ARCHIVED one cannot change.
func (s *Definitions) Pause(ctx context.Context, t db.Tenant, id uuid.UUID) (*db.Play, error) {
	return s.modify(ctx, t, id, func(_ context.Context, _ bun.Tx, p *db.Play) error {
		switch p.Status {
		case db.PlayDraft:
			return refuse("a DRAFT play has nothing to pause; publish it first")
		case db.PlayArchived:
			return refuse("an archived play cannot be paused")
		}
		p.Status = db.PlayPaused
		return nil
	})
}

// Resume makes a PAUSED play ACTIVE again; resuming an ACTIVE play changes nothing. A DRAFT
// play becomes ACTIVE by publishing it; an ARCHIVED one cannot change.
func (s *Definitions) Resume(ctx context.Context, t db.Tenant, id uuid.UUID) (*db.Play, error) {
	return s.modify(ctx, t, id, func(_ context.Context, _ bun.Tx, p *db.Play) error {
		switch p.Status {
		case db.PlayDraft:
			return refuse("a DRAFT play is activated by publishing it")
		case db.PlayArchived:
			return refuse("an archived play cannot be resumed")
		}
		p.Status = db.PlayActive
		return nil
	})
}

// Archive retires a play for good, whatever its status (archiving twice changes nothing). Its
// versions are kept; its name becomes free for a new play.
func (s *Definitions) Archive(ctx context.Context, t db.Tenant, id uuid.UUID) (*db.Play, error) {
	return s.modify(ctx, t, id, func(_ context.Context, _ bun.Tx, p *db.Play) error {
		if p.Status != db.PlayArchived {
			now := s.Now()
			p.Status, p.ArchivedAt = db.PlayArchived, &now
		}
		return nil
	})
}

// Get loads one play.
func (s *Definitions) Get(ctx context.Context, t db.Tenant, id uuid.UUID) (*db.Play, error) {
	return db.GetPlay(ctx, s.DB, t, id)
}

// List returns the plays f matches, by name.
func (s *Definitions) List(ctx context.Context, t db.Tenant, f ListFilter) ([]db.Play, error) {
	return db.ListPlays(ctx, s.DB, t, db.PlayFilter{Status: f.Status, Scope: string(f.Scope)})
}

// Version loads one published version of a play.
func (s *Definitions) Version(ctx context.Context, t db.Tenant, playID uuid.UUID, version int) (*db.PlayVersion, error) {
	return db.GetPlayVersion(ctx, s.DB, t, playID, version)
}

// Versions lists a play's published versions, newest first.
func (s *Definitions) Versions(ctx context.Context, t db.Tenant, playID uuid.UUID) ([]db.PlayVersion, error) {
	return db.ListPlayVersions(ctx, s.DB, t, playID)
}

// Load returns one published version of a play, parsed: what a run pinned to that version
// executes. It reads through idb, so it can run inside the caller's transaction.
func (s *Definitions) Load(ctx context.Context, idb bun.IDB, t db.Tenant, playID uuid.UUID, version int) (*Published, error) {
	p, err := db.GetPlay(ctx, idb, t, playID)
	if err != nil {
		return nil, err
	}
	v, err := db.GetPlayVersion(ctx, idb, t, playID, version)
	if err != nil {
		return nil, err
	}
	def, err := ParseDefinition(v.Definition, condition.Scope(p.Scope))
	if err != nil {
		return nil, fmt.Errorf("parse play %s version %d: %w", playID, version, err)
	}
	return &Published{Play: p, Version: v, Definition: def}, nil
}

// ActiveByEvent returns the ACTIVE plays whose latest version starts on events called
// eventName, parsed. Property filters are not applied: ask each Trigger.MatchesEvent.
func (s *Definitions) ActiveByEvent(ctx context.Context, idb bun.IDB, t db.Tenant, eventName string) ([]Published, error) {
	rows, err := db.ActivePlaysByEvent(ctx, idb, t, eventName)
	if err != nil {
		return nil, err
	}
	return s.parsePublished(ctx, rows), nil
}

// ActiveByField returns the ACTIVE plays whose latest version starts on changes of field (as
// conditions name it: "account.stage", "account.custom.plan"), parsed. From and To are not
// applied: ask each Trigger.MatchesChange.
func (s *Definitions) ActiveByField(ctx context.Context, idb bun.IDB, t db.Tenant, field string) ([]Published, error) {
	rows, err := db.ActivePlaysByField(ctx, idb, t, field)
	if err != nil {
		return nil, err
	}
	return s.parsePublished(ctx, rows), nil
}

// ActiveByJourney returns the ACTIVE plays whose latest version starts on events of the journey
// with key, parsed. Kinds and milestones are not applied: ask each Trigger.MatchesJourney.
func (s *Definitions) ActiveByJourney(ctx context.Context, idb bun.IDB, t db.Tenant, key string) ([]Published, error) {
	rows, err := db.ActivePlaysByJourney(ctx, idb, t, key)
	if err != nil {
		return nil, err
	}
	return s.parsePublished(ctx, rows), nil
}

// ActiveSchedules returns the ACTIVE SCHEDULE plays of every workspace, parsed, for the
// sweeper (each Published.Play carries its workspace id).
func (s *Definitions) ActiveSchedules(ctx context.Context, idb bun.IDB) ([]Published, error) {
	rows, err := db.ActiveSchedulePlays(ctx, idb)
	if err != nil {
		return nil, err
	}
	return s.parsePublished(ctx, rows), nil
}

// parsePublished parses each row's version. A stored version that no longer parses (a rule
// tightened since it was published) is logged and left out, so that one play cannot stop every
// other play of an event or of the sweeper.
func (s *Definitions) parsePublished(ctx context.Context, rows []db.PublishedPlay) []Published {
	out := make([]Published, 0, len(rows))
	for i := range rows {
		r := &rows[i]
		if r.Current == nil {
			s.logger().WarnContext(ctx, "active play has no published version",
				slog.String("workspace_id", r.WorkspaceID.String()), slog.String("play_id", r.ID.String()))
			continue
		}
		def, err := ParseDefinition(r.Current.Definition, condition.Scope(r.Scope))
		if err != nil {
			s.logger().WarnContext(ctx, "skipping play version that does not parse",
				slog.String("workspace_id", r.WorkspaceID.String()), slog.String("play_id", r.ID.String()),
				slog.Int("version", r.Current.Version), slog.Any("error", err))
			continue
		}
		play := r.Play
		out = append(out, Published{Play: &play, Version: r.Current, Definition: def})
	}
	return out
}

func (s *Definitions) logger() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// modify locks the play, lets change edit it and writes it back, in one transaction.
func (s *Definitions) modify(ctx context.Context, t db.Tenant, id uuid.UUID, change func(context.Context, bun.Tx, *db.Play) error) (*db.Play, error) {
	var out *db.Play
	err := db.InTx(ctx, s.DB, func(ctx context.Context, tx bun.Tx) error {
		p, err := db.GetPlayForUpdate(ctx, tx, t, id)
		if err != nil {
			return err
		}
		if err := change(ctx, tx, p); err != nil {
			return err
		}
		if err := db.UpdatePlay(ctx, tx, t, p); err != nil {
			return nameConflict(err)
		}
		out = p
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkReferences requires the team roles, users and journeys a definition names to exist in
// the workspace (users as enabled members, journeys not archived).
func checkReferences(ctx context.Context, idb bun.IDB, t db.Tenant, d *Definition) error {
	if err := checkJourneyReferences(ctx, idb, t, d); err != nil {
		return err
	}
	type ref struct {
		path string
		user uuid.UUID
		role string
	}
	var refs []ref
	_ = d.Walk(func(path string, s *Step) error {
		if s.Task != nil && s.Task.Assignee != nil {
			a := s.Task.Assignee
			switch {
			case a.Kind == AssignTeamRole:
				refs = append(refs, ref{path: path + ".assignee.teamRole", role: a.TeamRole})
			case a.Kind == AssignUser && a.UserID != nil:
				refs = append(refs, ref{path: path + ".assignee.userId", user: *a.UserID})
			}
		}
		if s.Update != nil {
			for i, op := range s.Update.Operations {
				var id string
				if op.Op == OpSetField && op.Field == SetOwner && json.Unmarshal(op.Value, &id) == nil {
					if u, err := uuid.Parse(id); err == nil {
						refs = append(refs, ref{path: fmt.Sprintf("%s.operations[%d].value", path, i), user: u})
					}
				}
			}
		}
		return nil
	})
	if len(refs) == 0 {
		return nil
	}
	roles, err := db.ListTeamRoles(ctx, idb, t)
	if err != nil {
		return err
	}
	knownRoles := map[string]bool{}
	for _, r := range roles {
		knownRoles[r.Key] = true
	}
	var ids []uuid.UUID
	for _, r := range refs {
		if r.user != uuid.Nil {
			ids = append(ids, r.user)
		}
	}
	members := map[uuid.UUID]db.Member{}
	if len(ids) > 0 {
		found, err := db.UsersByIDs(ctx, idb, t, ids)
		if err != nil {
			return err
		}
		for _, m := range found {
			members[m.ID] = m
		}
	}
	for _, r := range refs {
		if r.role != "" && !knownRoles[r.role] {
			return invalid.Field(r.path, "no such team role in this workspace")
		}
		if r.user != uuid.Nil {
			m, ok := members[r.user]
			if !ok {
				return invalid.Field(r.path, "no such user in this workspace")
			}
			if m.DisabledAt != nil {
				return invalid.Field(r.path, "is a disabled member of this workspace")
			}
		}
	}
	return nil
}

// checkJourneyReferences requires the journey of a JOURNEY trigger and of every
// ENROLL_IN_JOURNEY step to exist in the workspace and not be archived.
func checkJourneyReferences(ctx context.Context, idb bun.IDB, t db.Tenant, d *Definition) error {
	type ref struct{ path, key string }
	var refs []ref
	if d.Trigger != nil && d.Trigger.Kind == TriggerJourney {
		refs = append(refs, ref{rootPath + ".trigger.journey", d.Trigger.Journey})
	}
	_ = d.Walk(func(path string, s *Step) error {
		if s.Enroll != nil && s.Enroll.Journey != "" {
			refs = append(refs, ref{path + ".journey", s.Enroll.Journey})
		}
		return nil
	})
	if len(refs) == 0 {
		return nil
	}
	keys := make([]string, len(refs))
	for i, r := range refs {
		keys[i] = r.key
	}
	live, err := db.LiveJourneyKeys(ctx, idb, t, keys)
	if err != nil {
		return err
	}
	for _, r := range refs {
		if !slices.Contains(live, r.key) {
			return invalid.Field(r.path, "no such journey in this workspace (or it is archived)")
		}
	}
	return nil
}

// draftJSON validates a draft and returns its stored form.
func draftJSON(raw json.RawMessage, scope condition.Scope) (json.RawMessage, error) {
	d, err := ParseDraft(raw, scope)
	if err != nil {
		return nil, err
	}
	out, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode draft: %w", err)
	}
	return out, nil
}

func checkPlayName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > MaxNameLen {
		return "", invalid.Field("name", "must be 1 to %d characters", MaxNameLen)
	}
	return name, nil
}

func checkDescription(d string) error {
	if utf8.RuneCountInString(d) > MaxDescriptionLen {
		return invalid.Field("description", "must be at most %d characters", MaxDescriptionLen)
	}
	return nil
}

// nameConflict turns a duplicate name into bad input on name that is still a db.ErrConflict.
func nameConflict(err error) error {
	if errors.Is(err, db.ErrConflict) {
		return fmt.Errorf("%w: %w", db.ErrConflict, invalid.Field("name", "another play already has this name"))
	}
	return err
}

// refuse reports a change the play's status does not allow.
func refuse(msg string) error {
	return fmt.Errorf("%w: %w: %w", db.ErrConflict, ErrTransition, invalid.Field("status", "%s", msg))
}

// optionalUser is nil for uuid.Nil: changes made by an API key have no user.
func optionalUser(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}
