// Package feed delivers committed changes to live subscribers, across every Steward process
// on one database, with nothing missed.
//
// Domain services write db.Change rows in the transaction of each change (db.AppendChanges),
// which hands the transaction's id to the process's notifier (the first hub started): once
// that transaction has committed, the notifier sends one NOTIFY for a batch of commits from a
// statement of its own (notify.go). Each process runs one Hub: it holds a dedicated
// LISTEN connection (outside the pool, reconnecting), and on a wake-up or every poll interval
// reads the rows that have become final after its cursor (db.ReadChanges: ordered by writing
// transaction and id, never skipping a late commit) and fans them out in memory to its
// subscribers, by workspace and each subscription's Filter.
//
// A subscriber that falls BufferSize events behind is dropped with ErrTooSlow rather than
// slowing the others; a client then subscribes again with the cursor of the last event it
// got, and Subscribe replays the log after that cursor before switching to live events, with
// no gap and no duplicate. Rows older than the retention are pruned.
package feed

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
)

var (
	// ErrTooSlow ends a subscription whose client did not keep up: it resumes by cursor.
	ErrTooSlow = errors.New("feed subscriber fell too far behind; resume with the last cursor")
	// ErrStopped ends every subscription when the hub stops (server shutdown): clients resume
	// on another process with their last cursor.
	ErrStopped = errors.New("feed stopped; resume with the last cursor")
)

// Event is one committed change as subscribers see it. One Event is shared by every
// subscriber that receives it: treat it as read-only.
type Event struct {
	// Cursor is the opaque position to resume after this event.
	Cursor string
	// Change is the log row.
	Change *db.Change
	// Facts is the row's payload, decoded (nil when it is not a JSON object).
	Facts map[string]any
	pos   db.Position
	keys  []filterKey // of the keyed filters that select it (eventKeys)
}

// Fact returns the payload's string value at key, or "".
func (e *Event) Fact(key string) string {
	s, _ := e.Facts[key].(string)
	return s
}

func newEvent(c *db.Change) *Event {
	ev := &Event{Cursor: EncodeCursor(c.Pos()), Change: c, pos: c.Pos()}
	_ = json.Unmarshal(c.Payload, &ev.Facts) // a payload that is not an object has no facts
	ev.keys = eventKeys(ev)
	return ev
}

// Hub reads the change log and fans events out to this process's subscribers. Start it once;
// Stop ends every subscription with ErrStopped.
type Hub struct {
	db     *bun.DB
	listen *pgx.ConnConfig
	cfg    Config
	wake   chan struct{}
	notify *notifier

	listening atomic.Bool
	cancel    context.CancelFunc
	wg        sync.WaitGroup

	mu      sync.Mutex
	pos     db.Position // the last row dispatched; written by the reader under mu
	started bool
	stopped bool
	subs    map[uuid.UUID]*workspaceSubs
	count   int
}

// workspaceSubs indexes one workspace's subscribers: keyed filters by their key, so an event
// reaches its subscribers through a few map lookups (Event.keys), and the rest in a list
// checked per event.
type workspaceSubs struct {
	byKey   map[filterKey]map[*subscriber]struct{}
	checked map[*subscriber]struct{}
}

// set returns the set s belongs in, creating it when create is set (nil otherwise).
func (w *workspaceSubs) set(s *subscriber, create bool) map[*subscriber]struct{} {
	if s.filter.key.on == keyNone {
		return w.checked
	}
	set := w.byKey[s.filter.key]
	if set == nil && create {
		set = map[*subscriber]struct{}{}
		w.byKey[s.filter.key] = set
	}
	return set
}

type subscriber struct {
	workspace uuid.UUID
	filter    Filter
	// live is written by the hub under mu and closed by it (with err set first) when the
	// subscriber is dropped or removed; gone closes at the same time, so a subscription
	// stuck sending to a client that stopped reading ends too.
	live chan *Event
	gone chan struct{}
	err  error
}

// NewHub builds a hub reading through b. listen is the configuration of the dedicated LISTEN
// connection (a direct connection: LISTEN does not survive a transaction-mode pooler); nil
// polls only.
func NewHub(b *bun.DB, listen *pgx.ConnConfig, cfg Config) *Hub {
	return &Hub{
		db: b, listen: listen, cfg: cfg.withDefaults(),
		wake: make(chan struct{}, 1),
		subs: map[uuid.UUID]*workspaceSubs{},
	}
}

// Start reads the log's current head (subscribers see what commits from now on, or replay
// from a cursor) and starts the listener, the reader and the pruner. They run until Stop.
func (h *Hub) Start(ctx context.Context) error {
	pos, err := db.ChangeHead(ctx, h.db)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.started {
		return errors.New("feed hub already started")
	}
	h.started, h.pos = true, pos
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	h.cancel = cancel
	h.notify = newNotifier(h.db, h.cfg)
	h.notify.register()
	h.wg.Add(2)
	go func() { defer h.wg.Done(); h.read(runCtx) }()
	go func() { defer h.wg.Done(); h.notify.run(runCtx) }()
	if h.listen != nil {
		h.wg.Add(1)
		go func() { defer h.wg.Done(); h.listenLoop(runCtx) }()
	}
	if h.cfg.PruneInterval > 0 {
		h.wg.Add(1)
		go func() { defer h.wg.Done(); h.pruneLoop(runCtx) }()
	}
	return nil
}

// Stop stops reading and ends every subscription with ErrStopped. It is safe to call once
// the hub has started, and more than once.
func (h *Hub) Stop() {
	h.mu.Lock()
	cancel, notify := h.cancel, h.notify
	h.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	h.wg.Wait()
	if notify != nil {
		notify.stop()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = true
	for _, w := range h.subs {
		for _, set := range w.byKey {
			for s := range set {
				h.dropLocked(s, ErrStopped)
			}
		}
		for s := range w.checked {
			h.dropLocked(s, ErrStopped)
		}
	}
}

// Subscribers returns how many subscriptions this process serves.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.count
}

// Listening reports whether the LISTEN connection is up (false between reconnects).
func (h *Hub) Listening() bool { return h.listening.Load() }

// Position returns the last log position the hub has dispatched.
func (h *Hub) Position() db.Position {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pos
}

// Poke asks the reader to read the log now (the LISTEN connection does this on NOTIFY).
func (h *Hub) Poke() {
	select {
	case h.wake <- struct{}{}:
	default: // a read is already due
	}
}

// Request is one subscription.
type Request struct {
	// Tenant is the workspace whose events are delivered; no other workspace's ever are.
	Tenant db.Tenant
	// Filter selects the workspace's events for this subscription.
	Filter Filter
	// After, when set, is the cursor of the last event the client received: every later
	// event is delivered first from the log, then live. Empty starts with what commits next.
	After string
	// OnEnd, when set, is called once before the channel closes, with the reason: nil when
	// ctx ended, ErrTooSlow, ErrStopped or a database error while replaying.
	OnEnd func(error)
}

// Subscribe starts delivering req's events, converted by convert, on the returned channel
// until ctx ends or the subscription is dropped (see Request.OnEnd). A bad cursor is
// ErrBadCursor, a cursor whose event is no longer in the workspace's log ErrCursorExpired.
// The channel is owned by one goroutine that sends in a select with ctx.Done and closes it.
func Subscribe[T any](ctx context.Context, h *Hub, req Request, convert func(*Event) T) (<-chan T, error) {
	var after *db.Position
	if req.After != "" {
		p, err := DecodeCursor(req.After)
		if err != nil {
			return nil, err
		}
		ok, err := db.ChangeExists(ctx, h.db, req.Tenant, p)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, ErrCursorExpired
		}
		after = &p
	}
	s := &subscriber{workspace: req.Tenant.WorkspaceID, filter: req.Filter,
		live: make(chan *Event, h.cfg.BufferSize), gone: make(chan struct{})}
	from, err := h.add(s)
	if err != nil {
		return nil, err
	}
	out := make(chan T)
	go func() {
		var end error
		defer func() {
			h.remove(s)
			if req.OnEnd != nil {
				req.OnEnd(end)
			}
			close(out)
		}()
		send := func(ev *Event) bool {
			select {
			case out <- convert(ev):
				return true
			case <-ctx.Done():
				return false
			case <-s.gone:
				end = s.err
				return false
			}
		}
		last := from
		if after != nil {
			// Replay (after, from] from the log; events after from arrive on live.
			last = *after
			for last.Less(from) {
				rows, err := db.ChangesBetween(ctx, h.db, req.Tenant, last, from, h.cfg.BatchSize)
				if err != nil {
					if ctx.Err() == nil {
						end = err
					}
					return
				}
				if len(rows) == 0 {
					break
				}
				for i := range rows {
					ev := newEvent(&rows[i])
					last = ev.pos
					if req.Filter.match(ev) && !send(ev) {
						return
					}
				}
			}
		}
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-s.live:
				if !ok {
					end = s.err
					return
				}
				if !last.Less(ev.pos) {
					continue // already replayed (the cursor was ahead of this hub)
				}
				last = ev.pos
				if !send(ev) {
					return
				}
			}
		}
	}()
	return out, nil
}

// add registers s and returns the position after which live events reach it.
func (h *Hub) add(s *subscriber) (db.Position, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.started || h.stopped {
		return db.Position{}, ErrStopped
	}
	w := h.subs[s.workspace]
	if w == nil {
		w = &workspaceSubs{byKey: map[filterKey]map[*subscriber]struct{}{}, checked: map[*subscriber]struct{}{}}
		h.subs[s.workspace] = w
	}
	w.set(s, true)[s] = struct{}{}
	h.count++
	return h.pos, nil
}

// remove unregisters s if the hub has not dropped it already.
func (h *Hub) remove(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropLocked(s, nil)
}

// dropLocked unregisters s and closes its live channel with err; h.mu must be held.
func (h *Hub) dropLocked(s *subscriber, err error) {
	w := h.subs[s.workspace]
	if w == nil {
		return
	}
	set := w.set(s, false)
	if _, ok := set[s]; !ok {
		return
	}
	delete(set, s)
	if len(set) == 0 && s.filter.key.on != keyNone {
		delete(w.byKey, s.filter.key)
	}
	if len(w.byKey) == 0 && len(w.checked) == 0 {
		delete(h.subs, s.workspace)
	}
	h.count--
	s.err = err
	close(s.live)
	close(s.gone)
}

// read is the reader loop: it reads on a wake-up, on the poll interval, and soon again while
// rows wait on an older transaction.
func (h *Hub) read(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	retry := h.cfg.RetryInterval
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.wake:
		case <-timer.C:
		}
		next := h.cfg.PollInterval
		pending, err := h.readOnce(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			h.cfg.Logger.Warn("read change log", slog.Any("error", err))
		case pending:
			// The transaction holding rows back may never notify: look again soon, backing
			// off while it lasts (a long sweep), up to the poll interval.
			next, retry = min(retry, next), min(2*retry, h.cfg.PollInterval)
		default:
			retry = h.cfg.RetryInterval
		}
		timer.Reset(next)
	}
}

// readOnce dispatches every final row after the hub's position; pending reports rows that
// are not final yet.
func (h *Hub) readOnce(ctx context.Context) (bool, error) {
	for {
		rows, pending, err := db.ReadChanges(ctx, h.db, h.pos, h.cfg.BatchSize)
		if err != nil {
			return false, err
		}
		if len(rows) > 0 {
			h.dispatch(rows)
		}
		if len(rows) < h.cfg.BatchSize {
			return pending, nil
		}
	}
}

// dispatch hands rows to the matching subscribers without ever waiting for one: a full
// queue drops that subscriber with ErrTooSlow. Each event costs a lookup per key it carries
// plus the workspace's unkeyed subscribers, not a check of every subscriber.
func (h *Hub) dispatch(rows []db.Change) {
	events := make([]*Event, len(rows))
	for i := range rows {
		events[i] = newEvent(&rows[i])
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ev := range events {
		c := ev.Change
		if w := h.subs[c.WorkspaceID]; w != nil {
			for _, k := range ev.keys {
				for s := range w.byKey[k] {
					h.sendLocked(s, ev)
				}
			}
			for s := range w.checked {
				if s.filter.match(ev) {
					h.sendLocked(s, ev)
				}
			}
		}
		h.pos = c.Pos()
	}
}

// sendLocked queues ev for s, or drops s with ErrTooSlow when its queue is full; h.mu must
// be held.
func (h *Hub) sendLocked(s *subscriber, ev *Event) {
	select {
	case s.live <- ev:
	default:
		h.dropLocked(s, ErrTooSlow)
	}
}
