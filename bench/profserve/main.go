// Command profserve is Roster's API server as "roster serve" builds it
// (SQLite or PostgreSQL, files on disk, JSON request log), plus
// net/http/pprof on a second loopback port, so that the harness can take
// CPU and allocation profiles under its own load (bash bench/run --profile).
// It exists only for benchmarking: the real binary serves no pprof.
//
//	profserve -data DIR [-db URL] -addr 127.0.0.1:0 -pprof 127.0.0.1:0
//
// It prints "listening on http://ADDR" and "pprof on http://ADDR".
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"syscall"
	"time"

	"roster/internal/api"
	"roster/internal/disk"
	"roster/internal/roster"
	"roster/internal/sqlstore"
)

func main() {
	data := flag.String("data", "./data", "data directory")
	dbURL := flag.String("db", "", "database URL (default sqlite:<data>/roster.db)")
	addr := flag.String("addr", "127.0.0.1:0", "API address")
	pprofAddr := flag.String("pprof", "127.0.0.1:0", "pprof address")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *data, *dbURL, *addr, *pprofAddr); err != nil {
		fmt.Fprintln(os.Stderr, "profserve:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, data, dbURL, addr, pprofAddr string) error {
	if dbURL == "" {
		dbURL = "sqlite:" + filepath.Join(data, "roster.db")
	}
	db, err := sqlstore.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	files, err := disk.Open(filepath.Join(data, "files"))
	if err != nil {
		return err
	}
	defer files.Close()
	if n, err := db.CountUsers(ctx); err != nil {
		return err
	} else if n == 0 {
		hash, err := roster.HashPassword(os.Getenv("ROSTER_ADMIN_PASSWORD"))
		if err != nil {
			return err
		}
		if _, err := db.CreateMaster(ctx, "admin", hash, time.Now()); err != nil {
			return err
		}
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	var opts api.Options
	// No per-client rate limit under benchmark load, in builds that have
	// one (set by name so that this compiles with and without it).
	if f := reflect.ValueOf(&opts).Elem().FieldByName("RateLimit"); f.IsValid() && f.CanSet() && f.Kind() == reflect.Float64 {
		f.SetFloat(-1)
	}
	srv := api.NewServer(log, db, files, opts)

	pl, err := net.Listen("tcp", pprofAddr)
	if err != nil {
		return err
	}
	pm := http.NewServeMux()
	pm.HandleFunc("/debug/pprof/", pprof.Index)
	pm.HandleFunc("/debug/pprof/profile", pprof.Profile)
	go http.Serve(pl, pm)

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	// The same server settings as "roster serve".
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	fmt.Printf("pprof on http://%s\n", pl.Addr())
	fmt.Printf("listening on http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return hs.Shutdown(sctx)
}
