package auth

import (
	"errors"
	"fmt"
	"slices"

	"github.com/stewardhq/steward/db"
)

// Sentinels of the policy. The GraphQL error presenter maps them to UNAUTHENTICATED and
// FORBIDDEN; causes wrapped inside them are for logs only.
var (
	// ErrUnauthenticated means the caller is anonymous or presented a bad credential (wrong
	// password, bad or expired token, revoked key).
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrForbidden means the caller is known but may not do this.
	ErrForbidden = errors.New("forbidden")
)

// API key scopes, as stored in api_keys.scopes.
const (
	// ScopeRead lets a key read workspace data.
	ScopeRead = "read"
	// ScopeWrite lets a key change workspace data; it implies ScopeRead.
	ScopeWrite = "write"
	// ScopeEventsWrite lets a key record usage events and nothing else; it does not imply
	// ScopeRead, so a key embedded in a partner's product cannot read customer data.
	ScopeEventsWrite = "events:write"
	// ScopeInApp lets a key read in-app messages (the live inAppMessages feed) and nothing
	// else, for a partner's product that shows a contact's messages; ScopeRead implies it.
	ScopeInApp = "in_app"
)

// roleRank orders membership roles: a higher rank may do everything a lower one may.
var roleRank = map[string]int{
	db.RoleViewer:  1,
	db.RoleCSM:     2,
	db.RoleManager: 3,
	db.RoleAdmin:   4,
}

// scopeImplies lists, for each scope, the scopes a key holding it also has.
var scopeImplies = map[string][]string{
	ScopeRead:        {ScopeRead, ScopeInApp},
	ScopeWrite:       {ScopeWrite, ScopeRead, ScopeInApp},
	ScopeEventsWrite: {ScopeEventsWrite},
	ScopeInApp:       {ScopeInApp},
}

// ValidRole reports whether role is one of the membership roles.
func ValidRole(role string) bool {
	_, ok := roleRank[role]
	return ok
}

// ValidScope reports whether scope is one of the API key scopes.
func ValidScope(scope string) bool {
	_, ok := scopeImplies[scope]
	return ok
}

// Authorize is the one place that decides whether v may call an operation that requires at
// least minRole of a user and scope of an API key. An empty scope closes the operation to API
// keys. It returns nil, ErrUnauthenticated (no viewer) or ErrForbidden. An unknown minRole or
// scope denies everything, so a typo fails closed.
func Authorize(v *Viewer, minRole string, scope string) error {
	if v == nil {
		return ErrUnauthenticated
	}
	if v.IsAPIKey() {
		if scope == "" {
			return fmt.Errorf("%w: not available to api keys", ErrForbidden)
		}
		for _, held := range v.Scopes {
			if slices.Contains(scopeImplies[held], scope) {
				return nil
			}
		}
		return fmt.Errorf("%w: api key lacks scope %q", ErrForbidden, scope)
	}
	need, ok := roleRank[minRole]
	if !ok {
		return fmt.Errorf("%w: unknown required role %q", ErrForbidden, minRole)
	}
	if have := roleRank[v.Role]; have < need {
		return fmt.Errorf("%w: requires role %s", ErrForbidden, minRole)
	}
	return nil
}
