package condition

import (
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
)

// playRunOps are the operators of a playRun predicate: exists and notExists ask for an active
// run (RUNNING or WAITING), within for a run of any status started within the duration.
var playRunOps = []Op{OpExists, OpNotExists, OpWithin}

// PlayRunFacts is what a condition may ask about one play's runs for one account.
type PlayRunFacts struct {
	// Active says the account has a RUNNING or WAITING run of the play.
	Active bool
	// LastStartedAt is when the account's latest run of the play (of any status) started; nil
	// if it never had one.
	LastStartedAt *time.Time
}

// playRunPred asks about the subject's account's runs of one play.
type playRunPred struct {
	play uuid.UUID
	op   Op
	span span
}

func buildPlayRun(_ *validator, n *Node, path string) (predicate, error) {
	id, err := uuid.Parse(n.PlayRun)
	if err != nil {
		return nil, invalid.Field(path+".playRun", "must be a play id (a UUID)")
	}
	if err := checkOp(n, path, playRunOps, "a play run"); err != nil {
		return nil, err
	}
	if err := checkOperands(n, path); err != nil {
		return nil, err
	}
	n.PlayRun = id.String()
	p := &playRunPred{play: id, op: n.Op}
	if n.Op == OpWithin {
		d, err := durationAt(n.Duration, path+".duration")
		if err != nil {
			return nil, err
		}
		p.span = d
	}
	return p, nil
}

func (p *playRunPred) sql(b *sqlBuilder, at instant) string {
	from := fmt.Sprintf("SELECT 1 FROM play_runs AS pr WHERE pr.workspace_id = a.workspace_id AND pr.account_id = a.id AND pr.play_id = %s::uuid",
		b.arg(p.play.String()))
	switch p.op {
	case OpExists:
		return "EXISTS (" + from + " AND pr.status IN ('" + db.RunRunning + "', '" + db.RunWaiting + "'))"
	case OpNotExists:
		return "NOT EXISTS (" + from + " AND pr.status IN ('" + db.RunRunning + "', '" + db.RunWaiting + "'))"
	}
	return fmt.Sprintf("EXISTS (%s AND pr.started_at >= %s::timestamptz)", from, b.arg(at.ago(p.span)))
}

func (p *playRunPred) need(n *needSet, _ instant) { n.playRuns[p.play] = true }

func (p *playRunPred) eval(s Subject, at instant) (bool, any, error) {
	f := s.Activity.PlayRuns(p.play)
	switch p.op {
	case OpExists:
		return f.Active, f.Active, nil
	case OpNotExists:
		return !f.Active, f.Active, nil
	}
	if f.LastStartedAt == nil {
		return false, nil, nil
	}
	last := f.LastStartedAt.UTC()
	return !last.Before(at.ago(p.span)), last, nil
}
