package server_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/graph"
	"github.com/stewardhq/steward/server"
	"github.com/stewardhq/steward/server/servertest"
)

func initMsg(token string) servertest.WSMessage {
	return servertest.WSMessage{Type: "connection_init", Payload: json.RawMessage(`{"authorization":"Bearer ` + token + `"}`)}
}

// The close codes graphql-transport-ws prescribes, on real sockets.
func TestWebsocketProtocolCloseCodes(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.WithConfig(func(c *server.Config) {
		c.WSInitTimeout = 300 * time.Millisecond
		c.WSMaxSubscriptions = 2
	}))
	ws := env.NewWorkspace(t)
	sub := func(c *servertest.WSClient, id string) {
		c.Subscribe(t, id, taskFeedQuery, me)
	}

	t.Run("subscribe before connection_ack is 4401", func(t *testing.T) {
		c := env.DialWS(t)
		sub(c, "1")
		require.Equal(t, websocket.StatusCode(graph.CloseUnauthorized), c.CloseStatus(t))
	})
	t.Run("a bad credential is 4403", func(t *testing.T) {
		c := env.DialWS(t)
		c.Send(t, initMsg("not-a-token"))
		require.Equal(t, websocket.StatusCode(graph.CloseForbidden), c.CloseStatus(t))
	})
	t.Run("no credential is 4403", func(t *testing.T) {
		c := env.DialWS(t)
		c.Send(t, servertest.WSMessage{Type: "connection_init"})
		require.Equal(t, websocket.StatusCode(graph.CloseForbidden), c.CloseStatus(t))
	})
	t.Run("no connection_init in time is 4408", func(t *testing.T) {
		c := env.DialWS(t)
		require.Equal(t, websocket.StatusCode(graph.CloseInitTimeout), c.CloseStatus(t))
	})
	t.Run("a second connection_init is 4429", func(t *testing.T) {
		c := env.ConnectWS(t, ws.AdminToken)
		c.Send(t, initMsg(ws.AdminToken))
		require.Equal(t, websocket.StatusCode(graph.CloseTooManyInits), c.CloseStatus(t))
	})
	t.Run("invalid messages are 4400", func(t *testing.T) {
		for _, raw := range []string{`not json`, `{"type":"next","id":"1"}`, `{"id":"1"}`} {
			c := env.ConnectWS(t, ws.AdminToken)
			ctx := t.Context()
			require.NoError(t, c.Conn.Write(ctx, websocket.MessageText, []byte(raw)))
			require.Equal(t, websocket.StatusCode(graph.CloseBadRequest), c.CloseStatus(t), raw)
		}
	})
	t.Run("a running subscription id again is 4409", func(t *testing.T) {
		c := env.ConnectWS(t, ws.AdminToken)
		sub(c, "1")
		sub(c, "1")
		require.Equal(t, websocket.StatusCode(graph.CloseDuplicateSubscriber), c.CloseStatus(t))
	})
	t.Run("subscriptions over the cap are refused one by one", func(t *testing.T) {
		c := env.ConnectWS(t, ws.AdminToken)
		sub(c, "1")
		sub(c, "2")
		waitSubscribers(t, env, 2)
		sub(c, "3")
		e := subscribeError(t, c, "3")
		require.Equal(t, "RATE_LIMITED", e.Extensions["code"])
		// Completing one makes room for another.
		c.Send(t, servertest.WSMessage{Type: "complete", ID: "1"})
		sub(c, "4")
		waitSubscribers(t, env, 2)
		m := c.Next(t) // gqlgen confirms the end of "1"; "4" is not refused
		require.Equal(t, servertest.WSMessage{Type: "complete", ID: "1"}, m)
	})
}

// An access token that expires while the socket is open closes it with 4403 at expiry.
func TestWebsocketClosesWhenTheTokenExpires(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws := env.NewWorkspace(t)
	userID, _ := ws.AddUser(t, db.RoleCSM)
	exp := time.Now().Add(2 * time.Second)
	token := forgeToken(t, jwt.SigningMethodHS256, servertest.TestKey.ID, servertest.TestKey.Secret,
		validClaims(ws, userID, db.RoleCSM).with("exp", exp.Unix()))
	c := env.ConnectWS(t, token)
	c.Subscribe(t, "1", taskFeedQuery, me)
	waitSubscribers(t, env, 1)
	require.Equal(t, websocket.StatusCode(graph.CloseForbidden), c.CloseStatus(t))
	require.False(t, time.Now().Before(exp.Truncate(time.Second)), "closed at expiry, not before")
	waitSubscribers(t, env, 0)
}

// Shutdown closes the open websockets with a code clients retry.
func TestWebsocketsCloseAll(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws := env.NewWorkspace(t)
	a, b := env.ConnectWS(t, ws.AdminToken), env.ConnectWS(t, ws.AdminToken)
	require.Equal(t, 2, env.Websockets.Len())
	require.Equal(t, 2, env.Websockets.CloseAll(int(websocket.StatusServiceRestart), "restarting"))
	require.Equal(t, websocket.StatusServiceRestart, a.CloseStatus(t))
	require.Equal(t, websocket.StatusServiceRestart, b.CloseStatus(t))
	require.Eventually(t, func() bool { return env.Websockets.Len() == 0 }, servertest.WSTimeout, 5*time.Millisecond)
}

// When the hub ends a subscription (shutdown, or a client too slow), the client receives an
// error with code FEED_INTERRUPTED, then complete, and resumes with its last cursor.
func TestFeedInterruptedWhenTheHubStops(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws := env.NewWorkspace(t)
	c := env.ConnectWS(t, ws.AdminToken)
	c.Subscribe(t, "1", taskFeedQuery, me)
	waitSubscribers(t, env, 1)
	env.Feed.Stop()
	e := subscribeError(t, c, "1")
	require.Equal(t, graph.CodeFeedInterrupted, e.Extensions["code"])
}
