package api

import (
	"errors"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"
)

// bodies recycles the buffers of answers handlers encode themselves (body):
// a list of employees is tens of kilobytes, built and dropped on every call.
var bodies = sync.Pool{New: func() any { return new([]byte) }}

// newBody gives an empty buffer for an answer, to be returned as a body;
// writeOK recycles it once written.
func newBody() []byte { return (*bodies.Get().(*[]byte))[:0] }

// recycle takes back the buffer of a written body. Buffers that grew past
// a megabyte are left to the collector rather than kept.
func recycle(res any) {
	if b, ok := res.(body); ok && cap(b) <= 1<<20 {
		b = b[:0]
		bodies.Put((*[]byte)(&b))
	}
}

// stream is an answer too long to hold, written by the handler's own
// function as it is read; writeOK hands it the ResponseWriter.
type stream func(w http.ResponseWriter)

// streamLimits bound how long a streamed answer may take, and with it the
// database connection it holds: a client that stops reading is cut off
// after stall, one that reads slowly once it is behind grace plus its
// bytes at minRate.
type streamLimits struct {
	stall   time.Duration
	grace   time.Duration
	minRate int64 // bytes a second
}

// The limits of a server: a 100 MB list may take up to seven minutes, over
// a link of 2 Mbit/s or more; a stalled client holds its connection for
// five seconds.
const (
	streamStall   = 5 * time.Second
	streamGrace   = 10 * time.Second
	streamMinRate = 256 << 10
)

// streamWriter writes a streamed answer: the headers with the first bytes,
// then each piece under a write deadline from its limits. It remembers the
// error of a failed write, so a failure of the client can be told from a
// failure of the database.
type streamWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	limits  streamLimits
	start   time.Time
	written int64
	started bool  // the headers are sent: an error can no longer be answered
	err     error // the write that failed
}

func newStreamWriter(w http.ResponseWriter, l streamLimits) *streamWriter {
	return &streamWriter{w: w, rc: http.NewResponseController(w), limits: l, start: time.Now()}
}

func (sw *streamWriter) Write(b []byte) (int, error) {
	if !sw.started {
		sw.started = true
		jsonHeaders(sw.w)
		sw.w.WriteHeader(http.StatusOK)
	}
	deadline := time.Now().Add(sw.limits.stall)
	if d := sw.start.Add(sw.limits.grace + time.Duration(sw.written+int64(len(b)))*time.Second/time.Duration(sw.limits.minRate)); d.Before(deadline) {
		deadline = d
	}
	if err := sw.rc.SetWriteDeadline(deadline); err != nil && !errors.Is(err, http.ErrNotSupported) {
		sw.err = err
		return 0, err
	}
	n, err := sw.w.Write(b)
	sw.written += int64(n)
	if err != nil {
		sw.err = err
	}
	return n, err
}

// finish writes the end of the answer and pushes it out under the last
// deadline, then clears the deadline: on a server without a WriteTimeout
// it would outlive the request on a kept-alive connection.
func (sw *streamWriter) finish(b []byte) error {
	if _, err := sw.Write(b); err != nil {
		return err
	}
	if err := sw.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		sw.err = err
		return err
	}
	if err := sw.rc.SetWriteDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// streamFailed ends a streamed answer that could not be completed. Before
// the first byte it is an ordinary error answer. After, the client must
// not take what it got for a whole answer: the connection is cut (the
// chunked body never ends), with one log line saying why — a client that
// went away or stopped reading, or a failure of the server.
func (s *Server) streamFailed(w http.ResponseWriter, r *http.Request, sw *streamWriter, err error) {
	if !sw.started {
		s.writeError(w, r, err)
		return
	}
	info := infoOf(r)
	level, msg := slog.LevelError, "answer cut off: the server failed while writing it"
	switch {
	case errors.Is(sw.err, os.ErrDeadlineExceeded):
		level, msg = slog.LevelWarn, "answer cut off: the client did not read it in time"
	case sw.err != nil || r.Context().Err() != nil:
		// A failed write also ends the request's context.
		level, msg = slog.LevelInfo, "answer cut off: the client went away"
	}
	s.log.LogAttrs(r.Context(), level, msg, slog.String("request_id", info.id), slog.String("call", info.call),
		slog.Int64("bytes", sw.written), slog.Duration("after", time.Since(sw.start)), slog.Any("error", err))
	panic(http.ErrAbortHandler)
}
