package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"syscall"
	"time"
)

// lockPollInterval is how often a waiting process retries a held lock. flock
// has no way to wait with a deadline, so waiting is a loop of non-blocking tries.
const lockPollInterval = 50 * time.Millisecond

// lockFile takes an flock of kind how (syscall.LOCK_EX or LOCK_SH) on path,
// creating the file, and waits for it until ctx is done. The lock lasts until
// the returned file is closed, or the process exits. Each call opens its own
// file, so two Clusters in one process exclude each other like two processes.
func lockFile(ctx context.Context, path string, how int, logger *slog.Logger) (*os.File, error) {
	f, err := tryLockFile(path, how)
	if err == nil || !errors.Is(err, syscall.EWOULDBLOCK) {
		return f, err
	}
	logger.Info("waiting for another process using the postgres cluster", "lock_file", path)
	ticker := time.NewTicker(lockPollInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for lock %s: %w", path, context.Cause(ctx))
		case <-ticker.C:
		}
		f, err := tryLockFile(path, how)
		if err == nil || !errors.Is(err, syscall.EWOULDBLOCK) {
			return f, err
		}
	}
}

// tryLockFile takes the lock without waiting; the error wraps
// syscall.EWOULDBLOCK when another open file holds a conflicting lock.
func tryLockFile(path string, how int) (*os.File, error) {
	// flock needs no write access, so a read-only open lets another user share
	// a lock file that root created.
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}
