package play

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/condition"
)

func TestTemplateRender(t *testing.T) {
	t.Parallel()
	full := Vars{
		AccountName: "Acme",
		Contact:     &Person{Name: "Ada Lovelace King", Email: "ada@acme.test"},
		Owner:       &Person{Name: "Grace Hopper", Email: "grace@steward.test"},
	}
	for _, tt := range []struct {
		tmpl Template
		vars Vars
		want string
	}{
		{"", full, ""},
		{"no variables }} at all {", full, "no variables }} at all {"},
		{"Hi {{contact.firstName}},", full, "Hi Ada,"},
		{"{{ contact.name }} at {{account.name}}", full, "Ada Lovelace King at Acme"},
		{"{{owner.name}} <{{owner.email}}>{{owner.name}}", full, "Grace Hopper <grace@steward.test>Grace Hopper"},
		{"Hi {{contact.firstName}}", Vars{Contact: &Person{Name: "Cher"}}, "Hi Cher"},
		{"Hi {{contact.firstName}}!", Vars{Contact: &Person{Name: "  "}}, "Hi !"},
		{"{{account.name}}", Vars{AccountName: "{{owner.name}}"}, "{{owner.name}}"}, // values are not templates
	} {
		got, err := tt.tmpl.Render(tt.vars)
		require.NoError(t, err, tt.tmpl)
		require.Equal(t, tt.want, got, tt.tmpl)
	}

	_, err := Template("Hi {{contact.firstName}}").Render(Vars{AccountName: "Acme"})
	require.True(t, errors.Is(err, ErrMissingValue), "%v", err)
	require.ErrorContains(t, err, "{{contact.firstName}} needs a contact")
	_, err = Template("From {{owner.email}}").Render(Vars{AccountName: "Acme"})
	require.True(t, errors.Is(err, ErrMissingValue), "%v", err)
	_, err = Template("Hi {{contact.age}}").Render(full)
	require.ErrorContains(t, err, "unknown variable {{contact.age}}")
	_, err = Template("Hi {{contact.name").Render(full)
	require.ErrorContains(t, err, "has a {{ without a closing }}")
}

func TestTemplateVariables(t *testing.T) {
	t.Parallel()
	vars, err := Template("{{owner.name}} {{account.name}} {{ owner.name }}").Variables()
	require.NoError(t, err)
	require.Equal(t, []string{VarOwnerName, VarAccountName}, vars)

	for tmpl, msg := range map[Template]string{
		"{{}}":                 "uses the unknown variable {{}}",
		"{{Contact.name}}":     "uses the unknown variable {{Contact.name}}",
		"{{contact.name}}}}{{": "has a {{ without a closing }}",
		"{{account}}":          "uses the unknown variable {{account}}",
		"{{ {{account.name}}":  "uses the unknown variable {{ {{account.name}}",
	} {
		_, err := tmpl.Variables()
		require.ErrorContains(t, err, msg, tmpl)
	}
}

func TestContactVariables(t *testing.T) {
	t.Parallel()
	// Messages to contacts have a contact in any play; other steps only in CONTACT plays.
	allowed := map[string]condition.Scope{
		`{"kind": "SEND_EMAIL", "to": "CONTACTS", "subject": "{{contact.firstName}}", "body": "b"}`:                                condition.ScopeAccount,
		`{"kind": "SEND_EMAIL", "to": "CONTACTS_WITH_PERSONA", "personas": ["admin"], "subject": "s", "body": "{{contact.name}}"}`: condition.ScopeAccount,
		`{"kind": "IN_APP_MESSAGE", "to": "CONTACTS", "title": "Hi {{contact.firstName}}", "body": "b"}`:                           condition.ScopeAccount,
		`{"kind": "SEND_EMAIL", "to": "OWNER", "subject": "{{contact.name}} went quiet", "body": "b"}`:                             condition.ScopeContact,
		`{"kind": "CREATE_TASK", "title": "Call {{contact.name}}", "assignee": {"kind": "OWNER"}}`:                                 condition.ScopeContact,
		`{"kind": "ADD_TIMELINE_NOTE", "body": "Emailed {{contact.name}}"}`:                                                        condition.ScopeContact,
		`{"kind": "SEND_WEBHOOK", "url": "https://example.com", "body": {"contact": "{{contact.name}}"}}`:                          condition.ScopeContact,
	}
	for step, scope := range allowed {
		mustParse(t, manual(step), scope)
	}
	refused := []string{
		`{"kind": "SEND_EMAIL", "to": "OWNER", "subject": "s", "body": "{{contact.name}}"}`,
		`{"kind": "CREATE_TASK", "title": "t", "description": "{{contact.firstName}}", "assignee": {"kind": "OWNER"}}`,
		`{"kind": "ADD_TIMELINE_NOTE", "body": "Emailed {{contact.name}}"}`,
		`{"kind": "SEND_WEBHOOK", "url": "https://example.com", "body": {"contact": "{{contact.name}}"}}`,
	}
	for _, step := range refused {
		_, err := ParseDefinition([]byte(manual(step)), condition.ScopeAccount)
		require.ErrorContains(t, err, "but this step of an ACCOUNT play has no contact", step)
	}
}

func TestWebhookRenderBody(t *testing.T) {
	t.Parallel()
	d := mustParse(t, manual(`{"kind": "SEND_WEBHOOK", "url": "https://example.com",
		"body": {"text": "{{account.name}} needs {{owner.name}}", "n": 1.50, "list": ["{{account.name}}", 2, null, {"deep": "{{owner.email}}"}]}}`),
		condition.ScopeAccount)
	out, err := d.Steps[0].Webhook.RenderBody(Vars{AccountName: `Acme "Quotes" & Co`, Owner: &Person{Name: "Grace", Email: "g@x.test"}})
	require.NoError(t, err)
	require.JSONEq(t, `{"text": "Acme \"Quotes\" & Co needs Grace", "n": 1.50, "list": ["Acme \"Quotes\" & Co", 2, null, {"deep": "g@x.test"}]}`, string(out))
	require.Contains(t, string(out), `1.50`, "numbers are sent as written")

	_, err = d.Steps[0].Webhook.RenderBody(Vars{AccountName: "Acme"})
	require.True(t, errors.Is(err, ErrMissingValue))
}
