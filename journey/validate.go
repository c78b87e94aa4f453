package journey

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/stewardhq/steward/invalid"
	"github.com/stewardhq/steward/play"
	"github.com/stewardhq/steward/strictjson"
)

// rootPath names the definition's root in error paths.
const rootPath = "definition"

const maxJSONDepth = 64

// KeyPattern is what journey, milestone and step keys look like.
var KeyPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// keyHint is the message for a key that does not match KeyPattern.
const keyHint = "must be 1 to 63 characters of a-z, 0-9, _ and -, starting with a letter or digit"

// TriggerKinds are the play trigger kinds a journey may use.
var TriggerKinds = []play.TriggerKind{play.TriggerManual, play.TriggerEvent, play.TriggerFieldChange}

// stepFields is the parameter key each step kind has beside key, kind and required.
var stepFields = map[StepKind]string{
	StepTask:         "task",
	StepSendEmail:    "email",
	StepInAppMessage: "message",
	StepLaunchPlay:   "playId",
	StepCheckpoint:   "condition",
}

// parser validates one definition, normalising it as it goes.
type parser struct {
	complete   bool
	steps      int
	milestones map[string]string // milestone key → path of the milestone that has it
	stepKeys   map[string]string // step key → path of the step that has it
	unkeyedMs  []*Milestone
	unkeyedSt  []*Step
}

func parse(raw []byte, complete bool) (*Definition, error) {
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
	if err := f.Only("", "trigger", "reentry", "stallAfter", "atRiskShare", "milestones"); err != nil {
		return nil, err
	}
	p := &parser{complete: complete, milestones: map[string]string{}, stepKeys: map[string]string{}}
	d := &Definition{
		Reentry:     play.Reentry{Policy: play.ReentryNotWhileActive},
		StallAfter:  DefaultStallAfter,
		AtRiskShare: DefaultAtRiskShare,
		Milestones:  []Milestone{},
	}
	if v, ok := f.Get("trigger"); ok {
		if d.Trigger, err = p.trigger(v, f.At("trigger")); err != nil {
			return nil, err
		}
	} else if err := p.required(f.At("trigger")); err != nil {
		return nil, err
	}
	if v, ok := f.Get("reentry"); ok {
		if d.Reentry, err = play.DecodeReentry(v, f.At("reentry"), complete); err != nil {
			return nil, err
		}
	}
	if v, ok := f.Get("stallAfter"); ok {
		if d.StallAfter, err = play.DecodeDuration(v, f.At("stallAfter")); err != nil {
			return nil, err
		}
	}
	if v, ok := f.Get("atRiskShare"); ok {
		if d.AtRiskShare, err = share(v, f.At("atRiskShare")); err != nil {
			return nil, err
		}
	}
	if v, ok := f.Get("milestones"); ok {
		if d.Milestones, err = p.milestoneList(v, f.At("milestones")); err != nil {
			return nil, err
		}
	}
	if complete && len(d.Milestones) == 0 {
		return nil, invalid.Field(f.At("milestones"), "must hold at least one milestone")
	}
	p.generateKeys()
	return d, nil
}

// required reports a missing value, when the definition must be complete.
func (p *parser) required(path string) error {
	if p.complete {
		return invalid.Field(path, "is required")
	}
	return nil
}

func (p *parser) trigger(v any, path string) (*play.Trigger, error) {
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
	case !slices.Contains(TriggerKinds, play.TriggerKind(kind)):
		return nil, invalid.Field(f.At("kind"), "must be one of %s", joinNames(TriggerKinds))
	}
	return play.DecodeTrigger(v, path, p.complete)
}

// share reads atRiskShare: a number strictly between 0 and 1.
func share(v any, path string) (float64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, invalid.Field(path, "must be a number between 0 and 1 (exclusive)")
	}
	x, err := strconv.ParseFloat(string(n), 64)
	if err != nil || x <= 0 || x >= 1 {
		return 0, invalid.Field(path, "must be a number between 0 and 1 (exclusive)")
	}
	return x, nil
}

func (p *parser) milestoneList(v any, path string) ([]Milestone, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, invalid.Field(path, "must be a list of milestones")
	}
	if len(arr) > MaxMilestones {
		return nil, invalid.Field(path, "must hold at most %d milestones", MaxMilestones)
	}
	out := make([]Milestone, len(arr))
	for i, e := range arr {
		if err := p.milestone(e, fmt.Sprintf("%s[%d]", path, i), i, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (p *parser) milestone(v any, path string, index int, m *Milestone) error {
	f, err := strictjson.AsObject(v, path)
	if err != nil {
		return err
	}
	if err := f.Only(" of milestones", "key", "name", "description", "target", "parallel", "completeWhen", "steps"); err != nil {
		return err
	}
	key, _, err := f.Str("key")
	if err != nil {
		return err
	}
	if key == "" {
		p.unkeyedMs = append(p.unkeyedMs, m)
	} else {
		if !KeyPattern.MatchString(key) {
			return invalid.Field(f.At("key"), keyHint)
		}
		if other, dup := p.milestones[key]; dup {
			return invalid.Field(f.At("key"), "is already the key of %s", other)
		}
		p.milestones[key] = path
		m.Key = key
	}
	name, _, err := f.Str("name")
	if err != nil {
		return err
	}
	m.Name = strings.TrimSpace(name)
	switch {
	case m.Name == "":
		if err := p.required(f.At("name")); err != nil {
			return err
		}
	case utf8.RuneCountInString(m.Name) > MaxMilestoneNameLen || strings.ContainsAny(m.Name, "\r\n"):
		return invalid.Field(f.At("name"), "must be a single line of at most %d characters", MaxMilestoneNameLen)
	}
	if m.Description, _, err = f.Str("description"); err != nil {
		return err
	}
	if utf8.RuneCountInString(m.Description) > MaxMilestoneDescriptionLen {
		return invalid.Field(f.At("description"), "must be at most %d characters", MaxMilestoneDescriptionLen)
	}
	// A draft stores a missing target as "" (the stored form always has the key).
	if v, ok := f.Get("target"); ok && v != "" {
		if m.Target, err = play.DecodeDuration(v, f.At("target")); err != nil {
			return err
		}
	} else if err := p.required(f.At("target")); err != nil {
		return err
	}
	if v, ok := f.Get("parallel"); ok {
		b, isBool := v.(bool)
		switch {
		case !isBool:
			return invalid.Field(f.At("parallel"), "must be true or false")
		case b && index == 0:
			return invalid.Field(f.At("parallel"), "cannot be true on the first milestone: there is no milestone before it to start with")
		}
		m.Parallel = b
	}
	if v, ok := f.Get("completeWhen"); ok {
		if m.CompleteWhen, err = play.DecodeCondition(v, f.At("completeWhen")); err != nil {
			return err
		}
	}
	m.Steps = []Step{}
	if v, ok := f.Get("steps"); ok {
		if m.Steps, err = p.stepList(v, f.At("steps")); err != nil {
			return err
		}
	}
	if p.complete && m.CompleteWhen == nil && !slices.ContainsFunc(m.Steps, func(s Step) bool { return s.Required }) {
		return invalid.Field(f.At("steps"), "must hold a required TASK or CHECKPOINT step, unless the milestone has completeWhen: otherwise nothing marks it done")
	}
	return nil
}

func (p *parser) stepList(v any, path string) ([]Step, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, invalid.Field(path, "must be a list of steps")
	}
	if len(arr) > MaxStepsPerMilestone {
		return nil, invalid.Field(path, "must hold at most %d steps", MaxStepsPerMilestone)
	}
	out := make([]Step, len(arr))
	for i, e := range arr {
		if err := p.step(e, fmt.Sprintf("%s[%d]", path, i), &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (p *parser) step(v any, path string, s *Step) error {
	f, err := strictjson.AsObject(v, path)
	if err != nil {
		return err
	}
	p.steps++
	if p.steps > MaxSteps {
		return invalid.Field(path, "is beyond the limit of %d steps in one journey", MaxSteps)
	}
	kind, ok, err := f.Str("kind")
	switch {
	case err != nil:
		return err
	case !ok || kind == "":
		return invalid.Field(f.At("kind"), "is required")
	}
	field, known := stepFields[StepKind(kind)]
	if !known {
		return invalid.Field(f.At("kind"), "must be one of %s", joinNames(StepKinds))
	}
	if err := f.Only(fmt.Sprintf(" of %s steps", kind), "key", "kind", "required", field); err != nil {
		return err
	}
	s.Kind = StepKind(kind)
	key, _, err := f.Str("key")
	if err != nil {
		return err
	}
	if key == "" {
		p.unkeyedSt = append(p.unkeyedSt, s)
	} else {
		if !KeyPattern.MatchString(key) {
			return invalid.Field(f.At("key"), keyHint)
		}
		if other, dup := p.stepKeys[key]; dup {
			return invalid.Field(f.At("key"), "is already the key of %s", other)
		}
		p.stepKeys[key] = path
		s.Key = key
	}
	s.Required = !s.Kind.Automated()
	if v, ok := f.Get("required"); ok {
		b, isBool := v.(bool)
		switch {
		case !isBool:
			return invalid.Field(f.At("required"), "must be true or false")
		case b && s.Kind.Automated():
			return invalid.Field(f.At("required"), "cannot be true on a %s step: automated steps are never required", kind)
		}
		s.Required = b
	}
	fv, present := f.Get(field)
	if !present {
		return p.required(f.At(field))
	}
	at := f.At(field)
	switch s.Kind {
	case StepTask:
		s.Task, err = play.DecodeTask(fv, at, p.complete)
	case StepSendEmail:
		s.Email, err = play.DecodeEmail(fv, at, p.complete)
	case StepInAppMessage:
		s.Message, err = play.DecodeInAppMessage(fv, at, p.complete)
	case StepLaunchPlay:
		str, _ := fv.(string)
		id, perr := uuid.Parse(str)
		if perr != nil {
			return invalid.Field(at, "must be a play id")
		}
		s.PlayID = &id
	case StepCheckpoint:
		s.Condition, err = play.DecodeCondition(fv, at)
	}
	return err
}

// generateKeys gives milestones and steps without a key the first free key made from their
// name (a milestone) or task title or kind (a step): "kickoff", "kickoff-call", "send-email-2".
// Explicit keys were all collected first, so they win.
func (p *parser) generateKeys() {
	for _, m := range p.unkeyedMs {
		m.Key = freeKey(Slug(m.Name, "milestone"), p.milestones)
	}
	for _, s := range p.unkeyedSt {
		base := ""
		if s.Task != nil {
			base = Slug(string(s.Task.Title), "")
		}
		if base == "" {
			base = Slug(string(s.Kind), "step")
		}
		s.Key = freeKey(base, p.stepKeys)
	}
}

// Slug makes a key from a text: lower-case letters and digits, other runs of characters
// turned into one "-", at most 50 characters; fallback when nothing is left.
func Slug(text, fallback string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(text) {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		default:
			dash = true
		}
		if b.Len() >= 50 {
			break
		}
	}
	s := strings.Trim(b.String(), "-")
	if len(s) > 50 {
		s = strings.TrimRight(s[:50], "-")
	}
	if s == "" {
		return fallback
	}
	return s
}

// freeKey returns base, or base-2, base-3... whichever is not in used yet, and marks it used.
func freeKey(base string, used map[string]string) string {
	key := base
	for n := 2; ; n++ {
		if _, taken := used[key]; !taken {
			used[key] = ""
			return key
		}
		key = fmt.Sprintf("%s-%d", base, n)
	}
}

func joinNames[T ~string](names []T) string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = string(n)
	}
	return strings.Join(s, ", ")
}
