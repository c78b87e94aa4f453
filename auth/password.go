package auth

import (
	"fmt"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// Password hashing parameters.
const (
	// DefaultPasswordCost is the bcrypt cost of stored passwords: about a quarter of a second
	// per hash on current hardware, which makes offline guessing slow without making login so.
	DefaultPasswordCost = 12
	// MinPasswordLen is the shortest password InviteUser accepts, in characters.
	MinPasswordLen = 8
	// MaxPasswordBytes is bcrypt's input limit; longer passwords would be silently cut, so they
	// are refused instead.
	MaxPasswordBytes = 72
)

// HashPassword returns the bcrypt hash of password at DefaultPasswordCost.
func HashPassword(password string) (string, error) {
	return HashPasswordCost(password, DefaultPasswordCost)
}

// HashPasswordCost returns the bcrypt hash of password at cost; seeds and tests pass
// bcrypt.MinCost to stay fast. A cost outside bcrypt's range is an error.
func HashPasswordCost(password string, cost int) (string, error) {
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return "", fmt.Errorf("hash password: cost %d outside [%d, %d]", cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// CheckPassword reports whether password matches hash. An empty hash (no such user, or a user
// without a password) never matches but is compared against a dummy hash of
// DefaultPasswordCost first, so that the answer takes as long as for a real user and the timing
// does not reveal which emails exist.
func CheckPassword(hash, password string) bool {
	return checkPassword(hash, password, DefaultPasswordCost)
}

// checkPassword is CheckPassword with the dummy hash at dummyCost, the cost the caller's real
// hashes are made with. The bcrypt comparison runs whether or not there is a real hash.
func checkPassword(hash, password string, dummyCost int) bool {
	known := hash != ""
	if !known {
		hash = dummyHash(dummyCost)
	}
	match := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
	return match && known
}

var (
	dummyMu     sync.Mutex
	dummyHashes = map[int]string{}
)

// dummyHash returns a hash of a fixed password at cost, made once per cost and process.
func dummyHash(cost int) string {
	dummyMu.Lock()
	defer dummyMu.Unlock()
	if h, ok := dummyHashes[cost]; ok {
		return h
	}
	h, err := bcrypt.GenerateFromPassword([]byte("steward-dummy-password-for-timing"), cost)
	if err != nil {
		// Only an out-of-range cost gets here; the default one is always valid.
		h, _ = bcrypt.GenerateFromPassword([]byte("steward-dummy-password-for-timing"), DefaultPasswordCost)
	}
	dummyHashes[cost] = string(h)
	return dummyHashes[cost]
}
