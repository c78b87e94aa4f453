package graph

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
)

// Kinds of global ids; a global id is base64url("Kind:uuid"), opaque to clients.
const (
	kindAccount       = "Account"
	kindContact       = "Contact"
	kindTimelineEntry = "TimelineEntry"
	kindUser          = "User"
	kindAPIKey        = "ApiKey"
	kindTeamRole      = "TeamRole"
	kindWorkspace     = "Workspace"
	kindPlay          = "Play"
	kindPlayRun       = "PlayRun"
	kindInAppMessage  = "InAppMessage"
	kindMailbox       = "MailboxMessage"
	kindTask          = "Task"
	kindJourney       = "Journey"
	kindEnrollment    = "JourneyEnrollment"
	// kindEvent ids hold the event's bigint id instead of a uuid (globalIDOf).
	kindEvent = "Event"
)

func globalID(kind string, id uuid.UUID) string {
	return globalIDOf(kind, id.String())
}

// globalIDOf encodes a global id whose database id is not a uuid (kindEvent).
func globalIDOf(kind, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + id))
}

// splitID decodes a global id into its kind and database id.
func splitID(id string) (string, uuid.UUID, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil {
		return "", uuid.Nil, false
	}
	kind, rest, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", uuid.Nil, false
	}
	u, err := uuid.Parse(rest)
	if err != nil {
		return "", uuid.Nil, false
	}
	return kind, u, true
}

// parseID decodes a global id that must be of kind. A malformed id or one of another kind
// answers NOT_FOUND, exactly as an unknown id does.
func parseID(id, kind string) (uuid.UUID, error) {
	k, u, ok := splitID(id)
	if !ok || k != kind {
		return uuid.Nil, db.ErrNotFound
	}
	return u, nil
}

// inputIDs decodes a list argument of global ids, each of one of kinds (launchPlay's
// subjects are accounts or contacts); a bad one is bad input on field[i] with message.
func inputIDs(ids []string, field, message string, kinds ...string) ([]uuid.UUID, error) {
	out := make([]uuid.UUID, len(ids))
	for i, id := range ids {
		kind, u, ok := splitID(id)
		if !ok || !slices.Contains(kinds, kind) {
			return nil, invalid.Field(fmt.Sprintf("%s[%d]", field, i), "%s", message)
		}
		out[i] = u
	}
	return out, nil
}

// parseInputID decodes a global id given inside an input object; a bad one is bad input on
// field, since the mutation's target itself was found.
func parseInputID(id, kind, field string) (uuid.UUID, error) {
	u, err := parseID(id, kind)
	if err != nil {
		return uuid.Nil, invalid.Field(field, "no such %s", strings.ToLower(kind))
	}
	return u, nil
}
