package condition

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/stewardhq/steward/db"
)

// Activity answers the activity questions of one account: its events, timeline and play runs.
// Implementations answer for the account of the Subject they belong to.
type Activity interface {
	// LastEvent is when the account's last event called name occurred; false if never.
	LastEvent(name string) (time.Time, bool)
	// EventCount is how many events called name occurred at or after since.
	EventCount(name string, since time.Time) int
	// LastTimeline is when the account's last timeline entry of kind occurred; false if never.
	LastTimeline(kind string) (time.Time, bool)
	// PlayRuns is what the account's runs of the play say: whether one is active (RUNNING or
	// WAITING) and when the latest started. A play without runs, or unknown, is the zero value.
	PlayRuns(playID uuid.UUID) PlayRunFacts
	// Journey is where the account stands in the journey with key: its latest enrolment's
	// status and milestone states. Never enrolled (or unknown) is the zero value.
	Journey(key string) JourneyFacts
}

// Subject is what one evaluation looks at: the account, the contact for a CONTACT condition
// (Account is then the contact's account), and the account's activity. Activity may be nil
// when the condition reads none (see Needs).
type Subject struct {
	Account  *db.Account
	Contact  *db.Contact
	Activity Activity
}

// PredicateResult is one predicate's part in an evaluation, for dry runs and for telling a
// user why a play started.
type PredicateResult struct {
	// Path locates the predicate in the tree, as validation errors do: "condition.all[1]".
	Path string
	// Predicate is the predicate's node.
	Predicate Node
	// Seen is the value the predicate looked at: a string, int64, bool, []string, a date as
	// "2006-01-02", a UUID string, a time.Time (UTC), a decoded custom attribute value (numbers
	// as json.Number), the last event/entry time, an event count (int64), whether a play run is
	// active (bool, for playRun exists and notExists) or the latest play run's start (a
	// time.Time, for playRun within), the latest journey enrolment's status (a string,
	// NOT_ENROLLED when there is none) or a milestone's status in it (a string; nil when not
	// enrolled or the milestone is not in the enrolment). Nil when missing.
	Seen any
	// Held says whether the predicate was true.
	Held bool
}

// Eval decides the condition for one subject at now, with the same meaning as SQL: a
// predicate on a missing value is false, except where the package documentation says
// otherwise. It fails only when the subject lacks what the condition reads.
func (c *Condition) Eval(s Subject, now time.Time) (bool, error) {
	at := instantAt(now)
	if err := c.checkSubject(s, at); err != nil {
		return false, err
	}
	return evalExpr(c.expr, s, at, nil)
}

// Explain evaluates every predicate of the condition for one subject at now (without the
// short cuts Eval takes) and reports each in document order. Whether the whole condition held
// is Eval's answer.
func (c *Condition) Explain(s Subject, now time.Time) ([]PredicateResult, error) {
	at := instantAt(now)
	if err := c.checkSubject(s, at); err != nil {
		return nil, err
	}
	out := []PredicateResult{}
	if _, err := evalExpr(c.expr, s, at, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// checkSubject reports a subject that cannot answer the condition, rather than guessing.
func (c *Condition) checkSubject(s Subject, at instant) error {
	if s.Account == nil {
		return errors.New("evaluate condition: the subject has no account")
	}
	if c.scope == ScopeContact {
		if s.Contact == nil {
			return errors.New("evaluate condition: a CONTACT condition needs a contact")
		}
		if s.Contact.AccountID != s.Account.ID {
			return errors.New("evaluate condition: the contact belongs to another account")
		}
	}
	needs := c.needs(at)
	if needs.Empty() {
		return nil
	}
	if s.Activity == nil {
		return errors.New("evaluate condition: the condition reads activity but the subject has none")
	}
	if f, ok := s.Activity.(*facts); ok {
		if f.accountID != s.Account.ID {
			return errors.New("evaluate condition: the activity belongs to another account")
		}
		if err := f.covers(needs); err != nil {
			return fmt.Errorf("evaluate condition: %w", err)
		}
	}
	return nil
}

// evalExpr evaluates e; with explain set it visits every predicate and records each.
func evalExpr(e *expr, s Subject, at instant, explain *[]PredicateResult) (bool, error) {
	switch e.kind {
	case exprAll, exprAny:
		// all: true until a false kid; any: false until a true kid.
		decisive := e.kind == exprAny
		result := !decisive
		for _, k := range e.kids {
			v, err := evalExpr(k, s, at, explain)
			if err != nil {
				return false, err
			}
			if v == decisive {
				result = decisive
				if explain == nil {
					break
				}
			}
		}
		return result, nil
	case exprNot:
		v, err := evalExpr(e.kids[0], s, at, explain)
		return !v, err
	}
	held, seen, err := e.pred.eval(s, at)
	if err != nil {
		return false, err
	}
	if explain != nil {
		*explain = append(*explain, PredicateResult{Path: e.path, Predicate: e.node.clone(), Seen: seen, Held: held})
	}
	return held, nil
}
