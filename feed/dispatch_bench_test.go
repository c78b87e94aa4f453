package feed

import (
	"encoding/json"
	"testing"

	"github.com/google/uuid"

	"github.com/stewardhq/steward/db"
)

// BenchmarkDispatch measures the in-memory fan-out of one task event in a workspace of
// 10,000 task-feed subscribers (the live-feeds benchmark's shape): each event matches one
// subscriber. It needs no database.
func BenchmarkDispatch(b *testing.B) {
	const subscribers = 10_000
	h := NewHub(nil, nil, Config{BufferSize: 4})
	h.started = true
	ws := uuid.New()
	users := make([]uuid.UUID, subscribers)
	subs := make([]*subscriber, subscribers)
	for i := range users {
		users[i] = uuid.New()
		subs[i] = &subscriber{workspace: ws, filter: Tasks(users[i]), live: make(chan *Event, 4), gone: make(chan struct{})}
		if _, err := h.add(subs[i]); err != nil {
			b.Fatal(err)
		}
	}
	rows := make([]db.Change, subscribers)
	for i := range rows {
		rows[i] = db.Change{Owned: db.Owned{WorkspaceID: ws}, TxID: uint64(i + 1), ID: int64(i + 1), Topic: db.TopicTask,
			Kind: db.KindCreated, AssigneeID: &users[i], Payload: json.RawMessage(`{"status":"OPEN"}`)}
	}
	b.ResetTimer()
	for i := range b.N {
		h.dispatch(rows[i%subscribers : i%subscribers+1])
		if i%subscribers == subscribers-1 {
			b.StopTimer()
			for _, s := range subs {
				for len(s.live) > 0 {
					<-s.live
				}
			}
			b.StartTimer()
		}
	}
	b.StopTimer()
	if h.Subscribers() != subscribers {
		b.Fatalf("%d subscribers left, want %d", h.Subscribers(), subscribers)
	}
}
