package graph

import (
	"encoding/base64"
	"encoding/json"

	"github.com/google/uuid"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
)

// Page size limits for every connection.
const (
	defaultPageSize = 20
	maxPageSize     = 100
)

// pageSize validates a connection's `first`.
func pageSize(first *int) (int, error) {
	if first == nil {
		return defaultPageSize, nil
	}
	if *first < 0 || *first > maxPageSize {
		return 0, invalid.Field("first", "must be between 0 and %d", maxPageSize)
	}
	return *first, nil
}

// cursorPayload is what an opaque cursor holds: the order it belongs to, the sort key and id.
type cursorPayload struct {
	Order string    `json:"o,omitempty"`
	Key   string    `json:"k"`
	ID    uuid.UUID `json:"i"`
}

func encodeCursor(order, key string, id uuid.UUID) string {
	b, _ := json.Marshal(cursorPayload{Order: order, Key: key, ID: id})
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads `after`; a cursor from another order or a damaged one is bad input.
func decodeCursor(after *string, order string) (*db.PageCursor, error) {
	if after == nil || *after == "" {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(*after)
	var p cursorPayload
	if err != nil || json.Unmarshal(raw, &p) != nil || p.Order != order || p.ID == uuid.Nil {
		return nil, invalid.Field("after", "is not a cursor of this list")
	}
	return &db.PageCursor{Key: p.Key, ID: p.ID}, nil
}
