package condition

import (
	"strings"
	"time"

	"github.com/stewardhq/steward/db"
)

// fieldType is the type of a field, which decides its operators and how values compare.
type fieldType int

const (
	typeString     fieldType = iota // text; eq/in exact, contains ASCII-case-insensitive
	typeInt                         // whole numbers, including money in minor units
	typeBool                        // true or false
	typeID                          // a UUID, e.g. the owner's user id
	typeDate                        // a calendar date
	typeTime                        // an instant
	typeStringList                  // a list of strings (tags)
	typeJSON                        // one key of a custom attributes object
)

// entity is whose row a field reads.
type entity int

const (
	ofAccount entity = iota
	ofContact
)

// field is one whitelisted field: its name in the JSON, the SQL column it compiles to (the only
// identifiers a compiled condition contains besides the fixed table aliases), and how Go reads
// it from a Subject. get returns nil when the value is missing (SQL NULL), else a string,
// int64, bool, uuid.UUID, time.Time, date, []string or json.RawMessage by type.
type field struct {
	name     string
	entity   entity
	column   string
	typ      fieldType
	nullable bool
	get      func(s Subject) any
}

// customPrefix is how a custom attribute field name starts, per entity; the rest of the name is
// one top-level key of the custom attributes object.
var customPrefix = map[entity]string{ofAccount: "account.custom.", ofContact: "contact.custom."}

// fields is the whitelist, by name.
var fields = map[string]*field{}

func init() {
	acc := func(name, column string, typ fieldType, nullable bool, get func(a *db.Account) any) {
		fields[name] = &field{name: name, entity: ofAccount, column: column, typ: typ, nullable: nullable,
			get: func(s Subject) any { return get(s.Account) }}
	}
	con := func(name, column string, typ fieldType, nullable bool, get func(c *db.Contact) any) {
		fields[name] = &field{name: name, entity: ofContact, column: column, typ: typ, nullable: nullable,
			get: func(s Subject) any { return get(s.Contact) }}
	}
	acc("account.name", "a.name", typeString, false, func(a *db.Account) any { return a.Name })
	acc("account.domain", "a.domain", typeString, true, func(a *db.Account) any { return orNil(a.Domain) })
	acc("account.stage", "a.stage", typeString, false, func(a *db.Account) any { return a.Stage })
	acc("account.healthScore", "a.health_score", typeInt, true, func(a *db.Account) any {
		if a.HealthScore == nil {
			return nil
		}
		return int64(*a.HealthScore)
	})
	acc("account.arrMinor", "a.arr_minor", typeInt, false, func(a *db.Account) any { return a.ARRMinor })
	acc("account.arrCurrency", "a.arr_currency", typeString, false, func(a *db.Account) any { return a.ARRCurrency })
	acc("account.renewalDate", "a.renewal_date", typeDate, true, func(a *db.Account) any {
		if a.RenewalDate == nil {
			return nil
		}
		return dateOf(*a.RenewalDate)
	})
	acc("account.owner", "a.owner_id", typeID, true, func(a *db.Account) any { return orNil(a.OwnerID) })
	acc("account.tags", "a.tags", typeStringList, false, func(a *db.Account) any { return a.Tags })
	acc("account.lastLoginAt", "a.last_login_at", typeTime, true, func(a *db.Account) any { return orNil(a.LastLoginAt) })
	acc("account.lastActivityAt", "a.last_activity_at", typeTime, true, func(a *db.Account) any { return orNil(a.LastActivityAt) })
	acc("account.createdAt", "a.created_at", typeTime, false, func(a *db.Account) any { return a.CreatedAt })

	con("contact.name", "c.name", typeString, false, func(c *db.Contact) any { return c.Name })
	con("contact.email", "c.email", typeString, false, func(c *db.Contact) any { return c.Email })
	con("contact.title", "c.title", typeString, true, func(c *db.Contact) any { return orNil(c.Title) })
	con("contact.persona", "c.persona", typeString, true, func(c *db.Contact) any { return orNil(c.Persona) })
	con("contact.lastSeenAt", "c.last_seen_at", typeTime, true, func(c *db.Contact) any { return orNil(c.LastSeenAt) })
	con("contact.emailOptOut", "c.email_opt_out", typeBool, false, func(c *db.Contact) any { return c.EmailOptOut })
	con("contact.createdAt", "c.created_at", typeTime, false, func(c *db.Contact) any { return c.CreatedAt })
}

// customField is the field for one custom attribute key of an entity.
func customField(e entity, name string) *field {
	f := &field{name: name, entity: e, typ: typeJSON, nullable: true}
	if e == ofAccount {
		f.column = "a.custom"
		f.get = func(s Subject) any { return s.Account.Custom }
	} else {
		f.column = "c.custom"
		f.get = func(s Subject) any { return s.Contact.Custom }
	}
	return f
}

// lookupField resolves a field name to its definition and, for custom attributes, the key.
func lookupField(name string) (*field, string, bool) {
	if f, ok := fields[name]; ok {
		return f, "", true
	}
	for e, prefix := range customPrefix {
		if key, ok := strings.CutPrefix(name, prefix); ok {
			return customField(e, name), key, true
		}
	}
	return nil, "", false
}

// ops lists the operators a field accepts, in the order error messages show them.
func (f *field) ops() []Op {
	var ops []Op
	switch f.typ {
	case typeString:
		ops = []Op{OpEq, OpNeq, OpIn, OpNotIn, OpContains}
	case typeInt:
		ops = []Op{OpEq, OpNeq, OpIn, OpNotIn, OpLt, OpLte, OpGt, OpGte}
	case typeBool:
		ops = []Op{OpEq, OpNeq}
	case typeID:
		ops = []Op{OpEq, OpNeq, OpIn, OpNotIn}
	case typeDate:
		ops = []Op{OpEq, OpNeq, OpLt, OpLte, OpGt, OpGte, OpWithin, OpWithinNext, OpOlderThan}
	case typeTime:
		ops = []Op{OpLt, OpLte, OpGt, OpGte, OpWithin, OpOlderThan}
		if f.nullable {
			ops = append(ops, OpNotWithin)
		}
	case typeStringList:
		return []Op{OpContains, OpIn, OpNotIn, OpExists, OpNotExists}
	case typeJSON:
		return []Op{OpEq, OpNeq, OpIn, OpNotIn, OpLt, OpLte, OpGt, OpGte, OpContains, OpExists, OpNotExists}
	}
	if f.nullable {
		ops = append(ops, OpExists, OpNotExists)
	}
	return ops
}

func orNil[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// date is a calendar date as days since 1970-01-01.
type date int64

// dateOf is the calendar date t shows in its own location: a date column read from PostgreSQL
// is midnight UTC, and a date a caller built at local midnight keeps its day.
func dateOf(t time.Time) date {
	y, m, d := t.Date()
	return date(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// String formats d as PostgreSQL and the API read dates.
func (d date) String() string {
	return time.Unix(int64(d)*86400, 0).UTC().Format(time.DateOnly)
}
