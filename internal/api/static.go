package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"roster/internal/avatar"
	"roster/internal/roster"
)

// acceptsWebP reports whether an Accept header names image/webp with a
// quality above zero. Wildcards do not count: a client that has not said
// it reads WebP (curl's */*, an old app's image/*) gets what it got before.
func acceptsWebP(accept string) bool {
	for part := range strings.SplitSeq(accept, ",") {
		typ, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(typ), "image/webp") {
			continue
		}
		for p := range strings.SplitSeq(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "q") {
				if q, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil || q <= 0 {
					return false
				}
			}
		}
		return true
	}
	return false
}

// acceptMemo remembers acceptsWebP's answer for the last Accept header
// seen: a browser sends the same long header with every picture, so a
// rendition request reads it once rather than parsing it each time.
type acceptMemo struct{ last atomic.Pointer[acceptAnswer] }

type acceptAnswer struct {
	header string
	webp   bool
}

func (m *acceptMemo) webp(header string) bool {
	if a := m.last.Load(); a != nil && a.header == header {
		return a.webp
	}
	ok := acceptsWebP(header)
	m.last.Store(&acceptAnswer{header, ok})
	return ok
}

// maxStoredBytes bounds what is read of a stored original to make a
// rendition; stored images are Roster's own output, far below it.
const maxStoredBytes = 64 << 20

// makerDeadline bounds a rendition maker, its wait for a decode worker
// included. A rendition stored after it has passed is deleted again, so
// tombstones that outlive it (goneLife) see every maker that could still
// store a rendition of a deleted original.
const makerDeadline = 30 * time.Second

// goneLife is how long this node remembers a deleted or replaced original.
const goneLife = 2 * makerDeadline

// staticAvatar serves a stored avatar of any owner, public as in Navixy (the
// unguessable name is the secret). Names are immutable, so caching is
// forever and the ETag is the name. Hot files are served from memory.
//
// Once an avatar's delete or replacement has answered, this node answers
// 404 for it and its renditions: the delete buries the original before it
// answers, and every request checks the tombstone after it begins — a
// cache hit in the same lookup, an answer read from the store again just
// before it is written (see fileCache.bury and keepRendition).
func (s *Server) staticAvatar(w http.ResponseWriter, r *http.Request, info *reqInfo, name string) {
	size, ok := sizeParam(r.URL.RawQuery)
	if !isStoredName(name) || !ok {
		s.notFound(w, r)
		return
	}
	// A rendition answers by the client's Accept (Vary says so): its WebP
	// variant, under an ETag of its own, or the stored format's.
	webp := hasWebPVariant(name, size) && s.accepts.webp(firstValue(r.Header, "Accept"))
	f, obj, err := s.fetch(r.Context(), name, size, webp, info.start)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.notFound(w, r)
	case err != nil:
		s.staticError(w, r, info, "serving avatar", err)
	case obj != nil:
		defer obj.Close()
		copyHeader(w.Header(), f.header)
		w.Header().Del("Content-Length")
		http.ServeContent(w, limitRanges(r, obj.Size()), "", obj.ModTime(), obj)
	default:
		writeStatic(w, r, f)
	}
}

// fetch finds what a static request answers: a cache entry, or one read
// from the store now (making the rendition first if it is missing) and
// cached — or, for an object too large to cache, its headers and the open
// object. It answers fs.ErrNotExist for a missing object and for an
// original buried on this node: the lookup checks the tombstone for a
// cache hit, and anything that took time (a re-check, a read, a maker)
// checks it again before it is answered.
func (s *Server) fetch(ctx context.Context, name string, size int, webp bool, now time.Time) (*cachedFile, roster.Object, error) {
	var kb [64]byte
	kbytes := appendKey(kb[:0], name, size, webp)
	f, due := s.cache.lookup(kbytes, now)
	switch {
	case f != nil && !due:
		return f, nil, nil
	case f != nil:
		// Another node may have deleted it since: ask the store again. If
		// the store cannot say, the entry is served as it is.
		obj, err := s.files.Get(ctx, f.key)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			s.cache.remove(f.key)
			return nil, nil, err
		case err == nil:
			obj.Close()
			s.cache.confirm(f.key, now)
		}
		return s.unlessBuried(f, nil)
	case s.cache.buried(name, now):
		return nil, nil, fs.ErrNotExist
	}
	key := string(kbytes)
	obj, err := s.files.Get(ctx, key)
	if errors.Is(err, fs.ErrNotExist) && size > 0 {
		if err = s.makeRendition(ctx, name, size, webp); err == nil {
			obj, err = s.files.Get(ctx, key)
		}
	}
	if err != nil {
		return nil, nil, err
	}
	format, _ := avatar.FormatOfExt(name[strings.LastIndexByte(name, '.'):])
	header := staticHeader(format.MIME(), etagOf(name, size, webp), obj.Size(), obj.ModTime())
	if size > 0 {
		header.Set("Vary", "Accept")
	}
	f = &cachedFile{key: key, original: name, header: header, modTime: obj.ModTime(), checked: now}
	if obj.Size() > maxCachedFile {
		return s.fromStore(f, obj, webp)
	}
	data, err := io.ReadAll(io.LimitReader(obj, maxCachedFile+1))
	if err != nil {
		obj.Close()
		return nil, nil, fmt.Errorf("reading %s: %w", key, err)
	}
	if int64(len(data)) != obj.Size() {
		// Not what the store said it holds: serve it from the store.
		if _, err := obj.Seek(0, io.SeekStart); err != nil {
			obj.Close()
			return nil, nil, fmt.Errorf("reading %s: %w", key, err)
		}
		return s.fromStore(f, obj, webp)
	}
	obj.Close()
	if webp && avatar.IsWebP(data) {
		header.Set("Content-Type", avatar.WebP.MIME())
	}
	f.data = data
	s.cache.put(f)
	return s.unlessBuried(f, nil)
}

// fromStore passes on an object to be served from the store as it is,
// unless it is a WebP variant: those are a few kilobytes, always cached
// (which is where their type is read from their bytes), so one that is not
// is not Roster's.
func (s *Server) fromStore(f *cachedFile, obj roster.Object, webp bool) (*cachedFile, roster.Object, error) {
	f, obj, err := s.unlessBuried(f, obj)
	if err == nil && webp {
		size := obj.Size()
		obj.Close()
		return nil, nil, fmt.Errorf("WebP variant %s is %d bytes, not what the store holds for a variant", f.key, size)
	}
	return f, obj, err
}

// unlessBuried passes on what fetch found, or fs.ErrNotExist (closing obj)
// if its original has been buried since the request began.
func (s *Server) unlessBuried(f *cachedFile, obj roster.Object) (*cachedFile, roster.Object, error) {
	if s.cache.buried(f.original, time.Now()) {
		if obj != nil {
			obj.Close()
		}
		return nil, nil, fs.ErrNotExist
	}
	return f, obj, nil
}

// staticError answers a failure of the static route: nothing to a client
// that went away (logged as cancelled, not as an error), 429 with
// Retry-After when the decode workers are busy, else 500.
func (s *Server) staticError(w http.ResponseWriter, r *http.Request, info *reqInfo, what string, err error) {
	if clientGone(r) {
		info.code = statusClientGone
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request cancelled: the client went away", slog.String("request_id", info.id),
			slog.String("call", info.call), slog.Any("error", err))
		w.WriteHeader(statusClientGone)
		return
	}
	var rl *rateLimitError
	if errors.As(err, &rl) {
		info.code = codeRateLimited
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(rl.wait.Seconds()))))
		http.Error(w, "429 too many requests", http.StatusTooManyRequests)
		return
	}
	s.log.Error(what, "request_id", info.id, "error", err)
	http.Error(w, "500 internal server error", http.StatusInternalServerError)
}

// sizeParam reads ?size= from a raw query: 0 when there is none, false
// when it is not exactly one size= spelled as canonical decimal (no
// leading zeros, signs, spaces or percent-encoding) of a rendition size,
// so each rendition has one URL and one ETag. Other parameters are ignored,
// as they are without size.
func sizeParam(raw string) (int, bool) {
	if raw == "" {
		return 0, true
	}
	if !needsDecoding(raw) {
		// Nothing is encoded: the literal parts are the parameters (the
		// common case, read without building a map).
		n, count := 0, 0
		for part := range strings.SplitSeq(raw, "&") {
			if k, v, _ := strings.Cut(part, "="); k == "size" {
				if count++; count > 1 {
					return 0, false
				}
				var err error
				if n, err = strconv.Atoi(v); err != nil || !validSize(n) || v[0] == '0' || v[0] == '-' {
					return 0, false
				}
			}
		}
		return n, true
	}
	decoded, _ := url.ParseQuery(raw)
	var literal []string
	for part := range strings.SplitSeq(raw, "&") {
		if k, v, _ := strings.Cut(part, "="); k == "size" {
			literal = append(literal, v)
		}
	}
	if len(decoded["size"]) == 0 && len(literal) == 0 {
		return 0, true
	}
	if len(decoded["size"]) != 1 || len(literal) != 1 {
		return 0, false
	}
	n, err := strconv.Atoi(literal[0])
	if err != nil || !validSize(n) || strconv.Itoa(n) != literal[0] {
		return 0, false
	}
	return n, true
}

// needsDecoding reports whether a raw query holds a byte that decoding
// would change (%, +) or that Go's parser treats as a separator (;).
func needsDecoding(raw string) bool {
	for i := range len(raw) {
		if c := raw[i]; c == '%' || c == '+' || c == ';' {
			return true
		}
	}
	return false
}

// maxRanges is the most byte ranges one request may ask for.
const maxRanges = 4

// limitRanges drops a Range header that would make the answer larger than
// the file: more than maxRanges ranges, or ranges that overlap or are out of
// order. The whole file is then served with 200, as RFC 9110 lets a server
// ignore Range. Anything it cannot read is left to http.ServeContent.
func limitRanges(r *http.Request, size int64) *http.Request {
	h := r.Header.Get("Range")
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || !strings.Contains(spec, ",") {
		return r
	}
	specs := strings.Split(spec, ",")
	drop := len(specs) > maxRanges
	var end int64 // where the previous range ended
	for i := 0; i < len(specs) && !drop; i++ {
		first, last, ok := strings.Cut(strings.TrimSpace(specs[i]), "-")
		if !ok {
			return r
		}
		var start, stop int64
		if first == "" { // the last n bytes
			n, err := strconv.ParseInt(last, 10, 64)
			if err != nil {
				return r
			}
			start, stop = max(size-n, 0), size
		} else {
			var err error
			if start, err = strconv.ParseInt(first, 10, 64); err != nil {
				return r
			}
			stop = size
			if last != "" {
				n, err := strconv.ParseInt(last, 10, 64)
				if err != nil {
					return r
				}
				stop = min(n+1, size)
			}
		}
		drop = i > 0 && start < end
		end = max(end, stop)
	}
	if !drop {
		return r
	}
	r2 := *r
	r2.Header = r.Header.Clone()
	r2.Header.Del("Range")
	return &r2
}

// writeStatic answers from a cached file: a plain GET or HEAD, or a
// matching If-None-Match, straight from the prepared headers; anything
// else (Range, date conditions) through http.ServeContent.
func writeStatic(w http.ResponseWriter, r *http.Request, f *cachedFile) {
	h := w.Header()
	copyHeader(h, f.header)
	// Indexed directly: net/http has canonicalised the request's names.
	rh := r.Header
	if rh["Range"] != nil || rh["If-Modified-Since"] != nil || rh["If-Range"] != nil ||
		rh["If-Match"] != nil || rh["If-Unmodified-Since"] != nil {
		h.Del("Content-Length")
		http.ServeContent(w, limitRanges(r, int64(len(f.data))), "", f.modTime, bytes.NewReader(f.data))
		return
	}
	if inm := rh["If-None-Match"]; inm != nil && etagListed(inm[0], f.header.Get("ETag")) {
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

// firstValue is h.Get(key) for a key already canonical, without
// canonicalising it again.
func firstValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
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

// makeRendition makes a square rendition of a stored avatar and stores
// it, once however many requests ask at the same time. The maker runs on
// its own deadline, not the asking client's: one client going away neither
// fails the others waiting for the same rendition nor wastes the work.
func (s *Server) makeRendition(ctx context.Context, name string, size int, webp bool) error {
	key := renditionName(name, size)
	if webp {
		key = webpName(name, size)
	}
	ch := s.renditions.DoChan(key, func() (any, error) {
		mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), makerDeadline)
		defer cancel()
		return nil, s.renderAndStore(mctx, name, size, webp)
	})
	select {
	case res := <-ch:
		return res.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// renderAndStore makes the rendition of an original some employee
// references, on the decode workers' share of the account that owns it;
// with webp, its WebP variant too (from the same pixels, the rendition
// being a by-product). Two nodes doing it at once store the same bytes;
// the put is atomic.
func (s *Server) renderAndStore(ctx context.Context, name string, size int, webp bool) error {
	if s.cache.buried(name, time.Now()) {
		return fs.ErrNotExist
	}
	account, err := s.db.AvatarOwner(ctx, name)
	if errors.Is(err, roster.ErrNotFound) {
		return fmt.Errorf("rendition of %s: %w", name, fs.ErrNotExist)
	}
	if err != nil {
		return err
	}
	obj, err := s.files.Get(ctx, name)
	if err != nil {
		return err
	}
	// The original's bytes are reserved before they are read, from the
	// bodies' part like an upload's, so that makers waiting for a worker
	// hold no memory the budget does not know of.
	wctx, cancel := context.WithTimeout(ctx, admitWait)
	freeData, err := s.bodies.reserve(wctx, min(obj.Size(), maxStoredBytes))
	cancel()
	if err != nil {
		obj.Close()
		return s.admitError(ctx, err)
	}
	defer freeData()
	data := make([]byte, 0, min(obj.Size(), maxStoredBytes))
	buf := bytes.NewBuffer(data)
	_, err = io.Copy(buf, io.LimitReader(obj, maxStoredBytes))
	obj.Close()
	if err != nil {
		return err
	}
	data = buf.Bytes()
	lim := avatar.DefaultLimits()
	estimate := func() (int64, error) { return avatar.RenditionCost(data, size, lim) }
	work := func() (avatar.Image, error) { return avatar.Rendition(data, size) }
	var variant avatar.Image
	if webp {
		estimate = func() (int64, error) { return avatar.RenditionVariantsCost(data, size, lim) }
		work = func() (img avatar.Image, err error) {
			img, variant, err = avatar.RenditionVariants(data, size, lim)
			if werr := (*avatar.WebPError)(nil); errors.As(err, &werr) {
				// The rendition stands: it is stored as its own variant
				// too, so browsers get the stored format, and the failure
				// is not retried (and paid for) on every request.
				s.log.Warn("making a rendition's WebP variant failed; its stored format is answered instead",
					"name", name, "size", size, "error", err)
				return img, nil
			}
			return img, err
		}
	}
	img, err := s.process(ctx, account, estimate, work)
	if err != nil {
		return err
	}
	key := renditionName(name, size)
	if err := s.files.Put(ctx, key, img.Data); err != nil {
		return err
	}
	if err := s.keepRendition(ctx, name, key); err != nil || !webp {
		return err
	}
	if variant.Data == nil {
		variant = img // WebP would not be smaller: the variant is the rendition
	}
	key = webpName(name, size)
	if err := s.files.Put(ctx, key, variant.Data); err != nil {
		return err
	}
	return s.keepRendition(ctx, name, key)
}

// keepRendition decides, after a rendition is stored, whether it may stay.
// The original may have been deleted or replaced while it was made, and
// the delete's removal of the renditions may have run before this put: then
// the rendition is deleted again here. On this node the tombstone says so;
// past the deadline the tombstone may have expired, so the rendition is not
// kept; for a delete on another node, the database says whether an employee
// still references the original (and this node buries it too).
func (s *Server) keepRendition(ctx context.Context, name, key string) error {
	stale := s.cache.buried(name, time.Now())
	var err error
	if !stale && ctx.Err() != nil {
		stale, err = true, fmt.Errorf("rendition %s: %w", key, ctx.Err())
	}
	if !stale {
		_, err = s.db.AvatarOwner(ctx, name)
		switch {
		case errors.Is(err, roster.ErrNotFound):
			s.cache.bury(name, time.Now())
			stale = true
		case err != nil:
			stale = true // cannot tell: do not keep it
		}
	}
	if !stale {
		return nil
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if derr := s.files.Delete(dctx, key); derr != nil && !errors.Is(derr, fs.ErrNotExist) {
		s.log.Warn("deleting the rendition of a deleted avatar; the sweep will retry", "name", key, "error", derr)
	}
	if err != nil && !errors.Is(err, roster.ErrNotFound) {
		return err
	}
	return fmt.Errorf("rendition of %s: %w", name, fs.ErrNotExist)
}
