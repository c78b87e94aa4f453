package condition

import (
	"fmt"
	"strings"

	"github.com/stewardhq/steward/invalid"
	"github.com/stewardhq/steward/strictjson"
)

// rootPath names the tree's root in error paths; callers nest it with invalid.Prefix.
const rootPath = "condition"

// maxJSONDepth bounds JSON nesting while decoding, before the tree is validated: a tree of
// MaxDepth levels nests two JSON levels per tree level, plus a value list or an eventCount.
const maxJSONDepth = 2*MaxDepth + 4

// Parse decodes a stored or submitted condition and validates it for scope. Decoding is strict:
// unknown or repeated keys, trailing data and wrong JSON types are rejected. Every rejection is
// an *invalid.Error whose Field is a path inside the tree rooted at "condition", e.g.
// "condition.all[2].value" with "must be a whole number".
func Parse(raw []byte, scope Scope) (*Condition, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	if len(raw) > MaxJSONBytes {
		return nil, invalid.Field(rootPath, "must be at most %d KiB of JSON", MaxJSONBytes>>10)
	}
	v, err := strictjson.Decode(raw, rootPath, maxJSONDepth)
	if err != nil {
		return nil, err
	}
	n, err := toNode(v, rootPath)
	if err != nil {
		return nil, err
	}
	return New(*n, scope)
}

// New validates a tree built in Go (e.g. converted from GraphQL input types) for scope, with
// the same rules and error paths as Parse. root is not retained.
func New(root Node, scope Scope) (*Condition, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	v := &validator{scope: scope}
	norm, e, err := v.node(root, rootPath, 1)
	if err != nil {
		return nil, err
	}
	c := &Condition{scope: scope, root: norm}
	// The compiled tree points into c.root for Explain, so it is rebuilt against the stored copy.
	c.expr = relink(e, &c.root)
	return c, nil
}

// relink points the predicate nodes of e at their counterparts in n (a tree of the same shape).
func relink(e *expr, n *Node) *expr {
	switch e.kind {
	case exprAll:
		for i, k := range e.kids {
			relink(k, &n.All[i])
		}
	case exprAny:
		for i, k := range e.kids {
			relink(k, &n.Any[i])
		}
	case exprNot:
		relink(e.kids[0], n.Not)
	case exprPredicate:
		e.node = n
	}
	return e
}

func checkScope(s Scope) error {
	if s != ScopeAccount && s != ScopeContact {
		return fmt.Errorf("condition: unknown scope %q", s)
	}
	return nil
}

// toNode maps a decoded object onto a Node, rejecting unknown keys and wrong JSON types of the
// tree's own keys. Values are checked later, by validation, against the field they compare.
func toNode(v any, path string) (*Node, error) {
	obj, ok := v.(*strictjson.Object)
	if !ok {
		return nil, invalid.Field(path, "must be an object")
	}
	n := &Node{}
	for i, key := range obj.Keys {
		val, p := obj.Vals[i], path+"."+key
		var err error
		switch key {
		case "all", "any":
			var kids []Node
			kids, err = toNodes(val, p)
			if key == "all" {
				n.All = kids
			} else {
				n.Any = kids
			}
		case "not":
			n.Not, err = toNode(val, p)
		case "field":
			n.Field, err = nonEmptyString(val, p)
		case "event":
			n.Event, err = nonEmptyString(val, p)
		case "timeline":
			n.Timeline, err = nonEmptyString(val, p)
		case "eventCount":
			n.EventCount, err = toEventCount(val, p)
		case "playRun":
			n.PlayRun, err = nonEmptyString(val, p)
		case "journey":
			n.Journey, err = toJourneyState(val, p)
		case "op":
			var op string
			op, err = nonEmptyString(val, p)
			n.Op = Op(op)
		case "duration":
			n.Duration, err = nonEmptyString(val, p)
		case "value":
			if val == nil {
				err = invalid.Field(p, "must not be null")
			}
			n.Value = strictjson.Plain(val)
		default:
			err = invalid.Field(p, "is not a known key")
		}
		if err != nil {
			return nil, err
		}
	}
	return n, nil
}

func toNodes(v any, path string) ([]Node, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, invalid.Field(path, "must be a list of conditions")
	}
	if len(arr) > MaxNodes {
		return nil, invalid.Field(path, "must hold at most %d conditions", MaxNodes)
	}
	out := make([]Node, len(arr))
	for i, e := range arr {
		n, err := toNode(e, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		out[i] = *n
	}
	return out, nil
}

func toEventCount(v any, path string) (*EventCount, error) {
	obj, ok := v.(*strictjson.Object)
	if !ok {
		return nil, invalid.Field(path, "must be an object with name and within")
	}
	ec := &EventCount{}
	for i, key := range obj.Keys {
		val, p := obj.Vals[i], path+"."+key
		var err error
		switch key {
		case "name":
			ec.Name, err = nonEmptyString(val, p)
		case "within":
			ec.Within, err = nonEmptyString(val, p)
		default:
			err = invalid.Field(p, "is not a known key")
		}
		if err != nil {
			return nil, err
		}
	}
	return ec, nil
}

func toJourneyState(v any, path string) (*JourneyState, error) {
	obj, ok := v.(*strictjson.Object)
	if !ok {
		return nil, invalid.Field(path, "must be an object with key and status, or key, milestone and milestoneStatus")
	}
	j := &JourneyState{}
	for i, key := range obj.Keys {
		val, p := obj.Vals[i], path+"."+key
		var err error
		switch key {
		case "key":
			j.Key, err = nonEmptyString(val, p)
		case "milestone":
			j.Milestone, err = nonEmptyString(val, p)
		case "status":
			j.Status, err = stringArray(val, p)
		case "milestoneStatus":
			j.MilestoneStatus, err = stringArray(val, p)
		default:
			err = invalid.Field(p, "is not a known key")
		}
		if err != nil {
			return nil, err
		}
	}
	return j, nil
}

// stringArray reads a JSON list of strings (at most MaxListLen); an empty list is kept
// non-nil, for validation to refuse.
func stringArray(v any, path string) ([]string, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, invalid.Field(path, "must be a list of strings")
	}
	if len(arr) > MaxListLen {
		return nil, invalid.Field(path, "must hold at most %d values", MaxListLen)
	}
	out := make([]string, len(arr))
	for i, e := range arr {
		s, ok := e.(string)
		if !ok {
			return nil, invalid.Field(fmt.Sprintf("%s[%d]", path, i), "must be a string")
		}
		out[i] = s
	}
	return out, nil
}

func nonEmptyString(v any, path string) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", invalid.Field(path, "must be a string")
	}
	if s == "" {
		return "", invalid.Field(path, "must not be empty")
	}
	return s, nil
}

// validator checks a tree against its scope and the limits, normalising values and compiling
// the tree as it goes.
type validator struct {
	scope Scope
	nodes int
}

// kindsOf lists the discriminating keys set on n (all, any, not and the predicate kinds' keys);
// a valid node has exactly one.
func kindsOf(n *Node) []string {
	var kinds []string
	if n.All != nil {
		kinds = append(kinds, "all")
	}
	if n.Any != nil {
		kinds = append(kinds, "any")
	}
	if n.Not != nil {
		kinds = append(kinds, "not")
	}
	for _, k := range predicateKinds {
		if k.present(n) {
			kinds = append(kinds, k.key)
		}
	}
	return kinds
}

func kindList() string {
	names := []string{"all", "any", "not"}
	for _, k := range predicateKinds {
		names = append(names, k.key)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func (v *validator) node(n Node, path string, depth int) (Node, *expr, error) {
	if depth > MaxDepth {
		return Node{}, nil, invalid.Field(path, "is nested deeper than %d levels", MaxDepth)
	}
	v.nodes++
	if v.nodes > MaxNodes {
		return Node{}, nil, invalid.Field(path, "is beyond the limit of %d conditions in one tree", MaxNodes)
	}
	kinds := kindsOf(&n)
	switch len(kinds) {
	case 0:
		return Node{}, nil, invalid.Field(path, "must have one of %s", kindList())
	case 1:
	default:
		return Node{}, nil, invalid.Field(path+"."+kinds[1], "cannot be combined with %s in one node", kinds[0])
	}
	switch kinds[0] {
	case "all", "any":
		kids, kind := n.All, exprAll
		if kinds[0] == "any" {
			kids, kind = n.Any, exprAny
		}
		if err := groupOnly(&n, path); err != nil {
			return Node{}, nil, err
		}
		if len(kids) == 0 {
			return Node{}, nil, invalid.Field(path+"."+kinds[0], "must hold at least one condition")
		}
		out := make([]Node, len(kids))
		e := &expr{kind: kind, path: path}
		for i, k := range kids {
			kn, ke, err := v.node(k, fmt.Sprintf("%s.%s[%d]", path, kinds[0], i), depth+1)
			if err != nil {
				return Node{}, nil, err
			}
			out[i] = kn
			e.kids = append(e.kids, ke)
		}
		if kind == exprAll {
			return Node{All: out}, e, nil
		}
		return Node{Any: out}, e, nil
	case "not":
		if err := groupOnly(&n, path); err != nil {
			return Node{}, nil, err
		}
		kn, ke, err := v.node(*n.Not, path+".not", depth+1)
		if err != nil {
			return Node{}, nil, err
		}
		return Node{Not: &kn}, &expr{kind: exprNot, path: path, kids: []*expr{ke}}, nil
	}
	for _, k := range predicateKinds {
		if k.key != kinds[0] {
			continue
		}
		out := n.clone()
		p, err := k.build(v, &out, path)
		if err != nil {
			return Node{}, nil, err
		}
		return out, &expr{kind: exprPredicate, path: path, pred: p}, nil
	}
	panic("condition: unreachable node kind " + kinds[0])
}

// groupOnly rejects predicate operands on a group node.
func groupOnly(n *Node, path string) error {
	switch {
	case n.Op != "":
		return invalid.Field(path+".op", "is not used by a group")
	case n.Value != nil:
		return invalid.Field(path+".value", "is not used by a group")
	case n.Duration != "":
		return invalid.Field(path+".duration", "is not used by a group")
	}
	return nil
}
