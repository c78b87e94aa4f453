package condition

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
)

// handWorld is a small workspace whose answers are computed by hand below.
type handWorld struct {
	*testBundle
	owner    *db.User
	names    map[uuid.UUID]string
	accounts []uuid.UUID // live
	contacts []uuid.UUID // live, of live accounts
	// Plays with runs: onboarding and renewal.
	onboarding, renewal uuid.UUID
}

// newHandWorld builds, at testNow (today is 2026-06-15):
//
//	Acme    ADOPTION, health 40, ARR 12k, renews +60d, owned, tags enterprise+beta,
//	        custom {plan:"pro", seats:25, beta:true, nps:7.5}; logins -3d and -20d;
//	        report_viewed 6x in the last 30d and once at -40d; BUSINESS_REVIEW -100d, CALL -2d
//	Bolt    ONBOARDING, no health, no renewal, no owner, no tags, custom {plan:5, region:null};
//	        no activity at all
//	Cobalt  RENEWAL, health 80, ARR 50k, renews +200d (2027-01-01), owned, tags smb,
//	        custom {plan:"Enterprise Pro"}; login -20d; report_viewed 5x in 30d;
//	        BUSINESS_REVIEW -10d
//	Edge    CHURNED, health 50, renews exactly +120d; login exactly -14d; BUSINESS_REVIEW
//	        exactly -90d (boundaries: within is inclusive)
//	Dune    archived, otherwise matching much: never in Matching
//
// and contacts A1 (Acme: decision-maker, "VP of Sales", seen -1d, custom {role:"admin"}),
// A2 (Acme: nothing set, opted out), B1 (Bolt: champion, "Head of CS", seen -30d),
// C1 (Cobalt, archived) and D1 (Dune, decision-maker).
//
// Play runs: onboarding is RUNNING for Acme (started -2d), WAITING for B1 (-40d), COMPLETED
// for Cobalt (-10d) and RUNNING for Dune; renewal ran for Acme twice, EXITED (-60d) and FAILED
// (-5d), is RUNNING for the archived C1 (started exactly -30d) and was CANCELLED for Edge
// (started exactly -30d).
func newHandWorld(t *testing.T) *handWorld {
	b := setup(t)
	w := &handWorld{testBundle: b, owner: b.createUser(t), names: map[uuid.UUID]string{}}
	now := instantAt(testNow).now
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	dayOf := func(days int) *time.Time {
		d := time.Date(2026, 6, 15+days, 0, 0, 0, 0, time.UTC)
		return &d
	}
	add := func(name string, o accountOpts) *db.Account {
		o.Name = name
		a := b.createAccount(t, o)
		w.names[a.ID] = name
		if !o.Archived {
			w.accounts = append(w.accounts, a.ID)
		}
		return a
	}
	addContact := func(name string, a *db.Account, o contactOpts) {
		o.Name = name
		c := b.createContact(t, a, o)
		w.names[c.ID] = name
		if !o.Archived && slices.Contains(w.accounts, a.ID) {
			w.contacts = append(w.contacts, c.ID)
		}
	}

	acme := add("Acme", accountOpts{Stage: "ADOPTION", Health: ptr(40), ARR: 1_200_000, Renewal: dayOf(60),
		Owner: &w.owner.ID, Tags: []string{"enterprise", "beta"},
		Custom: `{"plan":"pro","seats":25,"beta":true,"nps":7.5}`, LastLogin: ptr(ago(3 * day))})
	b.addEvents(t, acme, "login", ago(3*day), ago(20*day))
	b.addEvents(t, acme, "report_viewed", ago(1*day), ago(2*day), ago(3*day), ago(4*day), ago(5*day), ago(6*day), ago(40*day))
	b.addTimeline(t, acme, db.TimelineBusinessReview, ago(100*day))
	b.addTimeline(t, acme, db.TimelineCall, ago(2*day))

	bolt := add("Bolt", accountOpts{Stage: "ONBOARDING", Custom: `{"plan":5,"region":null}`})

	cobalt := add("Cobalt", accountOpts{Stage: "RENEWAL", Health: ptr(80), ARR: 5_000_000, Renewal: dayOf(200),
		Owner: &w.owner.ID, Tags: []string{"smb"}, Custom: `{"plan":"Enterprise Pro"}`, LastLogin: ptr(ago(20 * day))})
	b.addEvents(t, cobalt, "login", ago(20*day))
	b.addEvents(t, cobalt, "report_viewed", ago(1*day), ago(2*day), ago(3*day), ago(10*day), ago(29*day))
	b.addTimeline(t, cobalt, db.TimelineBusinessReview, ago(10*day))

	edge := add("Edge", accountOpts{Stage: "CHURNED", Health: ptr(50), Renewal: dayOf(120), LastLogin: ptr(ago(14 * day))})
	b.addEvents(t, edge, "login", ago(14*day))
	b.addTimeline(t, edge, db.TimelineBusinessReview, ago(90*day))

	dune := add("Dune", accountOpts{Stage: "ADOPTION", Health: ptr(10), Renewal: dayOf(30), Tags: []string{"enterprise"},
		Custom: `{"plan":"pro"}`, Archived: true})

	addContact("A1", acme, contactOpts{Persona: ptr("decision-maker"), Title: ptr("VP of Sales"),
		LastSeen: ptr(ago(day)), Custom: `{"role":"admin"}`})
	addContact("A2", acme, contactOpts{OptOut: true})
	addContact("B1", bolt, contactOpts{Persona: ptr("champion"), Title: ptr("Head of CS"), LastSeen: ptr(ago(30 * day))})
	addContact("C1", cobalt, contactOpts{Persona: ptr("champion"), Archived: true})
	addContact("D1", dune, contactOpts{Persona: ptr("decision-maker")})

	byName := func(name string) *uuid.UUID {
		for id, n := range w.names {
			if n == name {
				return &id
			}
		}
		panic(name)
	}
	w.onboarding, w.renewal = b.createPlay(t, "Onboarding"), b.createPlay(t, "Renewal")
	b.addRun(t, w.onboarding, acme, nil, db.RunRunning, ago(2*day))
	b.addRun(t, w.onboarding, bolt, byName("B1"), db.RunWaiting, ago(40*day))
	b.addRun(t, w.onboarding, cobalt, nil, db.RunCompleted, ago(10*day))
	b.addRun(t, w.onboarding, dune, nil, db.RunRunning, ago(day))
	b.addRun(t, w.renewal, acme, nil, db.RunExited, ago(60*day))
	b.addRun(t, w.renewal, acme, nil, db.RunFailed, ago(5*day))
	b.addRun(t, w.renewal, cobalt, byName("C1"), db.RunRunning, ago(30*day))
	b.addRun(t, w.renewal, edge, nil, db.RunCancelled, ago(30*day))
	return w
}

// check asserts that both evaluators select exactly want (names) for raw.
func (w *handWorld) check(t *testing.T, scope Scope, raw string, want ...string) {
	t.Helper()
	c := mustParse(t, raw, scope)
	ids := w.accounts
	if scope == ScopeContact {
		ids = w.contacts
	}
	matched, err := c.Matching(w.ctx, w.db.Bun, w.t, testNow)
	require.NoError(t, err, raw)
	evaluated := w.evalAll(t, c, ids, testNow)
	slices.Sort(want)
	require.Equal(t, want, w.nameList(matched), "SQL: %s", raw)
	require.Equal(t, want, w.nameList(evaluated), "Go: %s", raw)
}

func (w *handWorld) nameList(ids []uuid.UUID) []string {
	out := []string{}
	for _, id := range ids {
		out = append(out, w.names[id])
	}
	slices.Sort(out)
	return out
}

func TestPredicatesByHand(t *testing.T) {
	t.Parallel()
	w := newHandWorld(t)
	owner := w.owner.ID.String()
	acc, con := ScopeAccount, ScopeContact
	onboarding, renewal, unknown := w.onboarding.String(), strings.ToUpper(w.renewal.String()), uuid.NewString()

	tests := []struct {
		name  string
		scope Scope
		raw   string
		want  []string
	}{
		// Events. "No login in 14 days" includes never; the boundary instant counts as within.
		{"no login in 14 days", acc, `{"event":"login","op":"notWithin","duration":"14d"}`, []string{"Bolt", "Cobalt"}},
		{"login olderThan is notWithin", acc, `{"event":"login","op":"olderThan","duration":"2w"}`, []string{"Bolt", "Cobalt"}},
		{"login within", acc, `{"event":"login","op":"within","duration":"14d"}`, []string{"Acme", "Edge"}},
		{"login within hours", acc, `{"event":"login","op":"within","duration":"73h"}`, []string{"Acme"}},
		{"ever logged in", acc, `{"event":"login","op":"exists"}`, []string{"Acme", "Cobalt", "Edge"}},
		{"never logged in", acc, `{"event":"login","op":"notExists"}`, []string{"Bolt"}},
		{"unknown event never happened", acc, `{"event":"nothing","op":"notWithin","duration":"1d"}`, []string{"Acme", "Bolt", "Cobalt", "Edge"}},

		// Event counts: the window is inclusive at its start; -40d is outside 30d.
		{"count gte", acc, `{"eventCount":{"name":"report_viewed","within":"30d"},"op":"gte","value":5}`, []string{"Acme", "Cobalt"}},
		{"count gt", acc, `{"eventCount":{"name":"report_viewed","within":"30d"},"op":"gt","value":5}`, []string{"Acme"}},
		{"count eq zero", acc, `{"eventCount":{"name":"report_viewed","within":"30d"},"op":"eq","value":0}`, []string{"Bolt", "Edge"}},
		{"count wider window", acc, `{"eventCount":{"name":"report_viewed","within":"6w"},"op":"eq","value":7}`, []string{"Acme"}},
		{"count lt", acc, `{"eventCount":{"name":"report_viewed","within":"3d"},"op":"lt","value":3}`, []string{"Bolt", "Edge"}},

		// Timeline: "90 days since the last business review" includes never having had one.
		{"no business review in 90 days", acc, `{"timeline":"BUSINESS_REVIEW","op":"olderThan","duration":"90d"}`, []string{"Acme", "Bolt"}},
		{"business review within", acc, `{"timeline":"BUSINESS_REVIEW","op":"within","duration":"3mo"}`, []string{"Cobalt", "Edge"}},
		{"call exists", acc, `{"timeline":"CALL","op":"exists"}`, []string{"Acme"}},

		// Play runs: exists asks for an active run (of the account or any of its contacts),
		// within for any run started in the window, inclusive at its start.
		{"in onboarding", acc, `{"playRun":"` + onboarding + `","op":"exists"}`, []string{"Acme", "Bolt"}},
		{"not in onboarding", acc, `{"playRun":"` + onboarding + `","op":"notExists"}`, []string{"Cobalt", "Edge"}},
		{"onboarding started within 30d", acc, `{"playRun":"` + onboarding + `","op":"within","duration":"30d"}`, []string{"Acme", "Cobalt"}},
		{"onboarding started within 6w", acc, `{"playRun":"` + onboarding + `","op":"within","duration":"6w"}`, []string{"Acme", "Bolt", "Cobalt"}},
		{"in renewal via an archived contact", acc, `{"playRun":"` + renewal + `","op":"exists"}`, []string{"Cobalt"}},
		{"finished runs are not active", acc, `{"playRun":"` + renewal + `","op":"notExists"}`, []string{"Acme", "Bolt", "Edge"}},
		{"renewal within any status", acc, `{"playRun":"` + renewal + `","op":"within","duration":"30d"}`, []string{"Acme", "Cobalt", "Edge"}},
		{"renewal within 29d", acc, `{"playRun":"` + renewal + `","op":"within","duration":"29d"}`, []string{"Acme"}},
		{"unknown play never runs", acc, `{"playRun":"` + unknown + `","op":"exists"}`, []string{}},
		{"unknown play not running", acc, `{"playRun":"` + unknown + `","op":"notExists"}`, []string{"Acme", "Bolt", "Cobalt", "Edge"}},
		{"play runs combined", acc, `{"all":[{"playRun":"` + onboarding + `","op":"notExists"},{"playRun":"` + renewal + `","op":"within","duration":"30d"}]}`, []string{"Cobalt", "Edge"}},
		{"contacts of accounts in onboarding", con, `{"playRun":"` + onboarding + `","op":"exists"}`, []string{"A1", "A2", "B1"}},
		{"contacts not in renewal", con, `{"playRun":"` + renewal + `","op":"notExists"}`, []string{"A1", "A2", "B1"}},

		// Numbers; a missing health score matches nothing but notExists, neq included.
		{"health lt", acc, `{"field":"account.healthScore","op":"lt","value":50}`, []string{"Acme"}},
		{"health lte", acc, `{"field":"account.healthScore","op":"lte","value":50}`, []string{"Acme", "Edge"}},
		{"health neq skips missing", acc, `{"field":"account.healthScore","op":"neq","value":40}`, []string{"Cobalt", "Edge"}},
		{"health in", acc, `{"field":"account.healthScore","op":"in","value":[40,80]}`, []string{"Acme", "Cobalt"}},
		{"health notIn", acc, `{"field":"account.healthScore","op":"notIn","value":[40]}`, []string{"Cobalt", "Edge"}},
		{"health missing", acc, `{"field":"account.healthScore","op":"notExists"}`, []string{"Bolt"}},
		{"not health lt includes missing", acc, `{"not":{"field":"account.healthScore","op":"lt","value":50}}`, []string{"Bolt", "Cobalt", "Edge"}},
		{"arr", acc, `{"field":"account.arrMinor","op":"gte","value":1000000}`, []string{"Acme", "Cobalt"}},

		// Dates: withinNext is inclusive of today+n.
		{"renewal within 120 days", acc, `{"field":"account.renewalDate","op":"withinNext","duration":"120d"}`, []string{"Acme", "Edge"}},
		{"renewal after", acc, `{"field":"account.renewalDate","op":"gt","value":"2026-10-13"}`, []string{"Cobalt"}},
		{"renewal eq", acc, `{"field":"account.renewalDate","op":"eq","value":"2026-10-13"}`, []string{"Edge"}},
		{"renewal passed", acc, `{"field":"account.renewalDate","op":"olderThan","duration":"1d"}`, []string{}},
		{"renewal missing", acc, `{"field":"account.renewalDate","op":"notExists"}`, []string{"Bolt"}},

		// Owner.
		{"owned", acc, `{"field":"account.owner","op":"exists"}`, []string{"Acme", "Cobalt"}},
		{"unowned", acc, `{"field":"account.owner","op":"notExists"}`, []string{"Bolt", "Edge"}},
		{"owner eq", acc, `{"field":"account.owner","op":"eq","value":"` + strings.ToUpper(owner) + `"}`, []string{"Acme", "Cobalt"}},

		// Tags.
		{"tag", acc, `{"field":"account.tags","op":"contains","value":"enterprise"}`, []string{"Acme"}},
		{"tag is exact", acc, `{"field":"account.tags","op":"contains","value":"Enterprise"}`, []string{}},
		{"tags any of", acc, `{"field":"account.tags","op":"in","value":["smb","beta"]}`, []string{"Acme", "Cobalt"}},
		{"tags none of", acc, `{"field":"account.tags","op":"notIn","value":["smb"]}`, []string{"Acme", "Bolt", "Edge"}},
		{"tagged", acc, `{"field":"account.tags","op":"exists"}`, []string{"Acme", "Cobalt"}},
		{"untagged", acc, `{"field":"account.tags","op":"notExists"}`, []string{"Bolt", "Edge"}},

		// Strings.
		{"stage in", acc, `{"field":"account.stage","op":"in","value":["ADOPTION","RENEWAL"]}`, []string{"Acme", "Cobalt"}},
		{"stage contains ignores ASCII case", acc, `{"field":"account.stage","op":"contains","value":"renew"}`, []string{"Cobalt"}},
		{"stage eq is exact", acc, `{"field":"account.stage","op":"eq","value":"renewal"}`, []string{}},

		// Custom attributes compare by the value's JSON type; other types are false.
		{"custom eq string", acc, `{"field":"account.custom.plan","op":"eq","value":"pro"}`, []string{"Acme"}},
		{"custom eq number", acc, `{"field":"account.custom.plan","op":"eq","value":5}`, []string{"Bolt"}},
		{"custom neq skips other types", acc, `{"field":"account.custom.plan","op":"neq","value":"pro"}`, []string{"Cobalt"}},
		{"custom contains", acc, `{"field":"account.custom.plan","op":"contains","value":"PRO"}`, []string{"Acme", "Cobalt"}},
		{"custom in", acc, `{"field":"account.custom.plan","op":"in","value":["pro","basic"]}`, []string{"Acme"}},
		{"custom notIn", acc, `{"field":"account.custom.plan","op":"notIn","value":["pro"]}`, []string{"Cobalt"}},
		{"custom number gte", acc, `{"field":"account.custom.seats","op":"gte","value":25}`, []string{"Acme"}},
		{"custom fraction gt", acc, `{"field":"account.custom.nps","op":"gt","value":7}`, []string{"Acme"}},
		{"custom fraction lt", acc, `{"field":"account.custom.nps","op":"lt","value":8}`, []string{"Acme"}},
		{"custom fraction eq", acc, `{"field":"account.custom.nps","op":"eq","value":7}`, []string{}},
		{"custom bool", acc, `{"field":"account.custom.beta","op":"eq","value":true}`, []string{"Acme"}},
		{"custom null is missing", acc, `{"field":"account.custom.region","op":"exists"}`, []string{}},
		{"custom missing", acc, `{"field":"account.custom.region","op":"notExists"}`, []string{"Acme", "Bolt", "Cobalt", "Edge"}},

		// Times: a missing last login is olderThan nothing but notWithin everything.
		{"last login within", acc, `{"field":"account.lastLoginAt","op":"within","duration":"14d"}`, []string{"Acme", "Edge"}},
		{"last login notWithin", acc, `{"field":"account.lastLoginAt","op":"notWithin","duration":"14d"}`, []string{"Bolt", "Cobalt"}},
		{"last login olderThan", acc, `{"field":"account.lastLoginAt","op":"olderThan","duration":"14d"}`, []string{"Cobalt"}},
		{"last login before", acc, `{"field":"account.lastLoginAt","op":"lt","value":"2026-06-01T10:30:01Z"}`, []string{"Cobalt", "Edge"}},

		// Groups.
		{"all", acc, `{"all":[{"event":"login","op":"notWithin","duration":"14d"},{"not":{"field":"account.stage","op":"eq","value":"CHURNED"}}]}`, []string{"Bolt", "Cobalt"}},
		{"any", acc, `{"any":[{"field":"account.healthScore","op":"lt","value":45},{"timeline":"BUSINESS_REVIEW","op":"notExists"}]}`, []string{"Acme", "Bolt"}},

		// Contacts, with their account's fields and activity.
		{"persona in", con, `{"field":"contact.persona","op":"in","value":["decision-maker","champion"]}`, []string{"A1", "B1"}},
		{"not opted out", con, `{"field":"contact.emailOptOut","op":"eq","value":false}`, []string{"A1", "B1"}},
		{"opted out", con, `{"field":"contact.emailOptOut","op":"neq","value":false}`, []string{"A2"}},
		{"title contains", con, `{"field":"contact.title","op":"contains","value":"vp"}`, []string{"A1"}},
		{"no persona", con, `{"field":"contact.persona","op":"notExists"}`, []string{"A2"}},
		{"not seen lately", con, `{"field":"contact.lastSeenAt","op":"notWithin","duration":"14d"}`, []string{"A2", "B1"}},
		{"contact custom", con, `{"field":"contact.custom.role","op":"eq","value":"admin"}`, []string{"A1"}},
		{"account field", con, `{"field":"account.tags","op":"contains","value":"enterprise"}`, []string{"A1", "A2"}},
		{"account activity", con, `{"event":"login","op":"notWithin","duration":"14d"}`, []string{"B1"}},
		{"both", con, `{"all":[{"field":"account.healthScore","op":"lt","value":50},{"field":"contact.emailOptOut","op":"eq","value":false}]}`, []string{"A1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w.check(t, tt.scope, tt.raw, tt.want...)
		})
	}
}

func TestExplain(t *testing.T) {
	t.Parallel()
	w := newHandWorld(t)
	c := mustParse(t, `{"all":[
		{"event":"login","op":"notWithin","duration":"14d"},
		{"any":[{"field":"account.healthScore","op":"lt","value":50},{"field":"account.custom.plan","op":"eq","value":5}]},
		{"eventCount":{"name":"report_viewed","within":"30d"},"op":"eq","value":0}
	]}`, ScopeAccount)
	var bolt uuid.UUID
	for id, name := range w.names {
		if name == "Bolt" {
			bolt = id
		}
	}
	s, err := LoadSubject(w.ctx, w.db.Bun, w.t, ScopeAccount, bolt, c.Needs(testNow))
	require.NoError(t, err)
	ok, err := c.Eval(s, testNow)
	require.NoError(t, err)
	require.True(t, ok)

	res, err := c.Explain(s, testNow)
	require.NoError(t, err)
	require.Len(t, res, 4, "every predicate is reported, even past a decided any")
	require.Equal(t, "condition.all[0]", res[0].Path)
	require.Equal(t, "login", res[0].Predicate.Event)
	require.Nil(t, res[0].Seen, "never logged in")
	require.True(t, res[0].Held)
	require.Equal(t, "condition.all[1].any[0]", res[1].Path)
	require.Nil(t, res[1].Seen)
	require.False(t, res[1].Held)
	require.Equal(t, "condition.all[1].any[1]", res[2].Path)
	require.Equal(t, json.Number("5"), res[2].Seen)
	require.True(t, res[2].Held)
	require.Equal(t, int64(0), res[3].Seen)
	require.True(t, res[3].Held)

	// Play runs: exists and notExists see whether a run is active, within the latest start.
	runs := mustParse(t, `{"all":[
		{"playRun":"`+w.onboarding.String()+`","op":"exists"},
		{"playRun":"`+w.renewal.String()+`","op":"notExists"},
		{"playRun":"`+w.renewal.String()+`","op":"within","duration":"1d"},
		{"playRun":"`+w.onboarding.String()+`","op":"within","duration":"1d"}
	]}`, ScopeAccount)
	require.Equal(t, Needs{PlayRuns: sortIDs([]uuid.UUID{w.onboarding, w.renewal})}, runs.Needs(testNow))
	s, err = LoadSubject(w.ctx, w.db.Bun, w.t, ScopeAccount, bolt, runs.Needs(testNow))
	require.NoError(t, err)
	res, err = runs.Explain(s, testNow)
	require.NoError(t, err)
	require.Len(t, res, 4)
	require.Equal(t, true, res[0].Seen, "B1's run is Bolt's")
	require.True(t, res[0].Held)
	require.Equal(t, false, res[1].Seen)
	require.True(t, res[1].Held)
	require.Nil(t, res[2].Seen, "no renewal run ever")
	require.False(t, res[2].Held)
	require.Equal(t, instantAt(testNow).now.Add(-40*day), res[3].Seen)
	require.False(t, res[3].Held)
	ok, err = runs.Eval(s, testNow)
	require.NoError(t, err)
	require.False(t, ok)
}

func TestEvalRefusesIncompleteSubjects(t *testing.T) {
	t.Parallel()
	w := newHandWorld(t)
	acme := w.accounts[0]
	c := mustParse(t, `{"all":[{"event":"login","op":"within","duration":"14d"},{"eventCount":{"name":"login","within":"7d"},"op":"gt","value":0}]}`, ScopeAccount)

	// Loaded without the condition's needs: "not loaded" must not read as "never".
	s, err := LoadSubject(w.ctx, w.db.Bun, w.t, ScopeAccount, acme, Needs{})
	require.NoError(t, err)
	_, err = c.Eval(s, testNow)
	require.ErrorContains(t, err, `without the last "login" event`)

	// Loaded for another instant: the count window differs.
	s, err = LoadSubject(w.ctx, w.db.Bun, w.t, ScopeAccount, acme, c.Needs(testNow.Add(-time.Hour)))
	require.NoError(t, err)
	_, err = c.Eval(s, testNow)
	require.ErrorContains(t, err, "count since")

	s, err = LoadSubject(w.ctx, w.db.Bun, w.t, ScopeAccount, acme, c.Needs(testNow))
	require.NoError(t, err)
	s.Activity = nil
	_, err = c.Eval(s, testNow)
	require.ErrorContains(t, err, "reads activity")

	// A condition without activity needs none.
	plain := mustParse(t, `{"field":"account.stage","op":"eq","value":"ADOPTION"}`, ScopeAccount)
	ok, err := plain.Eval(Subject{Account: s.Account}, testNow)
	require.NoError(t, err)
	require.True(t, ok)

	contact := mustParse(t, `{"field":"contact.persona","op":"exists"}`, ScopeContact)
	_, err = contact.Eval(Subject{Account: s.Account}, testNow)
	require.ErrorContains(t, err, "needs a contact")
	_, err = contact.Eval(Subject{Account: s.Account, Contact: &db.Contact{AccountID: uuid.New()}}, testNow)
	require.ErrorContains(t, err, "another account")

	// Play runs not loaded are not "no runs".
	runs := mustParse(t, `{"playRun":"`+w.onboarding.String()+`","op":"notExists"}`, ScopeAccount)
	s, err = LoadSubject(w.ctx, w.db.Bun, w.t, ScopeAccount, acme, Needs{Events: []string{"login"}})
	require.NoError(t, err)
	_, err = runs.Eval(s, testNow)
	require.ErrorContains(t, err, "without the runs of play")

	_, err = LoadSubject(w.ctx, w.db.Bun, w.t, ScopeAccount, uuid.New(), Needs{})
	require.ErrorIs(t, err, db.ErrNotFound)
}

func TestNeedsAreMinimal(t *testing.T) {
	t.Parallel()
	c := mustParse(t, `{"any":[
		{"event":"login","op":"within","duration":"14d"},
		{"not":{"event":"login","op":"exists"}},
		{"eventCount":{"name":"export","within":"7d"},"op":"gt","value":1},
		{"eventCount":{"name":"export","within":"1w"},"op":"lt","value":9},
		{"timeline":"CALL","op":"exists"},
		{"playRun":"6BA7B810-9DAD-11D1-80B4-00C04FD430C8","op":"exists"},
		{"playRun":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","op":"within","duration":"1d"},
		{"field":"account.stage","op":"eq","value":"GROWTH"}
	]}`, ScopeAccount)
	at := instantAt(testNow).now
	require.Equal(t, Needs{
		Events:      []string{"login"},
		EventCounts: []EventWindow{{Name: "export", Since: at.Add(-7 * day)}},
		Timeline:    []string{db.TimelineCall},
		PlayRuns:    []uuid.UUID{uuid.MustParse("6ba7b810-9dad-11d1-80b4-00c04fd430c8")},
	}, c.Needs(testNow))
	require.True(t, mustParse(t, `{"field":"account.stage","op":"eq","value":"GROWTH"}`, ScopeAccount).Needs(testNow).Empty())
}

// TestSQLHoldsNoValues checks that values reach PostgreSQL only as arguments, including ones
// that look like SQL or like bun placeholders.
func TestSQLHoldsNoValues(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tricky := `it's ? a '); DROP TABLE accounts; -- ?TableAlias ?0 \ \" $1`
	a := b.createAccount(t, accountOpts{Custom: `{"plan":` + mustJSON(t, tricky) + `}`, Tags: []string{tricky}})
	b.createAccount(t, accountOpts{})
	for _, raw := range []string{
		`{"field":"account.custom.plan","op":"eq","value":` + mustJSON(t, tricky) + `}`,
		`{"field":"account.tags","op":"in","value":[` + mustJSON(t, tricky) + `,"x\"y"]}`,
		`{"field":"account.custom.plan","op":"contains","value":"DROP TABLE"}`,
	} {
		c := mustParse(t, raw, ScopeAccount)
		where, args := c.SQL(testNow)
		require.NotContains(t, where, "DROP")
		require.NotContains(t, where, "'it")
		require.NotEmpty(t, args)
		ids, err := c.Matching(b.ctx, b.db.Bun, b.t, testNow)
		require.NoError(t, err, raw)
		require.Equal(t, []uuid.UUID{a.ID}, ids, raw)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	out, err := json.Marshal(v)
	require.NoError(t, err)
	return string(out)
}

// TestMatchingIsTenantScoped checks that another workspace's rows never match.
func TestMatchingIsTenantScoped(t *testing.T) {
	t.Parallel()
	b, other := setup(t), setup(t)
	mine := b.createAccount(t, accountOpts{Stage: "GROWTH"})
	theirs := other.createAccount(t, accountOpts{Stage: "GROWTH"})
	other.addEvents(t, theirs, "login", testNow.Add(-time.Hour))
	c := mustParse(t, `{"all":[{"field":"account.stage","op":"eq","value":"GROWTH"},{"event":"login","op":"notWithin","duration":"1d"}]}`, ScopeAccount)
	ids, err := c.Matching(b.ctx, b.db.Bun, b.t, testNow)
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{mine.ID}, ids)
}
