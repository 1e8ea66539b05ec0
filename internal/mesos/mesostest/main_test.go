package mesostest_test

import (
	"testing"

	"github.com/hashfleet/hashfleet/internal/parts/partstest"
)

// TestMain prints, after the tests, which integration parts were missing
// (docs/testing.md).
func TestMain(m *testing.M) { partstest.Main(m) }
