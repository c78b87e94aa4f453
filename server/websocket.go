package server

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// Close codes sent to websocket clients when the server stops them.
const (
	// closeGoingAway is RFC 6455's 1001: the server is going down. graphql-ws clients treat it
	// as retryable and reconnect (to another process behind the load balancer), resuming their
	// subscriptions by cursor.
	closeGoingAway = 1001
	// closeGoingAwayReason is the close frame's reason text.
	closeGoingAwayReason = "server shutting down"
	// closeRepeat is how often shutdown closes connections again while it waits, catching a
	// websocket whose handshake was under way when the first close frames went out.
	closeRepeat = 100 * time.Millisecond
)

// upgrades counts the websocket upgrade requests still inside their handler. A websocket is a
// hijacked connection: http.Server.Shutdown neither closes nor waits for it, and its handler
// (the graphql-transport-ws loop, with every subscription of the connection) runs until the
// connection ends. Shutdown closes the connections (graph.WSConnections) and waits here until
// every handler has returned.
type upgrades struct {
	mu      sync.Mutex
	running int
	closing bool
	idle    chan struct{} // closed (once) when running is zero while closing
	done    bool          // idle is closed
}

// markIdleLocked closes idle once running is zero during shutdown; u.mu must be held.
func (u *upgrades) markIdleLocked() {
	if u.closing && u.running == 0 && !u.done {
		u.done = true
		close(u.idle)
	}
}

// handler counts the websocket upgrade requests inside next.
func (u *upgrades) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "" {
			next.ServeHTTP(w, r)
			return
		}
		u.mu.Lock()
		u.running++
		u.mu.Unlock()
		defer func() {
			u.mu.Lock()
			u.running--
			u.markIdleLocked()
			u.mu.Unlock()
		}()
		next.ServeHTTP(w, r)
	})
}

// shutdown calls closeAll (which sends every open connection a close frame), and again every
// closeRepeat, until every upgrade handler has returned or ctx ends; then it returns ctx's
// error. Calls after the first wait as well.
func (u *upgrades) shutdown(ctx context.Context, closeAll func()) error {
	u.mu.Lock()
	if !u.closing {
		u.closing = true
		u.idle = make(chan struct{})
		u.markIdleLocked()
	}
	idle := u.idle
	u.mu.Unlock()
	tick := time.NewTicker(closeRepeat)
	defer tick.Stop()
	for {
		closeAll()
		select {
		case <-idle:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
