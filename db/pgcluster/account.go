package pgcluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// account is the operating-system user that runs initdb and the server. When
// Steward is not root it is the current user and no switch happens.
type account struct {
	name     string
	uid, gid uint32
	home     string
	// switchTo is set when Steward runs as root: child processes then run as
	// this account and the files they need are chowned to it.
	switchTo bool
}

// serverAccount returns the account the server runs as: the current user, or
// SystemUser when running as root, created with useradd if it does not exist.
func serverAccount(ctx context.Context, logger *slog.Logger) (account, error) {
	if os.Geteuid() != 0 {
		return account{uid: uint32(os.Geteuid()), gid: uint32(os.Getegid()), home: os.Getenv("HOME")}, nil
	}
	u, err := user.Lookup(SystemUser)
	var unknown user.UnknownUserError
	if errors.As(err, &unknown) {
		logger.Info("creating system user for postgres", "user", SystemUser)
		out, addErr := exec.CommandContext(ctx, "useradd", "--system", "--no-create-home", "--user-group",
			"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", SystemUser).CombinedOutput()
		if addErr != nil {
			return account{}, fmt.Errorf("create system user %q (postgres refuses to run as root): %w: %s", SystemUser, addErr, strings.TrimSpace(string(out)))
		}
		u, err = user.Lookup(SystemUser)
	}
	if err != nil {
		return account{}, fmt.Errorf("look up system user %q: %w", SystemUser, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return account{}, fmt.Errorf("parse uid of %q: %w", SystemUser, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return account{}, fmt.Errorf("parse gid of %q: %w", SystemUser, err)
	}
	return account{name: u.Username, uid: uint32(uid), gid: uint32(gid), home: u.HomeDir, switchTo: true}, nil
}

// command prepares name to run as the account, from dir, with PG* variables
// removed from the environment so that none of them overrides the cluster's
// settings.
func (a account) command(ctx context.Context, dir, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || (a.switchTo && (strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "USER=") || strings.HasPrefix(kv, "LOGNAME="))) {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	if a.switchTo {
		cmd.Env = append(cmd.Env, "HOME="+a.home, "USER="+a.name, "LOGNAME="+a.name)
		// An empty Groups drops root's supplementary groups.
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: a.uid, Gid: a.gid, Groups: []uint32{}}}
	}
	return cmd
}

// chown gives path (not a symlink's target) to the account when switching.
func (a account) chown(path string) error {
	if !a.switchTo {
		return nil
	}
	if err := os.Lchown(path, int(a.uid), int(a.gid)); err != nil {
		return fmt.Errorf("chown %s to %s: %w", path, a.name, err)
	}
	return nil
}

// chownTree gives the tree at root to the account unless it already owns the
// top; used when a cluster made by another user is started as root.
func (a account) chownTree(root string) error {
	if !a.switchTo {
		return nil
	}
	fi, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("stat %s: %w", root, err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid == a.uid {
		return nil
	}
	return filepath.WalkDir(root, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return a.chown(path)
	})
}

// canTraverse reports whether the account can reach dir, by trying: a check
// of permission bits would miss ACLs and group membership subtleties.
func (a account) canTraverse(ctx context.Context, dir string) (bool, error) {
	if !a.switchTo {
		return true, nil
	}
	err := a.command(ctx, "/", "/bin/sh", "-c", `cd -- "$1"`, "sh", dir).Run()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check that %s can reach %s: %w", a.name, dir, err)
	}
	return true, nil
}

// resolveDataDir returns the directory that really holds the cluster for the
// configured path logical. It is logical itself, the target of logical when
// logical is a symlink, or, when the account cannot traverse logical's parent,
// a new directory under FallbackRoot that logical is made a symlink to.
func resolveDataDir(ctx context.Context, logical string, a account, logger *slog.Logger) (string, error) {
	fi, err := os.Lstat(logical)
	exists := err == nil
	switch {
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("stat data dir: %w", err)
	case exists && fi.Mode()&os.ModeSymlink != 0:
		target, err := os.Readlink(logical)
		if err != nil {
			return "", fmt.Errorf("read data dir symlink: %w", err)
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(logical), target)
		}
		return filepath.Clean(target), nil
	case exists && !fi.IsDir():
		return "", fmt.Errorf("data dir %s exists and is not a directory", logical)
	}

	ok, err := a.canTraverse(ctx, filepath.Dir(logical))
	if err != nil || ok {
		return logical, err
	}
	if exists {
		entries, err := os.ReadDir(logical)
		if err != nil {
			return "", fmt.Errorf("read data dir: %w", err)
		}
		if len(entries) > 0 {
			return "", fmt.Errorf("data dir %s is not reachable by user %q (a parent directory lacks search permission for it) and is not empty: move it, or make its parents searchable (chmod o+x)", logical, a.name)
		}
		if err := os.Remove(logical); err != nil {
			return "", fmt.Errorf("remove empty data dir to replace it with a symlink: %w", err)
		}
	}
	real := filepath.Join(FallbackRoot, pathHash(logical, 16), filepath.Base(logical))
	for _, dir := range []string{FallbackRoot, filepath.Dir(real)} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", fmt.Errorf("create fallback data dir parent: %w", err)
		}
		// MkdirAll's mode is subject to the umask; the account must traverse it.
		if err := os.Chmod(dir, 0o755); err != nil {
			return "", fmt.Errorf("make fallback data dir parent searchable: %w", err)
		}
	}
	if err := os.Symlink(real, logical); err != nil {
		return "", fmt.Errorf("link data dir to fallback location: %w", err)
	}
	logger.Info("postgres user cannot reach the data dir; keeping the data elsewhere and linking to it",
		"user", a.name, "real_data_dir", real)
	return real, nil
}

// pathHash returns the first n hex digits of the SHA-256 of path.
func pathHash(path string, n int) string {
	sum := sha256.Sum256([]byte(path))
	return hex.EncodeToString(sum[:])[:n]
}
