package play

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/condition"
	"github.com/stewardhq/steward/db"
)

// The functions below let another engine (journeys) perform a play step's effect for an
// account, outside any play run, with the executor's own delivery: the same templates,
// recipients, opt-outs, daily caps, outbox and idempotency. Each runs in the caller's
// transaction; key names the effect, so a retried caller performs it once.

// SendEmailFor sends email to the account's recipients (CONTACTS, CONTACTS_WITH_PERSONA or
// OWNER; CONTACT needs a run's contact and sends nothing) as a SEND_EMAIL step does. It returns
// the first outbox message (nil when nobody was addressed) and an outcome for people to read
// ("2 of 3 emails queued; skipped: ...").
func (e *Engine) SendEmailFor(ctx context.Context, tx bun.Tx, t db.Tenant, accountID uuid.UUID, email *Email, key string) (*uuid.UUID, string, error) {
	if email == nil {
		return nil, "", errors.New("send email: no email")
	}
	r := &db.PlayRun{AccountID: accountID}
	row := &db.PlayStepRun{}
	mv, err := e.sendEmail(ctx, tx, t, r, &Step{ID: key, Kind: StepSendEmail, Email: email}, key, row)
	if err != nil {
		return nil, "", err
	}
	return row.OutboxID, mv.outcome, nil
}

// InAppFor shows msg to the account's recipients (CONTACTS or CONTACTS_WITH_PERSONA) as an
// IN_APP_MESSAGE step does; the messages name no run, and stepRef (e.g. the journey step's
// key) as their step. Each message gets its change log row (db.InAppChange, created) as
// the step's do, so a partner's inAppMessages feed shows it. It returns the first message's
// id (nil when nobody was addressed) and how many messages exist for key.
func (e *Engine) InAppFor(ctx context.Context, tx bun.Tx, t db.Tenant, accountID uuid.UUID, msg *InAppMessage, key, stepRef string, now time.Time) (*uuid.UUID, int, error) {
	if msg == nil {
		return nil, 0, errors.New("in-app message: no message")
	}
	r := &db.PlayRun{AccountID: accountID}
	vars, err := e.vars(ctx, tx, t, r)
	if err != nil {
		return nil, 0, err
	}
	cs, err := recipients(ctx, tx, t, r, msg.To, msg.Personas)
	if err != nil {
		return nil, 0, err
	}
	var first *uuid.UUID
	changes := make([]*db.Change, 0, len(cs))
	for i := range cs {
		v := vars
		v.Contact = &Person{Name: cs[i].Name, Email: cs[i].Email}
		title, err := msg.Title.Render(v)
		if err != nil {
			return nil, 0, err
		}
		body, err := msg.Body.Render(v)
		if err != nil {
			return nil, 0, err
		}
		ref := stepRef
		m, err := db.InsertInAppMessage(ctx, tx, t, &db.InAppMessage{
			AccountID: accountID, ContactID: cs[i].ID, StepID: &ref,
			Title: title, Body: body, Style: string(msg.Style), Status: db.InAppPending,
			IdempotencyKey: key + "/to:" + cs[i].ID.String(), CreatedAt: now,
		})
		if err != nil {
			return nil, 0, err
		}
		if first == nil {
			first = &m.ID
		}
		changes = append(changes, db.InAppChange(m, db.KindCreated))
	}
	if err := db.AppendChanges(ctx, tx, t, changes...); err != nil {
		return nil, 0, err
	}
	return first, len(cs), nil
}

// LaunchInTx starts the latest version of an ACTIVE play for an account in tx, whatever the
// play's trigger, honouring its entry condition and re-entry policy; for a CONTACT play it
// starts a run per live contact. It returns the first run started (nil when none started); a
// missing or inactive play is db.ErrNotFound.
func (e *Engine) LaunchInTx(ctx context.Context, tx bun.Tx, t db.Tenant, playID, accountID uuid.UUID, now time.Time) (*db.PlayRun, error) {
	p, err := db.GetPlay(ctx, tx, t, playID)
	if err != nil {
		return nil, err
	}
	if p.Status != db.PlayActive {
		return nil, fmt.Errorf("launch play %s: the play is %s: %w", playID, p.Status, db.ErrNotFound)
	}
	pub, err := e.Definitions.Load(ctx, tx, t, playID, p.LatestVersion)
	if err != nil {
		return nil, err
	}
	info := TriggerInfo{Kind: TriggerManual}
	if p.Scope != string(condition.ScopeContact) {
		return e.start(ctx, tx, t, pub, accountID, nil, info, now)
	}
	contacts, err := db.LiveContactsOfAccount(ctx, tx, t, accountID)
	if err != nil {
		return nil, err
	}
	var first *db.PlayRun
	for _, c := range contacts {
		r, err := e.start(ctx, tx, t, pub, accountID, &c.ID, info, now)
		if err != nil {
			return nil, err
		}
		if first == nil {
			first = r
		}
	}
	return first, nil
}

// AccountVars loads the template values of an account (its name and owner; no contact), for
// rendering a task's title and description as a CREATE_TASK step does.
func (e *Engine) AccountVars(ctx context.Context, idb bun.IDB, t db.Tenant, accountID uuid.UUID) (Vars, error) {
	return e.vars(ctx, idb, t, &db.PlayRun{AccountID: accountID})
}
