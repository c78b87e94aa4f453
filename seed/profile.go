package seed

import (
	"encoding/binary"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Account stages. The db package stores them as text; these are the values the product knows.
const (
	stageOnboarding = "ONBOARDING"
	stageAdoption   = "ADOPTION"
	stageGrowth     = "GROWTH"
	stageRenewal    = "RENEWAL"
	stageAtRisk     = "AT_RISK"
	stageChurned    = "CHURNED"
)

// Segments, also used as tags.
const (
	segmentEnterprise = "enterprise"
	segmentMidMarket  = "mid-market"
	segmentSMB        = "smb"
)

const day = 24 * time.Hour

// activityWindow is how far back usage events go.
const activityWindow = 30 * day

// darkAfter is the silence after which an account counts as inactive: its users have not logged
// in for at least this long.
const darkAfter = 14 * day

// weighted is one choice of a weighted pick.
type weighted[T any] struct {
	value  T
	weight int
}

// pick returns a value chosen with probability proportional to its weight.
func pick[T any](r *rand.Rand, choices []weighted[T]) T {
	total := 0
	for _, c := range choices {
		total += c.weight
	}
	n := r.IntN(total)
	for _, c := range choices {
		if n < c.weight {
			return c.value
		}
		n -= c.weight
	}
	return choices[len(choices)-1].value
}

// oneOf returns a uniformly chosen element of list.
func oneOf[T any](r *rand.Rand, list []T) T { return list[r.IntN(len(list))] }

// between returns a uniformly chosen integer in [lo, hi].
func between(r *rand.Rand, lo, hi int) int { return lo + r.IntN(hi-lo+1) }

// chance reports true with probability p.
func chance(r *rand.Rand, p float64) bool { return r.Float64() < p }

var stageWeights = []weighted[string]{
	{stageOnboarding, 12}, {stageAdoption, 25}, {stageGrowth, 26},
	{stageRenewal, 15}, {stageAtRisk, 13}, {stageChurned, 9},
}

var segmentWeights = []weighted[string]{
	{segmentEnterprise, 15}, {segmentMidMarket, 45}, {segmentSMB, 40},
}

var regionWeights = []weighted[string]{
	{regionNA, 50}, {regionEMEA, 35}, {regionAPAC, 15},
}

// profile is what one generated account is like: who the company is, where it stands with us
// and how much its people use the product. Demo and Bulk both derive their rows from it, so the
// two data sets have the same shape.
type profile struct {
	industry  string
	region    string
	segment   string
	stage     string
	arrMinor  int64
	currency  string
	renewal   *time.Time
	plan      string
	seats     int
	tags      []string
	createdAt time.Time
	health    *int

	// engagement in [0, 1] scales how often the account's users are active.
	engagement float64
	// quietSince, when set, is when the account's users stopped logging in: at least darkAfter
	// before now. Churned accounts have no activity in the window at all.
	quietSince *time.Time
}

// newProfile draws an account's profile. now is the moment the data describes.
func newProfile(r *rand.Rand, now time.Time, ind industry) profile {
	p := profile{
		industry: ind.industry,
		region:   pick(r, regionWeights),
		segment:  pick(r, segmentWeights),
		stage:    pick(r, stageWeights),
	}

	switch p.segment {
	case segmentEnterprise:
		p.arrMinor = int64(between(r, 120, 950)) * 1_000_00
		p.seats = between(r, 300, 5000)
		p.plan = "enterprise"
	case segmentMidMarket:
		p.arrMinor = int64(between(r, 48, 240)) * 500_00
		p.seats = between(r, 40, 300)
		p.plan = "pro"
		if chance(r, 0.3) {
			p.plan = "business"
		}
	default:
		p.arrMinor = int64(between(r, 30, 240)) * 100_00
		p.seats = between(r, 5, 40)
		p.plan = "starter"
		if chance(r, 0.4) {
			p.plan = "pro"
		}
	}
	p.currency = "USD"
	if p.region == regionEMEA && chance(r, 0.75) {
		p.currency = "EUR"
	}

	today := now.UTC().Truncate(day)
	if p.stage == stageOnboarding {
		p.createdAt = now.Add(-time.Duration(between(r, 2*24, 60*24)) * time.Hour)
	} else {
		p.createdAt = now.Add(-time.Duration(between(r, 120*24, 1400*24)) * time.Hour)
	}
	p.createdAt = p.createdAt.Add(-time.Duration(r.IntN(3600)) * time.Second).UTC()

	var renewal time.Time
	switch p.stage {
	case stageOnboarding:
		renewal = p.createdAt.UTC().Truncate(day).AddDate(1, 0, 0)
	case stageRenewal:
		renewal = today.Add(time.Duration(between(r, 5, 90)) * day)
	case stageChurned:
		renewal = today.Add(-time.Duration(between(r, 20, 300)) * day)
	case stageAtRisk:
		if chance(r, 0.2) {
			renewal = today.Add(-time.Duration(between(r, 1, 45)) * day) // overdue
		} else {
			renewal = today.Add(time.Duration(between(r, 10, 200)) * day)
		}
	default:
		renewal = today.Add(time.Duration(between(r, 60, 548)) * day)
	}
	p.renewal = &renewal

	switch p.stage {
	case stageOnboarding:
		p.engagement = 0.45 + 0.4*r.Float64()
	case stageAdoption:
		p.engagement = 0.4 + 0.5*r.Float64()
	case stageGrowth:
		p.engagement = 0.6 + 0.4*r.Float64()
	case stageRenewal:
		p.engagement = 0.35 + 0.55*r.Float64()
	case stageAtRisk:
		p.engagement = 0.05 + 0.35*r.Float64()
	case stageChurned:
		p.engagement = 0
	}
	quiet := false
	switch p.stage {
	case stageAtRisk:
		quiet = chance(r, 0.6)
	case stageAdoption, stageRenewal:
		quiet = chance(r, 0.08)
	}
	if quiet {
		t := today.Add(-time.Duration(between(r, 15, 29)) * day)
		p.quietSince = &t
	}

	switch {
	case p.stage == stageChurned:
		h := between(r, 2, 18)
		p.health = &h
	case p.stage == stageOnboarding && now.Sub(p.createdAt) < 7*day:
		// Too new to score.
	default:
		h := 20 + int(70*p.engagement) + between(r, -8, 8)
		if p.quietSince != nil {
			h = min(h, 45) - 10
		}
		h = max(0, min(100, h))
		p.health = &h
	}

	p.tags = append(p.tags, p.segment)
	if chance(r, 0.3) {
		p.tags = append(p.tags, "add-on:analytics")
	}
	if p.segment == segmentEnterprise && chance(r, 0.6) || chance(r, 0.1) {
		p.tags = append(p.tags, "add-on:sso")
	}
	if chance(r, 0.15) {
		p.tags = append(p.tags, "add-on:api")
	}
	if chance(r, 0.06) {
		p.tags = append(p.tags, "add-on:consulting")
	}
	if p.segment == segmentEnterprise && chance(r, 0.3) {
		p.tags = append(p.tags, "multi-year")
	}
	if chance(r, 0.07) {
		p.tags = append(p.tags, "beta-program")
	}
	if p.stage == stageGrowth && p.engagement > 0.85 && p.segment != segmentSMB {
		p.tags = append(p.tags, "reference-customer")
	}
	if p.stage == stageAtRisk && chance(r, 0.2) {
		p.tags = append(p.tags, "relaunch")
	}
	return p
}

// hasTag reports whether the profile carries tag.
func (p *profile) hasTag(tag string) bool {
	for _, t := range p.tags {
		if t == tag {
			return true
		}
	}
	return false
}

// custom renders the account's custom attributes as JSON, appended to dst. The keys are fixed and
// the values come from word lists, so no escaping is needed.
func (p *profile) custom(dst []byte) []byte {
	dst = append(dst, `{"plan":"`...)
	dst = append(dst, p.plan...)
	dst = append(dst, `","seats":`...)
	dst = strconv.AppendInt(dst, int64(p.seats), 10)
	dst = append(dst, `,"region":"`...)
	dst = append(dst, p.region...)
	dst = append(dst, `","industry":"`...)
	dst = append(dst, p.industry...)
	dst = append(dst, `"}`...)
	return dst
}

// companyName builds a name and a domain from the given words, with a legal suffix and a top-level
// domain that fit the region.
func companyName(r *rand.Rand, region string, words ...string) (name, domain string) {
	name = strings.Join(words, " ")
	if suffix := oneOf(r, legalSuffixes[region]); suffix != "" {
		name += " " + suffix
	}
	var b strings.Builder
	for _, w := range words {
		b.WriteString(slug(w))
	}
	b.WriteString(oneOf(r, topLevelDomains[region]))
	return name, b.String()
}

// slug lowercases s and drops everything but ASCII letters and digits ("O'Connor" → "oconnor").
func slug(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b = append(b, c)
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		}
	}
	return string(b)
}

// personName draws a full name and the local part of an email address for it.
func personName(r *rand.Rand) (name, local string) {
	first, last := oneOf(r, firstNames), oneOf(r, lastNames)
	return first + " " + last, slug(first) + "." + slug(last)
}

// idGen makes UUIDv7 values (RFC 9562) that increase with each call, so that rows written in
// generation order append to the right edge of their primary-key index. The 48-bit timestamp is
// base plus seq/4096 milliseconds, the 12-bit rand_a field holds seq%4096, and the 62 random bits
// come from the seeded generator: the same seed, base and sequence give the same ids.
type idGen struct {
	base int64 // unix milliseconds
	seq  uint64
	r    *rand.Rand
}

func (g *idGen) next() uuid.UUID {
	s := g.seq
	g.seq++
	ms := uint64(g.base) + s>>12
	var u uuid.UUID
	u[0], u[1], u[2], u[3], u[4], u[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	u[6] = 0x70 | byte(s>>8)&0x0f
	u[7] = byte(s)
	binary.BigEndian.PutUint64(u[8:], g.r.Uint64())
	u[8] = u[8]&0x3f | 0x80
	return u
}

// eventProperties holds, per event name, the JSON property documents events of that name carry.
var eventProperties = func() map[string][][]byte {
	m := map[string][][]byte{
		eventLogin:         {[]byte(`{"method":"sso"}`), []byte(`{"method":"password"}`), []byte(`{"method":"google"}`)},
		eventUserInvited:   {[]byte(`{"role":"member"}`), []byte(`{"role":"admin"}`)},
		eventSyncCompleted: nil,
	}
	for _, rep := range reportNames {
		m[eventReportViewed] = append(m[eventReportViewed], []byte(`{"report":"`+rep+`"}`))
	}
	for _, n := range []int{2, 4, 6, 8} {
		m[eventDashboardCreated] = append(m[eventDashboardCreated], []byte(`{"widgets":`+strconv.Itoa(n)+`}`))
	}
	for _, f := range exportFormats {
		m[eventExportRun] = append(m[eventExportRun], []byte(`{"format":"`+f+`"}`))
	}
	for _, i := range integrationNames {
		m[eventIntegrationConnected] = append(m[eventIntegrationConnected], []byte(`{"integration":"`+i+`"}`))
		m[eventSyncCompleted] = append(m[eventSyncCompleted], []byte(`{"integration":"`+i+`"}`))
	}
	for _, w := range workflowNames {
		m[eventWorkflowRun] = append(m[eventWorkflowRun], []byte(`{"workflow":"`+w+`"}`))
	}
	return m
}()

// propertiesFor returns a property document for an event named name.
func propertiesFor(r *rand.Rand, name string) []byte {
	return oneOf(r, eventProperties[name])
}

// sessionEvents are what a user does after logging in, by how often they do it.
var sessionEvents = []weighted[string]{
	{eventReportViewed, 50}, {eventExportRun, 15}, {eventWorkflowRun, 15},
	{eventDashboardCreated, 10}, {eventUserInvited, 5}, {eventIntegrationConnected, 2},
}

// workdayStart is when a region's working day starts, in UTC hours.
func workdayStart(region string) time.Duration {
	switch region {
	case regionEMEA:
		return 7 * time.Hour
	case regionAPAC:
		return 0
	default:
		return 13 * time.Hour
	}
}
