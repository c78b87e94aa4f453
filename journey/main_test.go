package journey

import (
	"testing"

	"github.com/stewardhq/steward/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }
