package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"roster/internal/avatar"
)

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
	dot := strings.LastIndexByte(name, '.')
	return name[:dot] + "-" + strconv.Itoa(size) + name[dot:]
}

// maxStoredBytes bounds what is read of a stored original to make a
// rendition; stored images are Roster's own output, far below it.
const maxStoredBytes = 64 << 20

// staticAvatar serves a stored avatar, public as in Navixy (the
// unguessable name is the secret). Names are immutable, so caching is
// forever and the ETag is the name. Hot files are served from memory.
func (s *Server) staticAvatar(w http.ResponseWriter, r *http.Request) {
	infoOf(r).call = "static/employee/avatars"
	name := r.PathValue("name")
	if !isStoredName(name) {
		s.notFound(w, r)
		return
	}
	key, etag := name, `"`+name[:32]+`"`
	size := 0
	if q := r.URL.RawQuery; q != "" {
		v, present := r.URL.Query()["size"]
		if present {
			n, err := strconv.Atoi(v[0])
			if err != nil || !validSize(n) {
				s.notFound(w, r)
				return
			}
			size = n
			key, etag = renditionName(name, n), `"`+name[:32]+"-"+v[0]+`"`
		}
	}
	ctx := r.Context()
	now := time.Now()
	f, due := s.cache.get(key, now)
	if f != nil && due {
		// Another node may have deleted it since: ask the store again.
		obj, err := s.files.Get(ctx, key)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			s.cache.remove(key)
			s.notFound(w, r)
			return
		case err == nil:
			obj.Close()
			s.cache.confirm(key, now)
		}
	}
	if f != nil {
		writeStatic(w, r, f)
		return
	}
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
	format, _ := avatar.FormatOfExt(name[strings.LastIndexByte(name, '.'):])
	header := staticHeader(format.MIME(), etag, obj.Size(), obj.ModTime())
	if obj.Size() <= maxCachedFile {
		data, err := io.ReadAll(io.LimitReader(obj, maxCachedFile+1))
		if err == nil && int64(len(data)) == obj.Size() {
			f := &cachedFile{key: key, data: data, header: header, modTime: obj.ModTime(), checked: now}
			s.cache.put(f)
			writeStatic(w, r, f)
			return
		}
		if err != nil {
			s.log.Error("reading avatar", "request_id", infoOf(r).id, "error", err)
			http.Error(w, "500 internal server error", http.StatusInternalServerError)
			return
		}
		if _, err := obj.Seek(0, io.SeekStart); err != nil {
			http.Error(w, "500 internal server error", http.StatusInternalServerError)
			return
		}
	}
	copyHeader(w.Header(), header)
	w.Header().Del("Content-Length")
	http.ServeContent(w, r, "", obj.ModTime(), obj)
}

// writeStatic answers from a cached file: a plain GET or HEAD, or a
// matching If-None-Match, straight from the prepared headers; anything
// else (Range, date conditions) through http.ServeContent.
func writeStatic(w http.ResponseWriter, r *http.Request, f *cachedFile) {
	h := w.Header()
	copyHeader(h, f.header)
	if r.Header.Get("Range") != "" || r.Header.Get("If-Modified-Since") != "" || r.Header.Get("If-Range") != "" ||
		r.Header.Get("If-Match") != "" || r.Header.Get("If-Unmodified-Since") != "" {
		h.Del("Content-Length")
		http.ServeContent(w, r, "", f.modTime, bytes.NewReader(f.data))
		return
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagListed(inm, f.header.Get("ETag")) {
		h.Del("Content-Length")
		h.Del("Content-Type")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(f.data)
	}
}

// copyHeader sets every header of src on dst, sharing src's value slices
// (which are never modified).
func copyHeader(dst, src http.Header) {
	for k, v := range src {
		dst[k] = v
	}
}

// etagListed reports whether an If-None-Match value names etag (or is *).
func etagListed(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
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
		data := buf.Bytes()
		img, err := s.process(ctx, 0, data, func() (int64, error) { return avatar.RenditionCost(data, size, avatar.DefaultLimits()) },
			func() (avatar.Image, error) { return avatar.Rendition(data, size) })
		if err != nil {
			return nil, err
		}
		return nil, s.files.Put(ctx, renditionName(name, size), img.Data)
	})
	return err
}
