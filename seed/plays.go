package seed

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/play"
)

// demoFinishedRuns is how many finished runs of history the demo plays get.
const demoFinishedRuns = 12

// DemoPlays gives the demo workspace its four plays, published, and some runs: the manual
// "Sticky feature best practices" launched on a few contacts, a history of finished runs, and
// (once the sweeper runs, right after start) live runs of the scheduled plays for the accounts
// that match them. It does nothing when the workspace already has plays.
func DemoPlays(ctx context.Context, engine *play.Engine, now time.Time) error {
	b := engine.DB
	var ws db.Workspace
	if err := b.NewSelect().Model(&ws).Where("name = ?", DemoWorkspaceName).OrderExpr("created_at").Limit(1).Scan(ctx); err != nil {
		return fmt.Errorf("find demo workspace: %w", err)
	}
	t := db.Tenant{WorkspaceID: ws.ID}
	existing, err := engine.Definitions.List(ctx, t, play.ListFilter{})
	if err != nil || len(existing) > 0 {
		return err
	}
	admin, err := db.GetUserByEmail(ctx, b, DemoAdminEmail)
	if err != nil {
		return fmt.Errorf("find demo admin: %w", err)
	}
	published := map[string]*db.Play{}
	for _, p := range play.Examples() {
		created, err := engine.Definitions.Create(ctx, t, admin.ID, p)
		if err != nil {
			return fmt.Errorf("create demo play %q: %w", p.Name, err)
		}
		if _, err := engine.Definitions.Publish(ctx, t, created.ID, admin.ID); err != nil {
			return fmt.Errorf("publish demo play %q: %w", p.Name, err)
		}
		published[p.Name] = created
	}

	// Launch the manual play on the champions of a few accounts.
	var champions []uuid.UUID
	if err := t.Select(b, (*db.Contact)(nil)).Column("c.id").Where("c.persona = 'champion' AND NOT c.email_opt_out").
		OrderExpr("c.created_at, c.id").Limit(3).Scan(ctx, &champions); err != nil {
		return fmt.Errorf("pick demo contacts: %w", err)
	}
	sticky := published[play.StickyFeatureBestPractices().Name]
	if len(champions) > 0 {
		if _, err := engine.Launch(ctx, t, sticky.ID, champions); err != nil {
			return fmt.Errorf("launch demo play: %w", err)
		}
	}

	// History: finished runs of the business review play on accounts that had one recently.
	var accounts []uuid.UUID
	if err := t.Select(b, (*db.Account)(nil)).Column("a.id").OrderExpr("a.created_at, a.id").
		Limit(demoFinishedRuns).Scan(ctx, &accounts); err != nil {
		return fmt.Errorf("pick demo accounts: %w", err)
	}
	review := published[play.BusinessReviewCadence().Name]
	outcomes := []string{db.RunGoalMet, db.RunCompleted, db.RunGoalMet, db.RunExited}
	for i, id := range accounts {
		started := now.AddDate(0, 0, -100+i*5)
		finished := started.AddDate(0, 0, 9+i%4*3)
		run := &db.PlayRun{
			PlayID: review.ID, Version: 1, SubjectKind: "ACCOUNT", AccountID: id,
			Status: outcomes[i%len(outcomes)], Iterations: map[string]int{},
			Trigger:   []byte(`{"kind":"SCHEDULE","seed":true}`),
			StartedAt: started, FinishedAt: &finished,
		}
		if _, err := db.InsertPlayRun(ctx, b, t, run); err != nil {
			return fmt.Errorf("insert demo run: %w", err)
		}
	}
	return nil
}
