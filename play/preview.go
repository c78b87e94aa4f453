package play

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/condition"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
)

// Bounds of the subjects a preview explains.
const (
	// DefaultPreviewSubjects is how many subjects a preview explains when the caller does not say.
	DefaultPreviewSubjects = 50
	// MaxPreviewSubjects is the most subjects one preview explains (each costs a few queries).
	MaxPreviewSubjects = 200
)

// Preview is a dry run of a play: who would enter now.
type Preview struct {
	// MatchCount counts every live subject the play's conditions admit now (the SCHEDULE
	// trigger's condition and the entry condition), before re-entry is considered.
	MatchCount int
	// Subjects explain the first of those subjects in id order (at most the preview's limit).
	Subjects []PreviewSubject
	// At is the instant every condition was evaluated at.
	At time.Time
}

// PreviewSubject is one subject the conditions admit, with why.
type PreviewSubject struct {
	Account *db.Account
	// Contact is set for CONTACT plays.
	Contact *db.Contact
	// Enters is false when the re-entry policy refuses the subject; RefusedBy then says why
	// ("reentry ONCE: the subject already ran the play").
	Enters    bool
	RefusedBy string
	// Predicates are every predicate of the trigger's condition, then of the entry condition,
	// in document order, with the value seen and whether it held; paths are rooted at
	// "definition" ("definition.trigger.condition.all[0]", "definition.entry").
	Predicates []PreviewPredicate
}

// PreviewPredicate is one predicate's part in a preview.
type PreviewPredicate struct {
	Path      string
	Predicate condition.Node
	// Seen is as condition.PredicateResult.Seen: nil when the value is missing.
	Seen any
	Held bool
}

// PreviewPlay previews a stored play: its draft if it has one (what the editor shows), else its
// latest published version. Re-entry is judged against the play's runs. A play with neither
// is invalid input on "playId".
func (e *Engine) PreviewPlay(ctx context.Context, t db.Tenant, playID uuid.UUID, limit int) (*Preview, error) {
	p, err := db.GetPlay(ctx, e.DB, t, playID)
	if err != nil {
		return nil, err
	}
	raw := p.Draft
	if len(raw) == 0 {
		if p.LatestVersion == 0 {
			return nil, invalid.Field("playId", "the play has no definition to preview")
		}
		v, err := db.GetPlayVersion(ctx, e.DB, t, playID, p.LatestVersion)
		if err != nil {
			return nil, err
		}
		raw = v.Definition
	}
	def, err := ParseDraft(raw, condition.Scope(p.Scope))
	if err != nil {
		return nil, fmt.Errorf("parse play %s for preview: %w", playID, err)
	}
	return e.preview(ctx, t, &p.ID, def, condition.Scope(p.Scope), limit)
}

// PreviewDefinition parses an unsaved definition as a draft (so an incomplete one can be
// previewed; anything present is validated, errors naming "definition...") and previews it.
// An unsaved play has no runs, so re-entry refuses nobody.
func (e *Engine) PreviewDefinition(ctx context.Context, t db.Tenant, raw json.RawMessage, scope condition.Scope, limit int) (*Preview, error) {
	if scope != condition.ScopeAccount && scope != condition.ScopeContact {
		return nil, invalid.Field("scope", "must be ACCOUNT or CONTACT")
	}
	def, err := ParseDraft(raw, scope)
	if err != nil {
		return nil, err
	}
	return e.Preview(ctx, t, def, scope, limit)
}

// Preview is a dry run of def over the tenant's live accounts (ACCOUNT) or contacts (CONTACT)
// at one instant, with no side effects: it runs in a READ ONLY transaction. The subjects are
// those a SCHEDULE trigger's condition and the entry condition both admit; for the other
// triggers (MANUAL, EVENT, FIELD_CHANGE), and a draft without a trigger, those the entry
// condition admits, that is who passes the entry filter now (every live subject without one).
// The first limit of them in id order (DefaultPreviewSubjects when limit <= 0, at most
// MaxPreviewSubjects) are explained predicate by predicate. def has no runs, so re-entry
// refuses nobody; PreviewPlay judges it.
func (e *Engine) Preview(ctx context.Context, t db.Tenant, def *Definition, scope condition.Scope, limit int) (*Preview, error) {
	return e.preview(ctx, t, nil, def, scope, limit)
}

func (e *Engine) preview(ctx context.Context, t db.Tenant, playID *uuid.UUID, def *Definition, scope condition.Scope, limit int) (*Preview, error) {
	if limit <= 0 {
		limit = DefaultPreviewSubjects
	}
	limit = min(limit, MaxPreviewSubjects)
	var parts []previewPart
	if def.Trigger != nil && def.Trigger.Kind == TriggerSchedule && def.Trigger.Condition != nil {
		parts = append(parts, previewPart{def.Trigger.Condition, rootPath + ".trigger.condition"})
	}
	if def.Entry != nil {
		parts = append(parts, previewPart{def.Entry, rootPath + ".entry"})
	}
	now := e.now()
	out := &Preview{Subjects: []PreviewSubject{}, At: now}
	err := e.DB.RunInTx(ctx, &sql.TxOptions{ReadOnly: true}, func(ctx context.Context, tx bun.Tx) error {
		var ids []uuid.UUID
		var err error
		if len(parts) == 0 {
			ids, err = liveSubjects(ctx, tx, t, scope)
		}
		for i, p := range parts {
			m, err := p.cond.Matching(ctx, tx, t, now)
			if err != nil {
				return err
			}
			if i == 0 {
				ids = m
			} else {
				ids = intersect(ids, m)
			}
		}
		if err != nil {
			return err
		}
		out.MatchCount = len(ids)
		for _, id := range ids[:min(limit, len(ids))] {
			s, err := e.previewSubject(ctx, tx, t, playID, def, scope, id, now, parts)
			if err != nil {
				return err
			}
			out.Subjects = append(out.Subjects, *s)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("preview play: %w", err)
	}
	return out, nil
}

// previewPart is one condition a preview checks, with the path its predicates are reported at.
type previewPart struct {
	cond *condition.Condition
	root string
}

// previewSubject explains one subject and applies the re-entry policy.
func (e *Engine) previewSubject(ctx context.Context, tx bun.Tx, t db.Tenant, playID *uuid.UUID, def *Definition, scope condition.Scope, id uuid.UUID, now time.Time, parts []previewPart) (*PreviewSubject, error) {
	var needs condition.Needs
	for _, p := range parts {
		n := p.cond.Needs(now)
		needs.Events = append(needs.Events, n.Events...)
		needs.EventCounts = append(needs.EventCounts, n.EventCounts...)
		needs.Timeline = append(needs.Timeline, n.Timeline...)
		needs.PlayRuns = append(needs.PlayRuns, n.PlayRuns...)
	}
	slices.Sort(needs.Events)
	needs.Events = slices.Compact(needs.Events)
	slices.Sort(needs.Timeline)
	needs.Timeline = slices.Compact(needs.Timeline)
	slices.SortFunc(needs.PlayRuns, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	needs.PlayRuns = slices.Compact(needs.PlayRuns)
	s, err := condition.LoadSubject(ctx, tx, t, scope, id, needs)
	if err != nil {
		return nil, err
	}
	out := &PreviewSubject{Account: s.Account, Contact: s.Contact, Enters: true, Predicates: []PreviewPredicate{}}
	for _, p := range parts {
		res, err := p.cond.Explain(s, now)
		if err != nil {
			return nil, err
		}
		for _, r := range res {
			path := r.Path
			if rest, ok := strings.CutPrefix(path, "condition"); ok {
				path = p.root + rest
			}
			out.Predicates = append(out.Predicates, PreviewPredicate{Path: path, Predicate: r.Predicate, Seen: r.Seen, Held: r.Held})
		}
	}
	if playID == nil {
		return out, nil
	}
	var contactID *uuid.UUID
	if s.Contact != nil {
		contactID = &s.Contact.ID
	}
	h, err := db.PlayRunHistory(ctx, tx, t, *playID, s.Account.ID, contactID)
	if err != nil {
		return nil, err
	}
	out.RefusedBy = refusal(def.Reentry, h, now)
	out.Enters = out.RefusedBy == ""
	return out, nil
}

// refusal says why the re-entry policy refuses a subject with history h at now ("" if it
// does not), with the same rules as start.
func refusal(r Reentry, h db.RunHistory, now time.Time) string {
	switch r.Policy {
	case ReentryOnce:
		if h.Any {
			return "reentry ONCE: the subject already ran the play"
		}
	case ReentryCooldown:
		if h.Active {
			return "reentry COOLDOWN: a run of the subject is active"
		}
		if h.LastFinished != nil && now.Before(h.LastFinished.Add(r.Cooldown.Length())) {
			return fmt.Sprintf("reentry COOLDOWN: the last run ended %s, less than %s ago",
				h.LastFinished.UTC().Format(time.RFC3339), r.Cooldown)
		}
	default:
		if h.Active {
			return "reentry NOT_WHILE_ACTIVE: a run of the subject is active"
		}
	}
	return ""
}

// liveSubjects returns every live subject of scope in id order, as condition.Matching would
// for a condition that always holds.
func liveSubjects(ctx context.Context, idb bun.IDB, t db.Tenant, scope condition.Scope) ([]uuid.UUID, error) {
	var q *bun.SelectQuery
	if scope == condition.ScopeContact {
		q = t.Select(idb, (*db.Contact)(nil)).Column("c.id").
			Join("JOIN accounts AS a ON a.workspace_id = c.workspace_id AND a.id = c.account_id").
			Where("c.archived_at IS NULL AND a.archived_at IS NULL").OrderExpr("c.id")
	} else {
		q = t.Select(idb, (*db.Account)(nil)).Column("a.id").Where("a.archived_at IS NULL").OrderExpr("a.id")
	}
	ids := []uuid.UUID{}
	if err := q.Scan(ctx, &ids); err != nil {
		return nil, fmt.Errorf("list live subjects: %w", err)
	}
	return ids, nil
}

// intersect returns the ids in both a and b, which are sorted as PostgreSQL sorts uuids
// (bytewise), keeping a's order.
func intersect(a, b []uuid.UUID) []uuid.UUID {
	in := make(map[uuid.UUID]bool, len(b))
	for _, id := range b {
		in[id] = true
	}
	return slices.DeleteFunc(a, func(id uuid.UUID) bool { return !in[id] })
}
