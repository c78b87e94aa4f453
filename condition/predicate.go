package condition

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/stewardhq/steward/invalid"
)

// predicate is one compiled leaf of a tree. Each kind of predicate (field, event, eventCount,
// timeline, playRun, journey) implements it once for both evaluators, so the two cannot drift apart by kind.
type predicate interface {
	// sql returns a boolean SQL expression over the aliases a (account) and c (contact), with
	// its values appended to b as ? placeholders. It may be NULL; the caller folds NULL to false.
	sql(b *sqlBuilder, at instant) string
	// eval decides the predicate for one subject, returning what it looked at for Explain
	// (nil when the value is missing).
	eval(s Subject, at instant) (held bool, seen any, err error)
	// need records the activity facts eval will ask the subject for.
	need(n *needSet, at instant)
}

// predicateKind is one kind of predicate: the JSON key that marks it and how to validate and
// compile such a node. Adding a kind (e.g. journey state) is one more entry here, one more
// discriminator field on Node and one predicate type.
type predicateKind struct {
	key     string
	present func(n *Node) bool
	// build validates n at path, normalises n.Value in place and compiles the predicate.
	build func(v *validator, n *Node, path string) (predicate, error)
}

// predicateKinds is filled in init: build functions refer back to the validator, which walks
// this list.
var predicateKinds []predicateKind

func init() {
	predicateKinds = []predicateKind{
		{key: "field", present: func(n *Node) bool { return n.Field != "" }, build: buildField},
		{key: "event", present: func(n *Node) bool { return n.Event != "" }, build: buildEvent},
		{key: "eventCount", present: func(n *Node) bool { return n.EventCount != nil }, build: buildEventCount},
		{key: "timeline", present: func(n *Node) bool { return n.Timeline != "" }, build: buildTimeline},
		{key: "playRun", present: func(n *Node) bool { return n.PlayRun != "" }, build: buildPlayRun},
		{key: "journey", present: func(n *Node) bool { return n.Journey != nil }, build: buildJourney},
	}
}

// arity is what an operator compares against.
type arity int

const (
	arityValue    arity = iota // one value
	arityList                  // a list of values
	arityDuration              // a duration
	arityNone                  // nothing
)

func arityOf(op Op) arity {
	switch op {
	case OpIn, OpNotIn:
		return arityList
	case OpWithin, OpWithinNext, OpOlderThan, OpNotWithin:
		return arityDuration
	case OpExists, OpNotExists:
		return arityNone
	}
	return arityValue
}

// checkOp requires n.Op to be one of allowed for subject.
func checkOp(n *Node, path string, allowed []Op, subject string) error {
	if n.Op == "" {
		return invalid.Field(path+".op", "is required")
	}
	if !slices.Contains(allowed, n.Op) {
		names := make([]string, len(allowed))
		for i, op := range allowed {
			names[i] = string(op)
		}
		return invalid.Field(path+".op", "must be one of %s for %s", strings.Join(names, ", "), subject)
	}
	return nil
}

// checkOperands requires exactly the operand n.Op takes: a value, a duration or neither.
func checkOperands(n *Node, path string) error {
	wantValue, wantDuration := false, false
	switch arityOf(n.Op) {
	case arityValue, arityList:
		wantValue = true
	case arityDuration:
		wantDuration = true
	}
	switch {
	case wantValue && n.Value == nil:
		return invalid.Field(path+".value", "is required by op %s", n.Op)
	case !wantValue && n.Value != nil:
		return invalid.Field(path+".value", "is not used by op %s", n.Op)
	case wantDuration && n.Duration == "":
		return invalid.Field(path+".duration", "is required by op %s", n.Op)
	case !wantDuration && n.Duration != "":
		return invalid.Field(path+".duration", "is not used by op %s", n.Op)
	}
	return nil
}

func durationAt(s, path string) (span, error) {
	d, err := parseDuration(s)
	if err != nil {
		return span{}, invalid.Field(path, "%s", err)
	}
	return d, nil
}

// checkName validates an event name or a custom attribute key.
func checkName(s, path string) error {
	switch {
	case s == "":
		return invalid.Field(path, "must not be empty")
	case !utf8.ValidString(s):
		return invalid.Field(path, "must be valid UTF-8")
	case utf8.RuneCountInString(s) > MaxNameLen:
		return invalid.Field(path, "must be at most %d characters", MaxNameLen)
	case strings.TrimSpace(s) != s:
		return invalid.Field(path, "must not start or end with spaces")
	case strings.ContainsFunc(s, unicode.IsControl):
		return invalid.Field(path, "must not contain control characters")
	}
	return nil
}

// stringValue accepts a string value of at most MaxStringLen characters. NUL is rejected
// because PostgreSQL text cannot hold it.
func stringValue(v any, path string) (string, error) {
	s, ok := v.(string)
	switch {
	case !ok:
		return "", invalid.Field(path, "must be a string")
	case !utf8.ValidString(s):
		return "", invalid.Field(path, "must be valid UTF-8")
	case utf8.RuneCountInString(s) > MaxStringLen:
		return "", invalid.Field(path, "must be at most %d characters", MaxStringLen)
	case strings.ContainsRune(s, 0):
		return "", invalid.Field(path, "must not contain NUL characters")
	}
	return s, nil
}

const wholeNumberMsg = "must be a whole number between -9007199254740991 and 9007199254740991"

// intValue accepts a whole number in [-MaxInt, MaxInt], written as JSON sees fit (5, 5.0, 5e0).
func intValue(v any, path string) (int64, error) {
	bad := invalid.Field(path, wholeNumberMsg)
	var f float64
	switch n := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
			return inRange(i, bad)
		}
		x, err := strconv.ParseFloat(string(n), 64)
		if err != nil {
			return 0, bad
		}
		f = x
	case int:
		return inRange(int64(n), bad)
	case int32:
		return inRange(int64(n), bad)
	case int64:
		return inRange(n, bad)
	case float64:
		f = n
	case float32:
		f = float64(n)
	default:
		return 0, bad
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) || math.Abs(f) > MaxInt {
		return 0, bad
	}
	return int64(f), nil
}

func inRange(i int64, bad error) (int64, error) {
	if i < -MaxInt || i > MaxInt {
		return 0, bad
	}
	return i, nil
}

func isNumber(v any) bool {
	switch v.(type) {
	case json.Number, int, int32, int64, float32, float64:
		return true
	}
	return false
}

// listValue accepts a list of 1 to MaxListLen values.
func listValue(v any, path string) ([]any, error) {
	var out []any
	switch l := v.(type) {
	case []any:
		out = l
	case []string:
		for _, e := range l {
			out = append(out, e)
		}
	case []int64:
		for _, e := range l {
			out = append(out, e)
		}
	case []int:
		for _, e := range l {
			out = append(out, e)
		}
	default:
		return nil, invalid.Field(path, "must be a list")
	}
	if len(out) == 0 {
		return nil, invalid.Field(path, "must hold at least one value")
	}
	if len(out) > MaxListLen {
		return nil, invalid.Field(path, "must hold at most %d values", MaxListLen)
	}
	return out, nil
}

// instant is the "now" a condition is evaluated at, shared by both evaluators: truncated to
// PostgreSQL's microseconds so that boundaries fall identically, with its UTC calendar date.
type instant struct {
	now   time.Time
	today date
}

func instantAt(now time.Time) instant {
	n := now.UTC().Truncate(time.Microsecond)
	return instant{now: n, today: dateOf(n)}
}

// ago is the instant d before now: the bound of within, olderThan and notWithin.
func (at instant) ago(d span) time.Time { return at.now.Add(-d.d) }

// cmpHolds applies an ordering operator to a three-way comparison result.
func cmpHolds(c int, op Op) bool {
	switch op {
	case OpEq:
		return c == 0
	case OpNeq:
		return c != 0
	case OpLt:
		return c < 0
	case OpLte:
		return c <= 0
	case OpGt:
		return c > 0
	case OpGte:
		return c >= 0
	}
	return false
}

// asciiLower lowercases ASCII letters only, exactly like the SQL translate() the compiler emits,
// so that contains is case-insensitive the same way in both evaluators whatever the collation.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, s)
}

const (
	upperASCII = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	lowerASCII = "abcdefghijklmnopqrstuvwxyz"
)
