package feed

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stewardhq/steward/db"
)

// closeTimeout bounds closing the LISTEN connection.
const closeTimeout = 5 * time.Second

// listenLoop keeps one LISTEN connection open, reconnecting after ReconnectDelay, and pokes
// the reader on every notification. After each (re)connect it pokes once too: notifications
// sent while it was away are lost, the rows are not.
func (h *Hub) listenLoop(ctx context.Context) {
	for {
		err := h.listenOnce(ctx)
		h.listening.Store(false)
		if ctx.Err() != nil {
			return
		}
		h.cfg.Logger.Warn("change log listener lost; reconnecting", slog.Any("error", err),
			slog.Duration("delay", h.cfg.ReconnectDelay))
		select {
		case <-ctx.Done():
			return
		case <-time.After(h.cfg.ReconnectDelay):
		}
	}
}

func (h *Hub) listenOnce(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, h.listen)
	if err != nil {
		return fmt.Errorf("connect listener: %w", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+db.ChangeChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	h.listening.Store(true)
	h.Poke()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return fmt.Errorf("wait for notification: %w", err)
		}
		h.Poke()
	}
}
