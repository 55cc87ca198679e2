package good

import "testing"

func TestPasses(t *testing.T) {}

func TestFails(t *testing.T) { t.Error("the failure's own words") }

func TestSkips(t *testing.T) { t.Skip("no server here") }

func TestSub(t *testing.T) {
	t.Run("a", func(t *testing.T) {})
	t.Run("b", func(t *testing.T) { t.Skip("later") })
}
