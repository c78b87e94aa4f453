// Package account owns Steward's customer records: accounts, their teams, contacts, timeline
// entries and recorded usage events. It validates input, decides derived values and runs each
// change in one transaction; the GraphQL layer only converts to and from it.
package account

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
)

// Limits on account input.
const (
	maxNameLen       = 200
	maxExternalIDLen = 200
	maxTags          = 50
	maxTagLen        = 64
	maxCustomBytes   = 16 << 10
)

// Stages are the lifecycle stages an account can be in.
var Stages = []string{"ONBOARDING", "ADOPTION", "GROWTH", "RENEWAL", "AT_RISK", "CHURNED"}

var (
	domainPattern   = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$`)
	currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)
)

// Service runs account changes. Now is the clock (injected so tests control time). Hooks, when
// set, are called inside the transactions of the changes they describe.
type Service struct {
	DB    *bun.DB
	Now   func() time.Time
	Hooks Hooks
}

// Hooks let other packages (the play executor) react to account changes in the same
// transaction, without this package importing them. A hook's error rolls the change back. Nil
// hooks do nothing.
type Hooks struct {
	// EventsRecorded receives the events RecordEvents stored (repeats excluded).
	EventsRecorded func(ctx context.Context, tx bun.Tx, t db.Tenant, events []db.Event) error
	// AccountChanged receives an account before and after a change of an existing account
	// (every change that locks it: Update, SetOwner, SetTeam, Archive, ChangeInTx).
	AccountChanged func(ctx context.Context, tx bun.Tx, t db.Tenant, before, after *db.Account) error
	// TimelineAdded receives a new timeline entry (a logged business review can meet a goal).
	TimelineAdded func(ctx context.Context, tx bun.Tx, t db.Tenant, entry *db.TimelineEntry) error
}

// And returns hooks that call h's hooks, then o's, for each change; the first error stops
// the chain (and rolls the change back). Nil hooks on either side are skipped. The server
// composes the play executor's hooks with the journey engine's this way.
func (h Hooks) And(o Hooks) Hooks {
	return Hooks{
		EventsRecorded: chain(h.EventsRecorded, o.EventsRecorded),
		AccountChanged: chain2(h.AccountChanged, o.AccountChanged),
		TimelineAdded:  chain(h.TimelineAdded, o.TimelineAdded),
	}
}

// chain calls a then b, skipping nil ones.
func chain[T any](a, b func(context.Context, bun.Tx, db.Tenant, T) error) func(context.Context, bun.Tx, db.Tenant, T) error {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	return func(ctx context.Context, tx bun.Tx, t db.Tenant, v T) error {
		if err := a(ctx, tx, t, v); err != nil {
			return err
		}
		return b(ctx, tx, t, v)
	}
}

// chain2 is chain for hooks with two values (before and after).
func chain2[T any](a, b func(context.Context, bun.Tx, db.Tenant, T, T) error) func(context.Context, bun.Tx, db.Tenant, T, T) error {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	return func(ctx context.Context, tx bun.Tx, t db.Tenant, v, w T) error {
		if err := a(ctx, tx, t, v, w); err != nil {
			return err
		}
		return b(ctx, tx, t, v, w)
	}
}

// Optional is a patch field: Set says whether the client sent it; a nil Value clears it.
type Optional[T any] struct {
	Set   bool
	Value *T
}

// Patch lists account fields to change. Pointer fields that are nil are left unchanged.
type Patch struct {
	Name        *string
	Domain      Optional[string]
	ExternalID  Optional[string]
	OwnerID     Optional[uuid.UUID]
	Stage       *string
	ARRMinor    *int64
	ARRCurrency *string
	RenewalDate Optional[time.Time]
	HealthScore Optional[int]
	Tags        *[]string
	Custom      *json.RawMessage
}

// Get loads one account.
func (s *Service) Get(ctx context.Context, t db.Tenant, id uuid.UUID) (*db.Account, error) {
	return db.GetAccount(ctx, s.DB, t, id)
}

// GetByExternalID loads the account a partner knows by externalID.
func (s *Service) GetByExternalID(ctx context.Context, t db.Tenant, externalID string) (*db.Account, error) {
	return db.GetAccountByExternalID(ctx, s.DB, t, externalID)
}

// List returns one page of accounts and whether more follow.
func (s *Service) List(ctx context.Context, t db.Tenant, p db.AccountPage) ([]db.AccountRow, bool, error) {
	return db.ListAccounts(ctx, s.DB, t, p)
}

// Count counts the accounts a filter matches.
func (s *Service) Count(ctx context.Context, t db.Tenant, f db.AccountFilter) (int, error) {
	return db.CountAccounts(ctx, s.DB, t, f)
}

// Create stores a new account; p.Name is required.
func (s *Service) Create(ctx context.Context, t db.Tenant, p Patch) (*db.Account, error) {
	if p.Name == nil {
		return nil, invalid.Field("name", "is required")
	}
	a := &db.Account{Stage: "ONBOARDING", ARRCurrency: "USD", Tags: []string{}, Custom: json.RawMessage("{}")}
	var out *db.Account
	err := db.InTx(ctx, s.DB, func(ctx context.Context, tx bun.Tx) error {
		if err := s.apply(ctx, tx, t, a, p); err != nil {
			return err
		}
		if err := db.InsertAccount(ctx, tx, t, a); err != nil {
			return conflictOn(err, "externalId", "another account already has this externalId")
		}
		out = a
		return nil
	})
	return out, err
}

// Update changes an account's fields.
func (s *Service) Update(ctx context.Context, t db.Tenant, id uuid.UUID, p Patch) (*db.Account, error) {
	return s.modify(ctx, t, id, func(ctx context.Context, tx bun.Tx, a *db.Account) error {
		return s.apply(ctx, tx, t, a, p)
	})
}

// UpsertByExternalID updates the account with this externalId, or creates it (then p.Name is
// required). Partners call it to sync their CRM.
func (s *Service) UpsertByExternalID(ctx context.Context, t db.Tenant, externalID string, p Patch) (*db.Account, error) {
	if err := validateExternalID(externalID); err != nil {
		return nil, invalid.Field("externalId", "%s", err)
	}
	p.ExternalID = Optional[string]{Set: true, Value: &externalID}
	for attempt := 0; ; attempt++ {
		existing, err := db.GetAccountByExternalID(ctx, s.DB, t, externalID)
		switch {
		case errors.Is(err, db.ErrNotFound):
			a, err := s.Create(ctx, t, p)
			// A concurrent upsert created it first: update that one instead.
			if errors.Is(err, db.ErrConflict) && attempt == 0 {
				continue
			}
			return a, err
		case err != nil:
			return nil, err
		default:
			return s.Update(ctx, t, existing.ID, p)
		}
	}
}

// Archive marks an account archived; archived accounts leave listings unless asked for.
func (s *Service) Archive(ctx context.Context, t db.Tenant, id uuid.UUID) (*db.Account, error) {
	return s.modify(ctx, t, id, func(_ context.Context, _ bun.Tx, a *db.Account) error {
		if a.ArchivedAt == nil {
			now := s.Now()
			a.ArchivedAt = &now
		}
		return nil
	})
}

// SetOwner makes userID (a member of the workspace) the account's owner, or clears it.
func (s *Service) SetOwner(ctx context.Context, t db.Tenant, id uuid.UUID, userID *uuid.UUID) (*db.Account, error) {
	return s.Update(ctx, t, id, Patch{OwnerID: Optional[uuid.UUID]{Set: true, Value: userID}})
}

// TeamAssignment puts a user on an account team in a team role.
type TeamAssignment struct {
	TeamRoleID uuid.UUID
	UserID     uuid.UUID
}

// SetTeam replaces the account's team in one transaction. Every role and user must belong to
// the workspace; repeated assignments are kept once.
func (s *Service) SetTeam(ctx context.Context, t db.Tenant, id uuid.UUID, members []TeamAssignment) (*db.Account, error) {
	return s.modify(ctx, t, id, func(ctx context.Context, tx bun.Tx, a *db.Account) error {
		roleIDs := make([]uuid.UUID, len(members))
		userIDs := make([]uuid.UUID, len(members))
		for i, m := range members {
			roleIDs[i], userIDs[i] = m.TeamRoleID, m.UserID
		}
		knownRoles, knownUsers := map[uuid.UUID]bool{}, map[uuid.UUID]bool{}
		if len(members) > 0 {
			roles, err := db.TeamRolesByIDs(ctx, tx, t, roleIDs)
			if err != nil {
				return err
			}
			for _, r := range roles {
				knownRoles[r.ID] = true
			}
			users, err := db.UsersByIDs(ctx, tx, t, userIDs)
			if err != nil {
				return err
			}
			for _, u := range users {
				knownUsers[u.ID] = true
			}
		}
		rows := make([]db.AccountTeamMember, 0, len(members))
		seen := map[TeamAssignment]bool{}
		for i, m := range members {
			switch {
			case !knownRoles[m.TeamRoleID]:
				return invalid.Field(fmt.Sprintf("members[%d].teamRoleId", i), "no such team role")
			case !knownUsers[m.UserID]:
				return invalid.Field(fmt.Sprintf("members[%d].userId", i), "no such user in this workspace")
			case seen[m]:
				continue
			}
			seen[m] = true
			rows = append(rows, db.AccountTeamMember{TeamRoleID: m.TeamRoleID, UserID: m.UserID})
		}
		return db.ReplaceAccountTeam(ctx, tx, t, a.ID, rows)
	})
}

func (s *Service) requireMember(ctx context.Context, idb bun.IDB, t db.Tenant, userID uuid.UUID, field string) error {
	_, err := db.GetMember(ctx, idb, t, userID)
	if errors.Is(err, db.ErrNotFound) {
		return invalid.Field(field, "no such user in this workspace")
	}
	return err
}

// modify locks the account, lets change edit it and writes it back, all in one transaction.
func (s *Service) modify(ctx context.Context, t db.Tenant, id uuid.UUID, change func(context.Context, bun.Tx, *db.Account) error) (*db.Account, error) {
	var out *db.Account
	err := db.InTx(ctx, s.DB, func(ctx context.Context, tx bun.Tx) error {
		a, err := s.modifyInTx(ctx, tx, t, id, change)
		out = a
		return err
	})
	return out, err
}

// ChangeInTx applies p to the account inside the caller's transaction (a play's
// UPDATE_ACCOUNT step), calling the AccountChanged hook like Update does.
func (s *Service) ChangeInTx(ctx context.Context, tx bun.Tx, t db.Tenant, id uuid.UUID, p Patch) (*db.Account, error) {
	return s.modifyInTx(ctx, tx, t, id, func(ctx context.Context, tx bun.Tx, a *db.Account) error {
		return s.apply(ctx, tx, t, a, p)
	})
}

func (s *Service) modifyInTx(ctx context.Context, tx bun.Tx, t db.Tenant, id uuid.UUID, change func(context.Context, bun.Tx, *db.Account) error) (*db.Account, error) {
	a, err := db.GetAccountForUpdate(ctx, tx, t, id)
	if err != nil {
		return nil, err
	}
	before := *a
	if err := change(ctx, tx, a); err != nil {
		return nil, err
	}
	if err := db.UpdateAccount(ctx, tx, t, a); err != nil {
		return nil, conflictOn(err, "externalId", "another account already has this externalId")
	}
	if s.Hooks.AccountChanged != nil {
		if err := s.Hooks.AccountChanged(ctx, tx, t, &before, a); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// apply validates p and copies it onto a.
func (s *Service) apply(ctx context.Context, idb bun.IDB, t db.Tenant, a *db.Account, p Patch) error {
	if p.Name != nil {
		name := strings.TrimSpace(*p.Name)
		if name == "" || len(name) > maxNameLen {
			return invalid.Field("name", "must be 1 to %d characters", maxNameLen)
		}
		a.Name = name
	}
	if p.Domain.Set {
		a.Domain = nil
		if p.Domain.Value != nil && *p.Domain.Value != "" {
			d := strings.ToLower(strings.TrimSpace(*p.Domain.Value))
			if len(d) > 253 || !domainPattern.MatchString(d) {
				return invalid.Field("domain", "must be a domain name such as example.com")
			}
			a.Domain = &d
		}
	}
	if p.ExternalID.Set {
		a.ExternalID = nil
		if p.ExternalID.Value != nil {
			if err := validateExternalID(*p.ExternalID.Value); err != nil {
				return invalid.Field("externalId", "%s", err)
			}
			a.ExternalID = p.ExternalID.Value
		}
	}
	if p.OwnerID.Set {
		if p.OwnerID.Value != nil {
			if err := s.requireMember(ctx, idb, t, *p.OwnerID.Value, "ownerId"); err != nil {
				return err
			}
		}
		a.OwnerID = p.OwnerID.Value
	}
	if p.Stage != nil {
		if !slices.Contains(Stages, *p.Stage) {
			return invalid.Field("stage", "must be one of %s", strings.Join(Stages, ", "))
		}
		a.Stage = *p.Stage
	}
	if p.ARRMinor != nil {
		if *p.ARRMinor < 0 {
			return invalid.Field("arrMinor", "must not be negative")
		}
		a.ARRMinor = *p.ARRMinor
	}
	if p.ARRCurrency != nil {
		if !currencyPattern.MatchString(*p.ARRCurrency) {
			return invalid.Field("arrCurrency", "must be an ISO 4217 code such as USD")
		}
		a.ARRCurrency = *p.ARRCurrency
	}
	if p.RenewalDate.Set {
		a.RenewalDate = p.RenewalDate.Value
	}
	if p.HealthScore.Set {
		if v := p.HealthScore.Value; v != nil && (*v < 0 || *v > 100) {
			return invalid.Field("healthScore", "must be between 0 and 100")
		}
		a.HealthScore = p.HealthScore.Value
	}
	if p.Tags != nil {
		tags, err := normalizeTags(*p.Tags)
		if err != nil {
			return invalid.Field("tags", "%s", err)
		}
		a.Tags = tags
	}
	if p.Custom != nil {
		if err := validateCustom(*p.Custom); err != nil {
			return invalid.Field("customAttributes", "%s", err)
		}
		a.Custom = *p.Custom
	}
	return nil
}

func validateExternalID(id string) error {
	if strings.TrimSpace(id) == "" || len(id) > maxExternalIDLen {
		return fmt.Errorf("must be 1 to %d characters", maxExternalIDLen)
	}
	return nil
}

func normalizeTags(in []string) ([]string, error) {
	if len(in) > maxTags {
		return nil, fmt.Errorf("at most %d tags", maxTags)
	}
	out := make([]string, 0, len(in))
	for _, tag := range in {
		tag = strings.TrimSpace(tag)
		if tag == "" || len(tag) > maxTagLen {
			return nil, fmt.Errorf("each tag must be 1 to %d characters", maxTagLen)
		}
		if !slices.Contains(out, tag) {
			out = append(out, tag)
		}
	}
	return out, nil
}

func validateCustom(raw json.RawMessage) error {
	if len(raw) > maxCustomBytes {
		return fmt.Errorf("must be at most %d bytes of JSON", maxCustomBytes)
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return fmt.Errorf("must be a JSON object")
	}
	return nil
}

// conflictOn turns a unique-key conflict into bad input on field; other errors pass through.
func conflictOn(err error, field, msg string) error {
	if errors.Is(err, db.ErrConflict) {
		return fmt.Errorf("%w: %w", db.ErrConflict, invalid.Field(field, "%s", msg))
	}
	return err
}
