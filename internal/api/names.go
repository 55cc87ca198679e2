package api

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"

	"roster/internal/avatar"
)

// The names avatars are stored under, in one place: an upload's
// <hex>.<ext> (128 random bits, the real format's extension), its
// renditions' <hex>-<size>.<ext> and their WebP variants'
// <hex>-<size>.<ext>.webp. Static requests look up only names made here;
// the sweep reads them back with originalOf.

// newAvatarName makes a stored name: 128 random bits in hex and the
// extension of the real format. Never derived from the client's file name,
// never reused.
func newAvatarName(f avatar.Format) (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b) + f.Ext(), nil
}

// renditionSizes are the square sizes ?size= may ask for.
var renditionSizes = []int{32, 48, 64, 96, 128, 192, 256, 512}

// isStoredName reports whether name has the form uploads are stored under,
// 32 lowercase hex and .jpg, .png or .gif; nothing else is ever looked up,
// so no name reaches the store that it did not make.
func isStoredName(name string) bool {
	if len(name) != 36 {
		return false
	}
	for i := range 32 {
		if c := name[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	switch name[32:] {
	case ".jpg", ".png", ".gif":
		return true
	}
	return false
}

// renditionName is the stored name of a size rendition of an avatar:
// <hex>-<size>.<ext>, which isStoredName refuses.
func renditionName(name string, size int) string {
	return string(appendKey(nil, name, size, false))
}

// appendKey appends to b the stored name of what a static request asks
// for: the original (size 0), a rendition, or a rendition's WebP variant.
func appendKey(b []byte, name string, size int, webp bool) []byte {
	if size == 0 {
		return append(b, name...)
	}
	dot := strings.LastIndexByte(name, '.')
	b = append(append(b, name[:dot]...), '-')
	b = append(strconv.AppendInt(b, int64(size), 10), name[dot:]...)
	if webp {
		b = append(b, ".webp"...)
	}
	return b
}

// etagOf is the ETag of what appendKey names: the name's hex, the size and
// the variant, so that no variant's validator matches another's.
func etagOf(name string, size int, webp bool) string {
	switch {
	case webp:
		return `"` + name[:32] + "-" + strconv.Itoa(size) + `-webp"`
	case size > 0:
		return `"` + name[:32] + "-" + strconv.Itoa(size) + `"`
	}
	return `"` + name[:32] + `"`
}

// webpName is the stored name of a rendition's WebP variant,
// <hex>-<size>.<ext>.webp. It holds WebP, or the rendition's own bytes when
// WebP would not be smaller (the answer then has the stored format's type).
func webpName(name string, size int) string {
	return string(appendKey(nil, name, size, true))
}

// hasWebPVariant reports whether the rendition of an original at size has
// a WebP variant: a still's, up to avatar.MaxWebPSide, while the encoder
// runs in its sandbox. An animated GIF keeps its animation as GIF.
func hasWebPVariant(name string, size int) bool {
	return mayHaveWebP(name, size) && avatar.WebPSandboxed()
}

// mayHaveWebP reports whether a WebP variant of the rendition may have been
// stored (by this node or another), whatever the encoder here.
func mayHaveWebP(name string, size int) bool {
	return size > 0 && size <= avatar.MaxWebPSide && !strings.HasSuffix(name, ".gif")
}

// avatarKeys are the stored names of an avatar, all its renditions and
// their WebP variants.
func avatarKeys(original string) []string {
	keys := []string{original}
	for _, size := range renditionSizes {
		keys = append(keys, renditionName(original, size))
		if mayHaveWebP(original, size) {
			keys = append(keys, webpName(original, size))
		}
	}
	return keys
}

// originalOf is the upload a stored name belongs to: the name itself for an
// upload, the original for a rendition or a variant (of any size, so that
// renditions of sizes no longer offered are swept too); false for
// anything else in the store, which the sweep leaves alone.
func originalOf(name string) (string, bool) {
	k := strings.TrimSuffix(name, ".webp")
	dot := strings.LastIndexByte(k, '.')
	if dot < 32 {
		return "", false
	}
	original := k[:32] + k[dot:]
	if !isStoredName(original) {
		return "", false
	}
	if mid := k[32:dot]; mid != "" {
		digits, ok := strings.CutPrefix(mid, "-")
		if !ok || digits == "" || strings.Trim(digits, "0123456789") != "" {
			return "", false
		}
	}
	return original, true
}
