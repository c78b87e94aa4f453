package play

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/condition"
	"github.com/stewardhq/steward/db"
)

// OnJourneyEvent starts the ACTIVE plays whose JOURNEY trigger matches ev (journey key, kind
// and milestone) for ev.AccountID, in tx: the journey engine's transaction that made the
// change, so a rolled-back change starts nothing. An ACCOUNT play starts for the account, a
// CONTACT play for every live contact of the account; each start goes through the entry
// condition and the re-entry policy like any other trigger. Then, as journey state may be part
// of a goal or exit, the account's active runs whose goal or exit now holds are ended.
//
// ev.JourneyKey names the journey; when it is empty the key is read by ev.JourneyID.
func (e *Engine) OnJourneyEvent(ctx context.Context, tx bun.Tx, t db.Tenant, ev JourneyEvent) error {
	now := e.now()
	if ev.JourneyKey == "" {
		key, err := db.JourneyKeyByID(ctx, tx, t, ev.JourneyID)
		if err != nil {
			return fmt.Errorf("journey event: %w", err)
		}
		ev.JourneyKey = key
	}
	plays, err := e.Definitions.ActiveByJourney(ctx, tx, t, ev.JourneyKey)
	if err != nil {
		return err
	}
	var contacts []db.Contact
	contactsLoaded := false
	for i := range plays {
		pub := &plays[i]
		if !pub.Definition.Trigger.MatchesJourney(ev) {
			continue
		}
		info := TriggerInfo{Kind: TriggerJourney, Journey: ev.JourneyKey, JourneyEvent: ev.Kind, Milestone: ev.Milestone}
		if ev.EnrollmentID != uuid.Nil {
			id := ev.EnrollmentID
			info.EnrollmentID = &id
		}
		if pub.Play.Scope == string(condition.ScopeAccount) {
			if _, err := e.start(ctx, tx, t, pub, ev.AccountID, nil, info, now); err != nil {
				return fmt.Errorf("start play %s: %w", pub.Play.ID, err)
			}
			continue
		}
		if !contactsLoaded {
			if contacts, err = db.LiveContactsOfAccount(ctx, tx, t, ev.AccountID); err != nil {
				return err
			}
			contactsLoaded = true
		}
		for _, c := range contacts {
			if _, err := e.start(ctx, tx, t, pub, ev.AccountID, &c.ID, info, now); err != nil {
				return fmt.Errorf("start play %s: %w", pub.Play.ID, err)
			}
		}
	}
	return e.checkRuns(ctx, tx, t, []uuid.UUID{ev.AccountID}, now)
}
