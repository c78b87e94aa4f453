package condition

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
)

// fuzzSeeds are valid and invalid conditions; `go test` runs only these, `go test -fuzz`
// mutates them.
var fuzzSeeds = []string{
	`{"field":"account.healthScore","op":"lt","value":50}`,
	`{"field":"account.renewalDate","op":"withinNext","duration":"120d"}`,
	`{"event":"login","op":"notWithin","duration":"14d"}`,
	`{"eventCount":{"name":"report_viewed","within":"30d"},"op":"gte","value":5}`,
	`{"timeline":"BUSINESS_REVIEW","op":"olderThan","duration":"90d"}`,
	`{"field":"account.custom.plan","op":"eq","value":"pro"}`,
	`{"field":"account.custom.seats","op":"in","value":[1,2,3]}`,
	`{"field":"account.tags","op":"contains","value":"enterprise"}`,
	`{"field":"contact.persona","op":"in","value":["decision-maker","champion"]}`,
	`{"field":"contact.emailOptOut","op":"eq","value":false}`,
	`{"field":"account.owner","op":"exists"}`,
	`{"field":"account.owner","op":"eq","value":"6ba7b810-9dad-11d1-80b4-00c04fd430c8"}`,
	`{"field":"account.lastLoginAt","op":"lt","value":"2026-01-31T09:00:00.123456+02:00"}`,
	`{"field":"account.renewalDate","op":"gte","value":"2026-01-31"}`,
	`{"all":[{"event":"login","op":"notWithin","duration":"14d"},{"not":{"field":"account.stage","op":"eq","value":"CHURNED"}}]}`,
	`{"any":[{"field":"account.healthScore","op":"notExists"},{"all":[{"timeline":"CALL","op":"exists"}]}]}`,
	`{"field":"contact.title","op":"contains","value":"VP"}`,
	`{"field":"account.custom.a.b","op":"neq","value":true}`,
	`{"playRun":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","op":"exists"}`,
	`{"not":{"playRun":"6BA7B810-9DAD-11D1-80B4-00C04FD430C8","op":"notExists"}}`,
	`{"playRun":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","op":"within","duration":"30d"}`,
	`{"journey":{"key":"onboarding","status":["ACTIVE","NOT_ENROLLED"]}}`,
	`{"not":{"journey":{"key":"onboarding","milestone":"setup","milestoneStatus":["BEHIND","AT_RISK"]}}}`,
	// Invalid.
	``,
	`null`,
	`{}`,
	`{"all":[]}`,
	`{"not":{"not":{"not":{}}}}`,
	`{"field":"account.healthScore","op":"lt","value":"50"}`,
	`{"field":"account.healthScore","op":"lt","value":1e400}`,
	`{"field":"account.nope","op":"eq","value":1}`,
	`{"event":"login","op":"notWithin","duration":"99999999999999999999d"}`,
	`{"event":"login","op":"notWithin","duration":"14d","duration":"15d"}`,
	`{"eventCount":{"name":"x","within":"1d","extra":0},"op":"eq","value":0}`,
	`{"field":"contact.persona","op":"in","value":[]}`,
	`{"field":"account.stage","op":"eq","value":"\u0000"}`,
	`{"timeline":"NOTE","op":"within","duration":"1d"} trailing`,
	`{"playRun":"onboarding","op":"exists"}`,
	`{"playRun":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","op":"olderThan","duration":"30d"}`,
	`{"playRun":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","op":"within"}`,
	`{"playRun":["6ba7b810-9dad-11d1-80b4-00c04fd430c8"],"op":"exists"}`,
	`{"journey":{"key":"onboarding","status":["ACTIVE"],"milestone":"setup","milestoneStatus":["BEHIND"]}}`,
	`{"journey":{"key":"On-boarding","status":[]}}`,
	`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[`,
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	subject := fuzzSubject()
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, scope := range []Scope{ScopeAccount, ScopeContact} {
			c, err := Parse(raw, scope)
			if err != nil {
				ie, ok := invalid.As(err)
				require.True(t, ok, "not an *invalid.Error: %v", err)
				require.True(t, ie.Field == rootPath || strings.HasPrefix(ie.Field, rootPath+".") ||
					strings.HasPrefix(ie.Field, rootPath+"["), "path %q", ie.Field)
				require.NotEmpty(t, ie.Message)
				continue
			}
			// The stored form parses back to an equal condition and is a fixed point.
			out, err := json.Marshal(c)
			require.NoError(t, err)
			again, err := Parse(out, scope)
			require.NoError(t, err, "re-encoded %s", out)
			require.Equal(t, c.Root(), again.Root(), "re-encoded %s", out)
			out2, err := json.Marshal(again)
			require.NoError(t, err)
			require.Equal(t, string(out), string(out2))

			// Both evaluators compile without panicking; every value is an argument.
			where, args := c.SQL(testNow)
			require.Equal(t, len(args), strings.Count(where, "?"), where)
			_, err = c.Explain(subject, testNow)
			require.NoError(t, err)
			_, err = c.Eval(subject, testNow)
			require.NoError(t, err)
		}
	})
}

// fuzzSubject is one contact with its account and some activity, for evaluating whatever the
// fuzzer finds.
func fuzzSubject() Subject {
	health := 40
	seen := testNow.Add(-3 * day)
	a := &db.Account{ID: uuid.New(), Stage: "ADOPTION", HealthScore: &health, Tags: []string{"enterprise"},
		Custom: json.RawMessage(`{"plan":"pro","seats":25,"a.b":true,"nps":7.5,"x":null,"l":[1]}`), LastLoginAt: &seen}
	c := &db.Contact{ID: uuid.New(), AccountID: a.ID, Persona: new(string), Custom: json.RawMessage(`{}`)}
	return Subject{Account: a, Contact: c, Activity: fakeActivity{at: seen}}
}

// fakeActivity says every event and entry last happened at `at`, five times.
type fakeActivity struct{ at time.Time }

func (f fakeActivity) LastEvent(string) (time.Time, bool)    { return f.at, true }
func (f fakeActivity) EventCount(string, time.Time) int      { return 5 }
func (f fakeActivity) LastTimeline(string) (time.Time, bool) { return f.at, true }

// Journey says the account is behind on every milestone of an active enrolment in any journey.
func (f fakeActivity) Journey(string) JourneyFacts {
	return JourneyFacts{Status: "ACTIVE", Milestones: map[string]string{"setup": "BEHIND"}}
}

// PlayRuns says every play has an active run that started at `at`.
func (f fakeActivity) PlayRuns(uuid.UUID) PlayRunFacts {
	return PlayRunFacts{Active: true, LastStartedAt: &f.at}
}
