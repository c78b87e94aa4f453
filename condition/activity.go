package condition

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
)

// activityOps are the operators of event and timeline predicates. On activity, "never
// happened" makes olderThan and notWithin true (they mean the same here), and exists false.
var activityOps = []Op{OpWithin, OpNotWithin, OpOlderThan, OpExists, OpNotExists}

// countOps are the operators of an eventCount predicate.
var countOps = []Op{OpEq, OpNeq, OpLt, OpLte, OpGt, OpGte}

// timelineKinds are the kinds a timeline predicate may name.
var timelineKinds = []string{db.TimelineNote, db.TimelineCall, db.TimelineMeeting, db.TimelineEmail,
	db.TimelineBusinessReview, db.TimelineSystem}

// source is where a last-occurrence predicate looks.
type source struct {
	table, alias, column string
}

var (
	eventSource    = source{table: "events", alias: "ev", column: "name"}
	timelineSource = source{table: "timeline_entries", alias: "tl", column: "kind"}
)

// lastPred asks when the account's last event of a name, or timeline entry of a kind, was.
type lastPred struct {
	src  source
	name string
	op   Op
	span span
}

func buildEvent(_ *validator, n *Node, path string) (predicate, error) {
	if err := checkName(n.Event, path+".event"); err != nil {
		return nil, err
	}
	return buildLast(n, path, eventSource, n.Event, "an event")
}

func buildTimeline(_ *validator, n *Node, path string) (predicate, error) {
	if !slices.Contains(timelineKinds, n.Timeline) {
		return nil, invalid.Field(path+".timeline", "must be one of %s", strings.Join(timelineKinds, ", "))
	}
	return buildLast(n, path, timelineSource, n.Timeline, "a timeline kind")
}

func buildLast(n *Node, path string, src source, name, subject string) (predicate, error) {
	if err := checkOp(n, path, activityOps, subject); err != nil {
		return nil, err
	}
	if err := checkOperands(n, path); err != nil {
		return nil, err
	}
	p := &lastPred{src: src, name: name, op: n.Op}
	if arityOf(n.Op) == arityDuration {
		d, err := durationAt(n.Duration, path+".duration")
		if err != nil {
			return nil, err
		}
		p.span = d
	}
	return p, nil
}

// from is the correlated subquery body over the subject's account rows of the name.
func (s source) from(b *sqlBuilder, name string) string {
	return fmt.Sprintf("SELECT 1 FROM %[1]s AS %[2]s WHERE %[2]s.workspace_id = a.workspace_id AND %[2]s.account_id = a.id AND %[2]s.%[3]s = %[4]s::text",
		s.table, s.alias, s.column, b.arg(name))
}

func (p *lastPred) sql(b *sqlBuilder, at instant) string {
	from := p.src.from(b, p.name)
	switch p.op {
	case OpExists:
		return "EXISTS (" + from + ")"
	case OpNotExists:
		return "NOT EXISTS (" + from + ")"
	}
	recent := fmt.Sprintf("EXISTS (%s AND %s.occurred_at >= %s::timestamptz)", from, p.src.alias, b.arg(at.ago(p.span)))
	if p.op == OpWithin {
		return recent
	}
	return "NOT " + recent // notWithin, olderThan: also when there is none at all
}

func (p *lastPred) need(n *needSet, _ instant) {
	if p.src == eventSource {
		n.events[p.name] = true
	} else {
		n.timeline[p.name] = true
	}
}

func (p *lastPred) eval(s Subject, at instant) (bool, any, error) {
	var last time.Time
	var ok bool
	if p.src == eventSource {
		last, ok = s.Activity.LastEvent(p.name)
	} else {
		last, ok = s.Activity.LastTimeline(p.name)
	}
	var seen any
	if ok {
		seen = last.UTC()
	}
	switch p.op {
	case OpExists:
		return ok, seen, nil
	case OpNotExists:
		return !ok, seen, nil
	case OpWithin:
		return ok && !last.Before(at.ago(p.span)), seen, nil
	}
	return !ok || last.Before(at.ago(p.span)), seen, nil
}

// countPred compares how many events of a name the account had in a recent window.
type countPred struct {
	name   string
	within span
	op     Op
	n      int64
}

func buildEventCount(_ *validator, n *Node, path string) (predicate, error) {
	ec, ecPath := n.EventCount, path+".eventCount"
	if err := checkName(ec.Name, ecPath+".name"); err != nil {
		return nil, err
	}
	if ec.Within == "" {
		return nil, invalid.Field(ecPath+".within", "is required")
	}
	within, err := durationAt(ec.Within, ecPath+".within")
	if err != nil {
		return nil, err
	}
	if err := checkOp(n, path, countOps, "an event count"); err != nil {
		return nil, err
	}
	if err := checkOperands(n, path); err != nil {
		return nil, err
	}
	count, err := intValue(n.Value, path+".value")
	if err != nil {
		return nil, err
	}
	if count < 0 {
		return nil, invalid.Field(path+".value", "must not be negative")
	}
	n.Value = count
	return &countPred{name: ec.Name, within: within, op: n.Op, n: count}, nil
}

func (p *countPred) sql(b *sqlBuilder, at instant) string {
	count := fmt.Sprintf("(SELECT count(*) FROM events AS ev WHERE ev.workspace_id = a.workspace_id AND ev.account_id = a.id AND ev.name = %s::text AND ev.occurred_at >= %s::timestamptz)",
		b.arg(p.name), b.arg(at.ago(p.within)))
	return cmpSQL(b, count, p.op, p.n, nil, "bigint")
}

func (p *countPred) need(n *needSet, at instant) {
	n.counts[windowKey{name: p.name, since: at.ago(p.within).UnixMicro()}] = true
}

func (p *countPred) eval(s Subject, at instant) (bool, any, error) {
	count := int64(s.Activity.EventCount(p.name, at.ago(p.within)))
	return cmpHolds(cmpInt(count, p.n), p.op), count, nil
}
