package play

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExamplesAreValid(t *testing.T) {
	t.Parallel()
	for _, ex := range Examples() {
		t.Run(ex.Name, func(t *testing.T) {
			t.Parallel()
			d, err := ParseDefinition(ex.Definition, ex.Scope)
			require.NoError(t, err)
			require.NotNil(t, d.Trigger)
			// The demo names every step itself, so the README and the seed can refer to them.
			require.NoError(t, d.Walk(func(path string, s *Step) error {
				require.Contains(t, string(ex.Definition), `"id": "`+s.ID+`"`, path)
				return nil
			}))
		})
	}
}
