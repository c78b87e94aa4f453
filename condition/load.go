package condition

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
)

// Needs lists the activity facts a condition reads at one instant, so that a loader fetches
// those and nothing else. Every list is sorted and free of repeats.
type Needs struct {
	// Events are the event names whose last occurrence is read.
	Events []string
	// EventCounts are the (name, since) windows whose event counts are read.
	EventCounts []EventWindow
	// Timeline are the timeline kinds whose last entry is read.
	Timeline []string
	// PlayRuns are the plays whose runs of the account are read (sorted by their text form).
	PlayRuns []uuid.UUID
	// Journeys are the keys of the journeys whose latest enrolment of the account is read.
	Journeys []string
}

// EventWindow is one event count a condition reads: events called Name at or after Since.
type EventWindow struct {
	Name  string
	Since time.Time
}

// Empty reports that the condition reads no activity at all.
func (n Needs) Empty() bool {
	return len(n.Events) == 0 && len(n.EventCounts) == 0 && len(n.Timeline) == 0 && len(n.PlayRuns) == 0 &&
		len(n.Journeys) == 0
}

// Needs returns the activity facts the condition reads when evaluated at now. Event count
// windows end at now, so evaluate the loaded subject at the same now.
func (c *Condition) Needs(now time.Time) Needs { return c.needs(instantAt(now)) }

// windowKey identifies a count window; since is in microseconds, as instants are.
type windowKey struct {
	name  string
	since int64
}

// needSet accumulates needs while walking a tree.
type needSet struct {
	events   map[string]bool
	counts   map[windowKey]bool
	timeline map[string]bool
	playRuns map[uuid.UUID]bool
	journeys map[string]bool
}

func (c *Condition) needs(at instant) Needs {
	ns := needSet{events: map[string]bool{}, counts: map[windowKey]bool{}, timeline: map[string]bool{},
		playRuns: map[uuid.UUID]bool{}, journeys: map[string]bool{}}
	var walk func(e *expr)
	walk = func(e *expr) {
		if e.kind == exprPredicate {
			e.pred.need(&ns, at)
		}
		for _, k := range e.kids {
			walk(k)
		}
	}
	walk(c.expr)
	var n Needs
	for name := range ns.events {
		n.Events = append(n.Events, name)
	}
	for name := range ns.timeline {
		n.Timeline = append(n.Timeline, name)
	}
	for k := range ns.counts {
		n.EventCounts = append(n.EventCounts, EventWindow{Name: k.name, Since: time.UnixMicro(k.since).UTC()})
	}
	for id := range ns.playRuns {
		n.PlayRuns = append(n.PlayRuns, id)
	}
	for key := range ns.journeys {
		n.Journeys = append(n.Journeys, key)
	}
	slices.Sort(n.Journeys)
	slices.SortFunc(n.PlayRuns, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	slices.Sort(n.Events)
	slices.Sort(n.Timeline)
	slices.SortFunc(n.EventCounts, func(a, b EventWindow) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return a.Since.Compare(b.Since)
	})
	return n
}

// facts is the Activity LoadSubject builds: exactly the facts it was asked for. Eval refuses
// to read anything else from it rather than mistake "not loaded" for "never happened".
type facts struct {
	accountID    uuid.UUID
	needs        Needs
	lastEvent    map[string]time.Time
	counts       map[windowKey]int
	lastTimeline map[string]time.Time
	playRuns     map[uuid.UUID]PlayRunFacts
	journeys     map[string]JourneyFacts
}

func (f *facts) LastEvent(name string) (time.Time, bool) {
	t, ok := f.lastEvent[name]
	return t, ok
}

func (f *facts) EventCount(name string, since time.Time) int {
	return f.counts[windowKey{name: name, since: since.UnixMicro()}]
}

func (f *facts) LastTimeline(kind string) (time.Time, bool) {
	t, ok := f.lastTimeline[kind]
	return t, ok
}

func (f *facts) PlayRuns(playID uuid.UUID) PlayRunFacts { return f.playRuns[playID] }

func (f *facts) Journey(key string) JourneyFacts { return f.journeys[key] }

// covers reports the first fact of n that f was not loaded with.
func (f *facts) covers(n Needs) error {
	for _, name := range n.Events {
		if !slices.Contains(f.needs.Events, name) {
			return fmt.Errorf("activity was loaded without the last %q event", name)
		}
	}
	for _, kind := range n.Timeline {
		if !slices.Contains(f.needs.Timeline, kind) {
			return fmt.Errorf("activity was loaded without the last %s timeline entry", kind)
		}
	}
	for _, id := range n.PlayRuns {
		if !slices.Contains(f.needs.PlayRuns, id) {
			return fmt.Errorf("activity was loaded without the runs of play %s", id)
		}
	}
	for _, key := range n.Journeys {
		if !slices.Contains(f.needs.Journeys, key) {
			return fmt.Errorf("activity was loaded without the enrolments in journey %q", key)
		}
	}
	for _, w := range n.EventCounts {
		if _, ok := f.counts[windowKey{name: w.Name, since: w.Since.UnixMicro()}]; !ok {
			return fmt.Errorf("activity was loaded without the %q count since %s (evaluate at the instant Needs was asked for)",
				w.Name, w.Since.Format(time.RFC3339Nano))
		}
	}
	return nil
}

// LoadSubject loads one subject of scope with the activity facts in needs (from
// Condition.Needs): the account, or the contact and its account, plus at most six small
// queries on the account's events, timeline, play runs and journey enrolments. Archived rows load like live ones;
// a missing row is db.ErrNotFound.
func LoadSubject(ctx context.Context, idb bun.IDB, t db.Tenant, scope Scope, id uuid.UUID, needs Needs) (Subject, error) {
	var s Subject
	switch scope {
	case ScopeAccount:
		a, err := db.GetAccount(ctx, idb, t, id)
		if err != nil {
			return Subject{}, fmt.Errorf("load condition subject: %w", err)
		}
		s.Account = a
	case ScopeContact:
		c, err := db.GetContact(ctx, idb, t, id)
		if err != nil {
			return Subject{}, fmt.Errorf("load condition subject: %w", err)
		}
		a, err := db.GetAccount(ctx, idb, t, c.AccountID)
		if err != nil {
			return Subject{}, fmt.Errorf("load condition subject's account: %w", err)
		}
		s.Account, s.Contact = a, c
	default:
		return Subject{}, fmt.Errorf("load condition subject: unknown scope %q", scope)
	}
	f, err := loadFacts(ctx, idb, t, s.Account.ID, needs)
	if err != nil {
		return Subject{}, err
	}
	s.Activity = f
	return s, nil
}

// lastRow is one name's (or kind's) latest occurrence.
type lastRow struct {
	Name string    `bun:"name"`
	Last time.Time `bun:"last"`
}

func loadFacts(ctx context.Context, idb bun.IDB, t db.Tenant, accountID uuid.UUID, needs Needs) (*facts, error) {
	f := &facts{
		accountID:    accountID,
		needs:        needs,
		lastEvent:    map[string]time.Time{},
		counts:       map[windowKey]int{},
		lastTimeline: map[string]time.Time{},
		playRuns:     map[uuid.UUID]PlayRunFacts{},
		journeys:     map[string]JourneyFacts{},
	}
	if len(needs.Journeys) > 0 {
		standings, err := db.LatestJourneyEnrollments(ctx, idb, t, accountID, needs.Journeys)
		if err != nil {
			return nil, fmt.Errorf("load journey enrolments: %w", err)
		}
		for key, s := range standings {
			f.journeys[key] = JourneyFacts{Status: s.Status, Milestones: s.Milestones}
		}
	}
	if len(needs.Events) > 0 {
		var rows []lastRow
		err := t.Select(idb, (*db.Event)(nil)).ColumnExpr("e.name, max(e.occurred_at) AS last").
			Where("e.account_id = ? AND e.name IN (?)", accountID, bun.In(needs.Events)).
			GroupExpr("e.name").Scan(ctx, &rows)
		if err != nil {
			return nil, fmt.Errorf("load last events: %w", err)
		}
		for _, r := range rows {
			f.lastEvent[r.Name] = r.Last
		}
	}
	if len(needs.Timeline) > 0 {
		var rows []lastRow
		err := t.Select(idb, (*db.TimelineEntry)(nil)).ColumnExpr("te.kind AS name, max(te.occurred_at) AS last").
			Where("te.account_id = ? AND te.kind IN (?)", accountID, bun.In(needs.Timeline)).
			GroupExpr("te.kind").Scan(ctx, &rows)
		if err != nil {
			return nil, fmt.Errorf("load last timeline entries: %w", err)
		}
		for _, r := range rows {
			f.lastTimeline[r.Name] = r.Last
		}
	}
	if len(needs.PlayRuns) > 0 {
		var rows []struct {
			PlayID uuid.UUID `bun:"play_id"`
			Active bool      `bun:"active"`
			Last   time.Time `bun:"last"`
		}
		ids := make([]string, len(needs.PlayRuns))
		for i, id := range needs.PlayRuns {
			ids[i] = id.String()
		}
		err := t.Select(idb, (*db.PlayRun)(nil)).
			ColumnExpr("r.play_id, bool_or(r.status IN (?, ?)) AS active, max(r.started_at) AS last", db.RunRunning, db.RunWaiting).
			Where("r.account_id = ? AND r.play_id IN (?)", accountID, bun.In(ids)).
			GroupExpr("r.play_id").Scan(ctx, &rows)
		if err != nil {
			return nil, fmt.Errorf("load play runs: %w", err)
		}
		for _, r := range rows {
			f.playRuns[r.PlayID] = PlayRunFacts{Active: r.Active, LastStartedAt: &r.Last}
		}
	}
	if len(needs.EventCounts) > 0 {
		// One row of counts, one FILTER column per window, over the index range of the names.
		q := t.Select(idb, (*db.Event)(nil)).Where("e.account_id = ?", accountID)
		names := []string{}
		earliest := needs.EventCounts[0].Since
		for _, w := range needs.EventCounts {
			q.ColumnExpr("count(*) FILTER (WHERE e.name = ? AND e.occurred_at >= ?)", w.Name, w.Since)
			if !slices.Contains(names, w.Name) {
				names = append(names, w.Name)
			}
			if w.Since.Before(earliest) {
				earliest = w.Since
			}
		}
		q.Where("e.name IN (?) AND e.occurred_at >= ?", bun.In(names), earliest)
		counts := make([]int64, len(needs.EventCounts))
		dest := make([]any, len(counts))
		for i := range counts {
			dest[i] = &counts[i]
		}
		if err := q.Scan(ctx, dest...); err != nil {
			return nil, fmt.Errorf("count events: %w", err)
		}
		for i, w := range needs.EventCounts {
			f.counts[windowKey{name: w.Name, since: w.Since.UnixMicro()}] = int(counts[i])
		}
	}
	return f, nil
}
