package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestOnlyImageDecodersLinked: of all image decoders, only JPEG, PNG, GIF
// and x/image's WebP are linked for uploads — no TIFF, BMP, SVG or other
// parser an upload could be steered into. The WebP encoder's module
// (gen2brain/webp, libwebp in a WebAssembly sandbox) registers a decoder of
// its own with package image, which nothing in Roster calls: uploads are
// decoded by the named decoders, never through image.Decode.
func TestOnlyImageDecodersLinked(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command to list the binary's packages")
	}
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	forbidden := []string{"image/tiff", "golang.org/x/image/tiff", "golang.org/x/image/bmp", "golang.org/x/image/ccitt"}
	linked := map[string]bool{}
	for _, d := range deps {
		linked[d] = true
		if strings.Contains(d, "svg") || strings.Contains(d, "heif") || strings.Contains(d, "avif") {
			t.Errorf("the binary links %s", d)
		}
	}
	for _, f := range forbidden {
		if linked[f] {
			t.Errorf("the binary links the decoder %s", f)
		}
	}
	for _, want := range []string{"image/jpeg", "image/png", "image/gif",
		"golang.org/x/image/webp", "golang.org/x/image/vp8", "golang.org/x/image/vp8l", "golang.org/x/image/riff"} {
		if !linked[want] {
			t.Errorf("the binary does not link %s", want)
		}
	}
}
