package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// childWaitDelay is how long Run waits, after asking the child to stop
// because ctx is done, before killing it.
const childWaitDelay = 10 * time.Second

// Run starts (or reuses) the cluster, makes sure database exists, runs argv
// with the environment variable envName set to the database's URL, stops the
// cluster as Stop does, and returns the child's exit code. `make test` uses it
// as `steward pg run -- go test ./...`, so that one cluster serves every test
// package. The child shares Run's standard input and output.
//
// When ctx is done the child gets SIGTERM (SIGKILL childWaitDelay later) and
// the cluster is still stopped. A child killed by a signal yields 128 plus the
// signal's number, as in a shell. A non-nil error means Run itself failed: the
// cluster did not start, the child could not be started (the code is then 1),
// or the cluster did not stop (the code is then the child's).
func Run(ctx context.Context, cfg Config, envName, database string, argv []string) (int, error) {
	if len(argv) == 0 {
		return 1, errors.New("pg run: no command given")
	}
	if envName == "" {
		return 1, errors.New("pg run: no environment variable name given")
	}
	if database == "" {
		return 1, errors.New("pg run: no database name given")
	}
	c, err := Start(ctx, cfg)
	if err != nil {
		return 1, fmt.Errorf("pg run: %w", err)
	}
	code, runErr := func() (int, error) {
		if err := c.EnsureDatabase(ctx, database); err != nil {
			return 1, err
		}
		return runChild(ctx, argv, envName+"="+c.URL(database))
	}()
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultStopTimeout)
	defer cancel()
	if err := c.Stop(stopCtx); err != nil {
		return code, errors.Join(runErr, fmt.Errorf("pg run: %w", err))
	}
	if runErr != nil {
		return code, fmt.Errorf("pg run: %w", runErr)
	}
	return code, nil
}

// runChild runs argv with env added to this process's environment and
// returns its exit code.
func runChild(ctx context.Context, argv []string, env string) (int, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env) // The last value of a duplicate wins.
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = childWaitDelay
	err := cmd.Run()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return exitErr.ExitCode(), nil
	}
	if err != nil {
		return 1, fmt.Errorf("run %s: %w", argv[0], err)
	}
	return 0, nil
}
