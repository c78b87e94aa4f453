package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db/dbtest"
	"github.com/stewardhq/steward/seed"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestServeLifecycle runs `steward serve --seed-demo` as make run does (against the test
// database): it migrates, seeds, answers the demo login, and shuts down cleanly on cancel.
func TestServeLifecycle(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	t.Setenv("DATABASE_URL", dbtest.DB(t).URL)
	t.Setenv("STEWARD_ADDR", addr)
	t.Setenv("STEWARD_DATA_DIR", t.TempDir())
	t.Setenv("STEWARD_LOG_LEVEL", "warn")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := run(ctx, []string{"serve", "--seed-demo"})
		done <- err
	}()

	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, 100*time.Millisecond, "server never became ready")

	body, _ := json.Marshal(map[string]any{
		"query":     `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken user { role } } }`,
		"variables": map[string]any{"e": seed.DemoAdminEmail, "p": seed.DemoAdminPassword},
	})
	resp, err := http.Post("http://"+addr+"/graphql", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	var out struct {
		Data struct {
			Login struct {
				AccessToken string                `json:"accessToken"`
				User        struct{ Role string } `json:"user"`
			} `json:"login"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	resp.Body.Close()
	require.NotEmpty(t, out.Data.Login.AccessToken)
	require.Equal(t, "ADMIN", out.Data.Login.User.Role)

	// The demo plays are there, with runs: launched by hand (live) and a history of finished ones.
	body, _ = json.Marshal(map[string]any{"query": `{ plays { name status } journeys { key status latestVersion }
		finished: playRuns(first: 100, filter: {status: [GOAL_MET, COMPLETED, EXITED]}) { edges { node { status } } }
		live: playRuns(first: 100, filter: {status: [RUNNING, WAITING]}) { edges { node { status } } } }`})
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/graphql", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+out.Data.Login.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	type runs struct {
		Edges []struct{ Node struct{ Status string } } `json:"edges"`
	}
	var demo struct {
		Data struct {
			Plays    []struct{ Name, Status string } `json:"plays"`
			Journeys []struct {
				Key, Status   string
				LatestVersion int
			} `json:"journeys"`
			Finished runs `json:"finished"`
			Live     runs `json:"live"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&demo))
	resp.Body.Close()
	require.Len(t, demo.Data.Plays, 4)
	require.NotEmpty(t, demo.Data.Finished.Edges, "a history of finished runs")
	require.NotEmpty(t, demo.Data.Live.Edges, "runs in progress")
	require.Len(t, demo.Data.Journeys, 5, "the demo journeys")
	for _, j := range demo.Data.Journeys {
		require.Equal(t, "ACTIVE", j.Status, j.Key)
	}

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not shut down within 30s")
	}
	_, err = http.Get("http://" + addr + "/healthz")
	require.Error(t, err, "server still accepting after shutdown")
}
