package icons

import (
	"encoding/xml"
	"strings"
	"testing"
)

// TestIcons: every preset id has a well-formed SVG with a title, and
// nothing outside 1..Count does.
func TestIcons(t *testing.T) {
	for id := 1; id <= Count; id++ {
		ic, ok := Get(id)
		if !ok {
			t.Fatalf("Get(%d) = false, want an icon", id)
		}
		var doc struct {
			XMLName xml.Name
			Title   string `xml:"title"`
		}
		if err := xml.Unmarshal(ic.SVG, &doc); err != nil || doc.XMLName.Local != "svg" || doc.Title == "" {
			t.Errorf("icon %d: %v, root %q, title %q; want an <svg> with a <title>", id, err, doc.XMLName.Local, doc.Title)
		}
		if s := string(ic.SVG); strings.Contains(s, "<script") || strings.Contains(s, "href") {
			t.Errorf("icon %d has a script or a link", id)
		}
	}
	for _, id := range []int{0, -1, Count + 1, 3654} {
		if _, ok := Get(id); ok {
			t.Errorf("Get(%d) = true, want false", id)
		}
	}
}
