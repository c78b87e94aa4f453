package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	"golang.org/x/crypto/bcrypt"

	"github.com/stewardhq/steward/auth"
	"github.com/stewardhq/steward/db"
)

// This file runs real `steward serve` processes for the tests that need more than one
// process, a signal or a kill -9: a binary built once per top-level test, processes sharing
// one database and one JWT key (as a deployment behind a load balancer does).

// clusterJWTKeys is the STEWARD_JWT_KEYS every test process shares, so a token issued by one
// process is accepted by the others.
var clusterJWTKeys = "cluster-1:" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef-cluster"))

// clusterPassword is the password of the users made by newClusterUser.
const clusterPassword = "correct-horse-battery"

// buildSteward compiles this package into t's temporary directory and returns the binary.
// Subtests of t share it.
func buildSteward(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "steward")
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	cmd := exec.Command(goBin, "build", "-o", bin, ".")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// process is one running `steward serve`.
type process struct {
	name    string
	URL     string // http://127.0.0.1:port
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	waitErr error
}

// startProcess runs `steward serve` on databaseURL with a free port and the extra environment
// (NAME=value), and waits until /readyz answers. The process is killed when the test ends if
// it is still running; its log is printed when the test failed.
func startProcess(t *testing.T, bin, name, databaseURL string, extraEnv ...string) *process {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	dir := t.TempDir()
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"DATABASE_URL="+databaseURL,
		"STEWARD_ADDR="+addr,
		"STEWARD_DATA_DIR="+dir,
		"STEWARD_JWT_KEYS="+clusterJWTKeys,
		"STEWARD_LOG_LEVEL=info",
		"STEWARD_PLAY_SWEEP_INTERVAL=1h",
	)
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	p := &process{name: name, URL: "http://" + addr, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		_ = logFile.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if p.running() {
			_ = cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("log of process %s:\n%s", name, p.log())
		}
	})
	require.Eventually(t, func() bool {
		if !p.running() {
			return true // reported below
		}
		resp, err := http.Get(p.URL + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 90*time.Second, 50*time.Millisecond, "process %s never became ready", name)
	require.True(t, p.running(), "process %s exited at start: %v\n%s", name, p.waitErr, p.log())
	return p
}

func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

func (p *process) log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

// signal sends sig to the process.
func (p *process) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(sig))
}

// wait waits up to d for the process to exit and returns its exit code.
func (p *process) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(d):
		t.Fatalf("process %s still running after %s", p.name, d)
	}
	var exitErr *exec.ExitError
	if errors.As(p.waitErr, &exitErr) {
		return exitErr.ExitCode()
	}
	require.NoError(t, p.waitErr)
	return 0
}

// clusterUser is a member of a fresh workspace, signed in.
type clusterUser struct {
	Tenant db.Tenant
	UserID uuid.UUID
	Email  string
	Token  string
}

// newClusterUser creates a workspace with a member of role in the database and logs them in
// through p.
func newClusterUser(t *testing.T, b *bun.DB, p *process, role string) clusterUser {
	t.Helper()
	ctx := context.Background()
	ws, err := db.CreateWorkspace(ctx, b, "Cluster "+uuid.NewString()[:8])
	require.NoError(t, err)
	tenant := db.Tenant{WorkspaceID: ws.ID}
	u := addClusterMember(t, b, tenant, role)
	u.Token = loginAt(t, p, u.Email)
	return u
}

// addClusterMember adds a member of role to tenant (not logged in).
func addClusterMember(t *testing.T, b *bun.DB, tenant db.Tenant, role string) clusterUser {
	t.Helper()
	ctx := context.Background()
	hash, err := auth.HashPasswordCost(clusterPassword, bcrypt.MinCost)
	require.NoError(t, err)
	email := fmt.Sprintf("cluster-%s@example.test", uuid.NewString()[:12])
	u := &db.User{Email: email, Name: "Cluster " + strings.ToLower(role), PasswordHash: hash}
	require.NoError(t, db.InsertUser(ctx, b, u))
	require.NoError(t, db.InsertMembership(ctx, b, tenant, &db.Membership{UserID: u.ID, Role: role}))
	return clusterUser{Tenant: tenant, UserID: u.ID, Email: email}
}

// loginAt logs email in through p and returns the access token.
func loginAt(t *testing.T, p *process, email string) string {
	t.Helper()
	var out struct {
		Login struct{ AccessToken string } `json:"login"`
	}
	gql(t, p, "", `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }`,
		map[string]any{"e": email, "p": clusterPassword}, &out)
	require.NotEmpty(t, out.Login.AccessToken)
	return out.Login.AccessToken
}

// gql posts one operation to p and decodes its data into out, failing on GraphQL errors.
func gql(t *testing.T, p *process, token, query string, vars map[string]any, out any) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, p.URL+"/graphql", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var res struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(raw, &res), "status %d: %s", resp.StatusCode, raw)
	require.Empty(t, res.Errors, "%s", raw)
	if out != nil {
		require.NoError(t, json.Unmarshal(res.Data, out))
	}
}
