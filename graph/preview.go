package graph

import (
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/stewardhq/steward/condition"
	"github.com/stewardhq/steward/graph/model"
	"github.com/stewardhq/steward/invalid"
	"github.com/stewardhq/steward/play"
)

// Converters and input decoding for previewPlay.

// previewInput is previewPlay's decoded arguments: either playID, or definition and scope.
type previewInput struct {
	playID     *uuid.UUID
	definition json.RawMessage
	scope      condition.Scope
	first      int
}

// toPreviewInput checks that exactly one of playId or definition (with scope) is given, and
// that first is between 1 and play.MaxPreviewSubjects.
func toPreviewInput(playID *string, definition model.JSON, scope *model.PlayScope, first *int) (previewInput, error) {
	in := previewInput{first: play.DefaultPreviewSubjects}
	if first != nil {
		if *first < 1 || *first > play.MaxPreviewSubjects {
			return in, invalid.Field("first", "must be between 1 and %d", play.MaxPreviewSubjects)
		}
		in.first = *first
	}
	switch {
	case playID != nil && (definition != nil || scope != nil):
		return in, invalid.Field("playId", "give either playId, or definition and scope, not both")
	case playID != nil:
		id, err := parseInputID(*playID, kindPlay, "playId")
		in.playID = &id
		return in, err
	case definition == nil:
		return in, invalid.Field("playId", "give playId, or definition and scope")
	case scope == nil:
		return in, invalid.Field("scope", "is required with definition")
	}
	in.definition, in.scope = json.RawMessage(definition), condition.Scope(*scope)
	return in, nil
}

func toGraphPlayPreview(p *play.Preview) *model.PlayPreview {
	out := &model.PlayPreview{MatchCount: p.MatchCount, Subjects: make([]*model.PreviewSubject, len(p.Subjects))}
	for i := range p.Subjects {
		out.Subjects[i] = toGraphPreviewSubject(&p.Subjects[i])
	}
	return out
}

func toGraphPreviewSubject(s *play.PreviewSubject) *model.PreviewSubject {
	out := &model.PreviewSubject{Account: toGraphAccount(s.Account), Enters: s.Enters, Predicates: make([]*model.PredicateResult, len(s.Predicates))}
	if s.Contact != nil {
		out.Contact = toGraphContact(s.Contact)
	}
	if s.RefusedBy != "" {
		out.RefusedBy = &s.RefusedBy
	}
	for i, p := range s.Predicates {
		out.Predicates[i] = toGraphPredicateResult(p)
	}
	return out
}

// toGraphPredicateResult writes the predicate's node as JSON and its seen value as an Any:
// seen may be a scalar (a stage, a count, a time), which the JSON scalar (objects) cannot carry.
func toGraphPredicateResult(p play.PreviewPredicate) *model.PredicateResult {
	node, err := json.Marshal(p.Predicate)
	if err != nil {
		node = []byte(fmt.Sprintf(`{"error": %q}`, err.Error()))
	}
	return &model.PredicateResult{Path: p.Path, Predicate: model.JSON(node), Seen: p.Seen, Held: p.Held}
}
