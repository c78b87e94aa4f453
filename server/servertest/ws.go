package servertest

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

// WSTimeout bounds each wait of a WSClient.
const WSTimeout = 10 * time.Second

// WSMessage is one graphql-transport-ws message.
type WSMessage struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// WSClient is a graphql-transport-ws client for API tests, on a real websocket.
type WSClient struct {
	Conn *websocket.Conn
}

// DialWS opens a graphql-transport-ws websocket to baseURL's /graphql (http:// or ws://)
// without initialising it. The socket closes when the test ends.
func DialWS(t testing.TB, baseURL string) *WSClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), WSTimeout)
	defer cancel()
	u := "ws" + strings.TrimPrefix(baseURL, "http") + "/graphql"
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	require.NoError(t, err)
	conn.SetReadLimit(4 << 20)
	t.Cleanup(func() { _ = conn.CloseNow() })
	return &WSClient{Conn: conn}
}

// ConnectWS dials and authenticates with token (connection_init), requiring connection_ack.
func ConnectWS(t testing.TB, baseURL, token string) *WSClient {
	t.Helper()
	c := DialWS(t, baseURL)
	c.Send(t, WSMessage{Type: "connection_init", Payload: json.RawMessage(`{"authorization":"Bearer ` + token + `"}`)})
	m := c.Next(t)
	require.Equal(t, "connection_ack", m.Type, "payload: %s", m.Payload)
	return c
}

// DialWS dials the test server (see DialWS).
func (e *Env) DialWS(t testing.TB) *WSClient { return DialWS(t, e.URL) }

// ConnectWS dials and authenticates to the test server (see ConnectWS).
func (e *Env) ConnectWS(t testing.TB, token string) *WSClient { return ConnectWS(t, e.URL, token) }

// Send writes one message.
func (c *WSClient) Send(t testing.TB, m any) {
	t.Helper()
	b, err := json.Marshal(m)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), WSTimeout)
	defer cancel()
	require.NoError(t, c.Conn.Write(ctx, websocket.MessageText, b))
}

// Subscribe starts operation id with query and vars.
func (c *WSClient) Subscribe(t testing.TB, id, query string, vars map[string]any) {
	t.Helper()
	payload, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	c.Send(t, WSMessage{Type: "subscribe", ID: id, Payload: payload})
}

// Next reads the next message other than ping/pong, failing after WSTimeout.
func (c *WSClient) Next(t testing.TB) WSMessage {
	t.Helper()
	m, err := c.NextWithin(WSTimeout)
	require.NoError(t, err)
	return m
}

// NextWithin reads the next message other than ping/pong within d; ping is answered.
func (c *WSClient) NextWithin(d time.Duration) (WSMessage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		_, b, err := c.Conn.Read(ctx)
		if err != nil {
			return WSMessage{}, err
		}
		var m WSMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return WSMessage{}, err
		}
		switch m.Type {
		case "ping":
			pong, _ := json.Marshal(WSMessage{Type: "pong"})
			if err := c.Conn.Write(ctx, websocket.MessageText, pong); err != nil {
				return WSMessage{}, err
			}
		case "pong":
		default:
			return m, nil
		}
	}
}

// NextData reads the next message, requires it to be a `next` of id without errors, and
// decodes its data into v.
func (c *WSClient) NextData(t testing.TB, id string, v any) {
	t.Helper()
	m := c.Next(t)
	require.Equal(t, "next", m.Type, "message: %s %s", m.Type, m.Payload)
	require.Equal(t, id, m.ID)
	var resp Response
	require.NoError(t, json.Unmarshal(m.Payload, &resp))
	require.Empty(t, resp.Errors, "unexpected GraphQL errors")
	require.NoError(t, json.Unmarshal(resp.Data, v))
}

// CloseStatus reads until the server closes the socket and returns the close code (-1 when
// the socket ended without a close frame).
func (c *WSClient) CloseStatus(t testing.TB) websocket.StatusCode {
	t.Helper()
	for {
		_, err := c.NextWithin(WSTimeout)
		if err == nil {
			continue
		}
		require.False(t, errors.Is(err, context.DeadlineExceeded), "the server did not close the socket")
		return websocket.CloseStatus(err)
	}
}
