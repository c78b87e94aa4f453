package condition

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/stewardhq/steward/invalid"
)

// jsonKind is the JSON type a custom attribute value has, or a custom predicate compares with.
type jsonKind int

const (
	jsonMissing jsonKind = iota
	jsonNull
	jsonString
	jsonNumber
	jsonBool
	jsonOther // object or array: only exists and notExists look at them
)

// operand is a field predicate's validated value; which members are set depends on the field
// type and the operator.
type operand struct {
	kind jsonKind // custom attributes: the type the value has
	s    string
	ss   []string
	n    int64
	ns   []int64
	b    bool
	t    time.Time
	d    date
	id   uuid.UUID
	ids  []uuid.UUID
	span span
}

// fieldPred compares one field of the account or the contact.
type fieldPred struct {
	f   *field
	key string // custom attribute key
	op  Op
	o   operand
}

func buildField(v *validator, n *Node, path string) (predicate, error) {
	fpath := path + ".field"
	f, key, ok := lookupField(n.Field)
	if !ok {
		return nil, invalid.Field(fpath, "is not a known field")
	}
	if f.typ == typeJSON {
		if err := checkName(key, fpath); err != nil {
			e, _ := invalid.As(err)
			return nil, invalid.Field(fpath, "custom attribute key %s", e.Message)
		}
	}
	if f.entity == ofContact && v.scope == ScopeAccount {
		return nil, invalid.Field(fpath, "is a contact field, which an ACCOUNT condition cannot use")
	}
	if err := checkOp(n, path, f.ops(), n.Field); err != nil {
		return nil, err
	}
	if err := checkOperands(n, path); err != nil {
		return nil, err
	}
	p := &fieldPred{f: f, key: key, op: n.Op}
	switch arityOf(n.Op) {
	case arityDuration:
		d, err := durationAt(n.Duration, path+".duration")
		if err != nil {
			return nil, err
		}
		if _, whole := d.wholeDays(); f.typ == typeDate && !whole {
			return nil, invalid.Field(path+".duration", "must be whole days (d, w or mo) for a date field")
		}
		p.o.span = d
	case arityValue:
		norm, err := p.scalar(n.Value, path+".value", &p.o, false)
		if err != nil {
			return nil, err
		}
		n.Value = norm
	case arityList:
		norm, err := p.list(n.Value, path+".value")
		if err != nil {
			return nil, err
		}
		n.Value = norm
	}
	return p, nil
}

// scalar validates one value for the field and operator into o, returning its normalised form.
// inList says the value is an element of an in/notIn list.
func (p *fieldPred) scalar(v any, path string, o *operand, inList bool) (any, error) {
	typ := p.f.typ
	if typ == typeStringList {
		typ = typeString // elements of a list compare as strings
	}
	if typ == typeJSON {
		// A custom attribute compares as the type of the value it is compared with.
		switch {
		case p.op == OpContains:
			typ = typeString
		case slices.Contains([]Op{OpLt, OpLte, OpGt, OpGte}, p.op):
			typ = typeInt
		default:
			switch v.(type) {
			case string:
				typ = typeString
			case bool:
				if inList {
					return nil, invalid.Field(path, "must be a string or a whole number")
				}
				typ = typeBool
			default:
				if !isNumber(v) {
					if inList {
						return nil, invalid.Field(path, "must be a string or a whole number")
					}
					return nil, invalid.Field(path, "must be a string, a whole number or a boolean")
				}
				typ = typeInt
			}
		}
		o.kind = map[fieldType]jsonKind{typeString: jsonString, typeInt: jsonNumber, typeBool: jsonBool}[typ]
	}
	switch typ {
	case typeString:
		s, err := stringValue(v, path)
		if err != nil {
			return nil, err
		}
		o.s = s
		if p.op == OpContains {
			if s == "" {
				return nil, invalid.Field(path, "must not be empty")
			}
			if p.f.typ != typeStringList { // a tag matches exactly; text case-insensitively
				o.s = asciiLower(s)
			}
		}
		return s, nil
	case typeInt:
		n, err := intValue(v, path)
		if err != nil {
			return nil, err
		}
		o.n = n
		return n, nil
	case typeBool:
		b, ok := v.(bool)
		if !ok {
			return nil, invalid.Field(path, "must be true or false")
		}
		o.b = b
		return b, nil
	case typeID:
		s, ok := v.(string)
		id, err := uuid.Parse(s)
		if !ok || err != nil {
			return nil, invalid.Field(path, "must be a user id")
		}
		o.id = id
		return id.String(), nil
	case typeDate:
		s, ok := v.(string)
		t, err := time.Parse(time.DateOnly, s)
		if !ok || err != nil || t.Year() < 1 {
			return nil, invalid.Field(path, "must be a date such as 2026-01-31")
		}
		o.d = dateOf(t)
		return o.d.String(), nil
	case typeTime:
		s, ok := v.(string)
		t, err := time.Parse(time.RFC3339Nano, s)
		if !ok || err != nil {
			return nil, invalid.Field(path, "must be a time such as 2026-01-31T09:00:00Z")
		}
		t = t.UTC()
		if y := t.Year(); y < 1 || y > 9999 {
			return nil, invalid.Field(path, "must be a time between years 1 and 9999")
		}
		if t.Nanosecond()%1000 != 0 {
			return nil, invalid.Field(path, "must not be more precise than microseconds")
		}
		o.t = t
		return t.Format(time.RFC3339Nano), nil
	}
	return nil, fmt.Errorf("condition: no scalar for field type %d", typ)
}

// list validates an in/notIn list: every element like the first (for custom attributes, all
// strings or all whole numbers).
func (p *fieldPred) list(v any, path string) (any, error) {
	items, err := listValue(v, path)
	if err != nil {
		return nil, err
	}
	var strs []string
	var nums []int64
	for i, item := range items {
		var e operand
		ipath := fmt.Sprintf("%s[%d]", path, i)
		norm, err := p.scalar(item, ipath, &e, true)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			p.o.kind = e.kind
		} else if e.kind != p.o.kind {
			if p.o.kind == jsonString {
				return nil, invalid.Field(ipath, "must be a string like the first value")
			}
			return nil, invalid.Field(ipath, "must be a whole number like the first value")
		}
		switch x := norm.(type) {
		case string:
			strs = append(strs, x)
		case int64:
			nums = append(nums, x)
		}
		p.o.ss = append(p.o.ss, e.s)
		p.o.ns = append(p.o.ns, e.n)
		p.o.ids = append(p.o.ids, e.id)
	}
	if nums != nil {
		return nums, nil
	}
	return strs, nil
}

// --- SQL -----------------------------------------------------------------------------------

func (p *fieldPred) sql(b *sqlBuilder, at instant) string {
	col := p.f.column
	switch p.f.typ {
	case typeString:
		switch p.op {
		case OpExists:
			return col + " IS NOT NULL"
		case OpNotExists:
			return col + " IS NULL"
		}
		return p.stringSQL(b, col)
	case typeInt:
		switch p.op {
		case OpExists:
			return col + " IS NOT NULL"
		case OpNotExists:
			return col + " IS NULL"
		}
		return cmpSQL(b, col, p.op, p.o.n, p.o.ns, "bigint")
	case typeBool:
		return cmpSQL(b, col, p.op, p.o.b, nil, "boolean")
	case typeID:
		switch p.op {
		case OpExists:
			return col + " IS NOT NULL"
		case OpNotExists:
			return col + " IS NULL"
		}
		ids := make([]string, len(p.o.ids))
		for i, id := range p.o.ids {
			ids[i] = id.String()
		}
		return cmpSQL(b, col, p.op, p.o.id.String(), ids, "uuid")
	case typeDate:
		switch p.op {
		case OpExists:
			return col + " IS NOT NULL"
		case OpNotExists:
			return col + " IS NULL"
		case OpWithin, OpWithinNext:
			lo, hi := p.dateWindow(at)
			return fmt.Sprintf("%s BETWEEN %s::date AND %s::date", col, b.arg(lo.String()), b.arg(hi.String()))
		case OpOlderThan:
			lo, _ := p.dateWindow(at)
			return fmt.Sprintf("%s < %s::date", col, b.arg(lo.String()))
		}
		return cmpSQL(b, col, p.op, p.o.d.String(), nil, "date")
	case typeTime:
		switch p.op {
		case OpExists:
			return col + " IS NOT NULL"
		case OpNotExists:
			return col + " IS NULL"
		case OpWithin:
			return fmt.Sprintf("%s >= %s::timestamptz", col, b.arg(at.ago(p.o.span)))
		case OpOlderThan:
			return fmt.Sprintf("%s < %s::timestamptz", col, b.arg(at.ago(p.o.span)))
		case OpNotWithin:
			return fmt.Sprintf("(%s IS NULL OR %s < %s::timestamptz)", col, col, b.arg(at.ago(p.o.span)))
		}
		return cmpSQL(b, col, p.op, p.o.t, nil, "timestamptz")
	case typeStringList:
		switch p.op {
		case OpContains:
			return fmt.Sprintf("%s @> ARRAY[%s::text]", col, b.arg(p.o.s))
		case OpIn:
			return fmt.Sprintf("%s && %s::text[]", col, b.arg(pgdialect.Array(p.o.ss)))
		case OpNotIn:
			return fmt.Sprintf("NOT (%s && %s::text[])", col, b.arg(pgdialect.Array(p.o.ss)))
		case OpExists:
			return fmt.Sprintf("cardinality(%s) > 0", col)
		case OpNotExists:
			return fmt.Sprintf("cardinality(%s) = 0", col)
		}
	case typeJSON:
		return p.jsonSQL(b, col)
	}
	panic(fmt.Sprintf("condition: no SQL for %s %s", p.f.name, p.op))
}

// stringSQL compares the text expression lhs; contains lowercases ASCII only, as asciiLower.
func (p *fieldPred) stringSQL(b *sqlBuilder, lhs string) string {
	if p.op == OpContains {
		return fmt.Sprintf("strpos(translate(%s, '%s', '%s'), %s::text) > 0", lhs, upperASCII, lowerASCII, b.arg(p.o.s))
	}
	return cmpSQL(b, lhs, p.op, p.o.s, p.o.ss, "text")
}

// jsonSQL compares one key of a jsonb object. CASE guarantees the cast runs only on a value of
// the right JSON type; any other type (or a missing key) is false, as in Go.
func (p *fieldPred) jsonSQL(b *sqlBuilder, col string) string {
	typeOf := fmt.Sprintf("jsonb_typeof(%s -> %s::text)", col, b.arg(p.key))
	switch p.op {
	case OpExists:
		return fmt.Sprintf("coalesce(%s <> 'null', false)", typeOf)
	case OpNotExists:
		return fmt.Sprintf("coalesce(%s = 'null', true)", typeOf)
	}
	text := fmt.Sprintf("(%s ->> %s::text)", col, b.arg(p.key))
	var want, cmp string
	switch p.o.kind {
	case jsonString:
		want, cmp = "string", p.stringSQL(b, text)
	case jsonNumber:
		want, cmp = "number", cmpSQL(b, text+"::numeric", p.op, p.o.n, p.o.ns, "numeric")
	case jsonBool:
		want, cmp = "boolean", cmpSQL(b, text+"::boolean", p.op, p.o.b, nil, "boolean")
	}
	return fmt.Sprintf("CASE WHEN %s = '%s' THEN %s ELSE false END", typeOf, want, cmp)
}

// cmpSQL compares lhs with one value (eq to gte) or a list (in, notIn), cast to typ.
func cmpSQL[T any](b *sqlBuilder, lhs string, op Op, one T, list []T, typ string) string {
	switch op {
	case OpIn:
		return fmt.Sprintf("%s = ANY(%s::%s[])", lhs, b.arg(pgdialect.Array(list)), typ)
	case OpNotIn:
		return fmt.Sprintf("%s <> ALL(%s::%s[])", lhs, b.arg(pgdialect.Array(list)), typ)
	}
	sym := map[Op]string{OpEq: "=", OpNeq: "<>", OpLt: "<", OpLte: "<=", OpGt: ">", OpGte: ">="}[op]
	if sym == "" {
		panic(fmt.Sprintf("condition: no SQL operator for %s", op))
	}
	return fmt.Sprintf("%s %s %s::%s", lhs, sym, b.arg(one), typ)
}

// dateWindow is the inclusive date range of within (the last n days up to today) and
// withinNext (today up to n days ahead); olderThan is before the low end of within.
func (p *fieldPred) dateWindow(at instant) (date, date) {
	n, _ := p.o.span.wholeDays()
	if p.op == OpWithinNext {
		return at.today, at.today + date(n)
	}
	return at.today - date(n), at.today
}

// --- Go --------------------------------------------------------------------------------------

func (p *fieldPred) need(*needSet, instant) {}

func (p *fieldPred) eval(s Subject, at instant) (bool, any, error) {
	v := p.f.get(s)
	switch p.f.typ {
	case typeJSON:
		raw, _ := v.(json.RawMessage)
		held, seen := p.evalJSON(raw)
		return held, seen, nil
	case typeStringList:
		tags, _ := v.([]string)
		return p.evalList(tags), slices.Clone(tags), nil
	}
	if v == nil {
		return p.op == OpNotExists || p.op == OpNotWithin, nil, nil
	}
	switch p.op {
	case OpExists:
		return true, seenOf(v), nil
	case OpNotExists:
		return false, seenOf(v), nil
	}
	switch x := v.(type) {
	case string:
		return p.evalString(x), x, nil
	case int64:
		return p.evalInt(x), x, nil
	case bool:
		return cmpHolds(boolCmp(x, p.o.b), p.op), x, nil
	case uuid.UUID:
		switch p.op {
		case OpIn:
			return slices.Contains(p.o.ids, x), x.String(), nil
		case OpNotIn:
			return !slices.Contains(p.o.ids, x), x.String(), nil
		}
		return cmpHolds(bytes.Compare(x[:], p.o.id[:]), p.op), x.String(), nil
	case date:
		return p.evalDate(x, at), x.String(), nil
	case time.Time:
		return p.evalTime(x, at), x.UTC(), nil
	}
	return false, nil, fmt.Errorf("condition: %s read an unexpected %T", p.f.name, v)
}

func seenOf(v any) any {
	switch x := v.(type) {
	case uuid.UUID:
		return x.String()
	case date:
		return x.String()
	case time.Time:
		return x.UTC()
	}
	return v
}

func boolCmp(x, y bool) int {
	if x == y {
		return 0
	}
	return 1
}

func (p *fieldPred) evalString(s string) bool {
	switch p.op {
	case OpIn:
		return slices.Contains(p.o.ss, s)
	case OpNotIn:
		return !slices.Contains(p.o.ss, s)
	case OpContains:
		return strings.Contains(asciiLower(s), p.o.s)
	}
	return cmpHolds(strings.Compare(s, p.o.s), p.op)
}

func (p *fieldPred) evalInt(n int64) bool {
	switch p.op {
	case OpIn:
		return slices.Contains(p.o.ns, n)
	case OpNotIn:
		return !slices.Contains(p.o.ns, n)
	}
	return cmpHolds(cmpInt(n, p.o.n), p.op)
}

func cmpInt(x, y int64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func (p *fieldPred) evalDate(d date, at instant) bool {
	switch p.op {
	case OpWithin, OpWithinNext:
		lo, hi := p.dateWindow(at)
		return lo <= d && d <= hi
	case OpOlderThan:
		lo, _ := p.dateWindow(at)
		return d < lo
	}
	return cmpHolds(cmpInt(int64(d), int64(p.o.d)), p.op)
}

func (p *fieldPred) evalTime(t time.Time, at instant) bool {
	switch p.op {
	case OpWithin:
		return !t.Before(at.ago(p.o.span))
	case OpOlderThan, OpNotWithin:
		return t.Before(at.ago(p.o.span))
	}
	return cmpHolds(t.Compare(p.o.t), p.op)
}

func (p *fieldPred) evalList(tags []string) bool {
	switch p.op {
	case OpContains:
		return slices.Contains(tags, p.o.s)
	case OpIn, OpNotIn:
		overlap := slices.ContainsFunc(tags, func(t string) bool { return slices.Contains(p.o.ss, t) })
		return overlap == (p.op == OpIn)
	case OpExists:
		return len(tags) > 0
	case OpNotExists:
		return len(tags) == 0
	}
	return false
}

// evalJSON decides a custom attribute predicate, returning the attribute's decoded value.
func (p *fieldPred) evalJSON(raw json.RawMessage) (bool, any) {
	val, kind := customValue(raw, p.key)
	var seen any
	if kind != jsonMissing {
		dec := json.NewDecoder(bytes.NewReader(val))
		dec.UseNumber()
		_ = dec.Decode(&seen) // val came out of a valid document
	}
	switch p.op {
	case OpExists:
		return kind != jsonMissing && kind != jsonNull, seen
	case OpNotExists:
		return kind == jsonMissing || kind == jsonNull, seen
	}
	if kind != p.o.kind {
		return false, seen
	}
	switch kind {
	case jsonString:
		s, _ := seen.(string)
		return p.evalString(s), seen
	case jsonBool:
		b, _ := seen.(bool)
		return cmpHolds(boolCmp(b, p.o.b), p.op), seen
	case jsonNumber:
		r, ok := new(big.Rat).SetString(string(bytes.TrimSpace(val)))
		if !ok {
			return false, seen
		}
		eq := func(n int64) bool { return r.Cmp(new(big.Rat).SetInt64(n)) == 0 }
		switch p.op {
		case OpIn:
			return slices.ContainsFunc(p.o.ns, eq), seen
		case OpNotIn:
			return !slices.ContainsFunc(p.o.ns, eq), seen
		}
		return cmpHolds(r.Cmp(new(big.Rat).SetInt64(p.o.n)), p.op), seen
	}
	return false, seen
}

// customValue finds key in a custom attributes object. Anything but an object has no keys; a
// repeated key resolves to its last value, as in jsonb.
func customValue(raw json.RawMessage, key string) (json.RawMessage, jsonKind) {
	var obj map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &obj) != nil || obj == nil {
		return nil, jsonMissing
	}
	val, ok := obj[key]
	if !ok {
		return nil, jsonMissing
	}
	t := bytes.TrimSpace(val)
	if len(t) == 0 {
		return nil, jsonMissing
	}
	switch t[0] {
	case 'n':
		return val, jsonNull
	case '"':
		return val, jsonString
	case 't', 'f':
		return val, jsonBool
	case '{', '[':
		return val, jsonOther
	}
	return val, jsonNumber
}
