package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/db/dbtest"
)

// TestCluster runs real steward processes on a database of their own (the serve lifecycle
// test needs the package database empty): graceful and bounded shutdown, fan-out between
// processes, and a client resuming on another process after a kill -9.
func TestCluster(t *testing.T) {
	bin := buildSteward(t)
	d := dbtest.Isolated(t)

	t.Run("SIGTERM closes websockets with 1001 and finishes in-flight requests", func(t *testing.T) {
		t.Parallel()
		p := startProcess(t, bin, "graceful", d.URL, "STEWARD_SHUTDOWN_TIMEOUT=10s")
		u := newClusterUser(t, d.Bun, p, db.RoleAdmin)
		client := dialWS(t, p, u.Token)

		// A request whose body is still arriving when the signal comes.
		body, bodyWriter := io.Pipe()
		req, err := http.NewRequest(http.MethodPost, p.URL+"/graphql", body)
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+u.Token)
		type result struct {
			status int
			body   string
			err    error
		}
		inflight := make(chan result, 1)
		go func() {
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				inflight <- result{err: err}
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			inflight <- result{status: resp.StatusCode, body: string(b), err: err}
		}()
		_, err = bodyWriter.Write([]byte(`{"query": "{ me `))
		require.NoError(t, err)

		start := time.Now()
		p.signal(t, syscall.SIGTERM)
		require.Equal(t, websocket.StatusGoingAway, client.closeStatus(t, 10*time.Second))
		noKeepAlive := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
		require.Eventually(t, func() bool {
			resp, err := noKeepAlive.Get(p.URL + "/healthz")
			if err == nil {
				resp.Body.Close()
			}
			return err != nil
		}, 10*time.Second, 20*time.Millisecond, "still accepting connections after SIGTERM")
		require.True(t, p.running(), "exited before the in-flight request finished")

		_, err = bodyWriter.Write([]byte(`{ role } }"}`))
		require.NoError(t, err)
		require.NoError(t, bodyWriter.Close())
		res := <-inflight
		require.NoError(t, res.err)
		require.Equal(t, http.StatusOK, res.status)
		require.Contains(t, res.body, `"role":"ADMIN"`)

		require.Equal(t, 0, p.wait(t, 10*time.Second), "exit code")
		require.Less(t, time.Since(start), 10*time.Second)
		require.Contains(t, p.log(), "shut down")
	})

	t.Run("shutdown is bounded when clients do not cooperate", func(t *testing.T) {
		t.Parallel()
		const bound = 2 * time.Second
		p := startProcess(t, bin, "bounded", d.URL, "STEWARD_SHUTDOWN_TIMEOUT="+bound.String())
		u := newClusterUser(t, d.Bun, p, db.RoleAdmin)

		// A websocket client that never reads (so never answers the close handshake) and a
		// request whose body never ends.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		mute, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(p.URL, "http")+"/graphql", &websocket.DialOptions{
			Subprotocols: []string{"graphql-transport-ws"},
		})
		require.NoError(t, err)
		defer mute.CloseNow()
		require.NoError(t, mute.Write(ctx, websocket.MessageText,
			[]byte(`{"type":"connection_init","payload":{"Authorization":"Bearer `+u.Token+`"}}`)))
		body, bodyWriter := io.Pipe()
		defer bodyWriter.Close()
		req, err := http.NewRequest(http.MethodPost, p.URL+"/graphql", body)
		require.NoError(t, err)
		go func() {
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
			}
		}()
		_, err = bodyWriter.Write([]byte(`{"query": `))
		require.NoError(t, err)
		// Both are inside their handlers before the signal: the server has answered the
		// websocket's connection_init, and the request's first bytes are written.
		_, ack, err := mute.Read(ctx)
		require.NoError(t, err)
		require.Contains(t, string(ack), "connection_ack")

		start := time.Now()
		p.signal(t, syscall.SIGTERM)
		code := p.wait(t, bound+3*time.Second)
		took := time.Since(start)
		require.Less(t, took, bound+time.Second, "shutdown took %s with a bound of %s", took, bound)
		require.NotEqual(t, 0, code, "a shutdown that dropped work reports it")
		require.Contains(t, p.log(), "at the shutdown bound")
	})
}
