package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/server/servertest"
)

func get(t *testing.T, url string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

func TestHealthReadyAndMetrics(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws := env.NewWorkspace(t)

	resp, body := get(t, env.URL+"/healthz", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "ok")
	resp, body = get(t, env.URL+"/readyz", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, body, "ready")

	env.Do(t, ws.AdminToken, `query MetricsProbe { me { role } }`, nil)
	env.Do(t, "", `query MetricsProbeDenied { me { role } }`, nil)
	resp, body = get(t, env.URL+"/metrics", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, `steward_graphql_operations_total{operation="MetricsProbe",type="query"}`)
	require.Contains(t, body, `steward_graphql_operation_duration_seconds_bucket{operation="MetricsProbe"`)
	require.Contains(t, body, `steward_graphql_errors_total{code="UNAUTHENTICATED"}`)
	require.Contains(t, body, "steward_db_pool_max_conns")
}

func TestRequestIDIsEchoed(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	resp, _ := get(t, env.URL+"/healthz", http.Header{"X-Request-Id": {"abc-123"}})
	require.Equal(t, "abc-123", resp.Header.Get("X-Request-Id"))
	resp, _ = get(t, env.URL+"/healthz", nil)
	require.Len(t, resp.Header.Get("X-Request-Id"), 16)
	resp, _ = get(t, env.URL+"/healthz", http.Header{"X-Request-Id": {"has space"}})
	require.NotEqual(t, "has space", resp.Header.Get("X-Request-Id"))
}

func TestCORS(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	preflight := func(origin string) *http.Response {
		req, err := http.NewRequest(http.MethodOptions, env.URL+"/graphql", nil)
		require.NoError(t, err)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	allowed := preflight("http://localhost:5173")
	require.Equal(t, "http://localhost:5173", allowed.Header.Get("Access-Control-Allow-Origin"))
	require.Equal(t, "true", allowed.Header.Get("Access-Control-Allow-Credentials"))
	require.Contains(t, strings.ToLower(allowed.Header.Get("Access-Control-Allow-Headers")), "authorization")

	denied := preflight("https://evil.example")
	require.Empty(t, denied.Header.Get("Access-Control-Allow-Origin"))
	require.Empty(t, denied.Header.Get("Access-Control-Allow-Credentials"))
}

func TestWebsocketOriginCheck(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	wsURL := "ws" + strings.TrimPrefix(env.URL, "http") + "/graphql"
	dial := func(origin string) (*websocket.Conn, *http.Response, error) {
		return websocket.Dial(context.Background(), wsURL, &websocket.DialOptions{
			Subprotocols: []string{"graphql-transport-ws"},
			HTTPHeader:   http.Header{"Origin": {origin}},
		})
	}
	c, resp, err := dial("http://localhost:5173")
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	require.Equal(t, "graphql-transport-ws", c.Subprotocol())
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))

	_, resp, err = dial("https://evil.example")
	require.Error(t, err)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
}
