package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"roster/internal/avatar"
)

// renditionSizes are the square sizes ?size= may ask for.
var renditionSizes = []int{32, 48, 64, 96, 128, 192, 256, 512}

// storedName matches the names uploads are stored under; nothing else is
// ever looked up, so no name reaches the store that it did not make.
var storedName = regexp.MustCompile(`^[0-9a-f]{32}\.(jpg|png|gif)$`)

// renditionName is the stored name of a size rendition of an avatar:
// <hex>-<size>.<ext>, which storedName never matches.
func renditionName(name string, size int) string {
	dot := strings.LastIndexByte(name, '.')
	return name[:dot] + "-" + strconv.Itoa(size) + name[dot:]
}

// maxStoredBytes bounds what is read of a stored original to make a
// rendition; stored images are Roster's own output, far below it.
const maxStoredBytes = 64 << 20

// staticAvatar serves a stored avatar, public as in Navixy (the
// unguessable name is the secret). Names are immutable, so caching is
// forever and the ETag is the name.
func (s *Server) staticAvatar(w http.ResponseWriter, r *http.Request) {
	infoOf(r).call = "static/employee/avatars"
	name := r.PathValue("name")
	if !storedName.MatchString(name) {
		s.notFound(w, r)
		return
	}
	key, etag := name, `"`+name[:32]+`"`
	size := 0
	if v := r.URL.Query().Get("size"); v != "" || r.URL.Query().Has("size") {
		n, err := strconv.Atoi(v)
		if err != nil || !validSize(n) {
			s.notFound(w, r)
			return
		}
		size = n
		key, etag = renditionName(name, n), `"`+name[:32]+"-"+v+`"`
	}
	ctx := r.Context()
	obj, err := s.files.Get(ctx, key)
	if errors.Is(err, fs.ErrNotExist) && size > 0 {
		err = s.makeRendition(ctx, name, size)
		if err == nil {
			obj, err = s.files.Get(ctx, key)
		}
	}
	if errors.Is(err, fs.ErrNotExist) {
		s.notFound(w, r)
		return
	}
	if err != nil {
		s.log.Error("serving avatar", "request_id", infoOf(r).id, "error", err)
		http.Error(w, "500 internal server error", http.StatusInternalServerError)
		return
	}
	defer obj.Close()
	f, _ := avatar.FormatOfExt(name[strings.LastIndexByte(name, '.'):])
	h := w.Header()
	h.Set("Content-Type", f.MIME())
	h.Set("ETag", etag)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	http.ServeContent(w, r, "", obj.ModTime(), obj)
}

func validSize(n int) bool {
	for _, s := range renditionSizes {
		if s == n {
			return true
		}
	}
	return false
}

// makeRendition renders and stores a square rendition of a stored avatar.
// Two nodes doing it at once store the same bytes; the put is atomic.
func (s *Server) makeRendition(ctx context.Context, name string, size int) error {
	_, err, _ := s.renditions.Do(renditionName(name, size), func() (any, error) {
		obj, err := s.files.Get(ctx, name)
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		_, err = io.Copy(&buf, io.LimitReader(obj, maxStoredBytes))
		obj.Close()
		if err != nil {
			return nil, err
		}
		img, err := s.process(ctx, func() (avatar.Image, error) { return avatar.Rendition(buf.Bytes(), size) })
		if err != nil {
			return nil, err
		}
		return nil, s.files.Put(ctx, renditionName(name, size), img.Data)
	})
	return err
}
