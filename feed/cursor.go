package feed

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/stewardhq/steward/db"
)

// Cursor errors. Both are the client's to fix: subscribe again without `after` (and reload
// what it shows), since events after the cursor can no longer be replayed.
var (
	// ErrBadCursor is an `after` that is not a cursor this API handed out.
	ErrBadCursor = errors.New("malformed feed cursor")
	// ErrCursorExpired is a cursor whose event is no longer in the log (pruned after the
	// retention, or from another workspace).
	ErrCursorExpired = errors.New("feed cursor expired")
)

// cursorPrefix versions the cursor format.
const cursorPrefix = "c1:"

// EncodeCursor makes the opaque cursor of a log position: base64url of "c1:txid:id".
func EncodeCursor(p db.Position) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%s%d:%d", cursorPrefix, p.TxID, p.ID))
}

// DecodeCursor reads a cursor made by EncodeCursor; anything else is ErrBadCursor.
func DecodeCursor(s string) (db.Position, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return db.Position{}, ErrBadCursor
	}
	rest, ok := strings.CutPrefix(string(raw), cursorPrefix)
	if !ok {
		return db.Position{}, ErrBadCursor
	}
	tx, id, ok := strings.Cut(rest, ":")
	if !ok {
		return db.Position{}, ErrBadCursor
	}
	var p db.Position
	if p.TxID, err = strconv.ParseUint(tx, 10, 64); err != nil || p.TxID == 0 || p.TxID > 1<<63-1 {
		return db.Position{}, ErrBadCursor
	}
	if p.ID, err = strconv.ParseInt(id, 10, 64); err != nil || p.ID <= 0 {
		return db.Position{}, ErrBadCursor
	}
	return p, nil
}
