// Package api is Roster's HTTP surface: the Navixy wire format (params.go,
// respond.go, errors.go), every call and the right it needs (routes.go), one
// file per resource, and the operational endpoints.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"roster/internal/avatar"
	"roster/internal/roster"
	"roster/internal/sqlstore"
)

// Options configure a server. Zero values take DefaultOptions, the
// defaults of SPEC §6.
type Options struct {
	BasePath       string
	SessionTTL     time.Duration
	MaxUploadBytes int64
	MaxPixels      int64 // over all frames
	MaxFrames      int
	MaxSide        int
	DecodeWorkers  int // the number of CPUs by default
	// MemoryLimit is the memory the whole process should stay within, in
	// bytes. Expensive work is admitted against what is
	// left of it once the static cache and a reserve for everything else
	// are set aside (WorkBudget).
	MemoryLimit int64
	// TrustedProxies are the peers whose X-Forwarded-For is believed: the
	// client is then the right-most address in it that is not itself a
	// trusted proxy. None by default: the peer is the client.
	TrustedProxies []netip.Prefix
	// SweepGrace is how old an unreferenced file must be before the sweep
	// deletes it.
	SweepGrace time.Duration
	// RateLimit is the requests a second allowed per client address and per
	// user (bursts of twice that); answered with 15 beyond. Negative
	// turns the limit off.
	RateLimit float64
	// StaticCacheBytes is the memory for hot static avatars; negative for
	// none.
	StaticCacheBytes int64
	// CORSOrigins are the origins browsers may call from ("*" for any);
	// none by default.
	CORSOrigins []string
	// Imports bound the spreadsheet imports; zero values take their
	// defaults.
	Imports ImportOptions
	// Now is the clock.
	Now func() time.Time
}

// DefaultOptions are the defaults of SPEC §6, in the one place they are
// written: NewServer fills what Options leave zero from them, and the
// command's flags show them. The image limits are the avatar package's.
func DefaultOptions() Options {
	img := avatar.DefaultLimits()
	return Options{
		BasePath:         "/v2",
		SessionTTL:       30 * 24 * time.Hour,
		MaxUploadBytes:   16 << 20,
		MaxPixels:        img.MaxPixels,
		MaxFrames:        img.MaxFrames,
		MaxSide:          img.MaxSide,
		DecodeWorkers:    runtime.NumCPU(),
		MemoryLimit:      DefaultMemoryLimit,
		SweepGrace:       15 * time.Minute,
		StaticCacheBytes: 64 << 20,
		RateLimit:        50,
		Imports: ImportOptions{
			MaxActive: 3,
			Lease:     30 * time.Second,
			Poll:      2 * time.Second,
			Retention: 7 * 24 * time.Hour,
			Batch:     500,
		},
		Now: time.Now,
	}
}

func (o *Options) defaults() {
	d := DefaultOptions()
	if o.BasePath == "" {
		o.BasePath = d.BasePath
	}
	o.BasePath = "/" + strings.Trim(o.BasePath, "/")
	if o.BasePath == "/" {
		o.BasePath = ""
	}
	orDefault(&o.SessionTTL, d.SessionTTL)
	orDefault(&o.MaxUploadBytes, d.MaxUploadBytes)
	orDefault(&o.MaxPixels, d.MaxPixels)
	orDefault(&o.MaxFrames, d.MaxFrames)
	orDefault(&o.MaxSide, d.MaxSide)
	orDefault(&o.DecodeWorkers, d.DecodeWorkers)
	orDefault(&o.MemoryLimit, d.MemoryLimit)
	orDefault(&o.SweepGrace, d.SweepGrace)
	// Negative is a setting of its own for these two: none, off.
	if o.StaticCacheBytes == 0 {
		o.StaticCacheBytes = d.StaticCacheBytes
	}
	if o.RateLimit == 0 {
		o.RateLimit = d.RateLimit
	}
	if o.Now == nil {
		o.Now = d.Now
	}
	o.Imports.defaults(d.Imports, o.MaxUploadBytes)
}

// orDefault sets a setting that is not positive to its default.
func orDefault[T int | int64 | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// DefaultMemoryLimit is the memory limit of a server started without one:
// enough for 50-megapixel uploads, small enough for a 512 MiB VM.
const DefaultMemoryLimit = 448 << 20

// baseReserve is the memory set aside for everything that does not reserve
// from the budget: the runtime, the database driver's caches, ordinary
// requests and their garbage.
const baseReserve = 96 << 20

// WorkBudget is the part of the memory limit that expensive work may
// reserve: what is left after the static cache and baseReserve, and never
// below 32 MiB. An eighth of it, and room for two of the largest uploads at
// least, is for request bodies; the rest (ImageBudget) for password checks,
// decodes and renditions.
func (o Options) WorkBudget() int64 {
	return max(32<<20, o.MemoryLimit-max(o.StaticCacheBytes, 0)-baseReserve)
}

// ImageBudget is the part of WorkBudget for password checks, decodes and
// renditions: the most one picture may need.
func (o Options) ImageBudget() int64 { return o.WorkBudget() - o.bodyBudget() }

func (o Options) bodyBudget() int64 {
	return min(o.WorkBudget()/2, max(o.WorkBudget()/8, 2*(o.MaxUploadBytes+128<<10)))
}

// Server serves the API. It holds no global state: everything it uses comes
// in through NewServer.
type Server struct {
	log     *slog.Logger
	db      *sqlstore.DB
	files   roster.Files
	opts    Options
	mux     *http.ServeMux
	metrics *metrics
	// budget is the memory expensive work reserves from, bodies the part
	// of it request bodies reserve from (apart, so that uploads waiting
	// for their turn never hold memory the work they wait for needs); pool
	// is the decode workers, shared fairly between accounts.
	budget *budget
	bodies *budget
	// bodyShares bounds what one client address holds of bodies.
	bodyShares *quota
	pool       *pool
	// entries bounds the image jobs of one account that hold memory at
	// once: as many as there are workers.
	entries *quota
	limits  *limits
	cache   *fileCache
	accepts acceptMemo // the last Accept header's answer for WebP
	ids     *requestIDs
	cors    map[string]bool

	// blind bounds the uploads whose file is read before their caller is
	// known (the key follows the file): one per client address, and a few
	// in all.
	blind *quota
	// renditions makes each missing ?size= rendition once, however many
	// requests ask for it at the same time.
	renditions singleflight.Group
	// calls are the calls routes registered, for the OpenAPI document.
	calls []callRoute

	// streams are the slots of lists streamed while they are read, each
	// holding a database connection; streamLimits bound for how long.
	streams      *pool
	streamLimits streamLimits

	// importWake tells this node's import runner that an import was
	// started here, so it need not wait for its next look.
	importWake chan struct{}
}

// NewServer builds the API handler.
func NewServer(log *slog.Logger, db *sqlstore.DB, files roster.Files, opts Options) *Server {
	opts.defaults()
	s := &Server{
		log:    log,
		db:     db,
		files:  files,
		opts:   opts,
		mux:    http.NewServeMux(),
		budget: newBudget(opts.WorkBudget() - opts.bodyBudget()),
		bodies: newBudget(opts.bodyBudget()),
		// One client address may hold a quarter of the bodies' part, and
		// always room for one of the largest uploads.
		bodyShares: newQuota(math.MaxInt64, min(opts.bodyBudget(), max(opts.bodyBudget()/4, opts.MaxUploadBytes+128<<10))),
		pool:       newPool(opts.DecodeWorkers),
		entries:    newQuota(math.MaxInt64, int64(opts.DecodeWorkers)),
		blind:      newQuota(int64(max(8, 4*opts.DecodeWorkers)), 1),
		limits:     newLimits(opts),
		ids:        newRequestIDs(),
		cache:      newFileCache(opts.StaticCacheBytes, time.Minute),
		cors:       map[string]bool{},
		importWake: make(chan struct{}, 1),
	}
	s.streams = newPool(db.ListStreams())
	s.streamLimits = streamLimits{stall: streamStall, grace: streamGrace, minRate: streamMinRate}
	for _, o := range opts.CORSOrigins {
		if o = strings.TrimSuffix(strings.TrimSpace(o), "/"); o != "" {
			s.cors[o] = true
		}
	}
	s.metrics = newMetrics(s)
	s.routes()
	return s
}

// BasePath is the path every API call lives under, as the server reads
// Options.BasePath ("" for the root).
func (s *Server) BasePath() string { return s.opts.BasePath }

// Registry is the server's Prometheus registry, served at /metrics.
func (s *Server) Registry() *prometheus.Registry { return s.metrics.registry }

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The request's record, its writer and its id header, in one
	// allocation.
	st := &struct {
		info reqInfo
		rw   statusWriter
		id   [1]string
	}{info: reqInfo{start: time.Now(), stripe: stripe(), client: clientOf(r, s.opts.TrustedProxies)},
		rw: statusWriter{ResponseWriter: w, status: http.StatusOK}}
	info, rw := &st.info, &st.rw
	info.id = s.requestID(r, info.stripe)
	start := info.start
	st.id[0] = info.id
	w.Header()["X-Request-Id"] = st.id[:] // canonical already
	defer func() {
		v := recover()
		aborted := v == http.ErrAbortHandler // an answer cut on purpose (a stream that failed)
		if aborted {
			// Logged and counted like any request below, then passed on
			// so that net/http drops the connection.
			defer panic(v)
		} else if v != nil {
			buf := make([]byte, 4<<10)
			buf = buf[:runtime.Stack(buf, false)]
			s.log.Error("panic", "request_id", info.id, "panic", v, "stack", string(buf))
			if !rw.wrote {
				s.writeError(rw, r, fail(codeUnexpected, nil))
			}
		}
		d := time.Since(start)
		call := info.call
		if call == "" {
			call = "other"
		}
		s.metrics.requests.observe(info.stripe, call, info.code, rw.status, d)
		level := slog.LevelInfo
		switch {
		case rw.status >= 500:
			level = slog.LevelError
		case info.quiet && rw.status < 400 && !aborted:
			level = slog.LevelDebug
		}
		if aborted {
			level = max(level, slog.LevelWarn)
		}
		if !s.log.Enabled(r.Context(), level) {
			return
		}
		attrs := []slog.Attr{
			slog.String("request_id", info.id),
			slog.String("method", r.Method),
			slog.String("call", call),
			slog.Int("status", rw.status),
			slog.Int("code", info.code),
			slog.Duration("duration", d),
			slog.String("remote", info.client),
		}
		if peer := peerAddr(r); peer != info.client {
			attrs = append(attrs, slog.String("peer", peer)) // the proxy it came through
		}
		if aborted {
			attrs = append(attrs, slog.Bool("aborted", true))
		}
		s.log.LogAttrs(r.Context(), level, "request", attrs...)
	}()
	if s.corsHeaders(rw, r) {
		return // a preflight, answered
	}
	if label, name, ok := s.staticRoute(r); ok {
		info.call, info.quiet = label, true
		s.staticAvatar(rw, r, info, name)
		return
	}
	r = r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, info))
	s.mux.ServeHTTP(rw, r)
}

// corsHeaders lets browsers on the allowed origins call the API and read
// every answer, errors included. It answers preflights itself and reports
// whether it did.
func (s *Server) corsHeaders(w http.ResponseWriter, r *http.Request) bool {
	if len(s.cors) == 0 {
		return false
	}
	origin := firstValue(r.Header, "Origin")
	if origin == "" {
		return false
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	switch {
	case s.cors["*"]:
		h.Set("Access-Control-Allow-Origin", "*")
	case s.cors[origin]:
		h.Set("Access-Control-Allow-Origin", origin)
	default:
		return false
	}
	h.Set("Access-Control-Expose-Headers", "X-Request-Id, Retry-After")
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	infoOf(r).call = "preflight"
	h.Set("Access-Control-Allow-Methods", "GET, POST, HEAD, OPTIONS")
	if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		h.Set("Access-Control-Allow-Headers", req)
	}
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
	return true
}

// reqInfo is what the log line and metrics learn about a request as it is
// handled.
type reqInfo struct {
	start  time.Time
	stripe int // the request counters' stripe (see stripes)
	id     string
	client string // the client's address (see clientAddr), found once
	call   string
	code   int // Navixy code, 0 on success
	// quiet marks a request whose success is logged at debug level: the
	// static avatars, the most frequent request by far, which the metrics
	// count anyway.
	quiet bool
}

type reqInfoKey struct{}

func infoOf(r *http.Request) *reqInfo {
	if i, ok := r.Context().Value(reqInfoKey{}).(*reqInfo); ok {
		return i
	}
	return &reqInfo{}
}

// requestID takes a sane X-Request-Id from the client, or makes one on
// stripe st.
func (s *Server) requestID(r *http.Request, st int) string {
	if v := r.Header["X-Request-Id"]; len(v) > 0 && validRequestID(v[0]) {
		return v[0]
	}
	return s.ids.next(st)
}

// validRequestID reports whether a client's request id is short and plain
// enough to be logged and echoed as it is.
func validRequestID(id string) bool {
	return id != "" && len(id) <= 64 && !strings.ContainsFunc(id, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.')
	})
}

// requestIDs makes request ids: a random prefix per server, a stripe's
// digit and that stripe's counter — unique without a call to the random
// source per request, and without one counter every core adds to (see
// stripes).
type requestIDs struct {
	prefix string
	n      [stripes]struct {
		_ [64]byte
		n atomic.Uint64
	}
}

func newRequestIDs() *requestIDs {
	b := make([]byte, 4)
	rand.Read(b)
	return &requestIDs{prefix: hex.EncodeToString(b) + "-"}
}

func (g *requestIDs) next(i int) string {
	var b [32]byte // the prefix is 9 bytes, the digit 1, a uint64 13 at most in base 36
	id := append(append(b[:0], g.prefix...), byte('0'+i))
	return string(strconv.AppendUint(id, g.n[i].n.Add(1), 36))
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
