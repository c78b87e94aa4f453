package journey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
)

// Limits on a journey's own fields.
const (
	MaxNameLen        = 200
	MaxDescriptionLen = 2000
	// versionCacheSize bounds how many parsed versions a Definitions keeps.
	versionCacheSize = 512
)

// stagePattern is what a journey's stage looks like: an upper-case handle such as ONBOARDING,
// RENEWAL or RELAUNCH (the account stages and others).
var stagePattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,39}$`)

// ErrTransition means the journey's status does not allow the change asked for (pausing a
// DRAFT, editing an ARCHIVED journey...). Such errors also wrap db.ErrConflict and an
// *invalid.Error on "status" that says why, so the API answers CONFLICT with a readable
// message.
var ErrTransition = errors.New("journey status does not allow this change")

// Definitions stores journeys and their versions: drafts and their editing, publishing, status
// changes, copies, and the published definitions the enrolment engine reads. Each change runs
// in one transaction with the journey's row locked. Now is the clock; Log receives warnings
// about stored versions that no longer parse (nil means slog.Default()). Parsed versions are
// cached (they never change); use a Definitions by pointer and share it.
type Definitions struct {
	DB  *bun.DB
	Now func() time.Time
	Log *slog.Logger

	mu    sync.Mutex
	cache map[versionKey]*cachedVersion
}

type versionKey struct {
	workspace, journey uuid.UUID
	version            int
}

type cachedVersion struct {
	version *db.JourneyVersion
	def     *Definition
}

// NewJourney is what Create needs. Key is made from Name when empty. Definition may be nil (an
// empty draft) or an incomplete draft.
type NewJourney struct {
	Key         string
	Name        string
	Description string
	// Stage is the life-cycle stage the journey covers: ONBOARDING, ADOPTION, RENEWAL...
	Stage      string
	Definition json.RawMessage
}

// Patch lists changes to a journey's own fields; nil fields are left unchanged. They apply at
// once (they are not versioned).
type Patch struct {
	Name        *string
	Description *string
	Stage       *string
}

// Settings lists changes to the draft's settings; nil fields are left unchanged. Trigger and
// Reentry are JSON as in a definition; the JSON null removes the trigger or resets the
// re-entry policy to its default.
type Settings struct {
	Trigger     json.RawMessage
	Reentry     json.RawMessage
	StallAfter  *string
	AtRiskShare *float64
}

// ListFilter narrows List; zero fields do not filter.
type ListFilter struct {
	// Status keeps journeys of one status; empty keeps every status but ARCHIVED.
	Status string
	Stage  string
}

// Published is a published version of a journey, parsed, as enrolments run it. Version and
// Definition may be shared with other callers (they are cached): do not modify them.
type Published struct {
	Journey    *db.Journey
	Version    *db.JourneyVersion
	Definition *Definition
}

// Create stores a new journey in DRAFT status. Its definition is validated as a draft.
func (s *Definitions) Create(ctx context.Context, t db.Tenant, by uuid.UUID, in NewJourney) (*db.Journey, error) {
	name, err := checkName(in.Name)
	if err != nil {
		return nil, err
	}
	if err := checkDescription(in.Description); err != nil {
		return nil, err
	}
	if err := checkStage(in.Stage); err != nil {
		return nil, err
	}
	raw := in.Definition
	if len(raw) == 0 {
		raw = json.RawMessage("{}")
	}
	draft, err := draftJSON(raw)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	j := &db.Journey{
		Name: name, Description: in.Description, Stage: in.Stage, Status: db.JourneyDraft,
		Draft: draft, DraftUpdatedAt: &now, CreatedBy: userOrNil(by),
	}
	err = db.InTx(ctx, s.DB, func(ctx context.Context, tx bun.Tx) error {
		if j.Key, err = s.journeyKey(ctx, tx, t, in.Key, name, "key"); err != nil {
			return err
		}
		return uniqueConflict(db.InsertJourney(ctx, tx, t, j))
	})
	if err != nil {
		return nil, err
	}
	return j, nil
}

// Copy makes a new DRAFT journey from the journey id: its draft is a copy of the source's
// draft (or of its latest version when it has no pending edits), with the same milestone and
// step keys, the source's description and stage, and copiedFrom set (version 0 for a draft).
// The copy and the source are independent from then on. key is made from name when empty.
func (s *Definitions) Copy(ctx context.Context, t db.Tenant, id uuid.UUID, name, key string, by uuid.UUID) (*db.Journey, error) {
	name, err := checkName(name)
	if err != nil {
		return nil, err
	}
	var out *db.Journey
	err = db.InTx(ctx, s.DB, func(ctx context.Context, tx bun.Tx) error {
		src, err := db.GetJourney(ctx, tx, t, id)
		if err != nil {
			return err
		}
		raw, fromVersion := src.Draft, 0
		if raw == nil {
			v, err := db.GetJourneyVersion(ctx, tx, t, src.ID, src.LatestVersion)
			if err != nil {
				return err
			}
			raw, fromVersion = v.Definition, v.Version
		}
		draft, err := draftJSON(raw)
		if err != nil {
			return fmt.Errorf("copy journey %s: %w", src.ID, err)
		}
		now := s.Now()
		j := &db.Journey{
			Name: name, Description: src.Description, Stage: src.Stage, Status: db.JourneyDraft,
			Draft: draft, DraftUpdatedAt: &now, CreatedBy: userOrNil(by),
			CopiedFromID: &src.ID, CopiedFromVersion: &fromVersion,
		}
		if j.Key, err = s.journeyKey(ctx, tx, t, key, name, "key"); err != nil {
			return err
		}
		if err := uniqueConflict(db.InsertJourney(ctx, tx, t, j)); err != nil {
			return err
		}
		out = j
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Update changes a journey's name, description or stage. An ARCHIVED journey cannot change.
func (s *Definitions) Update(ctx context.Context, t db.Tenant, id uuid.UUID, patch Patch) (*db.Journey, error) {
	return s.modify(ctx, t, id, func(_ context.Context, _ bun.Tx, j *db.Journey) error {
		if j.Status == db.JourneyArchived {
			return refuse("an archived journey cannot be edited")
		}
		if patch.Name != nil {
			name, err := checkName(*patch.Name)
			if err != nil {
				return err
			}
			j.Name = name
		}
		if patch.Description != nil {
			if err := checkDescription(*patch.Description); err != nil {
				return err
			}
			j.Description = *patch.Description
		}
		if patch.Stage != nil {
			if err := checkStage(*patch.Stage); err != nil {
				return err
			}
			j.Stage = *patch.Stage
		}
		return nil
	})
}

// UpdateSettings changes the draft's trigger, re-entry policy, stall time or at-risk share.
func (s *Definitions) UpdateSettings(ctx context.Context, t db.Tenant, id uuid.UUID, in Settings) (*db.Journey, error) {
	return s.editDraft(ctx, t, id, func(d *draftDoc) error {
		if in.Trigger != nil {
			d.set("trigger", in.Trigger)
		}
		if in.Reentry != nil {
			d.set("reentry", in.Reentry)
		}
		if in.StallAfter != nil {
			d.set("stallAfter", mustJSON(*in.StallAfter))
		}
		if in.AtRiskShare != nil {
			d.set("atRiskShare", mustJSON(*in.AtRiskShare))
		}
		return nil
	})
}

// DiscardDraft drops a published journey's pending edits. A journey that was never published
// has nothing but its draft, so it is refused there (archive it instead); a journey without
// pending edits is returned unchanged.
func (s *Definitions) DiscardDraft(ctx context.Context, t db.Tenant, id uuid.UUID) (*db.Journey, error) {
	return s.modify(ctx, t, id, func(_ context.Context, _ bun.Tx, j *db.Journey) error {
		switch j.Status {
		case db.JourneyArchived:
			return refuse("an archived journey cannot be edited")
		case db.JourneyDraft:
			return refuse("a journey that was never published has only its draft; archive the journey instead")
		}
		j.Draft, j.DraftUpdatedAt = nil, nil
		return nil
	})
}

// Publish freezes the journey's draft as its next version (latest + 1) and returns the journey
// as it is afterwards. The draft must be a complete, valid definition (errors name paths under
// "definition"), and what it refers to must exist: team roles, users as enabled members, and
// LAUNCH_PLAY plays as ACCOUNT-scope plays that are not archived. A DRAFT journey becomes
// ACTIVE; an ACTIVE or PAUSED one keeps its status, and enrolments stay on their version.
func (s *Definitions) Publish(ctx context.Context, t db.Tenant, id uuid.UUID, by uuid.UUID) (*db.Journey, error) {
	return s.modify(ctx, t, id, func(ctx context.Context, tx bun.Tx, j *db.Journey) error {
		if j.Status == db.JourneyArchived {
			return refuse("an archived journey cannot be published")
		}
		if j.Draft == nil {
			return refuse("the journey has no unpublished changes")
		}
		def, err := ParseDefinition(j.Draft)
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
		v := &db.JourneyVersion{
			JourneyID: j.ID, Version: j.LatestVersion + 1, Definition: stored,
			PublishedAt: s.Now(), PublishedBy: userOrNil(by),
		}
		if err := db.InsertJourneyVersion(ctx, tx, t, v); err != nil {
			return err
		}
		kind := string(def.Trigger.Kind)
		j.LatestVersion = v.Version
		j.Draft, j.DraftUpdatedAt = nil, nil
		j.TriggerKind, j.TriggerEvent, j.TriggerField = &kind, nil, nil
		if def.Trigger.Event != "" {
			j.TriggerEvent = &def.Trigger.Event
		}
		if def.Trigger.Field != "" {
			j.TriggerField = &def.Trigger.Field
		}
		if j.Status == db.JourneyDraft {
			j.Status = db.JourneyActive
		}
		return nil
	})
}

// Pause stops an ACTIVE journey from enrolling accounts; pausing a PAUSED journey changes
// nothing. A DRAFT journey has nothing to pause and an ARCHIVED one cannot change.
func (s *Definitions) Pause(ctx context.Context, t db.Tenant, id uuid.UUID) (*db.Journey, error) {
	return s.modify(ctx, t, id, func(_ context.Context, _ bun.Tx, j *db.Journey) error {
		switch j.Status {
		case db.JourneyDraft:
			return refuse("a DRAFT journey has nothing to pause; publish it first")
		case db.JourneyArchived:
			return refuse("an archived journey cannot be paused")
		}
		j.Status = db.JourneyPaused
		return nil
	})
}

// Resume makes a PAUSED journey ACTIVE again; resuming an ACTIVE journey changes nothing. A
// DRAFT journey becomes ACTIVE by publishing it; an ARCHIVED one cannot change.
func (s *Definitions) Resume(ctx context.Context, t db.Tenant, id uuid.UUID) (*db.Journey, error) {
	return s.modify(ctx, t, id, func(_ context.Context, _ bun.Tx, j *db.Journey) error {
		switch j.Status {
		case db.JourneyDraft:
			return refuse("a DRAFT journey is activated by publishing it")
		case db.JourneyArchived:
			return refuse("an archived journey cannot be resumed")
		}
		j.Status = db.JourneyActive
		return nil
	})
}

// Archive retires a journey for good, whatever its status (archiving twice changes nothing).
// Its versions are kept; its key and name become free for a new journey. Live enrolments are
// the enrolment engine's business.
func (s *Definitions) Archive(ctx context.Context, t db.Tenant, id uuid.UUID) (*db.Journey, error) {
	return s.modify(ctx, t, id, func(_ context.Context, _ bun.Tx, j *db.Journey) error {
		if j.Status != db.JourneyArchived {
			now := s.Now()
			j.Status, j.ArchivedAt = db.JourneyArchived, &now
		}
		return nil
	})
}

// Get loads one journey.
func (s *Definitions) Get(ctx context.Context, t db.Tenant, id uuid.UUID) (*db.Journey, error) {
	return db.GetJourney(ctx, s.DB, t, id)
}

// List returns the journeys f matches, by name.
func (s *Definitions) List(ctx context.Context, t db.Tenant, f ListFilter) ([]db.Journey, error) {
	return db.ListJourneys(ctx, s.DB, t, db.JourneyFilter{Status: f.Status, Stage: f.Stage})
}

// Version loads one published version of a journey.
func (s *Definitions) Version(ctx context.Context, t db.Tenant, journeyID uuid.UUID, version int) (*db.JourneyVersion, error) {
	return db.GetJourneyVersion(ctx, s.DB, t, journeyID, version)
}

// Versions lists a journey's published versions, newest first.
func (s *Definitions) Versions(ctx context.Context, t db.Tenant, journeyID uuid.UUID) ([]db.JourneyVersion, error) {
	return db.ListJourneyVersions(ctx, s.DB, t, journeyID)
}

// Draft returns the journey's pending draft, parsed; nil when it has no pending edits.
func Draft(j *db.Journey) (*Definition, error) {
	if j.Draft == nil {
		return nil, nil
	}
	d, err := ParseDraft(j.Draft)
	if err != nil {
		return nil, fmt.Errorf("parse draft of journey %s: %w", j.ID, err)
	}
	return d, nil
}

// Load returns one published version of a journey, parsed: what an enrolment pinned to that
// version runs. It reads through idb, so it can run inside the caller's transaction; the
// journey row is read every time, the version is parsed once and cached.
func (s *Definitions) Load(ctx context.Context, idb bun.IDB, t db.Tenant, journeyID uuid.UUID, version int) (*Published, error) {
	j, err := db.GetJourney(ctx, idb, t, journeyID)
	if err != nil {
		return nil, err
	}
	key := versionKey{t.WorkspaceID, journeyID, version}
	if c := s.cached(key); c != nil {
		return &Published{Journey: j, Version: c.version, Definition: c.def}, nil
	}
	v, err := db.GetJourneyVersion(ctx, idb, t, journeyID, version)
	if err != nil {
		return nil, err
	}
	c, err := s.parseVersion(v)
	if err != nil {
		return nil, err
	}
	return &Published{Journey: j, Version: c.version, Definition: c.def}, nil
}

// ByKey returns the latest version of the ACTIVE journey with key, parsed; db.ErrNotFound
// when no journey with the key is ACTIVE (a PAUSED one included).
func (s *Definitions) ByKey(ctx context.Context, idb bun.IDB, t db.Tenant, key string) (*Published, error) {
	j, err := db.GetJourneyByKey(ctx, idb, t, key)
	if err != nil {
		return nil, err
	}
	if j.Status != db.JourneyActive {
		return nil, fmt.Errorf("journey %q is %s: %w", key, j.Status, db.ErrNotFound)
	}
	return s.Load(ctx, idb, t, j.ID, j.LatestVersion)
}

// ActiveByEvent returns the ACTIVE journeys whose latest version enrols on events called
// eventName, parsed. Property filters are not applied: ask each Trigger.MatchesEvent.
func (s *Definitions) ActiveByEvent(ctx context.Context, idb bun.IDB, t db.Tenant, eventName string) ([]Published, error) {
	rows, err := db.ActiveJourneysByEvent(ctx, idb, t, eventName)
	if err != nil {
		return nil, err
	}
	return s.parsePublished(ctx, rows), nil
}

// ActiveByField returns the ACTIVE journeys whose latest version enrols on changes of field
// ("account.stage"), parsed. From and To are not applied: ask each Trigger.MatchesChange.
func (s *Definitions) ActiveByField(ctx context.Context, idb bun.IDB, t db.Tenant, field string) ([]Published, error) {
	rows, err := db.ActiveJourneysByField(ctx, idb, t, field)
	if err != nil {
		return nil, err
	}
	return s.parsePublished(ctx, rows), nil
}

// parsePublished parses each row's version. A stored version that no longer parses is logged
// and left out, so that one journey cannot stop every other journey of an event.
func (s *Definitions) parsePublished(ctx context.Context, rows []db.PublishedJourney) []Published {
	out := make([]Published, 0, len(rows))
	for i := range rows {
		r := &rows[i]
		if r.Current == nil {
			s.logger().WarnContext(ctx, "active journey has no published version",
				slog.String("workspace_id", r.WorkspaceID.String()), slog.String("journey_id", r.ID.String()))
			continue
		}
		c := s.cached(versionKey{r.WorkspaceID, r.ID, r.Current.Version})
		if c == nil {
			var err error
			if c, err = s.parseVersion(r.Current); err != nil {
				s.logger().WarnContext(ctx, "skipping journey version that does not parse",
					slog.String("workspace_id", r.WorkspaceID.String()), slog.String("journey_id", r.ID.String()),
					slog.Int("version", r.Current.Version), slog.Any("error", err))
				continue
			}
		}
		j := r.Journey
		out = append(out, Published{Journey: &j, Version: c.version, Definition: c.def})
	}
	return out
}

func (s *Definitions) cached(k versionKey) *cachedVersion {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cache[k]
}

// parseVersion parses a stored version and caches it. When the cache is full an arbitrary
// entry makes room: versions are small and re-parsing is cheap, the cache only saves it on
// hot paths.
func (s *Definitions) parseVersion(v *db.JourneyVersion) (*cachedVersion, error) {
	def, err := ParseDefinition(v.Definition)
	if err != nil {
		return nil, fmt.Errorf("parse journey %s version %d: %w", v.JourneyID, v.Version, err)
	}
	c := &cachedVersion{version: v, def: def}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cache == nil {
		s.cache = map[versionKey]*cachedVersion{}
	}
	if len(s.cache) >= versionCacheSize {
		for k := range s.cache {
			delete(s.cache, k)
			break
		}
	}
	s.cache[versionKey{v.WorkspaceID, v.JourneyID, v.Version}] = c
	return c, nil
}

func (s *Definitions) logger() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// modify locks the journey, lets change edit it and writes it back, in one transaction.
func (s *Definitions) modify(ctx context.Context, t db.Tenant, id uuid.UUID, change func(context.Context, bun.Tx, *db.Journey) error) (*db.Journey, error) {
	var out *db.Journey
	err := db.InTx(ctx, s.DB, func(ctx context.Context, tx bun.Tx) error {
		j, err := db.GetJourneyForUpdate(ctx, tx, t, id)
		if err != nil {
			return err
		}
		if err := change(ctx, tx, j); err != nil {
			return err
		}
		if err := db.UpdateJourney(ctx, tx, t, j); err != nil {
			return uniqueConflict(err)
		}
		out = j
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// journeyKey validates key, or makes one from name that no other journey (but archived ones)
// uses yet.
func (s *Definitions) journeyKey(ctx context.Context, idb bun.IDB, t db.Tenant, key, name, field string) (string, error) {
	if key != "" {
		if !KeyPattern.MatchString(key) {
			return "", invalid.Field(field, keyHint)
		}
		return key, nil
	}
	base := Slug(name, "journey")
	var keys []string
	err := t.Select(idb, (*db.Journey)(nil)).Column("j.key").
		Where("j.archived_at IS NULL AND (j.key = ? OR j.key LIKE ?)", base, base+"-%").
		Scan(ctx, &keys)
	if err != nil {
		return "", fmt.Errorf("list journey keys: %w", err)
	}
	used := map[string]string{}
	for _, k := range keys {
		used[k] = ""
	}
	return freeKey(base, used), nil
}

// draftJSON validates a draft and returns its stored form.
func draftJSON(raw json.RawMessage) (json.RawMessage, error) {
	d, err := ParseDraft(raw)
	if err != nil {
		return nil, err
	}
	out, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode draft: %w", err)
	}
	return out, nil
}

func checkName(name string) (string, error) {
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

func checkStage(stage string) error {
	if !stagePattern.MatchString(stage) {
		return invalid.Field("stage", "must be an upper-case stage name such as ONBOARDING, ADOPTION or RENEWAL (A-Z, 0-9 and _, at most 40)")
	}
	return nil
}

// uniqueConflict turns a duplicate key or name into bad input on that field that is still a
// db.ErrConflict.
func uniqueConflict(err error) error {
	if !errors.Is(err, db.ErrConflict) {
		return err
	}
	if strings.Contains(err.Error(), "journeys_key") {
		return fmt.Errorf("%w: %w", db.ErrConflict, invalid.Field("key", "another journey already has this key"))
	}
	return fmt.Errorf("%w: %w", db.ErrConflict, invalid.Field("name", "another journey already has this name"))
}

// refuse reports a change the journey's status does not allow.
func refuse(msg string) error {
	return fmt.Errorf("%w: %w: %w", db.ErrConflict, ErrTransition, invalid.Field("status", "%s", msg))
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode %T: %v", v, err))
	}
	return b
}
