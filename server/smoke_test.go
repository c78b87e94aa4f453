package server_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/server/servertest"
)

func TestLoginAndMe(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws := env.NewWorkspace(t)
	var out struct {
		Me struct {
			Role string `json:"role"`
			User struct {
				Email string `json:"email"`
			} `json:"user"`
		} `json:"me"`
	}
	env.Do(t, ws.AdminToken, `{ me { role user { email } } }`, nil).Decode(t, &out)
	require.Equal(t, "ADMIN", out.Me.Role)
	require.Equal(t, ws.AdminEmail, out.Me.User.Email)
}
