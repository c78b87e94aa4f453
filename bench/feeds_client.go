package bench

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
)

// dialConcurrency is how many websocket handshakes the benchmark runs at once.
const dialConcurrency = 64

// subscription is what each benchmark subscriber asks for: its own task feed.
const taskFeedSubscription = `subscription { taskFeed(assignee: {me: true}) { cursor kind task { id } } }`

// taskDelivery is one task event a subscriber received.
type taskDelivery struct {
	taskID uuid.UUID
	at     time.Time
}

// subscribers are the benchmark's websocket clients, one connection and one subscription each.
type subscribers struct {
	conns      []*websocket.Conn
	deliveries chan taskDelivery
	// failures counts error and complete messages, undecodable events and connections closed
	// during the run: any of them makes the run suspect.
	failures atomic.Int64
	firstErr atomic.Value
	wg       sync.WaitGroup
}

// connectSubscribers opens one graphql-transport-ws connection per token, each subscribed to
// its user's task feed, dialConcurrency at a time. It returns once every subscription was sent.
func connectSubscribers(ctx context.Context, baseURL string, tokens []string) (*subscribers, error) {
	s := &subscribers{conns: make([]*websocket.Conn, len(tokens)), deliveries: make(chan taskDelivery, 1<<16)}
	wsURL := "ws" + strings.TrimPrefix(baseURL, "http") + "/graphql"
	sem := make(chan struct{}, dialConcurrency)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for i, token := range tokens {
		select {
		case err := <-errs:
			wg.Wait()
			s.close()
			return nil, err
		case sem <- struct{}{}:
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			conn, err := subscribeOne(ctx, wsURL, token)
			if err != nil {
				select {
				case errs <- fmt.Errorf("subscriber %d: %w", i, err):
				default:
				}
				return
			}
			s.conns[i] = conn
			s.wg.Add(1)
			go s.read(conn)
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		s.close()
		return nil, err
	default:
	}
	return s, nil
}

func subscribeOne(ctx context.Context, wsURL, token string) (*websocket.Conn, error) {
	dialCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(dialCtx, wsURL, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	init, _ := json.Marshal(map[string]any{"type": "connection_init", "payload": map[string]any{"authorization": "Bearer " + token}})
	if err := conn.Write(dialCtx, websocket.MessageText, init); err != nil {
		conn.CloseNow()
		return nil, fmt.Errorf("connection_init: %w", err)
	}
	for {
		_, data, err := conn.Read(dialCtx)
		if err != nil {
			conn.CloseNow()
			return nil, fmt.Errorf("wait for connection_ack: %w", err)
		}
		var m struct{ Type string }
		if err := json.Unmarshal(data, &m); err != nil {
			conn.CloseNow()
			return nil, fmt.Errorf("wait for connection_ack: %w", err)
		}
		if m.Type == "connection_ack" {
			break
		}
	}
	sub, _ := json.Marshal(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": taskFeedSubscription}})
	if err := conn.Write(dialCtx, websocket.MessageText, sub); err != nil {
		conn.CloseNow()
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	return conn, nil
}

// read hands every task event of conn to deliveries, answers pings, and counts anything else
// as a failure, until the connection ends.
func (s *subscribers) read(conn *websocket.Conn) {
	defer s.wg.Done()
	ctx := context.Background()
	for {
		_, data, err := conn.Read(ctx)
		at := time.Now()
		if err != nil {
			if websocket.CloseStatus(err) == -1 && !errors.Is(err, context.Canceled) && !strings.Contains(err.Error(), "closed") {
				s.fail(fmt.Errorf("read: %w", err))
			}
			return
		}
		var m struct {
			Type    string          `json:"type"`
			Payload json.RawMessage `json:"payload"`
		}
		if err := json.Unmarshal(data, &m); err != nil {
			s.fail(fmt.Errorf("decode message: %w", err))
			continue
		}
		switch m.Type {
		case "ping":
			_ = conn.Write(ctx, websocket.MessageText, []byte(`{"type":"pong"}`))
		case "pong":
		case "next":
			id, err := taskEventID(m.Payload)
			if err != nil {
				s.fail(err)
				continue
			}
			s.deliveries <- taskDelivery{taskID: id, at: at}
		default:
			s.fail(fmt.Errorf("unexpected %s message: %s", m.Type, m.Payload))
		}
	}
}

func (s *subscribers) fail(err error) {
	s.failures.Add(1)
	s.firstErr.CompareAndSwap(nil, err.Error())
}

// firstError is the first failure seen, or "".
func (s *subscribers) firstError() string {
	e, _ := s.firstErr.Load().(string)
	return e
}

// close closes every connection normally and waits for the readers.
func (s *subscribers) close() {
	var wg sync.WaitGroup
	sem := make(chan struct{}, dialConcurrency)
	for _, c := range s.conns {
		if c == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = c.Write(ctx, websocket.MessageText, []byte(`{"id":"1","type":"complete"}`))
			c.CloseNow()
		}()
	}
	wg.Wait()
	s.wg.Wait()
}

// taskEventID decodes the task id of a taskFeed event.
func taskEventID(payload json.RawMessage) (uuid.UUID, error) {
	var p struct {
		Data struct {
			TaskFeed struct {
				Task struct {
					ID string `json:"id"`
				} `json:"task"`
			} `json:"taskFeed"`
		} `json:"data"`
		Errors json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return uuid.Nil, fmt.Errorf("decode task event: %w", err)
	}
	if len(p.Errors) > 0 {
		return uuid.Nil, fmt.Errorf("task event with errors: %s", p.Errors)
	}
	raw, err := base64.RawURLEncoding.DecodeString(p.Data.TaskFeed.Task.ID)
	if err != nil {
		return uuid.Nil, fmt.Errorf("task event id %q: %w", p.Data.TaskFeed.Task.ID, err)
	}
	_, id, ok := strings.Cut(string(raw), ":")
	if !ok {
		return uuid.Nil, fmt.Errorf("task event id %q is not a global id", p.Data.TaskFeed.Task.ID)
	}
	return uuid.Parse(id)
}
