// Command roster is the Roster server and its operator commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"roster/internal/api"
	"roster/internal/disk"
	"roster/internal/roster"
	"roster/internal/s3"
	"roster/internal/sqlstore"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "roster:", err)
		os.Exit(1)
	}
}

const usage = `Usage:
  roster serve [flags]                                 run the API server
  roster user create --login L --password P [flags]    create a master user, print its id
  roster user passwd --login L --password P [flags]    set a master user's password
  roster copy --from-db U --from-files U --to-db U --to-files U   copy an installation into empty stores
  roster version                                       print the version

Every flag has an environment variable: --max-upload-bytes is ROSTER_MAX_UPLOAD_BYTES.
Flags win over the environment. "roster serve -h" lists the flags.
`

// run is the whole program: main only calls it, and tests call it too.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], getenv, stdout, stderr)
	case "user":
		if len(args) < 2 || (args[1] != "create" && args[1] != "passwd") {
			fmt.Fprint(stderr, usage)
			return errors.New("user: want create or passwd")
		}
		return userCommand(ctx, args[1], args[2:], getenv, stdout, stderr)
	case "copy":
		return copyCommand(ctx, args[1:], getenv, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "roster", versionString())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// stores are the flags every command shares: where the data lives.
type stores struct {
	data, db, files string
}

func (s *stores) register(fs *flag.FlagSet) {
	fs.StringVar(&s.data, "data", "./data", "directory of the embedded defaults")
	fs.StringVar(&s.db, "db", "", "database: sqlite:<path> or postgres://... (default sqlite:<data>/roster.db)")
	fs.StringVar(&s.files, "files", "", "file store: file:<dir> or s3://<bucket>?endpoint=<url>&region=<r> (default file:<data>/files)")
}

func (s *stores) open(ctx context.Context) (*sqlstore.DB, roster.Files, error) {
	dbURL := s.db
	if dbURL == "" {
		dbURL = "sqlite:" + filepath.Join(s.data, "roster.db")
	}
	db, err := sqlstore.Open(ctx, dbURL)
	if err != nil {
		return nil, nil, fmt.Errorf("database: %w", err)
	}
	files, err := openFiles(ctx, s.files, s.data)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("file store: %w", err)
	}
	return db, files, nil
}

// openFiles picks the file store backend from its URL.
func openFiles(ctx context.Context, rawURL, data string) (roster.Files, error) {
	switch {
	case rawURL == "":
		return disk.Open(filepath.Join(data, "files"))
	case strings.HasPrefix(rawURL, "file:"):
		return disk.Open(strings.TrimPrefix(strings.TrimPrefix(rawURL, "file:"), "//"))
	case strings.HasPrefix(rawURL, "s3://"):
		return s3.Open(ctx, rawURL)
	}
	return nil, fmt.Errorf("%q: want file:<dir> or s3://<bucket>?...", rawURL)
}

// parseFlags parses args into fs, taking defaults from the environment
// (ROSTER_ + the flag's name in upper case, dashes as underscores).
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		env := "ROSTER_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(env); v != "" && err == nil {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %w", env, v, e)
			}
		}
	})
	if err != nil {
		return err
	}
	return fs.Parse(args)
}

func userCommand(ctx context.Context, cmd string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("roster user "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var st stores
	st.register(fs)
	var login, password string
	fs.StringVar(&login, "login", "", "the master user's login")
	fs.StringVar(&password, "password", "", "the password")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	var errs roster.InvalidParams
	roster.ValidateLogin(&errs, "--login", login)
	roster.Text(&errs, "--password", password, 1, 200)
	if err := errs.Err(); err != nil {
		return err
	}
	db, files, err := st.open(ctx)
	if err != nil {
		return err
	}
	defer files.Close()
	defer db.Close()
	hash, err := roster.HashPassword(password)
	if err != nil {
		return err
	}
	if cmd == "create" {
		id, err := db.CreateMaster(ctx, login, hash, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, id)
		return nil
	}
	if err := db.SetMasterPassword(ctx, login, hash); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "password of %s changed; its sessions have ended\n", login)
	return nil
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("roster serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var st stores
	st.register(fs)
	var opts api.Options
	addr := fs.String("addr", ":8080", "address to listen on")
	fs.StringVar(&opts.BasePath, "base-path", "/v2", "path every API call lives under")
	fs.Int64Var(&opts.MaxUploadBytes, "max-upload-bytes", 16<<20, "largest avatar upload, in bytes")
	fs.Int64Var(&opts.MaxPixels, "max-pixels", 50_000_000, "largest image, in pixels over all frames")
	fs.IntVar(&opts.MaxSide, "max-side", 1024, "long side an avatar is scaled down to, in pixels")
	fs.IntVar(&opts.DecodeWorkers, "decode-workers", 0, "images decoded at once (default: the number of CPUs)")
	fs.Int64Var(&opts.MemoryLimit, "memory-limit", api.DefaultMemoryLimit, "memory the process stays within, in bytes: the Go runtime's soft limit, and the budget expensive work is admitted against")
	trusted := fs.String("trusted-proxies", "", "reverse proxies whose X-Forwarded-For is believed, as comma-separated CIDRs or addresses (default: none)")
	fs.DurationVar(&opts.SessionTTL, "session-ttl", 30*24*time.Hour, "how long a session lasts from creation or renewal")
	fs.Int64Var(&opts.StaticCacheBytes, "static-cache-bytes", 64<<20, "memory for hot static avatars, in bytes (negative: none)")
	sweepEvery := fs.Duration("sweep-interval", time.Hour, "how often unreferenced files are removed")
	fs.DurationVar(&opts.SweepGrace, "sweep-grace", 15*time.Minute, "how old an unreferenced file must be before the sweep removes it")
	fs.DurationVar(&opts.Imports.Lease, "import-lease", 30*time.Second, "how long a node holds an import without writing a batch; another node resumes it after that")
	fs.DurationVar(&opts.Imports.Poll, "import-poll", 2*time.Second, "how often a node looks for an import to run")
	fs.DurationVar(&opts.Imports.Retention, "import-retention", 7*24*time.Hour, "how long parsed spreadsheets and failed rows' files are kept")
	runImports := fs.Bool("import-runner", true, "run imports on this node (false: an API-only node; other nodes on the same database run them)")
	fs.IntVar(&opts.Imports.Batch, "import-batch", 500, "rows an import writes per transaction")
	fs.IntVar(&opts.Imports.MaxActive, "max-imports", 3, "imports an account may have in progress at once")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	rateLimit := fs.Float64("rate-limit", 50, "requests a second per client address and per user (0: no limit)")
	corsOrigins := fs.String("cors-origins", "", `origins browsers may call the API from, comma-separated ("*": any)`)
	pprofAddr := fs.String("pprof-addr", "", "loopback address to serve net/http/pprof on, such as 127.0.0.1:6060 (default: none)")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	var err error
	if err = checkLoopback(*pprofAddr); err != nil {
		return fmt.Errorf("--pprof-addr %q: %w", *pprofAddr, err)
	}
	// Password checks (20 MiB each) and ordinary pictures must fit in what
	// the memory limit leaves once the cache, the reserve and the bodies'
	// share are set aside.
	if b := opts.ImageBudget(); b < minImageBudget {
		return fmt.Errorf("--memory-limit %d leaves %d MiB for password checks and pictures beside --static-cache-bytes and uploads of --max-upload-bytes; at least %d MiB are needed: raise --memory-limit",
			opts.MemoryLimit, b>>20, minImageBudget>>20)
	}
	if opts.TrustedProxies, err = parsePrefixes(*trusted); err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	opts.RateLimit = *rateLimit
	if opts.RateLimit <= 0 {
		opts.RateLimit = -1
	}
	if *corsOrigins != "" {
		opts.CORSOrigins = strings.Split(*corsOrigins, ",")
	}
	// Request lines are written out in batches, every 50 ms at the latest.
	logs := newLogBuffer(stderr, 50*time.Millisecond)
	defer logs.Close()
	log, err := newLogger(*logFormat, logs)
	// The runtime collects harder as the heap nears the limit, unless the
	// operator set GOMEMLIMIT for the process already.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(opts.MemoryLimit)
	}
	if err != nil {
		return err
	}
	log = slog.New(urgentFlush{log.Handler(), logs})

	db, files, err := st.open(ctx)
	if err != nil {
		return err
	}
	defer files.Close()
	defer db.Close()
	if resuming, err := db.CopyTarget(ctx); err == nil && resuming {
		return errors.New("the database holds an unfinished roster copy: run the same roster copy again before serving it")
	}
	if err := firstAdmin(ctx, db, getenv, stdout, log); err != nil {
		return err
	}
	if err := db.FilterIndex(); err != nil {
		log.Warn("employee/list's filter reads every employee of the account: it has no trigram index", "reason", err)
	}

	srv := api.NewServer(log, db, files, opts)
	if *pprofAddr != "" {
		pl, err := net.Listen("tcp", *pprofAddr)
		if err != nil {
			return fmt.Errorf("--pprof-addr: %w", err)
		}
		ps := pprofServer(log)
		defer ps.Close()
		go ps.Serve(pl)
		fmt.Fprintf(stdout, "roster %s pprof on http://%s\n", versionString(), pl.Addr())
		log.Info("pprof listening", "addr", pl.Addr().String())
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute, // a 16 MiB upload on a slow link
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(stdout, "roster %s listening on http://%s\n", versionString(), ln.Addr())
	log.Info("listening", "addr", ln.Addr().String(), "base_path", opts.BasePath)

	// The background work ends, and is waited for, before the stores
	// close (the deferred calls run in reverse): an import's batch in
	// flight rolls back whole rather than meet a closed database.
	bg, stopBg := context.WithCancel(context.WithoutCancel(ctx))
	var background sync.WaitGroup
	defer background.Wait()
	defer stopBg()
	background.Go(func() { srv.Maintain(bg, *sweepEvery) })
	if *runImports {
		background.Go(func() { srv.RunImports(bg) })
	}

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// minImageBudget is the least memory a server may give password checks and
// pictures: two checks at once and a few small pictures.
const minImageBudget = 48 << 20

// parsePrefixes reads comma-separated CIDRs; a bare address is a prefix of
// its whole length.
func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, err
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// checkLoopback refuses an address that is not a loopback IP and port:
// pprof shows the program's insides and spends CPU on request, so it is for
// whoever is on the machine only. "" (off) passes.
func checkLoopback(addr string) error {
	if addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return errors.New("want a loopback address such as 127.0.0.1:6060 or [::1]:6060")
	}
	return nil
}

// pprofServer serves net/http/pprof on its own mux, never the API's. (The
// package also registers on http.DefaultServeMux, which nothing serves.)
func pprofServer(log *slog.Logger) *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	// No write timeout: a profile takes as long as it was asked to.
	return &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

func newLogger(format string, w io.Writer) (*slog.Logger, error) {
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// firstAdmin creates the master user admin on an empty database, with the
// password in ROSTER_ADMIN_PASSWORD or a random one printed once.
func firstAdmin(ctx context.Context, db *sqlstore.DB, getenv func(string) string, stdout io.Writer, log *slog.Logger) error {
	n, err := db.CountUsers(ctx)
	if err != nil || n > 0 {
		return err
	}
	password := getenv("ROSTER_ADMIN_PASSWORD")
	random := password == ""
	if random {
		password = roster.RandomPassword()
	}
	hash, err := roster.HashPassword(password)
	if err != nil {
		return err
	}
	if _, err := db.CreateMaster(ctx, "admin", hash, time.Now()); err != nil {
		if errors.Is(err, roster.ErrLoginTaken) {
			return nil // another node made it first
		}
		return err
	}
	if random {
		fmt.Fprintf(stdout, "created master user admin with password %s (shown once; change it with roster user passwd)\n", password)
	} else {
		log.Info("created master user admin with the password from ROSTER_ADMIN_PASSWORD")
	}
	return nil
}
