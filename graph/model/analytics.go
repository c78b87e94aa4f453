package model

import "github.com/google/uuid"

// AccountJourneyTimeline is one account's attempts in a journey; the account resolves through
// the per-operation loader.
type AccountJourneyTimeline struct {
	AccountID uuid.UUID
	JourneyID string
	Attempts  []*JourneyAttempt
}
