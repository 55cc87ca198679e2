// Package httpserver is the http.Server roster serve answers strangers
// with: its timeouts and header limit in one place, so that the
// benchmarks' net/http floor (bench/ceiling) runs on the same ones.
package httpserver

import (
	"log"
	"net/http"
	"time"
)

// New returns a server for h. A client must send its headers within 10 s
// and its whole request within 2 minutes (a 16 MiB upload on a slow link),
// read the answer within 2 minutes, and keep an idle connection at most as
// long; headers are at most 64 KiB. errorLog may be nil (the log package's
// default logger).
func New(h http.Handler, errorLog *log.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          errorLog,
	}
}
