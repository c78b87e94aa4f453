package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

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
		client.subscribe(t, "tasks", taskFeedQuery, map[string]any{"a": map[string]any{"me": true}})

		// A request whose body is still arriving when the signal comes. It asks for 100 Continue,
		// which the server sends once the handler reads the body: then the request is in
		// flight (not a connection still waiting in the accept queue).
		body, bodyWriter := io.Pipe()
		inHandler := make(chan struct{})
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			Got100Continue: func() { close(inHandler) },
		}), http.MethodPost, p.URL+"/graphql", body)
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+u.Token)
		req.Header.Set("Expect", "100-continue")
		httpClient := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
		type result struct {
			status int
			body   string
			err    error
		}
		inflight := make(chan result, 1)
		go func() {
			resp, err := httpClient.Do(req)
			if err != nil {
				inflight <- result{err: err}
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			inflight <- result{status: resp.StatusCode, body: string(b), err: err}
		}()
		select {
		case <-inHandler:
		case <-time.After(10 * time.Second):
			t.Fatal("no 100 Continue: the request never reached its handler")
		}
		_, err = bodyWriter.Write([]byte(`{"query": "{ me `))
		require.NoError(t, err)

		start := time.Now()
		p.signal(t, syscall.SIGTERM)
		require.Equal(t, websocket.StatusGoingAway, client.closeStatus(t, 10*time.Second))
		for m := range client.msgs {
			t.Errorf("the subscription ended with a %s message before the close frame: %s", m.Type, m.Payload)
		}
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
			[]byte(`{"type":"connection_init","payload":{"authorization":"Bearer `+u.Token+`"}}`)))
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

	t.Run("a subscriber on A receives tasks made on B by a mutation and by a play step", func(t *testing.T) {
		t.Parallel()
		// A works no jobs, so the play step below can only run on B.
		a := startProcess(t, bin, "A", d.URL, "STEWARD_QUEUE_WORKERS=0")
		require.Contains(t, a.log(), "this process works no jobs")
		b := startProcess(t, bin, "B", d.URL)
		f := newFeedFixture(t, d.Bun, b)
		client := dialWS(t, a, loginAt(t, a, f.csm.Email))
		client.subscribe(t, "tasks", taskFeedQuery, map[string]any{"a": map[string]any{"me": true}})
		f.waitLive(t, b, client, "tasks")

		id := f.createTask(t, b, "Kickoff call")
		ev := client.nextTaskEvent(t, "tasks", 10*time.Second)
		require.Equal(t, "created", ev.Kind)
		require.Equal(t, id, ev.Task.ID)
		require.Equal(t, "Kickoff call", ev.Task.Title)

		// An EVENT play whose CREATE_TASK step assigns the account owner, triggered on B.
		var created struct {
			CreatePlay struct{ ID string } `json:"createPlay"`
		}
		gql(t, b, f.admin.Token, `mutation($in: CreatePlayInput!) { createPlay(input: $in) { id } }`, map[string]any{"in": map[string]any{
			"name": "Welcome call", "scope": "ACCOUNT", "definition": map[string]any{
				"trigger": map[string]any{"kind": "EVENT", "event": "deal_closed"},
				"steps": []any{map[string]any{"id": "call", "kind": "CREATE_TASK", "title": "Welcome call for {{account.name}}",
					"assignee": map[string]any{"kind": "OWNER"}}},
			}}}, &created)
		var published struct {
			PublishPlay struct{ Status string } `json:"publishPlay"`
		}
		gql(t, b, f.admin.Token, `mutation($id: ID!) { publishPlay(id: $id) { status } }`, map[string]any{"id": created.CreatePlay.ID}, &published)
		require.Equal(t, "ACTIVE", published.PublishPlay.Status)
		var recorded struct {
			RecordEvents struct{ Accepted int } `json:"recordEvents"`
		}
		gql(t, b, f.admin.Token, `mutation($e: [EventInput!]!) { recordEvents(events: $e) { accepted } }`, map[string]any{"e": []map[string]any{{
			"clientEventId": "deal-1", "accountId": f.accountID, "name": "deal_closed",
			"occurredAt": time.Now().UTC().Format(time.RFC3339Nano)}}}, &recorded)
		require.Equal(t, 1, recorded.RecordEvents.Accepted)

		ev = client.nextTaskEvent(t, "tasks", 30*time.Second)
		require.Equal(t, "created", ev.Kind)
		require.Equal(t, "Welcome call for Northwind", ev.Task.Title)
		client.quiet(t, 500*time.Millisecond)
	})

	t.Run("after kill -9 of A the client resumes on B with its cursor: every event once, in order", func(t *testing.T) {
		t.Parallel()
		a := startProcess(t, bin, "A", d.URL)
		b := startProcess(t, bin, "B", d.URL)
		f := newFeedFixture(t, d.Bun, b)
		token := loginAt(t, a, f.csm.Email)
		client := dialWS(t, a, token)
		client.subscribe(t, "tasks", taskFeedQuery, map[string]any{"a": map[string]any{"me": true}})
		f.waitLive(t, b, client, "tasks")

		first := f.createTask(t, b, "Before the crash")
		ev := client.nextTaskEvent(t, "tasks", 10*time.Second)
		require.Equal(t, first, ev.Task.ID)
		cursor := ev.Cursor

		// Changes made right before the kill may or may not have reached the client through A;
		// changes made while A is down cannot have. The client must get each exactly once.
		type change struct{ kind, id string }
		var want []change
		racing := f.createTask(t, b, "Racing the crash")
		want = append(want, change{"created", racing})
		a.signal(t, syscall.SIGKILL)
		a.wait(t, 10*time.Second)
		var got []taskEvent
		for m := range client.msgs { // what A sent before it died, then the end of the stream
			require.Equal(t, "next", m.Type, "%s", m.Payload)
			got = append(got, decodeTaskEvent(t, m))
		}
		require.LessOrEqual(t, len(got), 1, "only the racing change can have arrived")
		if len(got) == 1 {
			require.Equal(t, racing, got[0].Task.ID)
			cursor = got[0].Cursor
		}

		for _, title := range []string{"While A is down 1", "While A is down 2"} {
			want = append(want, change{"created", f.createTask(t, b, title)})
		}
		f.do(t, b, `mutation($id: ID!) { completeTask(id: $id) { id } }`, map[string]any{"id": first})
		want = append(want, change{"completed", first})

		resumed := dialWS(t, b, token)
		resumed.subscribe(t, "tasks", taskFeedQuery, map[string]any{"a": map[string]any{"me": true}, "after": cursor})
		for len(got) < len(want) {
			got = append(got, resumed.nextTaskEvent(t, "tasks", 10*time.Second))
		}
		// Live again on B: a change after the resume follows the replayed ones.
		live := f.createTask(t, b, "After the resume")
		want = append(want, change{"created", live})
		got = append(got, resumed.nextTaskEvent(t, "tasks", 10*time.Second))
		resumed.quiet(t, time.Second)

		gotChanges := make([]change, len(got))
		for i, ev := range got {
			gotChanges[i] = change{ev.Kind, ev.Task.ID}
		}
		require.Equal(t, want, gotChanges)
	})
}

// feedFixture is a workspace with an admin (logged in on the process it was made with) and a
// CSM who owns the account Northwind.
type feedFixture struct {
	admin     clusterUser
	csm       clusterUser
	accountID string
}

func newFeedFixture(t *testing.T, b *bun.DB, p *process) *feedFixture {
	t.Helper()
	f := &feedFixture{admin: newClusterUser(t, b, p, db.RoleAdmin)}
	f.csm = addClusterMember(t, b, f.admin.Tenant, db.RoleCSM)
	var created struct {
		CreateAccount struct{ ID string } `json:"createAccount"`
	}
	gql(t, p, f.admin.Token, `mutation($o: ID) { createAccount(input: {name: "Northwind", ownerId: $o}) { id } }`,
		map[string]any{"o": nodeID("User", f.csm.UserID)}, &created)
	f.accountID = created.CreateAccount.ID
	return f
}

// createTask creates a task on the account through p, assigned to its owner (the CSM).
func (f *feedFixture) createTask(t *testing.T, p *process, title string) string {
	t.Helper()
	var out struct {
		CreateTask struct{ ID string } `json:"createTask"`
	}
	gql(t, p, f.admin.Token, `mutation($in: CreateTaskInput!) { createTask(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"accountId": f.accountID, "title": title}}, &out)
	return out.CreateTask.ID
}

// do runs a mutation as the admin through p.
func (f *feedFixture) do(t *testing.T, p *process, query string, vars map[string]any) {
	t.Helper()
	gql(t, p, f.admin.Token, query, vars, nil)
}

// waitLive makes sure subscription id of client is registered on its process: a subscribe is
// handled asynchronously, and one without a cursor starts at the log's head. It creates probe
// tasks through p until one arrives, reading past earlier probes that arrive late.
func (f *feedFixture) waitLive(t *testing.T, p *process, client *wsClient, id string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for n := 1; time.Now().Before(deadline); n++ {
		probe := f.createTask(t, p, fmt.Sprintf("Probe %d", n))
		wait := time.After(2 * time.Second)
		for {
			select {
			case m, ok := <-client.msgs:
				require.True(t, ok, "websocket closed: %v", client.err)
				require.Equal(t, "next", m.Type, "%s", m.Payload)
				require.Equal(t, id, m.ID)
				if decodeTaskEvent(t, m).Task.ID == probe {
					return
				}
				continue
			case <-wait:
			}
			break
		}
	}
	t.Fatal("the subscription never received a probe task")
}

func decodeTaskEvent(t *testing.T, m wsMessage) taskEvent {
	t.Helper()
	var p struct {
		Data struct {
			TaskFeed taskEvent `json:"taskFeed"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(m.Payload, &p))
	return p.Data.TaskFeed
}

// nodeID is the global id of a row (base64url "Kind:uuid").
func nodeID(kind string, id uuid.UUID) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + id.String()))
}
