package condition

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
)

// defaultPropertySeed makes the property test reproducible; CONDITION_PROPERTY_SEED overrides
// it to explore other worlds.
const defaultPropertySeed = 20261204

const (
	propAccounts      = 60
	propContacts      = 150
	propTreesPerScope = 500
	propMaxDepth      = 4
	// propLoadEvery re-evaluates every n-th tree with subjects loaded for exactly its needs.
	propLoadEvery = 50
)

// Pools the data and the trees draw from, so that predicates hit real values and boundaries.
var (
	propStages    = []string{"ONBOARDING", "ADOPTION", "GROWTH", "RENEWAL", "AT_RISK", "CHURNED"}
	propTags      = []string{"enterprise", "Enterprise", "smb", "beta", "EU", "vip"}
	propPersonas  = []string{"decision-maker", "champion", "Champion", "user"}
	propTitles    = []string{"VP of Sales", "Head of CS", "vp engineering", "CEO", "Directeur Général", "ÉQUIPE ops"}
	propPlans     = []string{"pro", "Pro", "basic", "Pro Plus", "enterprise"}
	propCurrency  = []string{"USD", "EUR"}
	propEvents    = []string{"login", "report_viewed", "export", "invite_sent"}
	propDurations = []string{"90m", "3600s", "12h", "1d", "3d", "7d", "14d", "2w", "30d", "1mo", "45d", "90d", "3mo", "120d"}
	propDays      = []string{"1d", "7d", "14d", "2w", "30d", "1mo", "90d", "120d", "6mo", "1w"}
	propARR       = []int64{0, 500_000, 1_000_000, 1_200_000, 5_000_000}
	propAcctKeys  = []string{"plan", "seats", "beta", "region", "score", "absent"}
	propConKeys   = []string{"role", "nps", "absent"}
	propStatuses  = []string{db.RunRunning, db.RunWaiting, db.RunCompleted, db.RunGoalMet, db.RunExited, db.RunFailed, db.RunCancelled}
	// Journeys: "onboarding" exists twice (an archived journey and the live one that took over
	// its key), "renewal" not at all.
	propJourneys       = []string{"onboarding", "onboarding", "adoption", "renewal"}
	propMilestones     = []string{"kickoff", "setup", "training"}
	propEnrollStatuses = []string{"ACTIVE", "STALLED", "COMPLETED", "CANCELLED"}
	// propNoPlay is a play id no run refers to.
	propNoPlay = uuid.MustParse("00000000-0000-4000-8000-000000000001")
)

// propWorld is the random data of one property run.
type propWorld struct {
	*testBundle
	rng      *rand.Rand
	at       instant
	users    []uuid.UUID
	names    []string // account names, for string predicates
	emails   []string
	times    []time.Time // every instant stored, for exact-equality time values
	accounts []uuid.UUID // live
	contacts []uuid.UUID // live, of live accounts
	plays    []uuid.UUID // plays with runs
}

func TestEvaluatorsAgree(t *testing.T) {
	t.Parallel()
	seed := uint64(defaultPropertySeed)
	if s := os.Getenv("CONDITION_PROPERTY_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "CONDITION_PROPERTY_SEED")
		seed = n
	}
	t.Logf("seed %d (set CONDITION_PROPERTY_SEED to rerun another)", seed)

	w := &propWorld{testBundle: setup(t), rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), at: instantAt(testNow)}
	w.build(t)

	// Every fact any generated tree can read, loaded once per subject.
	all := Needs{Events: append(slices.Clone(propEvents), "never_sent"), Timeline: slices.Clone(timelineKinds),
		PlayRuns: sortIDs(append(slices.Clone(w.plays), propNoPlay)), Journeys: []string{"adoption", "onboarding", "renewal"}}
	for _, name := range all.Events {
		for _, d := range propDurations {
			s, err := parseDuration(d)
			require.NoError(t, err)
			all.EventCounts = append(all.EventCounts, EventWindow{Name: name, Since: w.at.ago(s)})
		}
	}
	subjects := map[Scope]map[uuid.UUID]Subject{}
	for _, scope := range []Scope{ScopeAccount, ScopeContact} {
		subjects[scope] = map[uuid.UUID]Subject{}
		for _, id := range w.ids(scope) {
			s, err := LoadSubject(w.ctx, w.db.Bun, w.t, scope, id, all)
			require.NoError(t, err)
			subjects[scope][id] = s
		}
	}

	for _, scope := range []Scope{ScopeAccount, ScopeContact} {
		interesting := 0
		for i := range propTreesPerScope {
			root := w.tree(scope, 1)
			raw, err := json.Marshal(root)
			require.NoError(t, err)
			c, err := Parse(raw, scope)
			require.NoError(t, err, "seed %d: generated tree does not parse: %s", seed, raw)

			matched, err := c.Matching(w.ctx, w.db.Bun, w.t, testNow)
			require.NoError(t, err, "seed %d: %s", seed, raw)
			evaluated := []uuid.UUID{}
			for _, id := range w.ids(scope) {
				ok, err := c.Eval(subjects[scope][id], testNow)
				require.NoError(t, err, "seed %d: %s", seed, raw)
				if ok {
					evaluated = append(evaluated, id)
				}
			}
			sortIDs(evaluated)
			sortIDs(matched)
			if !slices.Equal(matched, evaluated) {
				w.reportDisagreement(t, seed, c, raw, matched, evaluated, subjects[scope])
			}
			if i%propLoadEvery == 0 {
				require.Equal(t, evaluated, sortIDs(w.evalAll(t, c, w.ids(scope), testNow)),
					"seed %d: subjects loaded for exactly the tree's needs disagree: %s", seed, raw)
			}
			if n := len(matched); n > 0 && n < len(w.ids(scope)) {
				interesting++
			}
		}
		// The generator must produce trees that split the data, or agreement proves little.
		require.Greater(t, interesting, propTreesPerScope/3, "seed %d: too few %s trees split the subjects", seed, scope)
		t.Logf("%s: %d of %d trees matched some but not all subjects", scope, interesting, propTreesPerScope)
	}
}

func (w *propWorld) ids(scope Scope) []uuid.UUID {
	if scope == ScopeContact {
		return w.contacts
	}
	return w.accounts
}

// reportDisagreement fails the test with everything needed to reproduce and understand it.
func (w *propWorld) reportDisagreement(t *testing.T, seed uint64, c *Condition, raw []byte, matched, evaluated []uuid.UUID, subjects map[uuid.UUID]Subject) {
	t.Helper()
	where, args := c.SQL(testNow)
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: evaluators disagree on %s\nSQL: %s\nargs: %v\n", seed, raw, where, args)
	for _, id := range w.ids(c.Scope()) {
		inSQL, inGo := slices.Contains(matched, id), slices.Contains(evaluated, id)
		if inSQL == inGo {
			continue
		}
		s := subjects[id]
		fmt.Fprintf(&b, "subject %s: SQL %v, Go %v\n  account %+v\n", id, inSQL, inGo, *s.Account)
		if s.Contact != nil {
			fmt.Fprintf(&b, "  contact %+v\n", *s.Contact)
		}
		res, err := c.Explain(s, testNow)
		require.NoError(t, err)
		for _, r := range res {
			p, _ := json.Marshal(r.Predicate)
			fmt.Fprintf(&b, "  %s %s seen=%v held=%v\n", r.Path, p, r.Seen, r.Held)
		}
	}
	t.Fatal(b.String())
}

// --- data ------------------------------------------------------------------------------------

func (w *propWorld) build(t *testing.T) {
	t.Helper()
	for range 3 {
		w.users = append(w.users, w.createUser(t).ID)
	}
	accounts := make([]*db.Account, propAccounts)
	for i := range accounts {
		o := accountOpts{
			Name:     pick(w.rng, []string{"Acme", "acme labs", "Bolt", "Cobalt Ltd", "Ünïcode AG"}) + " " + strconv.Itoa(i),
			Stage:    pick(w.rng, propStages),
			ARR:      pick(w.rng, propARR),
			Tags:     w.subset(propTags),
			Custom:   w.customJSON(propAcctKeys),
			Created:  w.instant(800),
			Archived: w.rng.IntN(20) == 0,
		}
		if w.rng.IntN(5) > 0 {
			o.Health = ptr(pick(w.rng, []int{0, 25, 49, 50, 51, 75, 100, w.rng.IntN(101)}))
		}
		if w.rng.IntN(4) > 0 {
			d := (w.at.today + date(pick(w.rng, []int{-60, -1, 0, 1, 7, 14, 30, 90, 119, 120, 121, 180, w.rng.IntN(460) - 60}))).String()
			r, _ := time.Parse(time.DateOnly, d)
			o.Renewal = &r
		}
		if w.rng.IntN(10) > 2 {
			o.Owner = &w.users[w.rng.IntN(len(w.users))]
		}
		if w.rng.IntN(4) > 0 {
			o.LastLogin = ptr(w.instant(120))
		}
		a := w.createAccount(t, o)
		if w.rng.IntN(3) > 0 {
			a.LastActivityAt = ptr(w.instant(120))
			require.NoError(t, db.UpdateAccount(w.ctx, w.db.Bun, w.t, a))
		}
		if w.rng.IntN(2) == 0 {
			a.Domain = ptr(pick(w.rng, []string{"acme.com", "bolt.io", "cobalt.de"}))
			require.NoError(t, db.UpdateAccount(w.ctx, w.db.Bun, w.t, a))
		}
		accounts[i] = a
		w.names = append(w.names, a.Name)
		if !o.Archived {
			w.accounts = append(w.accounts, a.ID)
		}
		w.times = append(w.times, a.CreatedAt)
		if a.LastLoginAt != nil {
			w.times = append(w.times, *a.LastLoginAt)
		}
	}
	byAccount := map[uuid.UUID][]uuid.UUID{}
	for range propContacts {
		a := accounts[w.rng.IntN(len(accounts))]
		o := contactOpts{OptOut: w.rng.IntN(3) == 0, Custom: w.customJSON(propConKeys), Archived: w.rng.IntN(20) == 0}
		if w.rng.IntN(4) > 0 {
			o.Persona = ptr(pick(w.rng, propPersonas))
		}
		if w.rng.IntN(4) > 0 {
			o.Title = ptr(pick(w.rng, propTitles))
		}
		if w.rng.IntN(10) > 2 {
			o.LastSeen = ptr(w.instant(120))
			w.times = append(w.times, *o.LastSeen)
		}
		c := w.createContact(t, a, o)
		w.emails = append(w.emails, c.Email)
		byAccount[a.ID] = append(byAccount[a.ID], c.ID)
		if !o.Archived && a.ArchivedAt == nil {
			w.contacts = append(w.contacts, c.ID)
		}
	}
	var events []*db.Event
	for _, a := range accounts {
		if w.rng.IntN(5) == 0 {
			continue // some accounts never did anything
		}
		for range w.rng.IntN(40) {
			e := &db.Event{ClientEventID: uuid.NewString(), AccountID: a.ID, Name: pick(w.rng, propEvents),
				OccurredAt: w.instant(120), Properties: json.RawMessage("{}")}
			if cs := byAccount[a.ID]; len(cs) > 0 && w.rng.IntN(2) == 0 {
				e.ContactID = &cs[w.rng.IntN(len(cs))]
			}
			events = append(events, e)
		}
		for range w.rng.IntN(5) {
			w.addTimeline(t, a, pick(w.rng, timelineKinds), w.instant(200))
		}
	}
	_, err := db.InsertEvents(w.ctx, w.db.Bun, w.t, events)
	require.NoError(t, err)

	// Play runs of random statuses, for accounts and their contacts (live or not), at most one
	// active run per play and subject as the database requires.
	for _, name := range []string{"Onboarding", "Renewal", "Rescue"} {
		w.plays = append(w.plays, w.createPlay(t, name))
	}
	for _, a := range accounts {
		for _, play := range w.plays {
			if w.rng.IntN(3) == 0 {
				continue
			}
			active := map[uuid.UUID]bool{} // by contact; uuid.Nil for the account itself
			for range 1 + w.rng.IntN(3) {
				var contact *uuid.UUID
				key := uuid.Nil
				if cs := byAccount[a.ID]; len(cs) > 0 && w.rng.IntN(2) == 0 {
					contact = &cs[w.rng.IntN(len(cs))]
					key = *contact
				}
				status := pick(w.rng, propStatuses)
				if status == db.RunRunning || status == db.RunWaiting {
					if active[key] {
						status = db.RunCompleted
					}
					active[key] = true
				}
				w.addRun(t, play, a, contact, status, w.instant(120))
			}
		}
	}

	// Journey enrolments of random statuses, at most one live (ACTIVE or STALLED) per journey
	// and account as the database requires; some share their enrolment instant, so the latest
	// is decided by id; the archived journey's enrolments must never be seen.
	journeys := []uuid.UUID{w.createJourney(t, "onboarding", true), w.createJourney(t, "onboarding", false), w.createJourney(t, "adoption", false)}
	for _, a := range accounts {
		for _, j := range journeys {
			if w.rng.IntN(3) == 0 {
				continue
			}
			live := false
			var last time.Time
			for i := range 1 + w.rng.IntN(3) {
				status := pick(w.rng, propEnrollStatuses)
				if status == "ACTIVE" || status == "STALLED" {
					if live {
						status = "COMPLETED"
					}
					live = true
				}
				at := w.instant(200)
				if i > 0 && w.rng.IntN(4) == 0 {
					at = last
				}
				last = at
				ms := map[string]string{}
				for _, m := range propMilestones {
					if w.rng.IntN(4) > 0 {
						ms[m] = pick(w.rng, milestoneStatuses)
					}
				}
				w.enroll(t, enrollment{Journey: j, Account: a.ID, Status: status, EnrolledAt: at, Milestones: ms})
			}
		}
	}
}

// instant returns a time within the last maxDays days (microsecond precision), an exact
// duration boundary before now, or rarely a little after now.
func (w *propWorld) instant(maxDays int) time.Time {
	switch w.rng.IntN(8) {
	case 0, 1:
		d, _ := parseDuration(pick(w.rng, propDurations))
		return w.at.ago(d)
	case 2:
		return w.at.now.Add(time.Duration(w.rng.Int64N(int64(time.Hour))) / 1000 * 1000)
	}
	return w.at.now.Add(-time.Duration(w.rng.Int64N(int64(maxDays)*int64(day)/1000)) * 1000)
}

func (w *propWorld) subset(pool []string) []string {
	out := []string{}
	for _, v := range pool {
		if w.rng.IntN(4) == 0 {
			out = append(out, v)
		}
	}
	return out
}

// customJSON builds a custom attributes object whose keys vary in type between rows, so that
// type mismatches and missing keys are common.
func (w *propWorld) customJSON(keys []string) string {
	obj := map[string]any{}
	for _, k := range keys {
		if k == "absent" || w.rng.IntN(5) == 0 {
			continue
		}
		obj[k] = w.jsonValue()
	}
	out, _ := json.Marshal(obj)
	return string(out)
}

func (w *propWorld) jsonValue() any {
	switch w.rng.IntN(9) {
	case 0, 1:
		return pick(w.rng, propPlans)
	case 2:
		return pick(w.rng, []string{"admin", "user", "12", "true"})
	case 3, 4:
		return w.rng.IntN(12) - 2
	case 5:
		return json.Number(pick(w.rng, []string{"7.5", "-0.5", "12.0", "1e2", "99.999"}))
	case 6:
		return w.rng.IntN(2) == 0
	case 7:
		return nil
	}
	return []any{1, "pro"}
}

// --- trees -----------------------------------------------------------------------------------

func (w *propWorld) tree(scope Scope, depth int) Node {
	if depth < propMaxDepth && w.rng.IntN(3) == 0 {
		switch w.rng.IntN(5) {
		case 0:
			k := w.tree(scope, depth+1)
			return Node{Not: &k}
		case 1, 2:
			return Node{All: w.trees(scope, depth+1)}
		default:
			return Node{Any: w.trees(scope, depth+1)}
		}
	}
	switch n := w.rng.IntN(100); {
	case n < 55:
		return w.fieldNode(scope)
	case n < 68:
		return Node{Event: w.eventName(), Op: pick(w.rng, activityOps), Duration: pick(w.rng, propDurations)}.fixArity()
	case n < 80:
		return Node{EventCount: &EventCount{Name: w.eventName(), Within: pick(w.rng, propDurations)},
			Op: pick(w.rng, countOps), Value: w.rng.IntN(9)}
	case n < 88:
		j := &JourneyState{Key: pick(w.rng, propJourneys)}
		if w.rng.IntN(2) == 0 {
			j.Status = w.someOf(enrollmentStatuses)
		} else {
			j.Milestone = pick(w.rng, append(slices.Clone(propMilestones), "golive"))
			j.MilestoneStatus = w.someOf(milestoneStatuses)
		}
		return Node{Journey: j}
	case n < 94:
		play := propNoPlay
		if w.rng.IntN(8) > 0 {
			play = pick(w.rng, w.plays)
		}
		return Node{PlayRun: play.String(), Op: pick(w.rng, playRunOps), Duration: pick(w.rng, propDurations)}.fixArity()
	}
	return Node{Timeline: pick(w.rng, timelineKinds), Op: pick(w.rng, activityOps), Duration: pick(w.rng, propDurations)}.fixArity()
}

func (w *propWorld) trees(scope Scope, depth int) []Node {
	out := make([]Node, 1+w.rng.IntN(3))
	for i := range out {
		out[i] = w.tree(scope, depth)
	}
	return out
}

// someOf returns 1 to 3 distinct values of pool, in random order.
func (w *propWorld) someOf(pool []string) []string {
	out := slices.Clone(pool)
	w.rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out[:1+w.rng.IntN(3)]
}

func (w *propWorld) eventName() string {
	if w.rng.IntN(10) == 0 {
		return "never_sent"
	}
	return pick(w.rng, propEvents)
}

// fixArity drops the duration of operators that take none.
func (n Node) fixArity() Node {
	if arityOf(n.Op) != arityDuration {
		n.Duration = ""
	}
	return n
}

func (w *propWorld) fieldNode(scope Scope) Node {
	var names []string
	for name, f := range fields {
		if f.entity == ofAccount || scope == ScopeContact {
			names = append(names, name)
		}
	}
	slices.Sort(names) // map order must not leak into a seeded run
	for _, k := range propAcctKeys {
		names = append(names, "account.custom."+k)
	}
	if scope == ScopeContact {
		for _, k := range propConKeys {
			names = append(names, "contact.custom."+k)
		}
	}
	name := pick(w.rng, names)
	f, _, _ := lookupField(name)
	op := pick(w.rng, f.ops())
	n := Node{Field: name, Op: op}
	switch arityOf(op) {
	case arityDuration:
		if f.typ == typeDate {
			n.Duration = pick(w.rng, propDays)
		} else {
			n.Duration = pick(w.rng, propDurations)
		}
	case arityValue:
		n.Value = w.value(f, op, "")
	case arityList:
		// Custom attribute lists hold one type: strings or whole numbers.
		kind := pick(w.rng, []string{"string", "number"})
		list := make([]any, 1+w.rng.IntN(4))
		for i := range list {
			list[i] = w.value(f, op, kind)
		}
		n.Value = list
	}
	return n
}

// value draws a value for f and op, mostly from the data; kind forces a custom attribute
// value's type ("string" or "number").
func (w *propWorld) value(f *field, op Op, kind string) any {
	str := func(pool []string) any {
		s := pick(w.rng, pool)
		if op == OpContains && w.rng.IntN(2) == 0 {
			// A random piece of a real value, in random ASCII case.
			r := []rune(s)
			i := w.rng.IntN(len(r))
			j := i + 1 + w.rng.IntN(len(r)-i)
			s = string(r[i:j])
			if w.rng.IntN(2) == 0 {
				s = strings.ToUpper(s)
			}
		}
		return s
	}
	switch f.name {
	case "account.name":
		return str(w.names)
	case "account.domain":
		return str([]string{"acme.com", "bolt.io", "cobalt.de", "ACME", ".io"})
	case "account.stage":
		return str(propStages)
	case "account.arrCurrency":
		return str(propCurrency)
	case "account.healthScore":
		return pick(w.rng, []int{0, 25, 49, 50, 51, 75, 100, w.rng.IntN(101)})
	case "account.arrMinor":
		return pick(w.rng, propARR) + int64(w.rng.IntN(3)-1)
	case "account.owner":
		if w.rng.IntN(5) == 0 {
			return uuid.NewString()
		}
		return pick(w.rng, w.users).String()
	case "account.tags":
		return pick(w.rng, propTags)
	case "account.renewalDate":
		return (w.at.today + date(w.rng.IntN(460)-60)).String()
	case "contact.name":
		return str([]string{"Contact", "contact", "a"})
	case "contact.email":
		return str(append(slices.Clone(w.emails[:3]), "@example.com", "EXAMPLE"))
	case "contact.title":
		return str(propTitles)
	case "contact.persona":
		return str(propPersonas)
	case "contact.emailOptOut":
		return w.rng.IntN(2) == 0
	}
	switch f.typ {
	case typeTime:
		if w.rng.IntN(2) == 0 {
			return pick(w.rng, w.times).UTC().Format(time.RFC3339Nano)
		}
		return w.instant(800).Format(time.RFC3339Nano)
	case typeJSON:
		if op == OpContains {
			return str(append(slices.Clone(propPlans), "admin", "12"))
		}
		if kind == "" {
			if slices.Contains([]Op{OpLt, OpLte, OpGt, OpGte}, op) {
				kind = "number"
			} else {
				kind = pick(w.rng, []string{"string", "number", "bool"})
			}
		}
		switch kind {
		case "string":
			return pick(w.rng, append(slices.Clone(propPlans), "admin", "user", "12", "true"))
		case "bool":
			return w.rng.IntN(2) == 0
		}
		return w.rng.IntN(14) - 3
	}
	panic("no value generator for " + f.name)
}

func sortIDs(ids []uuid.UUID) []uuid.UUID {
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	return ids
}

func pick[T any](rng *rand.Rand, pool []T) T { return pool[rng.IntN(len(pool))] }
