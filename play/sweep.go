package play

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/condition"
	"github.com/stewardhq/steward/db"
)

// KindSweep is the River kind of the periodic SCHEDULE sweep.
const KindSweep = "play_sweep"

// SweepArgs is the periodic job that starts the runs of every ACTIVE SCHEDULE play.
type SweepArgs struct{}

// Kind implements river.JobArgs.
func (SweepArgs) Kind() string { return KindSweep }

// SweepWorker works SweepArgs jobs with an Engine.
type SweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	Engine *Engine
}

// Work sweeps once.
func (w *SweepWorker) Work(ctx context.Context, _ *river.Job[SweepArgs]) error {
	_, err := w.Engine.Sweep(ctx)
	return err
}

// PeriodicSweep is the River periodic job that sweeps every Config.SweepInterval (default a
// minute), once when a leader starts, and at most once per interval across processes:
// periodic jobs are inserted by River's elected leader only, and the job is unique per period.
func (e *Engine) PeriodicSweep() *river.PeriodicJob {
	every := e.cfg().SweepInterval
	return river.NewPeriodicJob(river.PeriodicInterval(every), func() (river.JobArgs, *river.InsertOpts) {
		return SweepArgs{}, &river.InsertOpts{MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByPeriod: every}}
	}, &river.PeriodicJobOpts{RunOnStart: true, ID: KindSweep})
}

// Sweep starts runs of every ACTIVE SCHEDULE play for the subjects its condition, entry
// condition and re-entry policy admit. Each play is one transaction holding an advisory lock
// on the play (so concurrent sweeps take turns), one INSERT ... SELECT of its runs (ON CONFLICT
// DO NOTHING on the active-run key) and one InsertManyTx of their first step jobs. A repeated
// sweep inserts nothing for subjects that already have an active run. It returns how many
// runs started.
func (e *Engine) Sweep(ctx context.Context) (int, error) {
	plays, err := e.Definitions.ActiveSchedules(ctx, e.DB)
	if err != nil {
		return 0, err
	}
	total := 0
	for i := range plays {
		n, err := e.sweepPlay(ctx, &plays[i])
		if err != nil {
			return total, fmt.Errorf("sweep play %s: %w", plays[i].Play.ID, err)
		}
		total += n
	}
	return total, nil
}

func (e *Engine) sweepPlay(ctx context.Context, pub *Published) (int, error) {
	def := pub.Definition
	if def.Trigger == nil || def.Trigger.Condition == nil || len(def.Steps) == 0 {
		return 0, nil
	}
	t := db.Tenant{WorkspaceID: pub.Play.WorkspaceID}
	var n int
	err := db.InTx(ctx, e.DB, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext(?))", "play_sweep:"+pub.Play.ID.String()); err != nil {
			return fmt.Errorf("lock sweep: %w", err)
		}
		now := e.now()
		info, err := json.Marshal(TriggerInfo{Kind: TriggerSchedule, At: now})
		if err != nil {
			return err
		}
		first := def.Steps[0].ID
		contact := pub.Play.Scope == string(condition.ScopeContact)
		subjectContact := "NULL::uuid"
		from := "accounts AS a"
		if contact {
			subjectContact = "c.id"
			from = "contacts AS c JOIN accounts AS a ON a.workspace_id = c.workspace_id AND a.id = c.account_id AND c.archived_at IS NULL"
		}
		args := []any{pub.Play.ID, pub.Version.Version, pub.Play.Scope, first, string(info), now}
		q := "INSERT INTO play_runs (workspace_id, play_id, version, subject_kind, account_id, contact_id, status, current_step, iterations, trigger, started_at) " +
			"SELECT a.workspace_id, ?, ?, ?, a.id, " + subjectContact + ", 'RUNNING', ?, '{}'::jsonb, ?::jsonb, ? FROM " + from +
			" WHERE a.workspace_id = ? AND a.archived_at IS NULL"
		args = append(args, t.WorkspaceID)
		where, wargs := def.Trigger.Condition.SQL(now)
		q += " AND " + where
		args = append(args, wargs...)
		if def.Entry != nil {
			where, wargs := def.Entry.SQL(now)
			q += " AND " + where
			args = append(args, wargs...)
		}
		prior := "SELECT 1 FROM play_runs pr WHERE pr.workspace_id = a.workspace_id AND pr.play_id = ? AND pr.account_id = a.id AND pr.contact_id IS NOT DISTINCT FROM " + subjectContact
		args = append(args, pub.Play.ID)
		switch def.Reentry.Policy {
		case ReentryOnce:
			q += " AND NOT EXISTS (" + prior + ")"
		case ReentryCooldown:
			q += " AND NOT EXISTS (" + prior + " AND (pr.status IN ('RUNNING', 'WAITING') OR pr.finished_at > ?))"
			args = append(args, now.Add(-def.Reentry.Cooldown.Length()))
		default:
			q += " AND NOT EXISTS (" + prior + " AND pr.status IN ('RUNNING', 'WAITING'))"
		}
		q += " ON CONFLICT DO NOTHING RETURNING id, account_id, contact_id"
		var started []struct {
			ID        uuid.UUID
			AccountID uuid.UUID
			ContactID *uuid.UUID
		}
		if err := tx.NewRaw(q, args...).Scan(ctx, &started); err != nil {
			return fmt.Errorf("insert swept runs: %w", err)
		}
		n = len(started)
		if n == 0 {
			return nil
		}
		ids := make([]uuid.UUID, n)
		changes := make([]*db.Change, n)
		for i, s := range started {
			ids[i] = s.ID
			changes[i] = db.PlayRunChange(&db.PlayRun{ID: s.ID, PlayID: pub.Play.ID, AccountID: s.AccountID,
				ContactID: s.ContactID, Status: db.RunRunning}, db.KindStarted)
		}
		if err := db.AppendChanges(ctx, tx, t, changes...); err != nil {
			return err
		}
		params := make([]river.InsertManyParams, n)
		opts := &river.InsertOpts{MaxAttempts: e.cfg().StepAttempts}
		for i, id := range ids {
			params[i] = river.InsertManyParams{Args: StepArgs{WorkspaceID: t.WorkspaceID, RunID: id, StepID: first}, InsertOpts: opts}
		}
		if _, err := e.Inserter.InsertManyTx(ctx, tx.Tx, params); err != nil {
			return fmt.Errorf("enqueue swept runs: %w", err)
		}
		return nil
	})
	return n, err
}

// Workers registers the executor's workers (steps and sweeps) on ws.
func (e *Engine) Workers(ws *river.Workers) {
	river.AddWorker(ws, &StepWorker{Engine: e})
	river.AddWorker(ws, &SweepWorker{Engine: e})
}

// sweepPlayByID sweeps one play (tests; Sweep serves every workspace).
func (e *Engine) sweepPlayByID(ctx context.Context, t db.Tenant, playID uuid.UUID) (int, error) {
	p, err := db.GetPlay(ctx, e.DB, t, playID)
	if err != nil {
		return 0, err
	}
	pub, err := e.Definitions.Load(ctx, e.DB, t, playID, p.LatestVersion)
	if err != nil {
		return 0, err
	}
	return e.sweepPlay(ctx, pub)
}
