package play

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/condition"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
)

// MaxLaunchSubjects bounds one Launch.
const MaxLaunchSubjects = 1000

// Launch starts a MANUAL play for the given accounts (ACCOUNT plays) or contacts (CONTACT
// plays) in one transaction, with their first step jobs. The entry condition and the re-entry
// policy are honoured: subjects they refuse get no run, and only the started runs are
// returned. A subject that is not a live account or contact of the workspace is invalid input
// naming its index ("subjectIds[2]"); the play must be ACTIVE with a MANUAL trigger.
func (e *Engine) Launch(ctx context.Context, t db.Tenant, playID uuid.UUID, subjectIDs []uuid.UUID) ([]db.PlayRun, error) {
	if len(subjectIDs) == 0 || len(subjectIDs) > MaxLaunchSubjects {
		return nil, invalid.Field("subjectIds", "give 1 to %d subjects", MaxLaunchSubjects)
	}
	out := []db.PlayRun{}
	err := db.InTx(ctx, e.DB, func(ctx context.Context, tx bun.Tx) error {
		p, err := db.GetPlayForUpdate(ctx, tx, t, playID)
		if err != nil {
			return err
		}
		if p.Status != db.PlayActive {
			return invalid.Field("playId", "the play is not active")
		}
		pub, err := e.Definitions.Load(ctx, tx, t, playID, p.LatestVersion)
		if err != nil {
			return err
		}
		if pub.Definition.Trigger == nil || pub.Definition.Trigger.Kind != TriggerManual {
			return invalid.Field("playId", "only plays with a MANUAL trigger can be launched")
		}
		now := e.now()
		for i, id := range subjectIDs {
			accountID, contactID, err := liveSubject(ctx, tx, t, condition.Scope(p.Scope), id)
			if errors.Is(err, db.ErrNotFound) {
				return invalid.Field(fmt.Sprintf("subjectIds[%d]", i), "no such live %s", p.Scope)
			}
			if err != nil {
				return err
			}
			r, err := e.start(ctx, tx, t, pub, accountID, contactID, TriggerInfo{Kind: TriggerManual}, now)
			if err != nil {
				return err
			}
			if r != nil {
				out = append(out, *r)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// liveSubject resolves a subject id of scope to its account (and contact).
func liveSubject(ctx context.Context, idb bun.IDB, t db.Tenant, scope condition.Scope, id uuid.UUID) (uuid.UUID, *uuid.UUID, error) {
	if scope == condition.ScopeContact {
		c, err := db.GetContact(ctx, idb, t, id)
		if err != nil {
			return uuid.Nil, nil, err
		}
		if c.ArchivedAt != nil {
			return uuid.Nil, nil, db.ErrNotFound
		}
		return c.AccountID, &c.ID, nil
	}
	a, err := db.GetAccount(ctx, idb, t, id)
	if err != nil {
		return uuid.Nil, nil, err
	}
	if a.ArchivedAt != nil {
		return uuid.Nil, nil, db.ErrNotFound
	}
	return a.ID, nil, nil
}
