package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/server/servertest"
)

// After 1,000 clients vanish without a close handshake while subscribed, the server's
// goroutines and heap return to their baseline. Not parallel: it counts the whole process's
// goroutines.
func TestAbruptDisconnectsLeakNothing(t *testing.T) {
	env := servertest.New(t)
	f := newFeedFixture(t, env)
	const clients, workers = 1000, 16
	url := "ws" + strings.TrimPrefix(env.URL, "http") + "/graphql"
	// Each client resumes after the first of two tasks, so it receives the second from the
	// log: once it has, its subscription is fully set up and live when the client vanishes.
	c := env.ConnectWS(t, f.csmToken)
	c.Subscribe(t, "1", taskFeedQuery, me)
	waitSubscribers(t, env, 1)
	f.createTask(t, "t0")
	f.createTask(t, "t1")
	cursor := nextTask(t, c, "1").Cursor
	_ = c.Conn.CloseNow()
	subscribe, err := json.Marshal(map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{
		"query": taskFeedQuery, "variables": map[string]any{"a": map[string]any{"me": true}, "after": cursor}}})
	require.NoError(t, err)
	connectAndVanish := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), servertest.WSTimeout)
		defer cancel()
		conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
		if err != nil {
			return err
		}
		defer conn.CloseNow() //nolint:errcheck // the point: no close handshake
		if err := conn.Write(ctx, websocket.MessageText, []byte(`{"type":"connection_init","payload":{"authorization":"Bearer `+f.csmToken+`"}}`)); err != nil {
			return err
		}
		if _, _, err := conn.Read(ctx); err != nil { // connection_ack
			return err
		}
		if err := conn.Write(ctx, websocket.MessageText, subscribe); err != nil {
			return err
		}
		_, msg, err := conn.Read(ctx) // the replayed task
		if err == nil && !strings.Contains(string(msg), `"t1"`) {
			err = fmt.Errorf("unexpected message %s", msg)
		}
		return err
	}
	settled := func() (int, uint64) {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return runtime.NumGoroutine(), m.HeapInuse
	}

	// Warm up (pools, lazily started goroutines), then measure the baseline.
	for range workers {
		require.NoError(t, connectAndVanish())
	}
	require.Eventually(t, func() bool { return env.Feed.Subscribers() == 0 }, servertest.WSTimeout, 10*time.Millisecond)
	baseGoroutines, baseHeap := settled()

	var wg sync.WaitGroup
	errs := make(chan error, clients)
	next := make(chan struct{}, clients)
	for range clients {
		next <- struct{}{}
	}
	close(next)
	peak := 0
	var peakMu sync.Mutex
	for range workers {
		wg.Go(func() {
			for range next {
				if err := connectAndVanish(); err != nil {
					errs <- err
				}
				peakMu.Lock()
				peak = max(peak, env.Feed.Subscribers())
				peakMu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	t.Logf("peak subscribers %d", peak)

	require.Eventually(t, func() bool { return env.Feed.Subscribers() == 0 && env.Websockets.Len() == 0 }, 30*time.Second,
		20*time.Millisecond, "subscriptions or connections of vanished clients were not removed")
	var goroutines int
	var heap uint64
	deadline := time.Now().Add(30 * time.Second)
	for {
		goroutines, heap = settled()
		// Margins: River's leader starts a dozen maintenance goroutines at a moment of its
		// own; a leak per connection would show 1,000 goroutines and several MiB or more.
		if goroutines <= baseGoroutines+25 && heap <= baseHeap+8<<20 {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines %d (baseline %d), heap in use %d (baseline %d)\n%s",
				goroutines, baseGoroutines, heap, baseHeap, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(100 * time.Millisecond) // polling the runtime, not waiting out a race
	}
	t.Logf("goroutines %d (baseline %d), heap in use %.1f MiB (baseline %.1f MiB)",
		goroutines, baseGoroutines, float64(heap)/(1<<20), float64(baseHeap)/(1<<20))
}
