package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/stewardhq/steward/server"
)

func benchCommand(ctx context.Context, cfg server.Config, logger *slog.Logger, args []string) error {
	return errors.New("bench: not wired yet")
}
