package condition

import (
	"encoding/json"
	"time"
)

// Scope is what a condition is evaluated for: every live account, or every live contact. The
// scope is not part of the stored JSON; whoever stores a condition stores its scope beside it.
type Scope string

// Scopes.
const (
	// ScopeAccount conditions see account fields and the account's activity.
	ScopeAccount Scope = "ACCOUNT"
	// ScopeContact conditions see contact fields, the fields of the contact's account and that
	// account's activity.
	ScopeContact Scope = "CONTACT"
)

// Op is a predicate's operator. Which operators a predicate accepts depends on its subject's
// type; see the package documentation.
type Op string

// Operators. Which types take which, and how missing values behave, is in the package
// documentation.
const (
	OpEq         Op = "eq"         // equal to value
	OpNeq        Op = "neq"        // present and not equal to value
	OpIn         Op = "in"         // equal to one of value (a list); on tags, has any of them
	OpNotIn      Op = "notIn"      // present and none of value; on tags, has none of them
	OpLt         Op = "lt"         // less than value
	OpLte        Op = "lte"        // at most value
	OpGt         Op = "gt"         // greater than value
	OpGte        Op = "gte"        // at least value
	OpContains   Op = "contains"   // text containing value, or a list holding it
	OpExists     Op = "exists"     // present (not null, not empty, happened)
	OpNotExists  Op = "notExists"  // missing (null, empty, never happened)
	OpOlderThan  Op = "olderThan"  // more than duration ago
	OpWithin     Op = "within"     // within the last duration
	OpWithinNext Op = "withinNext" // within the next duration (dates)
	OpNotWithin  Op = "notWithin"  // missing, or more than duration ago
)

// Limits on one condition tree. They keep a stored condition small enough to evaluate for every
// account of a workspace in one query.
const (
	// MaxDepth bounds nesting: the root is at depth 1.
	MaxDepth = 10
	// MaxNodes bounds the number of groups and predicates in one tree.
	MaxNodes = 100
	// MaxStringLen bounds a string value, in characters.
	MaxStringLen = 200
	// MaxListLen bounds the values of an in or notIn list.
	MaxListLen = 100
	// MaxNameLen bounds an event name or a custom attribute key, in characters.
	MaxNameLen = 100
	// MaxJSONBytes bounds the JSON text Parse accepts.
	MaxJSONBytes = 256 << 10
	// MaxDuration bounds every duration: ten years of 365 days.
	MaxDuration = 3650 * 24 * time.Hour
	// MaxInt bounds whole-number values on both sides (2^53-1), so that every value survives a
	// round trip through the SPA's JavaScript numbers.
	MaxInt = 1<<53 - 1
)

// Node is one node of a condition tree, exactly as it is stored and sent: a group (All, Any or
// Not) or a predicate (Field, Event, EventCount, Timeline or PlayRun, with Op and then Value or
// Duration; or Journey alone). Exactly one of All, Any, Not, Field, Event, EventCount,
// Timeline, PlayRun and Journey is set. PlayRun is a play id; normalised, it is the UUID in
// canonical form.
//
// Value holds JSON-like data: a string, a whole number, a bool or a list of strings or of whole
// numbers. In a Node returned by Condition.Root it is normalised: string, int64, bool, []string
// or []int64, with UUIDs in canonical form and times in UTC RFC 3339.
type Node struct {
	All []Node `json:"all,omitempty"`
	Any []Node `json:"any,omitempty"`
	Not *Node  `json:"not,omitempty"`

	Field      string      `json:"field,omitempty"`
	Event      string      `json:"event,omitempty"`
	EventCount *EventCount `json:"eventCount,omitempty"`
	Timeline   string      `json:"timeline,omitempty"`
	PlayRun    string      `json:"playRun,omitempty"`
	// Journey asks about the account's latest enrolment in a journey; it takes no op, value
	// or duration.
	Journey *JourneyState `json:"journey,omitempty"`

	Op       Op     `json:"op,omitempty"`
	Value    any    `json:"value,omitempty"`
	Duration string `json:"duration,omitempty"`
}

// EventCount names the events an eventCount predicate counts: those called Name that occurred
// within the last Within (a duration such as "30d").
type EventCount struct {
	Name   string `json:"name"`
	Within string `json:"within"`
}

// clone copies n deeply, so a Condition never shares slices with its callers.
func (n Node) clone() Node {
	out := n
	if n.All != nil {
		out.All = make([]Node, len(n.All))
		for i, k := range n.All {
			out.All[i] = k.clone()
		}
	}
	if n.Any != nil {
		out.Any = make([]Node, len(n.Any))
		for i, k := range n.Any {
			out.Any[i] = k.clone()
		}
	}
	if n.Not != nil {
		k := n.Not.clone()
		out.Not = &k
	}
	if n.EventCount != nil {
		ec := *n.EventCount
		out.EventCount = &ec
	}
	if n.Journey != nil {
		out.Journey = n.Journey.clone()
	}
	switch v := n.Value.(type) {
	case []string:
		out.Value = append([]string(nil), v...)
	case []int64:
		out.Value = append([]int64(nil), v...)
	}
	return out
}

// Condition is a parsed, validated condition tree of one scope. It is immutable and safe for
// concurrent use. Build one with Parse or New; store it with json.Marshal.
type Condition struct {
	scope Scope
	root  Node
	expr  *expr
}

// Scope returns the scope the condition was validated for.
func (c *Condition) Scope() Scope { return c.scope }

// Root returns a copy of the normalised tree, e.g. to return it through the API.
func (c *Condition) Root() Node { return c.root.clone() }

// MarshalJSON encodes the normalised tree: the form to store, which Parse reads back into an
// equal condition.
func (c *Condition) MarshalJSON() ([]byte, error) { return json.Marshal(c.root) }

// exprKind is what an expr node does.
type exprKind int

const (
	exprAll exprKind = iota
	exprAny
	exprNot
	exprPredicate
)

// expr is the compiled tree both evaluators walk.
type expr struct {
	kind exprKind
	kids []*expr
	pred predicate
	path string
	node *Node // the predicate's normalised node, for Explain
}
