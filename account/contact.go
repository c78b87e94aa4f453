package account

import (
	"context"
	"encoding/json"
	"net/mail"
	"strings"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
)

// maxTextLen bounds short free-text contact fields (title, persona).
const maxTextLen = 200

// ContactPatch lists contact fields to change; nil fields are left unchanged.
type ContactPatch struct {
	Name        *string
	Email       *string
	Title       Optional[string]
	Persona     Optional[string]
	EmailOptOut *bool
	Custom      *json.RawMessage
}

// GetContact loads one contact.
func (s *Service) GetContact(ctx context.Context, t db.Tenant, id uuid.UUID) (*db.Contact, error) {
	return db.GetContact(ctx, s.DB, t, id)
}

// CreateContact adds a contact to an account; name and email are required and the email is
// unique within the account.
func (s *Service) CreateContact(ctx context.Context, t db.Tenant, accountID uuid.UUID, p ContactPatch) (*db.Contact, error) {
	if p.Name == nil {
		return nil, invalid.Field("name", "is required")
	}
	if p.Email == nil {
		return nil, invalid.Field("email", "is required")
	}
	c := &db.Contact{AccountID: accountID, Custom: json.RawMessage("{}")}
	if err := applyContact(c, p); err != nil {
		return nil, err
	}
	err := db.InTx(ctx, s.DB, func(ctx context.Context, tx bun.Tx) error {
		a, err := db.GetAccount(ctx, tx, t, accountID)
		if err != nil {
			return invalidIfMissing(err, "accountId", "no such account")
		}
		if a.ArchivedAt != nil {
			return invalid.Field("accountId", "the account is archived")
		}
		return conflictOn(db.InsertContact(ctx, tx, t, c), "email", "the account already has a contact with this email")
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// UpdateContact changes a contact's fields.
func (s *Service) UpdateContact(ctx context.Context, t db.Tenant, id uuid.UUID, p ContactPatch) (*db.Contact, error) {
	return s.modifyContact(ctx, t, id, func(c *db.Contact) error { return applyContact(c, p) })
}

// ArchiveContact marks a contact archived.
func (s *Service) ArchiveContact(ctx context.Context, t db.Tenant, id uuid.UUID) (*db.Contact, error) {
	return s.modifyContact(ctx, t, id, func(c *db.Contact) error {
		if c.ArchivedAt == nil {
			now := s.Now()
			c.ArchivedAt = &now
		}
		return nil
	})
}

func (s *Service) modifyContact(ctx context.Context, t db.Tenant, id uuid.UUID, change func(*db.Contact) error) (*db.Contact, error) {
	var out *db.Contact
	err := db.InTx(ctx, s.DB, func(ctx context.Context, tx bun.Tx) error {
		c, err := db.GetContact(ctx, tx, t, id)
		if err != nil {
			return err
		}
		if err := change(c); err != nil {
			return err
		}
		if err := db.UpdateContact(ctx, tx, t, c); err != nil {
			return conflictOn(err, "email", "the account already has a contact with this email")
		}
		out = c
		return nil
	})
	return out, err
}

func applyContact(c *db.Contact, p ContactPatch) error {
	if p.Name != nil {
		name := strings.TrimSpace(*p.Name)
		if name == "" || len(name) > maxNameLen {
			return invalid.Field("name", "must be 1 to %d characters", maxNameLen)
		}
		c.Name = name
	}
	if p.Email != nil {
		addr, err := mail.ParseAddress(strings.TrimSpace(*p.Email))
		if err != nil || addr.Name != "" || len(addr.Address) > 254 {
			return invalid.Field("email", "must be an email address such as ana@example.com")
		}
		c.Email = addr.Address
	}
	for _, f := range []struct {
		name string
		in   Optional[string]
		out  **string
	}{{"title", p.Title, &c.Title}, {"persona", p.Persona, &c.Persona}} {
		if !f.in.Set {
			continue
		}
		if f.in.Value != nil && len(*f.in.Value) > maxTextLen {
			return invalid.Field(f.name, "must be at most %d characters", maxTextLen)
		}
		*f.out = f.in.Value
	}
	if p.EmailOptOut != nil {
		c.EmailOptOut = *p.EmailOptOut
	}
	if p.Custom != nil {
		if err := validateCustom(*p.Custom); err != nil {
			return invalid.Field("customAttributes", "%s", err)
		}
		c.Custom = *p.Custom
	}
	return nil
}

// ContactsPage lists an account's live contacts after a keyset cursor.
func (s *Service) ContactsPage(ctx context.Context, t db.Tenant, accountID uuid.UUID, first int, after *db.PageCursor) ([]db.Contact, bool, error) {
	return db.ContactsPage(ctx, s.DB, t, accountID, first, after)
}
