package api

import (
	"regexp"
	"testing"

	"roster/internal/avatar"
)

// TestOriginalOf: the sweep reads back every name Roster stores for an
// upload (the upload, each rendition, each WebP variant) as that upload,
// and leaves everything else alone — exactly the names the pattern it
// used before matched.
func TestOriginalOf(t *testing.T) {
	for _, f := range []avatar.Format{avatar.JPEG, avatar.PNG, avatar.GIF} {
		name, err := newAvatarName(f)
		if err != nil {
			t.Fatal(err)
		}
		keys := avatarKeys(name)
		if f != avatar.GIF && len(keys) != 1+len(renditionSizes)+len(renditionSizes)-1 {
			t.Fatalf("avatarKeys(%s) = %d names, want the upload, %d renditions and their variants up to 256", name, len(keys), len(renditionSizes))
		}
		for _, k := range keys {
			if got, ok := originalOf(k); !ok || got != name {
				t.Errorf("originalOf(%q) = %q, %v; want %q", k, got, ok, name)
			}
		}
	}
	hex := "0123456789abcdef0123456789abcdef"
	before := regexp.MustCompile(`^([0-9a-f]{32})(?:-[0-9]+)?(\.(?:jpg|png|gif))(?:\.webp)?$`)
	for _, k := range []string{
		hex + ".jpg", hex + "-64.png", hex + "-1000.gif", hex + "-128.jpg.webp", hex + ".png.webp",
		hex + "-.jpg", hex + "--64.jpg", hex + "-6a.jpg", hex + "-64.jpeg", hex + "-64.webp", hex + ".webp",
		hex + "64.jpg", hex + "-64.jpg.webp.webp", hex[:31] + ".jpg", hex + "0.jpg", "0123456789ABCDEF0123456789abcdef.jpg",
		"import-" + hex + ".tsv", "import-17-failed.tsv", "", ".jpg", "-64.jpg", hex, hex + ".JPG", "x" + hex + ".jpg",
	} {
		got, ok := originalOf(k)
		m := before.FindStringSubmatch(k)
		if ok != (m != nil) || ok && got != m[1]+m[2] {
			t.Errorf("originalOf(%q) = %q, %v; the sweep's pattern says %v", k, got, ok, m)
		}
	}
}
