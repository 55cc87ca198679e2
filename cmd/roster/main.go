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
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"roster/internal/api"
	"roster/internal/avatar"
	"roster/internal/disk"
	"roster/internal/httpserver"
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
  roster backup --to DIR [flags]                       back a running SQLite + disk installation up into DIR
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
	case "backup":
		return backupCommand(ctx, args[1:], getenv, stdout, stderr)
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
	createBucket    bool
}

func (s *stores) register(fs *flag.FlagSet) {
	fs.StringVar(&s.data, "data", "./data", "directory of the installation's SQLite database (roster.db) and avatar files (files/), unless --db and --files say otherwise")
	fs.StringVar(&s.db, "db", "", "database: sqlite:<path> or postgres://... (default sqlite:<data>/roster.db)")
	fs.StringVar(&s.files, "files", "", "file store: file:<dir> or s3://<bucket>?endpoint=<url>&region=<r> (default file:<data>/files)")
	fs.BoolVar(&s.createBucket, "create-bucket", false, "make the S3 bucket of --files if it does not exist (default: refuse to start without it)")
}

// urls are the database's and the file store's URLs, --data's defaults
// filled in.
func (s *stores) urls() (db, files string) {
	db, files = s.db, s.files
	if db == "" {
		db = "sqlite:" + filepath.Join(s.data, "roster.db")
	}
	if files == "" {
		files = "file:" + filepath.Join(s.data, "files")
	}
	return db, files
}

func (s *stores) open(ctx context.Context, getenv func(string) string) (*sqlstore.DB, roster.Files, error) {
	dbURL, filesURL := s.urls()
	db, err := sqlstore.Open(ctx, dbURL)
	if err != nil {
		return nil, nil, fmt.Errorf("database: %w", err)
	}
	files, err := openFiles(ctx, filesURL, s.s3Options(getenv))
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("file store: %w", err)
	}
	return db, files, nil
}

// s3Options are the S3 store's credentials, from the environment as
// getenv reads it, and whether it may make its bucket.
func (s *stores) s3Options(getenv func(string) string) s3.Options {
	return s3.Options{Credentials: s3.CredentialsFrom(getenv), CreateBucket: s.createBucket}
}

// openFiles picks the file store backend from its URL.
func openFiles(ctx context.Context, rawURL string, o s3.Options) (roster.Files, error) {
	switch {
	case strings.HasPrefix(rawURL, "file:"):
		return disk.Open(strings.TrimPrefix(strings.TrimPrefix(rawURL, "file:"), "//"))
	case strings.HasPrefix(rawURL, "s3://"):
		return s3.Open(ctx, rawURL, o)
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
	roster.MasterPasswords.Check(&errs, "--password", password)
	if err := errs.Err(); err != nil {
		return err
	}
	db, files, err := st.open(ctx, getenv)
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
	d := api.DefaultOptions()
	addr := fs.String("addr", ":8080", "address to listen on")
	fs.StringVar(&opts.BasePath, "base-path", d.BasePath, "path every API call lives under")
	fs.Int64Var(&opts.MaxUploadBytes, "max-upload-bytes", d.MaxUploadBytes, "largest avatar upload, in bytes")
	fs.Int64Var(&opts.MaxPixels, "max-pixels", d.MaxPixels, "largest image, in pixels over all frames")
	fs.IntVar(&opts.MaxSide, "max-side", d.MaxSide, "long side an avatar is scaled down to, in pixels")
	fs.IntVar(&opts.DecodeWorkers, "decode-workers", 0, "images decoded at once (default: the number of CPUs)")
	fs.Int64Var(&opts.MemoryLimit, "memory-limit", d.MemoryLimit, "memory the process stays within, in bytes: the Go runtime's soft limit, and the budget expensive work is admitted against")
	trusted := fs.String("trusted-proxies", "", "reverse proxies whose X-Forwarded-For is believed, as comma-separated CIDRs or addresses (default: none)")
	fs.DurationVar(&opts.SessionTTL, "session-ttl", d.SessionTTL, "how long a session lasts from creation or renewal")
	fs.Int64Var(&opts.StaticCacheBytes, "static-cache-bytes", d.StaticCacheBytes, "memory for hot static avatars, in bytes (negative: none)")
	sweepEvery := fs.Duration("sweep-interval", time.Hour, "how often unreferenced files are removed")
	fs.DurationVar(&opts.SweepGrace, "sweep-grace", d.SweepGrace, "how old an unreferenced file must be before the sweep removes it")
	fs.DurationVar(&opts.Imports.Lease, "import-lease", d.Imports.Lease, "how long a node holds an import without writing a batch; another node resumes it after that")
	fs.DurationVar(&opts.Imports.Poll, "import-poll", d.Imports.Poll, "how often a node looks for an import to run")
	fs.DurationVar(&opts.Imports.Retention, "import-retention", d.Imports.Retention, "how long parsed spreadsheets and failed rows' files are kept")
	runImports := fs.Bool("import-runner", true, "run imports on this node (false: an API-only node; other nodes on the same database run them)")
	fs.IntVar(&opts.Imports.Batch, "import-batch", d.Imports.Batch, "rows an import writes per transaction")
	fs.IntVar(&opts.Imports.MaxActive, "max-imports", d.Imports.MaxActive, "imports an account may have in progress at once")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "the least severe level logged: debug, info, warn or error (static avatars answered without error are logged at debug)")
	rateLimit := fs.Float64("rate-limit", d.RateLimit, "requests a second per client address and per user (0: no limit)")
	corsOrigins := fs.String("cors-origins", "", `origins browsers may call the API from, comma-separated ("*": any)`)
	tlsCert := fs.String("tls-cert", "", "PEM certificate (with its chain) to serve HTTPS and HTTP/2 with, beside --tls-key; reloaded on SIGHUP and when the file changes (default: plain HTTP)")
	tlsKey := fs.String("tls-key", "", "PEM private key of --tls-cert")
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
	if (*tlsCert == "") != (*tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
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
	log, err := newLogger(*logFormat, *logLevel, logs)
	// The runtime collects harder as the heap nears the limit, unless the
	// operator set GOMEMLIMIT for the process already.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(opts.MemoryLimit)
	}
	if err != nil {
		return err
	}
	log = slog.New(urgentFlush{log.Handler(), logs})

	db, files, err := st.open(ctx, getenv)
	if err != nil {
		return err
	}
	defer files.Close()
	defer db.Close()
	if unfinished, err := db.CopyUnfinished(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	} else if unfinished {
		return errors.New("the database holds an unfinished roster copy: run the same roster copy again before serving it")
	}
	// While it serves, roster copy refuses the database as a source.
	release, err := db.Serving(ctx)
	if err != nil {
		return err
	}
	defer release()
	if err := firstAdmin(ctx, db, getenv, stdout, log); err != nil {
		return err
	}
	if n := db.PlaceholderTags(); n > 0 {
		log.Info("made a placeholder tag (\"Tag <id>\", grey) of every tag id employees carried before tags existed; rename or delete them with tag/update and tag/delete", "tags", n)
	}
	if err := db.FilterIndex(); err != nil {
		log.Warn("employee/list's filter reads every employee of the account: it has no trigram index", "reason", err)
	}
	if avatar.WebPSandboxed() {
		go avatar.WarmWebP() // compiled while the server starts, not on a first request
	} else {
		log.Warn("a system libwebp.so is loaded; renditions are served without WebP variants (build with -tags nodynamic to rule it out)")
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
	var certs *certFiles
	if *tlsCert != "" {
		if certs, err = newCertFiles(*tlsCert, *tlsKey, log); err != nil {
			return err
		}
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer func() { signal.Stop(hup); close(hup) }()
		go func() {
			for range hup {
				certs.reload("SIGHUP")
			}
		}()
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	hs := httpserver.New(srv, slog.NewLogLogger(log.Handler(), slog.LevelWarn))
	scheme := "http"
	if certs != nil {
		hs.TLSConfig = certs.tlsConfig()
		scheme = "https"
	}
	base := scheme + "://" + ln.Addr().String()
	fmt.Fprintf(stdout, "roster %s listening on %s (console %s/console/, API %s%s)\n",
		versionString(), base, browsable(base), browsable(base), srv.BasePath())
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
	go func() {
		if certs != nil {
			errc <- hs.ServeTLS(ln, "", "") // the certificate comes from TLSConfig
			return
		}
		errc <- hs.Serve(ln)
	}()
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

// browsable is base with an unspecified host (listening on every
// address) as localhost, which a browser on the machine can open.
func browsable(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsUnspecified() {
		u.Host = net.JoinHostPort("localhost", u.Port())
	}
	return u.String()
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

func newLogger(format, level string, w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil || strings.ContainsAny(level, "+-") {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// firstAdmin creates the master user admin on an empty database, with the
// password in ROSTER_ADMIN_PASSWORD or a random one printed once.
func firstAdmin(ctx context.Context, db *sqlstore.DB, getenv func(string) string, stdout io.Writer, log *slog.Logger) error {
	password := getenv("ROSTER_ADMIN_PASSWORD")
	fromEnv := password != ""
	// Info, not a warning: every node of a cluster and every restart has
	// the same environment, and only one start ever uses it.
	ignored := func() {
		if fromEnv {
			log.Info("ROSTER_ADMIN_PASSWORD is ignored: it only sets the first user's password, and the database has users already; change a password with roster user passwd")
		}
	}
	n, err := db.CountUsers(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		ignored()
		return nil
	}
	random := password == ""
	if random {
		password = roster.RandomPassword()
	}
	var errs roster.InvalidParams
	roster.MasterPasswords.Check(&errs, "ROSTER_ADMIN_PASSWORD", password)
	if err := errs.Err(); err != nil {
		return err
	}
	hash, err := roster.HashPassword(password)
	if err != nil {
		return err
	}
	if _, err := db.CreateMaster(ctx, "admin", hash, time.Now()); err != nil {
		if errors.Is(err, roster.ErrLoginTaken) {
			ignored() // another node made it first
			return nil
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
