package graph

import (
	"encoding/json"
	"fmt"

	"github.com/99designs/gqlgen/graphql"

	"github.com/stewardhq/steward/account"
	"github.com/stewardhq/steward/graph/model"
	"github.com/stewardhq/steward/invalid"
)

// Converters from API input to domain input. Ids are decoded here; values are validated by
// the domain.

func toAccountPatch(in model.AccountInput) (account.Patch, error) {
	p := account.Patch{
		Name:        in.Name,
		Domain:      omittable(in.Domain),
		ExternalID:  omittable(in.ExternalID),
		Stage:       (*string)(in.Stage),
		ARRCurrency: in.ArrCurrency,
		Tags:        optionalSlice(in.Tags),
		Custom:      rawJSON(in.CustomAttributes),
		HealthScore: omittable(in.HealthScore),
	}
	if in.ArrMinor != nil {
		v := int64(*in.ArrMinor)
		p.ARRMinor = &v
	}
	if d, set := in.RenewalDate.ValueOK(); set {
		p.RenewalDate = optional(dateValue(d), true)
	}
	if owner, set := in.OwnerID.ValueOK(); set {
		p.OwnerID.Set = true
		if owner != nil {
			id, err := parseInputID(*owner, kindUser, "ownerId")
			if err != nil {
				return p, err
			}
			p.OwnerID.Value = &id
		}
	}
	return p, nil
}

func createToAccountInput(in model.CreateAccountInput) model.AccountInput {
	out := model.AccountInput{
		Name: &in.Name, Stage: in.Stage, ArrMinor: in.ArrMinor, ArrCurrency: in.ArrCurrency,
		Tags: in.Tags, CustomAttributes: in.CustomAttributes,
	}
	if in.Domain != nil {
		out.Domain = graphql.OmittableOf(in.Domain)
	}
	if in.ExternalID != nil {
		out.ExternalID = graphql.OmittableOf(in.ExternalID)
	}
	if in.OwnerID != nil {
		out.OwnerID = graphql.OmittableOf(in.OwnerID)
	}
	if in.RenewalDate != nil {
		out.RenewalDate = graphql.OmittableOf(in.RenewalDate)
	}
	if in.HealthScore != nil {
		out.HealthScore = graphql.OmittableOf(in.HealthScore)
	}
	return out
}

func toContactPatch(in model.UpdateContactInput) account.ContactPatch {
	return account.ContactPatch{
		Name:        in.Name,
		Email:       in.Email,
		Title:       omittable(in.Title),
		Persona:     omittable(in.Persona),
		EmailOptOut: in.EmailOptOut,
		Custom:      rawJSON(in.CustomAttributes),
	}
}

func createToContactPatch(in model.CreateContactInput) account.ContactPatch {
	return account.ContactPatch{
		Name:        &in.Name,
		Email:       &in.Email,
		Title:       optional(in.Title, in.Title != nil),
		Persona:     optional(in.Persona, in.Persona != nil),
		EmailOptOut: in.EmailOptOut,
		Custom:      rawJSON(in.CustomAttributes),
	}
}

func toTeamAssignments(in []*model.TeamMemberInput) ([]account.TeamAssignment, error) {
	out := make([]account.TeamAssignment, len(in))
	for i, m := range in {
		role, err := parseInputID(m.TeamRoleID, kindTeamRole, fmt.Sprintf("members[%d].teamRoleId", i))
		if err != nil {
			return nil, err
		}
		user, err := parseInputID(m.UserID, kindUser, fmt.Sprintf("members[%d].userId", i))
		if err != nil {
			return nil, err
		}
		out[i] = account.TeamAssignment{TeamRoleID: role, UserID: user}
	}
	return out, nil
}

func toEventInputs(in []*model.EventInput) ([]account.EventInput, error) {
	if len(in) > account.MaxEventsPerCall {
		return nil, invalid.Field("events", "at most %d events per call", account.MaxEventsPerCall)
	}
	out := make([]account.EventInput, len(in))
	for i, e := range in {
		out[i] = account.EventInput{
			ClientEventID:     e.ClientEventID,
			AccountExternalID: e.AccountExternalID,
			ContactEmail:      e.ContactEmail,
			Name:              e.Name,
			OccurredAt:        e.OccurredAt,
		}
		out[i].Properties = json.RawMessage(e.Properties)
		if e.AccountID != nil {
			id, err := parseInputID(*e.AccountID, kindAccount, fmt.Sprintf("events[%d].accountId", i))
			if err != nil {
				return nil, err
			}
			out[i].AccountID = &id
		}
	}
	return out, nil
}

func omittable[T any](o graphql.Omittable[*T]) account.Optional[T] {
	v, set := o.ValueOK()
	return account.Optional[T]{Set: set, Value: v}
}

func optionalSlice(s []string) *[]string {
	if s == nil {
		return nil
	}
	return &s
}

func rawJSON(j model.JSON) *json.RawMessage {
	if j == nil {
		return nil
	}
	raw := json.RawMessage(j)
	return &raw
}
