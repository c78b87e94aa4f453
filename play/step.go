package play

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stewardhq/steward/condition"
)

// StepKind is what a step does.
type StepKind string

// Step kinds.
const (
	StepSendEmail       StepKind = "SEND_EMAIL"
	StepInAppMessage    StepKind = "IN_APP_MESSAGE"
	StepCreateTask      StepKind = "CREATE_TASK"
	StepUpdateAccount   StepKind = "UPDATE_ACCOUNT"
	StepAddTimelineNote StepKind = "ADD_TIMELINE_NOTE"
	StepWait            StepKind = "WAIT"
	StepWaitUntil       StepKind = "WAIT_UNTIL"
	StepBranch          StepKind = "BRANCH"
	StepRepeatUntil     StepKind = "REPEAT_UNTIL"
	StepSendWebhook     StepKind = "SEND_WEBHOOK"
	StepEnrollInJourney StepKind = "ENROLL_IN_JOURNEY"
)

// stepKinds lists the kinds in the order error messages name them.
var stepKinds = []StepKind{StepSendEmail, StepInAppMessage, StepCreateTask, StepUpdateAccount,
	StepAddTimelineNote, StepWait, StepWaitUntil, StepBranch, StepRepeatUntil, StepSendWebhook, StepEnrollInJourney}

// Step is one node of a play's step tree. ID is stable across edits and versions, unique in the
// whole tree, and is what a run records as its position. Exactly the parameter field of Kind is
// set (Email for SEND_EMAIL, InApp for IN_APP_MESSAGE, and so on); in JSON its keys sit beside
// id and kind in one object.
type Step struct {
	ID   string
	Kind StepKind
	// Name is an optional label for people reading the play.
	Name string

	Email     *Email
	InApp     *InAppMessage
	Task      *Task
	Update    *AccountUpdate
	Note      *TimelineNote
	Wait      *Wait
	WaitUntil *WaitUntil
	Branch    *Branch
	Repeat    *Repeat
	Webhook   *Webhook
	Enroll    *JourneyEnrollment
}

// params returns the step's parameter struct (nil if none is set).
func (s *Step) params() any {
	switch {
	case s.Email != nil:
		return s.Email
	case s.InApp != nil:
		return s.InApp
	case s.Task != nil:
		return s.Task
	case s.Update != nil:
		return s.Update
	case s.Note != nil:
		return s.Note
	case s.Wait != nil:
		return s.Wait
	case s.WaitUntil != nil:
		return s.WaitUntil
	case s.Branch != nil:
		return s.Branch
	case s.Repeat != nil:
		return s.Repeat
	case s.Webhook != nil:
		return s.Webhook
	case s.Enroll != nil:
		return s.Enroll
	}
	return nil
}

// MarshalJSON writes id, kind and name, then the parameters of the step's kind, in one object.
func (s Step) MarshalJSON() ([]byte, error) {
	head, err := json.Marshal(struct {
		ID   string   `json:"id"`
		Kind StepKind `json:"kind"`
		Name string   `json:"name,omitempty"`
	}{s.ID, s.Kind, s.Name})
	if err != nil {
		return nil, err
	}
	p := s.params()
	if p == nil {
		return head, nil
	}
	body, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("marshal step %s: %w", s.ID, err)
	}
	if string(body) == "{}" {
		return head, nil
	}
	out := append(head[:len(head)-1:len(head)-1], ',')
	return append(out, body[1:]...), nil
}

// Recipient is who a message goes to.
type Recipient string

// Recipients.
const (
	// ToContact is the run's contact; CONTACT plays only.
	ToContact Recipient = "CONTACT"
	// ToContacts is every live contact of the account.
	ToContacts Recipient = "CONTACTS"
	// ToContactsWithPersona is the account's live contacts whose persona is one of Personas.
	ToContactsWithPersona Recipient = "CONTACTS_WITH_PERSONA"
	// ToOwner is the account's owner; emails only.
	ToOwner Recipient = "OWNER"
)

// Email sends an email per recipient. In an email to contacts, contact variables are each
// recipient's own; to the owner, they are the run's contact's (CONTACT plays only). Subject and
// Body are plain text: Render does not escape, so whoever turns Body into HTML escapes it.
type Email struct {
	To       Recipient `json:"to,omitempty"`
	Personas []string  `json:"personas,omitempty"`
	Subject  Template  `json:"subject,omitempty"`
	Body     Template  `json:"body,omitempty"`
}

// MessageStyle is how an in-app message is shown.
type MessageStyle string

// Message styles; BANNER is the default.
const (
	StyleBanner MessageStyle = "BANNER"
	StyleModal  MessageStyle = "MODAL"
	StyleToast  MessageStyle = "TOAST"
)

// InAppMessage shows a message inside the product to contacts (never the owner).
type InAppMessage struct {
	To       Recipient    `json:"to,omitempty"`
	Personas []string     `json:"personas,omitempty"`
	Title    Template     `json:"title,omitempty"`
	Body     Template     `json:"body,omitempty"`
	Style    MessageStyle `json:"style"`
}

// Priority is a task's priority.
type Priority string

// Priorities; NORMAL is the default.
const (
	PriorityLow    Priority = "LOW"
	PriorityNormal Priority = "NORMAL"
	PriorityHigh   Priority = "HIGH"
	PriorityUrgent Priority = "URGENT"
)

// Task creates a task for a person on the account's team.
type Task struct {
	Title       Template  `json:"title,omitempty"`
	Description Template  `json:"description,omitempty"`
	Assignee    *Assignee `json:"assignee,omitempty"`
	// DueIn is how long after the step runs the task is due; empty means no due date.
	DueIn    Duration `json:"dueIn,omitempty"`
	Priority Priority `json:"priority"`
}

// AssigneeKind is how a task's assignee is chosen.
type AssigneeKind string

// Assignee kinds.
const (
	// AssignOwner assigns the account's owner.
	AssignOwner AssigneeKind = "OWNER"
	// AssignTeamRole assigns the account team's member(s) in TeamRole (a team role key such as
	// "CSM").
	AssignTeamRole AssigneeKind = "TEAM_ROLE"
	// AssignUser assigns one member of the workspace.
	AssignUser AssigneeKind = "USER"
)

// Assignee says who gets a task. When the account has no owner, or nobody in the team role,
// the executor decides (e.g. leaves the task unassigned).
type Assignee struct {
	Kind     AssigneeKind `json:"kind"`
	TeamRole string       `json:"teamRole,omitempty"`
	UserID   *uuid.UUID   `json:"userId,omitempty"`
}

// AccountUpdate changes the account (in a CONTACT play, the contact's account).
type AccountUpdate struct {
	Operations []Operation `json:"operations"`
}

// OperationKind is one kind of account change.
type OperationKind string

// Account operations.
const (
	// OpSetField sets Field (stage, healthScore, renewalDate or owner) to Value.
	OpSetField OperationKind = "setField"
	// OpSetCustom sets the custom attribute Key to Value; a null Value removes it.
	OpSetCustom OperationKind = "setCustom"
	// OpAddTag adds Tag unless present.
	OpAddTag OperationKind = "addTag"
	// OpRemoveTag removes Tag if present.
	OpRemoveTag OperationKind = "removeTag"
)

// Fields an OpSetField operation may set, with the JSON type of their Value.
const (
	// SetStage takes a stage name (one of account.Stages).
	SetStage = "stage"
	// SetHealthScore takes a whole number from 0 to 100, or null.
	SetHealthScore = "healthScore"
	// SetRenewalDate takes a date "2026-01-31", or null.
	SetRenewalDate = "renewalDate"
	// SetOwner takes a workspace member's user id, or null.
	SetOwner = "owner"
)

// Operation is one change of an AccountUpdate. Value is normalised JSON (a stage string, a
// whole number, a "2006-01-02" date, a canonical UUID string, any JSON for a custom attribute
// with object keys sorted, or null to clear); it is set for setField and setCustom only.
type Operation struct {
	Op    OperationKind   `json:"op"`
	Field string          `json:"field,omitempty"`
	Key   string          `json:"key,omitempty"`
	Tag   string          `json:"tag,omitempty"`
	Value json.RawMessage `json:"value,omitempty"`
}

// TimelineNote adds a NOTE entry to the account's timeline.
type TimelineNote struct {
	Body Template `json:"body,omitempty"`
}

// Wait pauses the run for Duration.
type Wait struct {
	Duration Duration `json:"duration,omitempty"`
}

// TimeoutAction is what a WAIT_UNTIL does when its timeout passes first.
type TimeoutAction string

// Timeout actions; CONTINUE is the default.
const (
	// OnTimeoutContinue goes on with the next step.
	OnTimeoutContinue TimeoutAction = "CONTINUE"
	// OnTimeoutExit ends the run (as exited, not as goal met).
	OnTimeoutExit TimeoutAction = "EXIT"
)

// WaitUntil pauses the run until Until holds, at most Timeout.
type WaitUntil struct {
	Until     *Check        `json:"until,omitempty"`
	Timeout   Duration      `json:"timeout,omitempty"`
	OnTimeout TimeoutAction `json:"onTimeout"`
}

// Branch runs Then if If holds when the step is reached, else Else; then the run continues
// after the branch. Either list may be empty, not both.
type Branch struct {
	If   *Check `json:"if,omitempty"`
	Then []Step `json:"then"`
	Else []Step `json:"else"`
}

// Repeat runs Steps up to MaxTimes times. Before each round Until is checked, and the loop ends
// as soon as it holds (so a loop whose condition already holds runs no round); after a round
// that was not the last, the run waits Interval before checking again.
type Repeat struct {
	Until    *Check   `json:"until,omitempty"`
	Interval Duration `json:"interval,omitempty"`
	MaxTimes int      `json:"maxTimes,omitempty"`
	Steps    []Step   `json:"steps"`
}

// Webhook POSTs Body as JSON to URL. Delivery (package delivery) signs every request with the
// workspace's webhook secret (Steward-Signature, an HMAC of timestamp and body) and sends a
// Steward-Delivery-Id that stays the same across retries, so receivers can drop repeats;
// neither is part of the definition, and Headers cannot set them (nor Authorization,
// Content-Type, Content-Length, Host, User-Agent or any Steward-* or X-Steward-* header).
type Webhook struct {
	URL string `json:"url,omitempty"`
	// Body is a JSON object whose string values, at any depth, are templates. It is stored
	// with object keys sorted.
	Body    json.RawMessage   `json:"body"`
	Headers map[string]string `json:"headers,omitempty"`
	// Retries is how many times a failed delivery is retried (0 to 10, default 3).
	Retries int `json:"retries"`
}

// JourneyEnrollment enrols the run's account (in a CONTACT play, the contact's account) in the
// journey with key Journey, through the journey engine (Engine.Journeys), in the step's
// transaction. The journey's own re-entry policy and its one live enrolment per account decide
// whether a new enrolment starts; either way the step is done, and its log says which.
type JourneyEnrollment struct {
	Journey string `json:"journey,omitempty"`
}

// RenderBody renders every string of Body with vars and returns the JSON to send. Strings are
// JSON-encoded after rendering, so values cannot break out of the document.
func (w *Webhook) RenderBody(vars Vars) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(w.Body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode webhook body: %w", err)
	}
	var render func(v any) (any, error)
	render = func(v any) (any, error) {
		switch t := v.(type) {
		case string:
			return Template(t).Render(vars)
		case map[string]any:
			for k, e := range t {
				r, err := render(e)
				if err != nil {
					return nil, err
				}
				t[k] = r
			}
		case []any:
			for i, e := range t {
				r, err := render(e)
				if err != nil {
					return nil, err
				}
				t[i] = r
			}
		}
		return v, nil
	}
	out, err := render(v)
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

// Duration is a duration as a definition writes it ("30s", "3d", "2w", "3mo"; see
// condition.ParseDuration). The text is kept so a definition reads back as it was written.
type Duration string

// Length is the duration's length; zero for an empty or invalid text (a parsed definition
// holds only valid ones).
func (d Duration) Length() time.Duration {
	n, err := condition.ParseDuration(string(d))
	if err != nil {
		return 0
	}
	return n
}

// Template variables. Each is written {{name}} in a template, spaces inside the braces allowed.
const (
	// VarContactFirstName is the first word of the contact's name.
	VarContactFirstName = "contact.firstName"
	// VarContactName is the contact's full name.
	VarContactName = "contact.name"
	// VarAccountName is the account's name.
	VarAccountName = "account.name"
	// VarOwnerName is the account owner's name.
	VarOwnerName = "owner.name"
	// VarOwnerEmail is the account owner's email address.
	VarOwnerEmail = "owner.email"
)

// variables lists every known variable, in the order error messages name them.
var variables = []string{VarContactFirstName, VarContactName, VarAccountName, VarOwnerName, VarOwnerEmail}

// ErrMissingValue means a template uses a variable the run has no value for: a contact
// variable without a contact, or an owner variable on an account without an owner.
var ErrMissingValue = errors.New("template variable has no value")

// Template is text with variables such as {{contact.firstName}}. "{{" always opens a variable
// (there is no escape); a lone "}}" is plain text. Only the variables above exist; a
// definition using any other is refused when saved.
type Template string

// Person is a contact or an owner as templates see them.
type Person struct {
	Name  string
	Email string
}

// FirstName is the first word of the name, or the whole name when it has one word.
func (p Person) FirstName() string {
	if f := strings.Fields(p.Name); len(f) > 0 {
		return f[0]
	}
	return ""
}

// Vars are the values a template is rendered with.
type Vars struct {
	// AccountName is the account's name.
	AccountName string
	// Contact is the recipient, or the run's contact; nil when there is none.
	Contact *Person
	// Owner is the account's owner; nil when the account has none.
	Owner *Person
}

// value returns the value of variable name.
func (v Vars) value(name string) (string, error) {
	switch name {
	case VarAccountName:
		return v.AccountName, nil
	case VarContactFirstName, VarContactName:
		if v.Contact == nil {
			return "", fmt.Errorf("%w: {{%s}} needs a contact", ErrMissingValue, name)
		}
		if name == VarContactName {
			return v.Contact.Name, nil
		}
		return v.Contact.FirstName(), nil
	case VarOwnerName, VarOwnerEmail:
		if v.Owner == nil {
			return "", fmt.Errorf("%w: {{%s}} needs an account owner", ErrMissingValue, name)
		}
		if name == VarOwnerName {
			return v.Owner.Name, nil
		}
		return v.Owner.Email, nil
	}
	return "", fmt.Errorf("unknown template variable {{%s}}", name)
}

// Render substitutes vars into t. It is pure. It fails on a malformed template or an unknown
// variable (neither is in a validated definition) and, wrapping ErrMissingValue, on a variable
// vars has no value for, so that no message goes out as "Hi ,".
func (t Template) Render(vars Vars) (string, error) {
	segs, err := t.parse()
	if err != nil {
		return "", fmt.Errorf("render template: %w", err)
	}
	var b strings.Builder
	for _, s := range segs {
		if s.variable == "" {
			b.WriteString(s.text)
			continue
		}
		v, err := vars.value(s.variable)
		if err != nil {
			return "", fmt.Errorf("render template: %w", err)
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// Variables returns the variables t uses, in order of first use.
func (t Template) Variables() ([]string, error) {
	segs, err := t.parse()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range segs {
		if s.variable != "" && !slices.Contains(out, s.variable) {
			out = append(out, s.variable)
		}
	}
	return out, nil
}

// segment is plain text or one variable of a parsed template.
type segment struct {
	text     string
	variable string
}

// parse splits t into text and variables, rejecting an unclosed "{{" and unknown variables.
// Its errors are messages for a user, to attach to the template's field.
func (t Template) parse() ([]segment, error) {
	var segs []segment
	rest := string(t)
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if rest != "" {
				segs = append(segs, segment{text: rest})
			}
			return segs, nil
		}
		if i > 0 {
			segs = append(segs, segment{text: rest[:i]})
		}
		j := strings.Index(rest[i+2:], "}}")
		if j < 0 {
			return nil, errors.New("has a {{ without a closing }}")
		}
		inner := rest[i+2 : i+2+j]
		name := strings.TrimSpace(inner)
		if !slices.Contains(variables, name) {
			return nil, fmt.Errorf("uses the unknown variable {{%s}}; the variables are %s", inner, strings.Join(variables, ", "))
		}
		segs = append(segs, segment{variable: name})
		rest = rest[i+2+j+2:]
	}
}
