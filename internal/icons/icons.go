// Package icons holds Roster's preset employee icons: 24 simple SVG glyphs,
// ids 1 to 24, served at {base}/static/employee/icons/{id}.svg. Other icon
// ids are accepted by employee/avatar/assign and left to clients to draw.
package icons

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"strconv"
)

//go:embed svg/*.svg
var files embed.FS

// Count is how many preset icons there are: ids 1 to Count.
const Count = 24

// Icon is one preset icon.
type Icon struct {
	SVG []byte
	// ETag changes whenever the drawing does.
	ETag string
}

// Get returns the preset icon with that id.
func Get(id int) (Icon, bool) {
	if id < 1 || id > Count {
		return Icon{}, false
	}
	b, err := files.ReadFile("svg/" + strconv.Itoa(id) + ".svg")
	if err != nil {
		return Icon{}, false
	}
	sum := sha256.Sum256(b)
	return Icon{SVG: b, ETag: `"icon-` + strconv.Itoa(id) + "-" + hex.EncodeToString(sum[:8]) + `"`}, true
}
