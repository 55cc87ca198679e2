package main

import (
	"bytes"
	"image"
	"image/jpeg"
	"image/png"

	"roster/internal/avatar/avatartest"
)

// photo is the project's photo-like test picture.
func photo(w, h int, seed uint64) *image.RGBA { return avatartest.Photo(w, h, seed) }

func photoJPEG(w, h int, seed uint64, quality int) ([]byte, error) {
	var buf bytes.Buffer
	err := jpeg.Encode(&buf, photo(w, h, seed), &jpeg.Options{Quality: quality})
	return buf.Bytes(), err
}

func photoPNG(w, h int, seed uint64) ([]byte, error) {
	var buf bytes.Buffer
	err := png.Encode(&buf, photo(w, h, seed))
	return buf.Bytes(), err
}
