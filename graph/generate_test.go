package graph_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// skipDirs are not copied: VCS data, local databases, binaries and JavaScript dependencies play
// no part in code generation.
var skipDirs = []string{".git", ".data", "bin", "node_modules"}

// TestGeneratedCodeIsCurrent runs `go tool gqlgen generate` on a copy of the module and fails
// if that changes any file under graph/: the committed generated code (exec.go,
// model/models_gen.go, schema.resolvers.go) must be exactly what the schema and gqlgen.yml
// produce. It uses only the module cache (GOPROXY=off); run `go mod download` first on a
// fresh machine.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("runs gqlgen on a copy of the module (about ten seconds)")
	}
	t.Parallel()
	root := moduleRoot(t)
	dir := t.TempDir()
	copyModule(t, root, dir)
	before := readTree(t, filepath.Join(dir, "graph"))
	for _, name := range []string{"exec.go", "model/models_gen.go", "schema.resolvers.go"} {
		require.Contains(t, before, name, "the committed generated file graph/%s is missing", name)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "tool", "gqlgen", "generate")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOWORK=off", "GOTOOLCHAIN=local", "GOFLAGS=-buildvcs=false")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "gqlgen generate failed:\n%s", out)

	after := readTree(t, filepath.Join(dir, "graph"))
	var changed []string
	for name, content := range after {
		if old, ok := before[name]; !ok {
			changed = append(changed, "graph/"+name+" (new)")
		} else if !bytes.Equal(old, content) {
			changed = append(changed, "graph/"+name+" ("+firstDifference(old, content)+")")
		}
	}
	for name := range before {
		if _, ok := after[name]; !ok {
			changed = append(changed, "graph/"+name+" (removed)")
		}
	}
	slices.Sort(changed)
	require.Empty(t, changed, "regenerating changes committed files; run `make generate` and commit the result")
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "no go.mod above the test's directory")
		dir = parent
	}
}

// copyModule copies the module's regular files from src to dst.
func copyModule(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			if rel != "." && slices.Contains(skipDirs, d.Name()) {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	require.NoError(t, err)
}

// readTree reads every regular file under dir, keyed by its slash-separated path in dir.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if files[filepath.ToSlash(rel)], err = os.ReadFile(path); err != nil {
			return err
		}
		return nil
	})
	require.NoError(t, err)
	return files
}

// firstDifference names the first line where two versions of a file differ.
func firstDifference(old, new []byte) string {
	a, b := strings.Split(string(old), "\n"), strings.Split(string(new), "\n")
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("line %d: committed %q, generated %q", i+1, clip(a[i]), clip(b[i]))
		}
	}
	return fmt.Sprintf("committed has %d lines, generated %d", len(a), len(b))
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
