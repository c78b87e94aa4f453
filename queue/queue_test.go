package queue_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/db/dbtest"
	. "github.com/stewardhq/steward/queue"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

type pingArgs struct {
	ID string `json:"id"`
}

func (pingArgs) Kind() string { return "queue_test_ping" }

func TestMigrateConcurrentlyIsIdempotent(t *testing.T) {
	d := dbtest.DB(t)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() { errs[i] = Migrate(t.Context(), d.Pool) })
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
}

func TestInsertTxFollowsTheBunTransaction(t *testing.T) {
	d := dbtest.DB(t)
	ctx := t.Context()
	ins, err := NewInserter(d.Bun.DB)
	require.NoError(t, err)
	id := uuid.NewString()
	count := func() int {
		n, err := d.Bun.NewSelect().Table("river_job").Where("kind = ? AND args->>'id' = ?", pingArgs{}.Kind(), id).Count(ctx)
		require.NoError(t, err)
		return int(n)
	}
	boom := errors.New("boom")
	err = db.InTx(ctx, d.Bun, func(ctx context.Context, tx bun.Tx) error {
		_, err := ins.InsertTx(ctx, tx.Tx, pingArgs{ID: id}, nil)
		require.NoError(t, err)
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.Zero(t, count(), "a rolled-back transaction leaves no job")
	require.NoError(t, db.InTx(ctx, d.Bun, func(ctx context.Context, tx bun.Tx) error {
		_, err := ins.InsertTx(ctx, tx.Tx, pingArgs{ID: id}, nil)
		return err
	}))
	require.Equal(t, 1, count())
}

func TestConfigDefaults(t *testing.T) {
	c := Config{}.WithDefaults()
	require.Equal(t, map[string]int{"default": DefaultWorkers}, c.Queues)
	require.Equal(t, DefaultSweepInterval, c.SweepInterval)
	_, err := NewClient(nil, nil, nil, Config{Queues: map[string]int{"default": 0}})
	require.ErrorContains(t, err, `Queues["default"]`)
}
