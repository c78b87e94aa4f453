package play

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/stewardhq/steward/account"
	"github.com/stewardhq/steward/condition"
	"github.com/stewardhq/steward/invalid"
	"github.com/stewardhq/steward/strictjson"
)

// rootPath names the definition's root in error paths.
const rootPath = "definition"

// Limits on parts of a definition, beside the exported ones.
const (
	maxJSONDepth        = 64
	maxStepNameLen      = 200
	maxLineLen          = 200 // an email subject, a message or task title
	maxEmailBodyLen     = 20000
	maxTextLen          = 5000 // an in-app body, a task description, a note
	maxPersonas         = 20
	maxPersonaLen       = 100
	maxTeamRoleLen      = 100
	maxOperations       = 20
	maxTagLen           = 64
	maxCustomValueBytes = 4 << 10
	maxPropertyFilters  = 20
	maxPropertyValueLen = 200
	maxURLLen           = 2048
	maxWebhookBodyBytes = 16 << 10
	maxHeaders          = 20
	maxHeaderNameLen    = 100
	maxHeaderValueLen   = 1000
	maxRetries          = 10
	defaultRetries      = 3
)

var (
	stepIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,40}$`)
	// journeyKeyPattern is what the journeys table accepts as a key, and what journey
	// definitions accept as a milestone key.
	journeyKeyPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	headerNamePattern = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
)

// changeFields are the fields a FIELD_CHANGE trigger may watch: those a mutation can change.
// Custom attributes ("account.custom.<key>", "contact.custom.<key>") are allowed too.
var changeFields = []string{
	"account.name", "account.domain", "account.stage", "account.healthScore", "account.arrMinor",
	"account.arrCurrency", "account.renewalDate", "account.owner", "account.tags",
	"contact.name", "contact.email", "contact.title", "contact.persona", "contact.emailOptOut",
}

// setFields are the fields an UPDATE_ACCOUNT setField operation may set.
var setFields = []string{SetStage, SetHealthScore, SetRenewalDate, SetOwner}

// stepKeys are the keys each kind of step has beside id, kind and name.
var stepKeys = map[StepKind][]string{
	StepSendEmail:       {"to", "personas", "subject", "body"},
	StepInAppMessage:    {"to", "personas", "title", "body", "style"},
	StepCreateTask:      {"title", "description", "assignee", "dueIn", "priority"},
	StepUpdateAccount:   {"operations"},
	StepAddTimelineNote: {"body"},
	StepWait:            {"duration"},
	StepWaitUntil:       {"until", "timeout", "onTimeout"},
	StepBranch:          {"if", "then", "else"},
	StepRepeatUntil:     {"until", "interval", "maxTimes", "steps"},
	StepSendWebhook:     {"url", "body", "headers", "retries"},
	StepEnrollInJourney: {"journey"},
}

// parser validates one definition, normalising it as it goes.
type parser struct {
	scope    condition.Scope
	complete bool
	steps    int
	ids      map[string]string // step id → path of the step that has it
	unnamed  []*Step           // steps that get a generated id
}

func parse(raw []byte, scope condition.Scope, complete bool) (*Definition, error) {
	if scope != condition.ScopeAccount && scope != condition.ScopeContact {
		return nil, fmt.Errorf("parse play definition: unknown scope %q", scope)
	}
	if len(raw) > MaxDefinitionBytes {
		return nil, invalid.Field(rootPath, "must be at most %d KiB of JSON", MaxDefinitionBytes>>10)
	}
	v, err := strictjson.Decode(raw, rootPath, maxJSONDepth)
	if err != nil {
		return nil, err
	}
	f, err := strictjson.AsObject(v, rootPath)
	if err != nil {
		return nil, err
	}
	if err := f.Only("", "trigger", "entry", "reentry", "goal", "exit", "steps"); err != nil {
		return nil, err
	}
	p := &parser{scope: scope, complete: complete, ids: map[string]string{}}
	d := &Definition{Reentry: Reentry{Policy: ReentryNotWhileActive}, Steps: []Step{}}
	if v, ok := f.Get("trigger"); ok {
		if d.Trigger, err = p.trigger(v, f.At("trigger")); err != nil {
			return nil, err
		}
	} else if err := p.required(f.At("trigger")); err != nil {
		return nil, err
	}
	if v, ok := f.Get("entry"); ok {
		if d.Entry, err = p.condition(v, f.At("entry")); err != nil {
			return nil, err
		}
	}
	if v, ok := f.Get("reentry"); ok {
		if d.Reentry, err = p.reentry(v, f.At("reentry")); err != nil {
			return nil, err
		}
	}
	if v, ok := f.Get("goal"); ok {
		if d.Goal, err = p.check(v, f.At("goal")); err != nil {
			return nil, err
		}
	}
	if v, ok := f.Get("exit"); ok {
		if d.Exit, err = p.check(v, f.At("exit")); err != nil {
			return nil, err
		}
	}
	if v, ok := f.Get("steps"); ok {
		if d.Steps, err = p.stepList(v, f.At("steps"), 1); err != nil {
			return nil, err
		}
	}
	if complete && len(d.Steps) == 0 {
		return nil, invalid.Field(f.At("steps"), "must hold at least one step")
	}
	p.nameSteps()
	return d, nil
}

// required reports a missing value, when the definition must be complete.
func (p *parser) required(path string) error {
	if p.complete {
		return invalid.Field(path, "is required")
	}
	return nil
}

// condition validates a condition tree for the play's scope, reporting errors at path.
func (p *parser) condition(v any, path string) (*condition.Condition, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("re-encode condition: %w", err)
	}
	c, err := condition.Parse(raw, p.scope)
	if err != nil {
		return nil, reroot(err, path)
	}
	return c, nil
}

// check validates a Check: {"eventSinceStart": name} or a condition.
func (p *parser) check(v any, path string) (*Check, error) {
	o, ok := v.(*strictjson.Object)
	if !ok || !slices.Contains(o.Keys, "eventSinceStart") {
		c, err := p.condition(v, path)
		if err != nil {
			return nil, err
		}
		return &Check{Condition: c}, nil
	}
	f := &strictjson.Fields{Path: path, Obj: o}
	for _, k := range o.Keys {
		if k != "eventSinceStart" {
			return nil, invalid.Field(f.At(k), "cannot be combined with eventSinceStart")
		}
	}
	name, ok, err := f.Str("eventSinceStart")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, invalid.Field(f.At("eventSinceStart"), "must be a string")
	}
	if err := p.eventName(name, f.At("eventSinceStart")); err != nil {
		return nil, err
	}
	return &Check{EventSinceStart: name}, nil
}

// eventName validates an event name as conditions do.
func (p *parser) eventName(name, path string) error {
	if _, err := condition.New(condition.Node{Event: name, Op: condition.OpExists}, p.scope); err != nil {
		if name == "" {
			return invalid.Field(path, "must not be empty")
		}
		return rename(err, path)
	}
	return nil
}

func (p *parser) reentry(v any, path string) (Reentry, error) {
	r := Reentry{Policy: ReentryNotWhileActive}
	f, err := strictjson.AsObject(v, path)
	if err != nil {
		return r, err
	}
	if err := f.Only("", "policy", "cooldown"); err != nil {
		return r, err
	}
	policy, ok, err := f.Str("policy")
	if err != nil {
		return r, err
	}
	if ok {
		all := []ReentryPolicy{ReentryOnce, ReentryNotWhileActive, ReentryCooldown}
		if !slices.Contains(all, ReentryPolicy(policy)) {
			return r, invalid.Field(f.At("policy"), "must be one of %s", joinNames(all))
		}
		r.Policy = ReentryPolicy(policy)
	}
	cooldown, ok, err := p.duration(f, "cooldown")
	switch {
	case err != nil:
		return r, err
	case ok && r.Policy != ReentryCooldown:
		return r, invalid.Field(f.At("cooldown"), "is only used with the COOLDOWN policy")
	case !ok && r.Policy == ReentryCooldown:
		return r, p.required(f.At("cooldown"))
	}
	r.Cooldown = cooldown
	return r, nil
}

// duration reads an optional duration.
func (p *parser) duration(f *strictjson.Fields, key string) (Duration, bool, error) {
	v, ok := f.Get(key)
	if !ok {
		return "", false, nil
	}
	s, _ := v.(string)
	if _, err := condition.ParseDuration(s); err != nil {
		return "", false, invalid.Field(f.At(key), "%s", err)
	}
	return Duration(s), true, nil
}

// requiredDuration reads a duration that a complete definition must have.
func (p *parser) requiredDuration(f *strictjson.Fields, key string) (Duration, error) {
	d, ok, err := p.duration(f, key)
	if err == nil && !ok {
		err = p.required(f.At(key))
	}
	return d, err
}

// requiredCheck reads a Check that a complete definition must have.
func (p *parser) requiredCheck(f *strictjson.Fields, key string) (*Check, error) {
	v, ok := f.Get(key)
	if !ok {
		return nil, p.required(f.At(key))
	}
	return p.check(v, f.At(key))
}

// ----- triggers -----

func (p *parser) trigger(v any, path string) (*Trigger, error) {
	f, err := strictjson.AsObject(v, path)
	if err != nil {
		return nil, err
	}
	kind, ok, err := f.Str("kind")
	switch {
	case err != nil:
		return nil, err
	case !ok || kind == "":
		return nil, invalid.Field(f.At("kind"), "is required")
	case !slices.Contains(triggerKinds, TriggerKind(kind)):
		return nil, invalid.Field(f.At("kind"), "must be one of %s", joinNames(triggerKinds))
	}
	t := &Trigger{Kind: TriggerKind(kind)}
	what := fmt.Sprintf(" of %s triggers", kind)
	switch t.Kind {
	case TriggerManual:
		err = f.Only(what, "kind")
	case TriggerEvent:
		if err = f.Only(what, "kind", "event", "properties"); err == nil {
			err = p.eventTrigger(f, t)
		}
	case TriggerFieldChange:
		if err = f.Only(what, "kind", "field", "from", "to"); err == nil {
			err = p.changeTrigger(f, t)
		}
	case TriggerSchedule:
		if err = f.Only(what, "kind", "condition"); err == nil {
			if v, ok := f.Get("condition"); ok {
				t.Condition, err = p.condition(v, f.At("condition"))
			} else {
				err = p.required(f.At("condition"))
			}
		}
	case TriggerJourney:
		if err = f.Only(what, "kind", "journey", "on", "milestone"); err == nil {
			err = p.journeyTrigger(f, t)
		}
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

// journeyKey reads a journey key that a complete definition must have.
func (p *parser) journeyKey(f *strictjson.Fields, key string) (string, error) {
	s, ok, err := f.Str(key)
	switch {
	case err != nil:
		return "", err
	case !ok || s == "":
		return "", p.required(f.At(key))
	case !journeyKeyPattern.MatchString(s):
		return "", invalid.Field(f.At(key), "must be a journey key: 1 to 63 characters of a-z, 0-9, _ and -, starting with a letter or digit")
	}
	return s, nil
}

func (p *parser) journeyTrigger(f *strictjson.Fields, t *Trigger) error {
	var err error
	if t.Journey, err = p.journeyKey(f, "journey"); err != nil {
		return err
	}
	if v, ok := f.Get("on"); ok {
		arr, isList := v.([]any)
		path := f.At("on")
		if !isList {
			return invalid.Field(path, "must be a list of journey events")
		}
		if len(arr) == 0 {
			if err := p.required(path); err != nil {
				return invalid.Field(path, "must hold at least one journey event")
			}
		}
		for i, e := range arr {
			kind, _ := e.(string)
			at := fmt.Sprintf("%s[%d]", path, i)
			switch {
			case !slices.Contains(journeyEventKinds, JourneyEventKind(kind)):
				return invalid.Field(at, "must be one of %s", joinNames(journeyEventKinds))
			case slices.Contains(t.On, JourneyEventKind(kind)):
				return invalid.Field(at, "is listed twice")
			}
			t.On = append(t.On, JourneyEventKind(kind))
		}
	} else if err := p.required(f.At("on")); err != nil {
		return err
	}
	milestone, ok, err := f.Str("milestone")
	if err != nil || !ok {
		return err
	}
	path := f.At("milestone")
	if !journeyKeyPattern.MatchString(milestone) {
		return invalid.Field(path, "must be a milestone key: 1 to 63 characters of a-z, 0-9, _ and -, starting with a letter or digit")
	}
	for _, k := range t.On {
		if !slices.Contains(milestoneEventKinds, k) {
			return invalid.Field(path, "is only used with milestone events (%s), but on lists %s", joinNames(milestoneEventKinds), k)
		}
	}
	t.Milestone = milestone
	return nil
}

func (p *parser) eventTrigger(f *strictjson.Fields, t *Trigger) error {
	name, ok, err := f.Str("event")
	if err != nil {
		return err
	}
	if ok && name != "" {
		if err := p.eventName(name, f.At("event")); err != nil {
			return err
		}
		t.Event = name
	} else if err := p.required(f.At("event")); err != nil {
		return err
	}
	v, ok := f.Get("properties")
	if !ok {
		return nil
	}
	props, err := strictjson.AsObject(v, f.At("properties"))
	if err != nil {
		return err
	}
	if len(props.Obj.Keys) > maxPropertyFilters {
		return invalid.Field(props.Path, "must list at most %d properties", maxPropertyFilters)
	}
	for i, key := range props.Obj.Keys {
		path := props.At(key)
		if err := checkName(key, path); err != nil {
			return err
		}
		switch val := props.Obj.Vals[i].(type) {
		case string:
			if utf8.RuneCountInString(val) > maxPropertyValueLen {
				return invalid.Field(path, "must be at most %d characters", maxPropertyValueLen)
			}
		case json.Number, bool:
		default:
			return invalid.Field(path, "must be a string, a number or a boolean")
		}
		if t.Properties == nil {
			t.Properties = map[string]any{}
		}
		t.Properties[key] = props.Obj.Vals[i]
	}
	return nil
}

func (p *parser) changeTrigger(f *strictjson.Fields, t *Trigger) error {
	field, ok, err := f.Str("field")
	if err != nil {
		return err
	}
	path := f.At("field")
	if !ok || field == "" {
		if err := p.required(path); err != nil {
			return err
		}
		for _, k := range []string{"from", "to"} {
			if _, ok := f.Get(k); ok {
				return invalid.Field(f.At(k), "needs a field")
			}
		}
		return nil
	}
	custom := strings.HasPrefix(field, "account.custom.") || strings.HasPrefix(field, "contact.custom.")
	if !custom && !slices.Contains(changeFields, field) {
		return invalid.Field(path, "must be a field a change can start a play on: %s, account.custom.<key> or contact.custom.<key>",
			strings.Join(changeFields, ", "))
	}
	scope := condition.ScopeAccount
	if strings.HasPrefix(field, "contact.") {
		if p.scope == condition.ScopeAccount {
			return invalid.Field(path, "is a contact field, which an ACCOUNT play cannot use")
		}
		scope = condition.ScopeContact
	}
	if custom {
		if _, err := condition.New(condition.Node{Field: field, Op: condition.OpExists}, scope); err != nil {
			return rename(err, path)
		}
	}
	t.Field = field
	for _, k := range []string{"from", "to"} {
		v, ok := f.Get(k)
		if !ok {
			continue
		}
		if field == "account.tags" {
			return invalid.Field(f.At(k), "is not supported on account.tags")
		}
		c, err := condition.New(condition.Node{Field: field, Op: condition.OpEq, Value: strictjson.Plain(v)}, scope)
		if err != nil {
			return rename(err, f.At(k))
		}
		if k == "from" {
			t.From, t.from = c.Root().Value, c
		} else {
			t.To, t.to = c.Root().Value, c
		}
	}
	return nil
}

// ----- steps -----

func (p *parser) stepList(v any, path string, depth int) ([]Step, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, invalid.Field(path, "must be a list of steps")
	}
	if depth > MaxNesting && len(arr) > 0 {
		return nil, invalid.Field(path, "nests steps deeper than %d levels", MaxNesting)
	}
	out := make([]Step, len(arr))
	for i, e := range arr {
		if err := p.step(e, fmt.Sprintf("%s[%d]", path, i), depth, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// optionalSteps reads a list of nested steps, empty when absent.
func (p *parser) optionalSteps(f *strictjson.Fields, key string, depth int) ([]Step, error) {
	v, ok := f.Get(key)
	if !ok {
		return []Step{}, nil
	}
	return p.stepList(v, f.At(key), depth+1)
}

func (p *parser) step(v any, path string, depth int, s *Step) error {
	f, err := strictjson.AsObject(v, path)
	if err != nil {
		return err
	}
	p.steps++
	if p.steps > MaxSteps {
		return invalid.Field(path, "is beyond the limit of %d steps in one play", MaxSteps)
	}
	kind, ok, err := f.Str("kind")
	switch {
	case err != nil:
		return err
	case !ok || kind == "":
		return invalid.Field(f.At("kind"), "is required")
	}
	keys, known := stepKeys[StepKind(kind)]
	if !known {
		return invalid.Field(f.At("kind"), "must be one of %s", joinNames(stepKinds))
	}
	if err := f.Only(fmt.Sprintf(" of %s steps", kind), append([]string{"id", "kind", "name"}, keys...)...); err != nil {
		return err
	}
	s.Kind = StepKind(kind)
	id, _, err := f.Str("id")
	if err != nil {
		return err
	}
	if id == "" {
		p.unnamed = append(p.unnamed, s)
	} else {
		if !stepIDPattern.MatchString(id) {
			return invalid.Field(f.At("id"), "must be 1 to 41 characters of a-z, 0-9, _ and -, starting with a letter or digit")
		}
		if other, dup := p.ids[id]; dup {
			return invalid.Field(f.At("id"), "is already the id of %s", other)
		}
		p.ids[id] = path
		s.ID = id
	}
	if s.Name, _, err = f.Str("name"); err != nil {
		return err
	}
	if utf8.RuneCountInString(s.Name) > maxStepNameLen {
		return invalid.Field(f.At("name"), "must be at most %d characters", maxStepNameLen)
	}
	switch s.Kind {
	case StepSendEmail:
		s.Email, err = p.email(f)
	case StepInAppMessage:
		s.InApp, err = p.inApp(f)
	case StepCreateTask:
		s.Task, err = p.task(f)
	case StepUpdateAccount:
		s.Update, err = p.update(f)
	case StepAddTimelineNote:
		s.Note = &TimelineNote{}
		s.Note.Body, err = p.template(f, "body", maxTextLen, false, p.scope == condition.ScopeContact, true)
	case StepWait:
		s.Wait = &Wait{}
		s.Wait.Duration, err = p.requiredDuration(f, "duration")
	case StepWaitUntil:
		s.WaitUntil, err = p.waitUntil(f)
	case StepBranch:
		s.Branch, err = p.branch(f, depth)
	case StepRepeatUntil:
		s.Repeat, err = p.repeat(f, depth)
	case StepSendWebhook:
		s.Webhook, err = p.webhook(f)
	case StepEnrollInJourney:
		s.Enroll = &JourneyEnrollment{}
		s.Enroll.Journey, err = p.journeyKey(f, "journey")
	}
	return err
}

// nameSteps gives every step without an id the first free "<kind>-<n>", e.g. "send-email-1".
func (p *parser) nameSteps() {
	next := map[StepKind]int{}
	for _, s := range p.unnamed {
		base := strings.ReplaceAll(strings.ToLower(string(s.Kind)), "_", "-")
		for {
			next[s.Kind]++
			id := fmt.Sprintf("%s-%d", base, next[s.Kind])
			if _, used := p.ids[id]; !used {
				s.ID = id
				p.ids[id] = ""
				break
			}
		}
	}
}

// recipient reads "to" (one of allowed) and "personas".
func (p *parser) recipient(f *strictjson.Fields, allowed []Recipient) (Recipient, []string, error) {
	to, ok, err := f.Str("to")
	if err != nil {
		return "", nil, err
	}
	if !ok || to == "" {
		if err := p.required(f.At("to")); err != nil {
			return "", nil, err
		}
	} else if !slices.Contains(allowed, Recipient(to)) {
		return "", nil, invalid.Field(f.At("to"), "must be one of %s", joinNames(allowed))
	}
	r := Recipient(to)
	if r == ToContact && p.scope == condition.ScopeAccount {
		return "", nil, invalid.Field(f.At("to"), "is CONTACT, which only a CONTACT play has; use CONTACTS or CONTACTS_WITH_PERSONA")
	}
	var personas []string
	if v, ok := f.Get("personas"); ok {
		if r != ToContactsWithPersona {
			return "", nil, invalid.Field(f.At("personas"), "is only used with CONTACTS_WITH_PERSONA")
		}
		if personas, err = stringList(v, f.At("personas"), maxPersonas, maxPersonaLen); err != nil {
			return "", nil, err
		}
	}
	if r == ToContactsWithPersona && len(personas) == 0 {
		if err := p.required(f.At("personas")); err != nil {
			return "", nil, err
		}
	}
	return r, personas, nil
}

func (p *parser) email(f *strictjson.Fields) (*Email, error) {
	e := &Email{}
	var err error
	if e.To, e.Personas, err = p.recipient(f, []Recipient{ToContact, ToContacts, ToContactsWithPersona, ToOwner}); err != nil {
		return nil, err
	}
	// Contact variables are each recipient's in an email to contacts, and the run's contact in a
	// CONTACT play; a draft that has not chosen recipients yet may use them.
	contact := p.scope == condition.ScopeContact || e.To != ToOwner
	if e.Subject, err = p.template(f, "subject", maxLineLen, true, contact, true); err != nil {
		return nil, err
	}
	if e.Body, err = p.template(f, "body", maxEmailBodyLen, false, contact, true); err != nil {
		return nil, err
	}
	return e, nil
}

func (p *parser) inApp(f *strictjson.Fields) (*InAppMessage, error) {
	m := &InAppMessage{Style: StyleBanner}
	var err error
	if m.To, m.Personas, err = p.recipient(f, []Recipient{ToContact, ToContacts, ToContactsWithPersona}); err != nil {
		return nil, err
	}
	if m.Title, err = p.template(f, "title", maxLineLen, true, true, true); err != nil {
		return nil, err
	}
	if m.Body, err = p.template(f, "body", maxTextLen, false, true, true); err != nil {
		return nil, err
	}
	style, ok, err := f.Str("style")
	if err != nil {
		return nil, err
	}
	if ok {
		all := []MessageStyle{StyleBanner, StyleModal, StyleToast}
		if !slices.Contains(all, MessageStyle(style)) {
			return nil, invalid.Field(f.At("style"), "must be one of %s", joinNames(all))
		}
		m.Style = MessageStyle(style)
	}
	return m, nil
}

func (p *parser) task(f *strictjson.Fields) (*Task, error) {
	t := &Task{Priority: PriorityNormal}
	contact := p.scope == condition.ScopeContact
	var err error
	if t.Title, err = p.template(f, "title", maxLineLen, true, contact, true); err != nil {
		return nil, err
	}
	if t.Description, err = p.template(f, "description", maxTextLen, false, contact, false); err != nil {
		return nil, err
	}
	if v, ok := f.Get("assignee"); ok {
		if t.Assignee, err = p.assignee(v, f.At("assignee")); err != nil {
			return nil, err
		}
	} else if err := p.required(f.At("assignee")); err != nil {
		return nil, err
	}
	if t.DueIn, _, err = p.duration(f, "dueIn"); err != nil {
		return nil, err
	}
	priority, ok, err := f.Str("priority")
	if err != nil {
		return nil, err
	}
	if ok {
		all := []Priority{PriorityLow, PriorityNormal, PriorityHigh, PriorityUrgent}
		if !slices.Contains(all, Priority(priority)) {
			return nil, invalid.Field(f.At("priority"), "must be one of %s", joinNames(all))
		}
		t.Priority = Priority(priority)
	}
	return t, nil
}

func (p *parser) assignee(v any, path string) (*Assignee, error) {
	f, err := strictjson.AsObject(v, path)
	if err != nil {
		return nil, err
	}
	kind, ok, err := f.Str("kind")
	all := []AssigneeKind{AssignOwner, AssignTeamRole, AssignUser}
	switch {
	case err != nil:
		return nil, err
	case !ok || kind == "":
		return nil, invalid.Field(f.At("kind"), "is required")
	case !slices.Contains(all, AssigneeKind(kind)):
		return nil, invalid.Field(f.At("kind"), "must be one of %s", joinNames(all))
	}
	a := &Assignee{Kind: AssigneeKind(kind)}
	what := fmt.Sprintf(" of %s assignees", kind)
	switch a.Kind {
	case AssignOwner:
		return a, f.Only(what, "kind")
	case AssignTeamRole:
		if err := f.Only(what, "kind", "teamRole"); err != nil {
			return nil, err
		}
		role, ok, err := f.Str("teamRole")
		switch {
		case err != nil:
			return nil, err
		case !ok || role == "":
			return a, p.required(f.At("teamRole"))
		case utf8.RuneCountInString(role) > maxTeamRoleLen:
			return nil, invalid.Field(f.At("teamRole"), "must be at most %d characters", maxTeamRoleLen)
		}
		a.TeamRole = role
		return a, nil
	default: // USER
		if err := f.Only(what, "kind", "userId"); err != nil {
			return nil, err
		}
		v, ok := f.Get("userId")
		if !ok {
			return a, p.required(f.At("userId"))
		}
		id, err := userID(v, f.At("userId"))
		if err != nil {
			return nil, err
		}
		a.UserID = &id
		return a, nil
	}
}

func (p *parser) update(f *strictjson.Fields) (*AccountUpdate, error) {
	u := &AccountUpdate{Operations: []Operation{}}
	v, ok := f.Get("operations")
	if !ok {
		return u, p.required(f.At("operations"))
	}
	arr, ok := v.([]any)
	path := f.At("operations")
	switch {
	case !ok:
		return nil, invalid.Field(path, "must be a list of operations")
	case len(arr) > maxOperations:
		return nil, invalid.Field(path, "must hold at most %d operations", maxOperations)
	case len(arr) == 0:
		if err := p.required(path); err != nil {
			return nil, invalid.Field(path, "must hold at least one operation")
		}
	}
	for i, e := range arr {
		op, err := p.operation(e, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		u.Operations = append(u.Operations, op)
	}
	return u, nil
}

func (p *parser) operation(v any, path string) (Operation, error) {
	f, err := strictjson.AsObject(v, path)
	if err != nil {
		return Operation{}, err
	}
	kind, ok, err := f.Str("op")
	all := []OperationKind{OpSetField, OpSetCustom, OpAddTag, OpRemoveTag}
	switch {
	case err != nil:
		return Operation{}, err
	case !ok || kind == "":
		return Operation{}, invalid.Field(f.At("op"), "is required")
	case !slices.Contains(all, OperationKind(kind)):
		return Operation{}, invalid.Field(f.At("op"), "must be one of %s", joinNames(all))
	}
	op := Operation{Op: OperationKind(kind)}
	what := fmt.Sprintf(" of %s operations", kind)
	switch op.Op {
	case OpSetField:
		if err := f.Only(what, "op", "field", "value"); err != nil {
			return op, err
		}
		field, ok, err := f.Str("field")
		if err != nil {
			return op, err
		}
		if ok && field != "" {
			if !slices.Contains(setFields, field) {
				return op, invalid.Field(f.At("field"), "must be one of %s", strings.Join(setFields, ", "))
			}
			op.Field = field
		} else if err := p.required(f.At("field")); err != nil {
			return op, err
		}
		v, ok := f.Raw("value")
		if !ok {
			return op, p.required(f.At("value"))
		}
		op.Value, err = fieldValue(op.Field, v, f.At("value"))
		return op, err
	case OpSetCustom:
		if err := f.Only(what, "op", "key", "value"); err != nil {
			return op, err
		}
		key, ok, err := f.Str("key")
		if err != nil {
			return op, err
		}
		if ok {
			if err := checkName(key, f.At("key")); err != nil {
				return op, err
			}
			op.Key = key
		} else if err := p.required(f.At("key")); err != nil {
			return op, err
		}
		v, ok := f.Raw("value")
		if !ok {
			return op, p.required(f.At("value"))
		}
		if op.Value, err = canonical(v); err != nil {
			return op, err
		}
		if len(op.Value) > maxCustomValueBytes {
			return op, invalid.Field(f.At("value"), "must be at most %d bytes of JSON", maxCustomValueBytes)
		}
		return op, nil
	default: // addTag, removeTag
		if err := f.Only(what, "op", "tag"); err != nil {
			return op, err
		}
		tag, ok, err := f.Str("tag")
		if err != nil {
			return op, err
		}
		if !ok {
			return op, p.required(f.At("tag"))
		}
		if tag == "" || utf8.RuneCountInString(tag) > maxTagLen || strings.TrimSpace(tag) != tag {
			return op, invalid.Field(f.At("tag"), "must be 1 to %d characters, without spaces around", maxTagLen)
		}
		op.Tag = tag
		return op, nil
	}
}

// fieldValue validates and normalises the value of a setField operation on field (which may be
// empty in a draft: the value is then only normalised).
func fieldValue(field string, v any, path string) (json.RawMessage, error) {
	if v == nil {
		if field == SetStage {
			return nil, invalid.Field(path, "must be one of %s", strings.Join(account.Stages, ", "))
		}
		return json.RawMessage("null"), nil
	}
	switch field {
	case SetStage:
		s, _ := v.(string)
		if !slices.Contains(account.Stages, s) {
			return nil, invalid.Field(path, "must be one of %s", strings.Join(account.Stages, ", "))
		}
		return json.Marshal(s)
	case SetHealthScore:
		n, ok := v.(json.Number)
		i, err := strconv.ParseInt(string(n), 10, 64)
		if !ok || err != nil || i < 0 || i > 100 {
			return nil, invalid.Field(path, "must be a whole number from 0 to 100, or null")
		}
		return json.Marshal(i)
	case SetRenewalDate:
		s, _ := v.(string)
		d, err := time.Parse(time.DateOnly, s)
		if err != nil || d.Year() < 1 {
			return nil, invalid.Field(path, "must be a date such as 2026-01-31, or null")
		}
		return json.Marshal(d.Format(time.DateOnly))
	case SetOwner:
		id, err := userID(v, path)
		if err != nil {
			return nil, invalid.Field(path, "must be a user id, or null")
		}
		return json.Marshal(id.String())
	}
	return canonical(v)
}

func (p *parser) waitUntil(f *strictjson.Fields) (*WaitUntil, error) {
	w := &WaitUntil{OnTimeout: OnTimeoutContinue}
	var err error
	if w.Until, err = p.requiredCheck(f, "until"); err != nil {
		return nil, err
	}
	if w.Timeout, err = p.requiredDuration(f, "timeout"); err != nil {
		return nil, err
	}
	action, ok, err := f.Str("onTimeout")
	if err != nil {
		return nil, err
	}
	if ok {
		all := []TimeoutAction{OnTimeoutContinue, OnTimeoutExit}
		if !slices.Contains(all, TimeoutAction(action)) {
			return nil, invalid.Field(f.At("onTimeout"), "must be one of %s", joinNames(all))
		}
		w.OnTimeout = TimeoutAction(action)
	}
	return w, nil
}

func (p *parser) branch(f *strictjson.Fields, depth int) (*Branch, error) {
	b := &Branch{}
	var err error
	if b.If, err = p.requiredCheck(f, "if"); err != nil {
		return nil, err
	}
	if b.Then, err = p.optionalSteps(f, "then", depth); err != nil {
		return nil, err
	}
	if b.Else, err = p.optionalSteps(f, "else", depth); err != nil {
		return nil, err
	}
	if p.complete && len(b.Then) == 0 && len(b.Else) == 0 {
		return nil, invalid.Field(f.At("then"), "must hold at least one step when else holds none")
	}
	return b, nil
}

func (p *parser) repeat(f *strictjson.Fields, depth int) (*Repeat, error) {
	r := &Repeat{}
	var err error
	if r.Until, err = p.requiredCheck(f, "until"); err != nil {
		return nil, err
	}
	if r.Interval, err = p.requiredDuration(f, "interval"); err != nil {
		return nil, err
	}
	if v, ok := f.Get("maxTimes"); ok {
		n, isNum := v.(json.Number)
		i, err := strconv.ParseInt(string(n), 10, 64)
		if !isNum || err != nil || i < 1 || i > MaxRepeatTimes {
			return nil, invalid.Field(f.At("maxTimes"), "must be a whole number from 1 to %d", MaxRepeatTimes)
		}
		r.MaxTimes = int(i)
	} else if err := p.required(f.At("maxTimes")); err != nil {
		return nil, err
	}
	if r.Steps, err = p.optionalSteps(f, "steps", depth); err != nil {
		return nil, err
	}
	if p.complete && len(r.Steps) == 0 {
		return nil, invalid.Field(f.At("steps"), "must hold at least one step")
	}
	return r, nil
}

func (p *parser) webhook(f *strictjson.Fields) (*Webhook, error) {
	w := &Webhook{Body: json.RawMessage("{}"), Retries: defaultRetries}
	u, ok, err := f.Str("url")
	if err != nil {
		return nil, err
	}
	if ok && u != "" {
		if err := checkURL(u, f.At("url")); err != nil {
			return nil, err
		}
		w.URL = u
	} else if err := p.required(f.At("url")); err != nil {
		return nil, err
	}
	if v, ok := f.Get("body"); ok {
		if _, isObj := v.(*strictjson.Object); !isObj {
			return nil, invalid.Field(f.At("body"), "must be a JSON object")
		}
		if err := p.templateStrings(v, f.At("body")); err != nil {
			return nil, err
		}
		if w.Body, err = canonical(v); err != nil {
			return nil, err
		}
		if len(w.Body) > maxWebhookBodyBytes {
			return nil, invalid.Field(f.At("body"), "must be at most %d KiB of JSON", maxWebhookBodyBytes>>10)
		}
	}
	if v, ok := f.Get("headers"); ok {
		if w.Headers, err = headers(v, f.At("headers")); err != nil {
			return nil, err
		}
	}
	if v, ok := f.Get("retries"); ok {
		n, isNum := v.(json.Number)
		i, err := strconv.ParseInt(string(n), 10, 64)
		if !isNum || err != nil || i < 0 || i > maxRetries {
			return nil, invalid.Field(f.At("retries"), "must be a whole number from 0 to %d", maxRetries)
		}
		w.Retries = int(i)
	}
	return w, nil
}

// templateStrings validates every string inside a webhook body as a template.
func (p *parser) templateStrings(v any, path string) error {
	switch t := v.(type) {
	case string:
		_, err := p.checkTemplate(t, path, maxWebhookBodyBytes, false, p.scope == condition.ScopeContact)
		return err
	case *strictjson.Object:
		for i, k := range t.Keys {
			if err := p.templateStrings(t.Vals[i], path+"."+k); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range t {
			if err := p.templateStrings(e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkURL(s, path string) error {
	if len(s) > maxURLLen {
		return invalid.Field(path, "must be at most %d characters", maxURLLen)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return invalid.Field(path, "must be an absolute http or https URL")
	}
	if u.User != nil {
		return invalid.Field(path, "must not contain a user name or password: deliveries are signed instead")
	}
	return nil
}

// headers validates a webhook's extra headers. Steward sets the signature, delivery id, content
// type and the like itself, and authenticates by signature, so none of those can be set here.
func headers(v any, path string) (map[string]string, error) {
	f, err := strictjson.AsObject(v, path)
	if err != nil {
		return nil, err
	}
	if len(f.Obj.Keys) > maxHeaders {
		return nil, invalid.Field(path, "must hold at most %d headers", maxHeaders)
	}
	out := map[string]string{}
	seen := map[string]string{}
	for i, name := range f.Obj.Keys {
		p := f.At(name)
		lower := strings.ToLower(name)
		switch {
		case len(name) > maxHeaderNameLen || !headerNamePattern.MatchString(name):
			return nil, invalid.Field(p, "must be a header name of letters, digits and -")
		case lower == "authorization":
			return nil, invalid.Field(p, "cannot be set: deliveries are authenticated by their Steward-Signature HMAC")
		case strings.HasPrefix(lower, "steward-") || strings.HasPrefix(lower, "x-steward-") ||
			slices.Contains([]string{"content-type", "content-length", "host", "user-agent"}, lower):
			return nil, invalid.Field(p, "is set by Steward and cannot be overridden")
		case seen[lower] != "":
			return nil, invalid.Field(p, "is the same header as %s", seen[lower])
		}
		seen[lower] = name
		val, ok := f.Obj.Vals[i].(string)
		if !ok {
			return nil, invalid.Field(p, "must be a string")
		}
		if len(val) > maxHeaderValueLen || strings.ContainsFunc(val, func(r rune) bool { return r != '\t' && unicode.IsControl(r) }) {
			return nil, invalid.Field(p, "must be at most %d characters without control characters", maxHeaderValueLen)
		}
		out[name] = val
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// template reads a template. A missing or blank one is absent (required says whether a
// complete definition must have it). contact says whether the step has a contact for
// contact variables.
func (p *parser) template(f *strictjson.Fields, key string, maxLen int, singleLine, contact, required bool) (Template, error) {
	s, ok, err := f.Str(key)
	if err != nil {
		return "", err
	}
	if !ok || strings.TrimSpace(s) == "" {
		if required {
			return "", p.required(f.At(key))
		}
		return "", nil
	}
	return p.checkTemplate(s, f.At(key), maxLen, singleLine, contact)
}

func (p *parser) checkTemplate(s, path string, maxLen int, singleLine, contact bool) (Template, error) {
	if utf8.RuneCountInString(s) > maxLen {
		return "", invalid.Field(path, "must be at most %d characters", maxLen)
	}
	if singleLine && strings.ContainsAny(s, "\r\n") {
		return "", invalid.Field(path, "must be a single line")
	}
	vars, err := Template(s).Variables()
	if err != nil {
		return "", invalid.Field(path, "%s", err)
	}
	if !contact {
		for _, v := range vars {
			if strings.HasPrefix(v, "contact.") {
				return "", invalid.Field(path, "uses {{%s}}, but this step of an ACCOUNT play has no contact (only messages to contacts do)", v)
			}
		}
	}
	return Template(s), nil
}

// ----- values -----

// checkName validates an event property name or a custom attribute key as conditions validate
// custom attribute keys.
func checkName(name, path string) error {
	if _, err := condition.New(condition.Node{Field: "account.custom." + name, Op: condition.OpExists}, condition.ScopeAccount); err != nil {
		if e, ok := invalid.As(err); ok {
			return invalid.Field(path, "%s", strings.TrimPrefix(e.Message, "custom attribute key "))
		}
		return err
	}
	return nil
}

func userID(v any, path string) (uuid.UUID, error) {
	s, _ := v.(string)
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, invalid.Field(path, "must be a user id")
	}
	return id, nil
}

func stringList(v any, path string, maxItems, maxLen int) ([]string, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, invalid.Field(path, "must be a list of strings")
	}
	if len(arr) > maxItems {
		return nil, invalid.Field(path, "must hold at most %d values", maxItems)
	}
	out := make([]string, len(arr))
	for i, e := range arr {
		s, ok := e.(string)
		p := fmt.Sprintf("%s[%d]", path, i)
		if !ok {
			return nil, invalid.Field(p, "must be a string")
		}
		if s == "" || utf8.RuneCountInString(s) > maxLen || strings.TrimSpace(s) != s {
			return nil, invalid.Field(p, "must be 1 to %d characters, without spaces around", maxLen)
		}
		out[i] = s
	}
	return out, nil
}

// canonical encodes a decoded JSON value with object keys sorted and numbers as written, so
// that the value reads back identically whatever key order storage (jsonb) gives it.
func canonical(v any) (json.RawMessage, error) {
	b, err := json.Marshal(strictjson.Plain(v))
	if err != nil {
		return nil, fmt.Errorf("encode value: %w", err)
	}
	return b, nil
}

// reroot moves a condition error from the condition's own root ("condition.all[0]") to path.
func reroot(err error, path string) error {
	e, ok := invalid.As(err)
	if !ok {
		return err
	}
	return invalid.Rename(e.Field, path+strings.TrimPrefix(e.Field, "condition"), err)
}

// rename reports a field error of err at path.
func rename(err error, path string) error {
	e, ok := invalid.As(err)
	if !ok {
		return err
	}
	return invalid.Rename(e.Field, path, err)
}

func joinNames[T ~string](names []T) string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = string(n)
	}
	return strings.Join(s, ", ")
}
