package pgcluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// binaries are the PostgreSQL server programs that the cluster is run with.
// pg_ctl finds the postgres server beside itself.
type binaries struct {
	initdb string
	pgCtl  string
}

// debianBinGlob matches Debian's and Ubuntu's per-version binary directories,
// which are not on PATH.
const debianBinGlob = "/usr/lib/postgresql/*/bin"

// findBinaries locates initdb and pg_ctl. A data directory made by one major
// version can only be run by that version, so when major is set (the content
// of PG_VERSION) its Debian directory is tried first. Then come PATH and the
// newest /usr/lib/postgresql/*/bin.
func findBinaries(major string) (binaries, error) {
	if major != "" {
		if b, ok := binariesIn(filepath.Join("/usr/lib/postgresql", major, "bin")); ok {
			return b, nil
		}
	}
	initdb, errInitdb := exec.LookPath("initdb")
	pgCtl, errPgCtl := exec.LookPath("pg_ctl")
	if errInitdb == nil && errPgCtl == nil {
		return binaries{initdb: initdb, pgCtl: pgCtl}, nil
	}
	dirs, _ := filepath.Glob(debianBinGlob) // The pattern is valid.
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, dir := range dirs {
		if b, ok := binariesIn(dir); ok {
			return b, nil
		}
	}
	return binaries{}, fmt.Errorf("find postgres binaries: initdb and pg_ctl are neither on PATH nor in %s; install them with: %s (as root), or run: make postgres-bin", debianBinGlob, InstallCommand)
}

// binariesIn reports the server programs in dir, if both are there.
func binariesIn(dir string) (binaries, bool) {
	b := binaries{initdb: filepath.Join(dir, "initdb"), pgCtl: filepath.Join(dir, "pg_ctl")}
	for _, p := range []string{b.initdb, b.pgCtl} {
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return binaries{}, false
		}
	}
	return b, true
}

// versionOf turns /usr/lib/postgresql/15/bin into 15.0 so that 9.6 sorts
// before 10; an unparsable version sorts first.
func versionOf(binDir string) float64 {
	v, err := strconv.ParseFloat(strings.TrimSpace(filepath.Base(filepath.Dir(binDir))), 64)
	if err != nil {
		return -1
	}
	return v
}
