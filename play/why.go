package play

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/condition"
	"github.com/stewardhq/steward/db"
)

// recordScheduleValues fills in why a swept run started. The sweep inserts runs set-based, one
// statement for every matching subject, so it cannot explain each one; the run's first step
// does it instead, seconds later, with the trigger condition's and the entry's predicates and
// the values seen then. Runs of other triggers, and runs already explained, are left alone.
func recordScheduleValues(ctx context.Context, tx bun.Tx, t db.Tenant, r *db.PlayRun, def *Definition, now time.Time) error {
	var info TriggerInfo
	if err := json.Unmarshal(r.Trigger, &info); err != nil {
		return fmt.Errorf("read run trigger: %w", err)
	}
	if info.Kind != TriggerSchedule || len(info.Values) > 0 || def.Trigger == nil || def.Trigger.Condition == nil {
		return nil
	}
	conds := map[string]*condition.Condition{"trigger.condition": def.Trigger.Condition}
	if def.Entry != nil {
		conds["entry"] = def.Entry
	}
	subjectID := r.AccountID
	if r.ContactID != nil {
		subjectID = *r.ContactID
	}
	for _, prefix := range []string{"trigger.condition", "entry"} {
		c, ok := conds[prefix]
		if !ok {
			continue
		}
		s, err := condition.LoadSubject(ctx, tx, t, c.Scope(), subjectID, c.Needs(now))
		if err != nil {
			return err
		}
		res, err := c.Explain(s, now)
		if err != nil {
			return err
		}
		for _, p := range res {
			info.Values = append(info.Values, SeenValue{Path: prefix + p.Path[len("condition"):], Seen: p.Seen, Held: p.Held})
		}
	}
	raw, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("marshal run trigger: %w", err)
	}
	r.Trigger = raw
	return db.SetPlayRunTrigger(ctx, tx, t, r.ID, raw)
}
