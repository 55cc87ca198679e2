package api

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"time"

	"roster/internal/icons"
)

// staticIcon serves a preset icon, {id}.svg for ids 1 to 24, with the
// headers of avatars: cached forever, never sniffed, and sandboxed, so an
// SVG opened on its own cannot run anything.
func (s *Server) staticIcon(w http.ResponseWriter, r *http.Request) {
	infoOf(r).call = "static/employee/icons"
	file := r.PathValue("file")
	id, err := strconv.Atoi(strings.TrimSuffix(file, ".svg"))
	if !strings.HasSuffix(file, ".svg") || err != nil || strconv.Itoa(id)+".svg" != file {
		s.notFound(w, r)
		return
	}
	ic, ok := icons.Get(id)
	if !ok {
		s.notFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "image/svg+xml")
	h.Set("ETag", ic.ETag)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(ic.SVG))
}
