package graph

import (
	"time"

	"github.com/stewardhq/steward/account"
	"github.com/stewardhq/steward/auth"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/graph/model"
)

// Converters between database rows and API types. Database rows never leave the graph
// package as API types, and API input never reaches the database unvalidated.

func toGraphAccount(a *db.Account) *model.Account {
	out := &model.Account{
		ID:               globalID(kindAccount, a.ID),
		DBID:             a.ID,
		OwnerID:          a.OwnerID,
		Name:             a.Name,
		Domain:           a.Domain,
		ExternalID:       a.ExternalID,
		Stage:            model.LifecycleStage(a.Stage),
		Arr:              &model.Money{AmountMinor: int(a.ARRMinor), Currency: a.ARRCurrency},
		HealthScore:      a.HealthScore,
		Tags:             a.Tags,
		CustomAttributes: model.JSON(a.Custom),
		LastLoginAt:      a.LastLoginAt,
		LastActivityAt:   a.LastActivityAt,
		CreatedAt:        a.CreatedAt,
		UpdatedAt:        a.UpdatedAt,
		ArchivedAt:       a.ArchivedAt,
	}
	if a.RenewalDate != nil {
		out.RenewalDate = &model.Date{Time: *a.RenewalDate}
	}
	return out
}

func toGraphContact(c *db.Contact) *model.Contact {
	return &model.Contact{
		ID:               globalID(kindContact, c.ID),
		DBID:             c.ID,
		AccountID:        c.AccountID,
		Name:             c.Name,
		Email:            c.Email,
		Title:            c.Title,
		Persona:          c.Persona,
		LastSeenAt:       c.LastSeenAt,
		EmailOptOut:      c.EmailOptOut,
		CustomAttributes: model.JSON(c.Custom),
		CreatedAt:        c.CreatedAt,
		UpdatedAt:        c.UpdatedAt,
		ArchivedAt:       c.ArchivedAt,
	}
}

func toGraphTimelineEntry(e *db.TimelineEntry) *model.TimelineEntry {
	return &model.TimelineEntry{
		ID:         globalID(kindTimelineEntry, e.ID),
		DBID:       e.ID,
		AccountID:  e.AccountID,
		AuthorID:   e.AuthorID,
		Kind:       model.TimelineKind(e.Kind),
		OccurredAt: e.OccurredAt,
		Body:       e.Body,
		CreatedAt:  e.CreatedAt,
	}
}

func toGraphUser(m *db.Member) *model.User {
	return &model.User{
		ID:       globalID(kindUser, m.ID),
		DBID:     m.ID,
		Email:    m.Email,
		Name:     m.Name,
		Role:     model.Role(m.Role),
		Disabled: m.DisabledAt != nil,
	}
}

func toGraphTeamRole(r *db.TeamRole) *model.TeamRole {
	return &model.TeamRole{ID: globalID(kindTeamRole, r.ID), DBID: r.ID, Key: r.Key, Name: r.Name}
}

func toGraphWorkspace(w *db.Workspace) *model.Workspace {
	return &model.Workspace{ID: globalID(kindWorkspace, w.ID), DBID: w.ID, Name: w.Name}
}

// apiScopes maps GraphQL scope enums to stored scope names and back.
var apiScopes = map[model.APIKeyScope]string{
	model.APIKeyScopeRead:        auth.ScopeRead,
	model.APIKeyScopeWrite:       auth.ScopeWrite,
	model.APIKeyScopeEventsWrite: auth.ScopeEventsWrite,
	model.APIKeyScopeInApp:       auth.ScopeInApp,
}

func toGraphAPIKey(k *db.APIKey) *model.APIKey {
	out := &model.APIKey{
		ID:         globalID(kindAPIKey, k.ID),
		DBID:       k.ID,
		Name:       k.Name,
		Prefix:     k.Prefix,
		CreatedAt:  k.CreatedAt,
		LastUsedAt: k.LastUsedAt,
		RevokedAt:  k.RevokedAt,
	}
	for _, s := range k.Scopes {
		for gql, stored := range apiScopes {
			if stored == s {
				out.Scopes = append(out.Scopes, gql)
			}
		}
	}
	return out
}

func toStoredScopes(in []model.APIKeyScope) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = apiScopes[s]
	}
	return out
}

func toGraphAuthPayload(s *auth.Session, u *db.Member) *model.AuthPayload {
	return &model.AuthPayload{
		AccessToken:  s.AccessToken,
		RefreshToken: s.RefreshToken,
		ExpiresAt:    s.ExpiresAt,
		User:         toGraphUser(u),
	}
}

func toAccountFilter(f *model.AccountFilter) (db.AccountFilter, error) {
	if f == nil {
		return db.AccountFilter{}, nil
	}
	out := db.AccountFilter{
		HealthBelow:     f.HealthBelow,
		LastLoginBefore: f.LastLoginBefore,
	}
	if f.Search != nil {
		out.Search = *f.Search
	}
	if f.Tag != nil {
		out.Tag = *f.Tag
	}
	if f.IncludeArchived != nil {
		out.IncludeArchived = *f.IncludeArchived
	}
	if f.OwnerID != nil {
		id, err := parseInputID(*f.OwnerID, kindUser, "filter.ownerId")
		if err != nil {
			return out, err
		}
		out.OwnerID = &id
	}
	for _, s := range f.Stage {
		out.Stages = append(out.Stages, string(s))
	}
	if f.RenewalBefore != nil {
		out.RenewalBefore = &f.RenewalBefore.Time
	}
	return out, nil
}

func dateValue(d *model.Date) *time.Time {
	if d == nil {
		return nil
	}
	return &d.Time
}

// optional converts a nullable input field to a patch field: absent leaves the value alone,
// null clears it.
func optional[T any](v *T, set bool) account.Optional[T] {
	return account.Optional[T]{Set: set, Value: v}
}
