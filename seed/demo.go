// Package seed fills a database with believable customer-success data: Demo creates the small,
// fixed "Acme Cloud" workspace a fresh installation opens with, and Bulk loads millions of rows
// for performance work.
//
// Both draw from seeded math/rand/v2 generators, so the same inputs give the same data. The
// derived columns (accounts.last_login_at and last_activity_at, contacts.last_seen_at) are
// computed from the events generated with them, exactly as ingestion would have set them.
package seed

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/auth"
	"github.com/stewardhq/steward/db"
)

// The demo workspace and the login printed in the README.
const (
	DemoWorkspaceName = "Acme Cloud"
	DemoAdminEmail    = "admin@acme.test"
	// DemoAdminPassword is the password of every demo user. It is public: the demo is for
	// local use and must never be created on a server that others can reach.
	DemoAdminPassword = "steward"
)

// Demo sizes and the generator seed that makes the demo the same on every installation.
const (
	demoAccounts = 200
	demoSeed     = 0x5eed_acce55
	// demoLockKey serializes concurrent Demo calls (two servers starting on one empty database):
	// the second waits for the first to commit, then finds the workspace and does nothing.
	demoLockKey = 0x5737_6465_6d6f
	// insertChunk bounds the rows of one INSERT statement.
	insertChunk = 1000
)

// demoUser is one of the demo's people.
type demoUser struct {
	email, name, role string
}

// demoUsers are the demo's members. The admin doubles as executive sponsor on large accounts,
// the manager runs sales, and the two CSMs own the book of business.
var demoUsers = []demoUser{
	{DemoAdminEmail, "Jordan Reyes", db.RoleAdmin},
	{"priya.natarajan@acme.test", "Priya Natarajan", db.RoleManager},
	{"marcus.webb@acme.test", "Marcus Webb", db.RoleCSM},
	{"elena.sokolova@acme.test", "Elena Sokolova", db.RoleCSM},
	{"tom.becker@acme.test", "Tom Becker", db.RoleViewer},
}

// Demo creates the "Acme Cloud" workspace with its users, about 200 accounts and their contacts,
// 30 days of usage events and a timeline, all dated relative to now, in one transaction. It does
// so only when the database has no workspace at all: on any other database, including one whose
// demo was deleted but that holds other workspaces, it returns created=false and writes nothing.
// Every demo user's password is DemoAdminPassword.
func Demo(ctx context.Context, b *bun.DB, now time.Time) (created bool, err error) {
	err = db.InTx(ctx, b, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?)", int64(demoLockKey)); err != nil {
			return fmt.Errorf("lock demo seed: %w", err)
		}
		exists, err := tx.NewSelect().Model((*db.Workspace)(nil)).Exists(ctx)
		if err != nil {
			return fmt.Errorf("look for workspaces: %w", err)
		}
		if exists {
			return nil
		}
		if err := createDemo(ctx, tx, now); err != nil {
			return err
		}
		created = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("seed demo: %w", err)
	}
	return created, nil
}

// createDemo writes the demo inside tx.
func createDemo(ctx context.Context, tx bun.Tx, now time.Time) error {
	ws, err := db.CreateWorkspace(ctx, tx, DemoWorkspaceName)
	if err != nil {
		return err
	}
	t := db.Tenant{WorkspaceID: ws.ID}
	roles, err := db.ListTeamRoles(ctx, tx, t)
	if err != nil {
		return err
	}
	roleIDs := make(map[string]uuid.UUID, len(roles))
	for _, r := range roles {
		roleIDs[r.Key] = r.ID
	}

	// One hash for all five: bcrypt is deliberately slow, and they share the password anyway.
	hash, err := auth.HashPassword(DemoAdminPassword)
	if err != nil {
		return err
	}
	users := make([]*db.User, len(demoUsers))
	for i, du := range demoUsers {
		u := &db.User{Email: du.email, Name: du.name, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
		if err := db.InsertUser(ctx, tx, u); err != nil {
			return err
		}
		if err := db.InsertMembership(ctx, tx, t, &db.Membership{UserID: u.ID, Role: du.role, CreatedAt: now}); err != nil {
			return err
		}
		users[i] = u
	}

	g := newDemoGen(now, demoStaff{
		sponsor: users[0].ID,
		sales:   users[1].ID,
		csms:    []uuid.UUID{users[2].ID, users[3].ID},
	}, roleIDs)
	g.generate()

	inserts := []struct {
		what string
		n    int
		rows func(lo, hi int) *bun.InsertQuery
	}{
		{"accounts", len(g.accounts), func(lo, hi int) *bun.InsertQuery { return db.Insert(t, tx, g.accounts[lo:hi]...) }},
		{"account teams", len(g.team), func(lo, hi int) *bun.InsertQuery { return db.Insert(t, tx, g.team[lo:hi]...) }},
		{"contacts", len(g.contacts), func(lo, hi int) *bun.InsertQuery { return db.Insert(t, tx, g.contacts[lo:hi]...) }},
		{"events", len(g.events), func(lo, hi int) *bun.InsertQuery { return db.Insert(t, tx, g.events[lo:hi]...) }},
		{"timeline", len(g.timeline), func(lo, hi int) *bun.InsertQuery { return db.Insert(t, tx, g.timeline[lo:hi]...) }},
	}
	for _, ins := range inserts {
		for lo := 0; lo < ins.n; lo += insertChunk {
			// RETURNING nothing: bun would otherwise scan generated columns back into the rows.
			if _, err := ins.rows(lo, min(lo+insertChunk, ins.n)).Returning("NULL").Exec(ctx); err != nil {
				return fmt.Errorf("insert demo %s: %w", ins.what, err)
			}
		}
	}
	return nil
}

// demoStaff are the users the generator puts on account teams.
type demoStaff struct {
	sponsor uuid.UUID   // executive sponsor on enterprise accounts
	sales   uuid.UUID   // sales on accounts with a commercial conversation going
	csms    []uuid.UUID // owners
}

// demoGen generates the demo's rows in memory.
type demoGen struct {
	r     *rand.Rand
	now   time.Time
	staff demoStaff
	roles map[string]uuid.UUID
	ids   idGen
	seq   int // client event id sequence

	accounts []*db.Account
	team     []*db.AccountTeamMember
	contacts []*db.Contact
	events   []*db.Event
	timeline []*db.TimelineEntry
}

func newDemoGen(now time.Time, staff demoStaff, roles map[string]uuid.UUID) *demoGen {
	r := rand.New(rand.NewPCG(demoSeed, 0))
	now = now.UTC().Truncate(time.Second)
	return &demoGen{
		r:     r,
		now:   now,
		staff: staff,
		roles: roles,
		ids:   idGen{base: now.Add(-activityWindow).UnixMilli(), r: r},
	}
}

// demoContact is a generated contact with how often its person uses the product.
type demoContact struct {
	row      *db.Contact
	activity float64 // chance of using the product on a working day, before engagement
}

// personaActivity is how active each persona is relative to the account's engagement.
var personaActivity = map[string]float64{
	personaDecisionMaker: 0.12,
	personaChampion:      0.85,
	personaAdmin:         0.5,
	personaEndUser:       0.65,
}

func (g *demoGen) generate() {
	r := g.r
	// Distinct company names: each (word, industry) pair at most once.
	used := make(map[[2]int]bool, demoAccounts)
	for i := range demoAccounts {
		var wi, ii int
		for {
			wi, ii = r.IntN(len(companyWords)), r.IntN(len(industries))
			if !used[[2]int{wi, ii}] {
				used[[2]int{wi, ii}] = true
				break
			}
		}
		p := newProfile(r, g.now, industries[ii])
		name, domain := companyName(r, p.region, companyWords[wi], industries[ii].word)
		g.account(i, p, name, domain)
	}
}

// account generates one account with its team, contacts, events and timeline.
func (g *demoGen) account(i int, p profile, name, domain string) {
	r := g.r
	a := &db.Account{
		ID:          g.ids.next(),
		Name:        name,
		Domain:      &domain,
		ExternalID:  ptr(fmt.Sprintf("crm-%06d", 100+i)),
		Stage:       p.stage,
		ARRMinor:    p.arrMinor,
		ARRCurrency: p.currency,
		RenewalDate: p.renewal,
		HealthScore: p.health,
		Tags:        p.tags,
		Custom:      json.RawMessage(p.custom(nil)),
		CreatedAt:   p.createdAt,
		UpdatedAt:   g.now,
	}
	owner := -1
	if !chance(r, 0.03) { // a few accounts wait for an owner
		owner = r.IntN(len(g.staff.csms))
		a.OwnerID = &g.staff.csms[owner]
	}
	g.accounts = append(g.accounts, a)
	g.teamFor(a, p, owner)

	contacts := g.contactsFor(a, p, domain)
	g.eventsFor(a, p, contacts)
	g.timelineFor(a, p, contacts)
}

func (g *demoGen) addTeam(a *db.Account, roleKey string, user uuid.UUID) {
	g.team = append(g.team, &db.AccountTeamMember{
		AccountID: a.ID, TeamRoleID: g.roles[roleKey], UserID: user, CreatedAt: a.CreatedAt,
	})
}

// teamFor staffs an account: its owner as CSM, the other CSM leading implementation while it
// onboards, sales while there is a deal to talk about, and an executive sponsor on enterprise
// accounts.
func (g *demoGen) teamFor(a *db.Account, p profile, owner int) {
	if owner >= 0 {
		g.addTeam(a, "CSM", g.staff.csms[owner])
		if p.stage == stageOnboarding || p.stage == stageAdoption && chance(g.r, 0.2) {
			g.addTeam(a, "IMPLEMENTATION", g.staff.csms[(owner+1)%len(g.staff.csms)])
		}
	}
	if p.segment != segmentSMB && (p.stage == stageOnboarding || p.stage == stageRenewal || p.stage == stageGrowth) {
		g.addTeam(a, "SALES", g.staff.sales)
	}
	if p.segment == segmentEnterprise {
		g.addTeam(a, "EXECUTIVE_SPONSOR", g.staff.sponsor)
	}
}

// contactsFor generates the account's contacts: larger companies have more of them.
func (g *demoGen) contactsFor(a *db.Account, p profile, domain string) []demoContact {
	r := g.r
	var n int
	switch p.segment {
	case segmentEnterprise:
		n = between(r, 5, 8)
	case segmentMidMarket:
		n = between(r, 3, 5)
	default:
		n = between(r, 2, 4)
	}
	emails := make(map[string]bool, n)
	out := make([]demoContact, 0, n)
	for j := range n {
		persona := personaEndUser
		switch j {
		case 0:
			persona = personaDecisionMaker
		case 1:
			persona = personaChampion
		case 2:
			persona = personaAdmin
		}
		name, local := personName(r)
		email := local + "@" + domain
		for k := 2; emails[email]; k++ {
			email = local + strconv.Itoa(k) + "@" + domain
		}
		emails[email] = true
		created := a.CreatedAt.Add(time.Duration(r.IntN(int(min(g.now.Sub(a.CreatedAt), 90*day)/time.Minute))) * time.Minute)
		c := &db.Contact{
			ID:          g.ids.next(),
			AccountID:   a.ID,
			Name:        name,
			Email:       email,
			Title:       ptr(oneOf(r, titles[persona])),
			Persona:     ptr(persona),
			EmailOptOut: chance(r, 0.03),
			Custom:      json.RawMessage(`{}`),
			CreatedAt:   created,
			UpdatedAt:   g.now,
		}
		g.contacts = append(g.contacts, c)
		out = append(out, demoContact{row: c, activity: personaActivity[persona]})
	}
	return out
}

// eventsFor simulates the last 30 days of the account's usage, day by day and person by person,
// and sets the derived activity columns from what it generated. Quiet accounts stop logging in
// at their quietSince; some of them keep a nightly integration sync running, so their last
// activity is recent while their last login is not. Onboarding accounts may not have connected
// an integration yet.
func (g *demoGen) eventsFor(a *db.Account, p profile, contacts []demoContact) {
	if p.stage == stageChurned {
		return
	}
	r := g.r
	today := g.now.Truncate(day)
	from := g.now.Add(-activityWindow)
	if a.CreatedAt.After(from) {
		from = a.CreatedAt
	}
	userUntil := g.now
	if p.quietSince != nil {
		userUntil = *p.quietSince
	}

	integration := ""
	syncsWhileQuiet := chance(r, 0.5)
	if p.stage != stageOnboarding || chance(r, 0.6) {
		integration = oneOf(r, integrationNames)
	}
	if p.stage == stageOnboarding && integration != "" && len(contacts) > 2 {
		// The admin connected it during onboarding.
		at := a.CreatedAt.Add(time.Duration(between(r, 20, 96)) * time.Hour)
		if at.Before(userUntil) && at.Before(g.now) {
			g.event(a, contacts[2].row, eventIntegrationConnected, at, []byte(`{"integration":"`+integration+`"}`))
		} else {
			integration = ""
		}
	}

	for d := int(activityWindow / day); d >= 0; d-- {
		date := today.Add(-time.Duration(d) * day)
		weekday := date.Weekday()
		workday := weekday != time.Saturday && weekday != time.Sunday
		if integration != "" && (p.quietSince == nil || syncsWhileQuiet) {
			at := date.Add(2*time.Hour + time.Duration(r.IntN(1800))*time.Second)
			if !at.Before(from) && at.Before(g.now) {
				g.event(a, nil, eventSyncCompleted, at, []byte(`{"integration":"`+integration+`"}`))
			}
		}
		for _, c := range contacts {
			chanceToday := p.engagement * c.activity
			if !workday {
				chanceToday *= 0.1
			}
			if !chance(r, chanceToday) {
				continue
			}
			at := date.Add(workdayStart(p.region) + time.Duration(r.IntN(9*3600))*time.Second)
			if at.Before(from) || !at.Before(userUntil) || at.After(g.now) || at.Before(c.row.CreatedAt) {
				continue
			}
			g.event(a, c.row, eventLogin, at, propertiesFor(r, eventLogin))
			for range r.IntN(5) {
				at = at.Add(time.Duration(between(r, 30, 1500)) * time.Second)
				if !at.Before(userUntil) || at.After(g.now) {
					break
				}
				name := pick(r, sessionEvents)
				g.event(a, c.row, name, at, propertiesFor(r, name))
			}
		}
	}
}

// event appends an event and advances the derived columns it touches.
func (g *demoGen) event(a *db.Account, c *db.Contact, name string, at time.Time, props []byte) {
	g.seq++
	e := &db.Event{
		ClientEventID: fmt.Sprintf("demo-%07d", g.seq),
		AccountID:     a.ID,
		Name:          name,
		OccurredAt:    at,
		Properties:    json.RawMessage(props),
		ReceivedAt:    at.Add(time.Duration(1+g.r.IntN(5)) * time.Second),
	}
	if c != nil {
		e.ContactID = &c.ID
		c.LastSeenAt = later(c.LastSeenAt, at)
	}
	if name == eventLogin {
		a.LastLoginAt = later(a.LastLoginAt, at)
	}
	a.LastActivityAt = later(a.LastActivityAt, at)
	g.events = append(g.events, e)
}

// later returns the later of *cur (if set) and t.
func later(cur *time.Time, t time.Time) *time.Time {
	if cur == nil || t.After(*cur) {
		return &t
	}
	return cur
}

// timelineFor writes the account's history: its creation, kickoff, business reviews every
// quarter for accounts large enough to get them (a share of them overdue), a handful of notes,
// calls and emails, and system entries for stage changes and silence.
func (g *demoGen) timelineFor(a *db.Account, p profile, contacts []demoContact) {
	r := g.r
	author := a.OwnerID
	add := func(kind string, at time.Time, author *uuid.UUID, body string) {
		if at.After(g.now) || at.Before(a.CreatedAt) {
			return
		}
		g.timeline = append(g.timeline, &db.TimelineEntry{
			ID: g.ids.next(), AccountID: a.ID, Kind: kind, AuthorID: author, OccurredAt: at, Body: body, CreatedAt: at,
		})
	}
	person := func() string { return oneOf(r, contacts).row.Name }
	champion := contacts[min(1, len(contacts)-1)].row.Name
	hours := func(lo, hi int) time.Duration { return time.Duration(between(r, lo, hi)) * time.Hour }

	add(db.TimelineSystem, a.CreatedAt, nil, "Account created from CRM sync ("+*a.ExternalID+").")
	if p.stage == stageOnboarding || g.now.Sub(a.CreatedAt) < 200*day {
		add(db.TimelineMeeting, a.CreatedAt.Add(hours(48, 150)), author, fmt.Sprintf(meetingBodies[0], champion))
	}
	if p.stage != stageOnboarding {
		add(db.TimelineSystem, g.now.Add(-hours(24, 60*24)), nil, "Stage changed to "+stageLabel(p.stage)+".")
	}
	if p.quietSince != nil {
		add(db.TimelineSystem, p.quietSince.Add(darkAfter+hours(1, 20)), nil,
			fmt.Sprintf("No logins for %d days; health score lowered.", int(darkAfter/day)))
	}

	if p.stage != stageOnboarding && (p.segment != segmentSMB || chance(r, 0.15)) {
		// Overdue: the last review was more than 90 days ago.
		overdue := chance(r, 0.25) || p.stage == stageAtRisk && chance(r, 0.5) || p.stage == stageChurned
		last := g.now.Add(-hours(5*24, 85*24))
		if overdue {
			last = g.now.Add(-hours(95*24, 200*24))
		}
		for k, at := 0, last; k < 4 && at.After(a.CreatedAt); k, at = k+1, at.Add(-hours(85*24, 100*24)) {
			body := fmt.Sprintf(oneOf(r, reviewBodies), contacts[0].row.Name)
			reviewer := author
			if p.segment == segmentEnterprise && chance(r, 0.5) {
				reviewer = &g.staff.sponsor
			}
			add(db.TimelineBusinessReview, at, reviewer, body)
		}
	}

	n := between(r, 1, 3)
	if p.segment == segmentEnterprise || p.stage == stageAtRisk || p.stage == stageRenewal {
		n += between(r, 2, 4)
	}
	for range n {
		at := g.now.Add(-hours(2, 120*24))
		switch between(r, 0, 3) {
		case 0:
			add(db.TimelineNote, at, author, fmt.Sprintf(oneOf(r, noteBodies), person()))
		case 1:
			add(db.TimelineCall, at, author, fmt.Sprintf(oneOf(r, callBodies), person()))
		case 2:
			add(db.TimelineMeeting, at, author, fmt.Sprintf(oneOf(r, meetingBodies[1:]), person()))
		default:
			add(db.TimelineEmail, at, author, fmt.Sprintf(oneOf(r, emailBodies), person()))
		}
	}
}

// stageLabel is a stage as people write it.
func stageLabel(stage string) string {
	switch stage {
	case stageOnboarding:
		return "Onboarding"
	case stageAdoption:
		return "Adoption"
	case stageGrowth:
		return "Growth"
	case stageRenewal:
		return "Renewal"
	case stageAtRisk:
		return "At risk"
	case stageChurned:
		return "Churned"
	}
	return stage
}

func ptr[T any](v T) *T { return &v }
