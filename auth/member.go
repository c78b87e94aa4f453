package auth

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
)

// Member input limits.
const (
	// MaxEmailLen is the longest email address accepted (RFC 5321's path limit).
	MaxEmailLen = 254
	// MaxUserNameLen is the longest user name, in characters.
	MaxUserNameLen = 100
)

// InviteUser adds the person with email to the viewer's workspace with role. A new email gets a
// new user with name and password; an email that already has a user (in any case) reuses that
// user and leaves their name and password alone. A user who is already a member, even a disabled
// one, is db.ErrConflict. Bad input is an invalid error naming input.email, input.name,
// input.role or input.password. The viewer must be an admin.
func (s *Service) InviteUser(ctx context.Context, v *Viewer, email, name, role, password string) (*db.Member, error) {
	if err := Authorize(v, db.RoleAdmin, ""); err != nil {
		return nil, err
	}
	email, name = strings.TrimSpace(email), strings.TrimSpace(name)
	if err := validateInvite(email, name, role, password); err != nil {
		return nil, err
	}
	// Hashed before the transaction so that bcrypt's quarter second holds no locks; wasted only
	// when the user turns out to exist.
	hash, err := HashPasswordCost(password, s.passwordCost())
	if err != nil {
		return nil, fmt.Errorf("invite user: %w", err)
	}
	now := s.now()
	t := v.Tenant()
	var member *db.Member
	err = db.InTx(ctx, s.DB, func(ctx context.Context, tx bun.Tx) error {
		u, err := db.GetUserByEmail(ctx, tx, email)
		if errors.Is(err, db.ErrNotFound) {
			u = &db.User{Email: email, Name: name, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
			err = db.InsertUser(ctx, tx, u)
		}
		if err != nil {
			return err
		}
		if err := db.InsertMembership(ctx, tx, t, &db.Membership{UserID: u.ID, Role: role, CreatedAt: now}); err != nil {
			return err
		}
		member, err = db.GetMember(ctx, tx, t, u.ID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("invite user: %w", err)
	}
	return member, nil
}

func validateInvite(email, name, role, password string) error {
	switch {
	case email == "":
		return invalid.Field("input.email", "is required")
	case len(email) > MaxEmailLen:
		return invalid.Field("input.email", "must be at most %d characters", MaxEmailLen)
	}
	// ParseAddress also accepts `Name <addr>`; only a bare address is an email here.
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email {
		return invalid.Field("input.email", "must be an email address")
	}
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return invalid.Field("input.name", "is required")
	case n > MaxUserNameLen:
		return invalid.Field("input.name", "must be at most %d characters", MaxUserNameLen)
	}
	if !ValidRole(role) {
		return invalid.Field("input.role", "must be one of ADMIN, MANAGER, CSM, VIEWER")
	}
	switch {
	case utf8.RuneCountInString(password) < MinPasswordLen:
		return invalid.Field("input.password", "must be at least %d characters", MinPasswordLen)
	case len(password) > MaxPasswordBytes:
		return invalid.Field("input.password", "must be at most %d bytes", MaxPasswordBytes)
	}
	return nil
}

// SetUserRole changes userID's role in the viewer's workspace and returns the member. Demoting
// the last active admin is refused with an invalid error on "role", so a workspace always keeps
// someone who can manage it. A user who is not a member is db.ErrNotFound. The viewer must be an
// admin.
func (s *Service) SetUserRole(ctx context.Context, v *Viewer, userID uuid.UUID, role string) (*db.Member, error) {
	if err := Authorize(v, db.RoleAdmin, ""); err != nil {
		return nil, err
	}
	if !ValidRole(role) {
		return nil, invalid.Field("role", "must be one of ADMIN, MANAGER, CSM, VIEWER")
	}
	t := v.Tenant()
	var member *db.Member
	err := db.InTx(ctx, s.DB, func(ctx context.Context, tx bun.Tx) error {
		admins, err := db.LockActiveAdmins(ctx, tx, t)
		if err != nil {
			return err
		}
		m, err := db.GetMembership(ctx, tx, t, userID)
		if err != nil {
			return err
		}
		if m.Role != role {
			if role != db.RoleAdmin && isLastAdmin(admins, userID) {
				return invalid.Field("role", "cannot demote the last active admin of the workspace")
			}
			if err := db.SetMembershipRole(ctx, tx, t, userID, role); err != nil {
				return err
			}
		}
		member, err = db.GetMember(ctx, tx, t, userID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("set user role: %w", err)
	}
	return member, nil
}

// DisableUser disables userID's membership in the viewer's workspace and revokes their refresh
// tokens there, in one transaction, and returns the member; their access tokens lapse within the
// access TTL. Disabling twice is harmless. Admins cannot disable themselves, and the last active
// admin cannot be disabled (invalid errors on "userId"). A user who is not a member is
// db.ErrNotFound. The viewer must be an admin.
func (s *Service) DisableUser(ctx context.Context, v *Viewer, userID uuid.UUID) (*db.Member, error) {
	if err := Authorize(v, db.RoleAdmin, ""); err != nil {
		return nil, err
	}
	if userID == v.UserID {
		return nil, invalid.Field("userId", "you cannot disable yourself")
	}
	now := s.now()
	t := v.Tenant()
	var member *db.Member
	err := db.InTx(ctx, s.DB, func(ctx context.Context, tx bun.Tx) error {
		admins, err := db.LockActiveAdmins(ctx, tx, t)
		if err != nil {
			return err
		}
		if _, err := db.GetMembership(ctx, tx, t, userID); err != nil {
			return err
		}
		if isLastAdmin(admins, userID) {
			return invalid.Field("userId", "cannot disable the last active admin of the workspace")
		}
		if err := db.DisableMembership(ctx, tx, t, userID, now); err != nil {
			return err
		}
		if _, err := db.RevokeUserRefreshTokens(ctx, tx, t, userID, now); err != nil {
			return err
		}
		member, err = db.GetMember(ctx, tx, t, userID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("disable user: %w", err)
	}
	return member, nil
}

// isLastAdmin reports whether userID is the only one among the active admins.
func isLastAdmin(admins []uuid.UUID, userID uuid.UUID) bool {
	return len(admins) == 1 && slices.Contains(admins, userID)
}
