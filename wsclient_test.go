package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/stretchr/testify/require"
)

// wsMessage is one graphql-transport-ws message.
type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// wsClient is a minimal graphql-transport-ws client for tests: it answers pings, and hands
// every other message to the test in order.
type wsClient struct {
	conn *websocket.Conn
	msgs chan wsMessage
	done chan struct{}
	err  error // why reading stopped; set before done closes
}

// dialWS opens a graphql-transport-ws connection to p's /graphql, sends connection_init with
// the bearer token and waits for connection_ack.
func dialWS(t *testing.T, p *process, token string) *wsClient {
	t.Helper()
	c := dialWSRaw(t, p)
	c.init(t, token)
	return c
}

// dialWSRaw opens the connection without connection_init.
func dialWSRaw(t *testing.T, p *process) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(p.URL, "http")+"/graphql", &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"},
	})
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	c := &wsClient{conn: conn, msgs: make(chan wsMessage, 4096), done: make(chan struct{})}
	go c.read()
	t.Cleanup(func() { _ = conn.CloseNow() })
	return c
}

func (c *wsClient) init(t *testing.T, token string) {
	t.Helper()
	c.send(t, wsMessage{Type: "connection_init", Payload: mustJSON(t, map[string]any{"authorization": "Bearer " + token})})
	m := c.next(t, 10*time.Second)
	require.Equal(t, "connection_ack", m.Type, "%s", m.Payload)
}

func (c *wsClient) read() {
	defer close(c.done)
	defer close(c.msgs)
	for {
		var m wsMessage
		if err := wsjson.Read(context.Background(), c.conn, &m); err != nil {
			c.err = err
			return
		}
		if m.Type == "ping" {
			_ = wsjson.Write(context.Background(), c.conn, wsMessage{Type: "pong"})
			continue
		}
		if m.Type == "pong" {
			continue
		}
		c.msgs <- m
	}
}

func (c *wsClient) send(t *testing.T, m wsMessage) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, wsjson.Write(ctx, c.conn, m))
}

// subscribe starts operation id.
func (c *wsClient) subscribe(t *testing.T, id, query string, vars map[string]any) {
	t.Helper()
	c.send(t, wsMessage{ID: id, Type: "subscribe", Payload: mustJSON(t, map[string]any{"query": query, "variables": vars})})
}

// next returns the next message, failing if none comes within d or the connection closed.
func (c *wsClient) next(t *testing.T, d time.Duration) wsMessage {
	t.Helper()
	select {
	case m, ok := <-c.msgs:
		if !ok {
			t.Fatalf("websocket closed: %v", c.err)
		}
		return m
	case <-time.After(d):
		t.Fatalf("no websocket message within %s", d)
	}
	return wsMessage{}
}

// closeStatus waits up to d for the connection to end and returns the close code the server
// sent (-1 when it ended without a close frame).
func (c *wsClient) closeStatus(t *testing.T, d time.Duration) websocket.StatusCode {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(d):
		t.Fatalf("websocket still open after %s", d)
	}
	return websocket.CloseStatus(c.err)
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// taskFeedQuery follows an assignee's tasks, optionally after a cursor.
const taskFeedQuery = `subscription($a: TaskFeedAssignee!, $after: String) {
  taskFeed(assignee: $a, after: $after) { cursor kind status task { id title } }
}`

// taskEvent is a taskFeed event as the tests select it.
type taskEvent struct {
	Cursor string `json:"cursor"`
	Kind   string `json:"kind"`
	Status string `json:"status"`
	Task   struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	} `json:"task"`
}

// nextTaskEvent reads the next message, which must be a taskFeed event of operation id.
func (c *wsClient) nextTaskEvent(t *testing.T, id string, d time.Duration) taskEvent {
	t.Helper()
	m := c.next(t, d)
	require.Equal(t, "next", m.Type, "%s", m.Payload)
	require.Equal(t, id, m.ID)
	var p struct {
		Data struct {
			TaskFeed taskEvent `json:"taskFeed"`
		} `json:"data"`
		Errors json.RawMessage `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(m.Payload, &p))
	require.Empty(t, p.Errors, "%s", p.Errors)
	return p.Data.TaskFeed
}

// quiet requires that no message arrives within d.
func (c *wsClient) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case m, ok := <-c.msgs:
		if ok {
			t.Fatalf("unexpected %s message: %s", m.Type, m.Payload)
		}
		t.Fatalf("websocket closed: %v", c.err)
	case <-time.After(d):
	}
}
