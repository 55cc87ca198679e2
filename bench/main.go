// Command bench is Roster's performance harness. It starts Roster and a
// baseline for each comparison on loopback, runs them in alternation and
// prints ratios, never absolute times alone: the machine is shared, so
// only a ratio measured side by side means anything. See BENCHMARKS.md.
//
// Run it through bench/run, which installs the tools (wrk, nginx, libvips)
// and builds the binaries it needs:
//
//	bash bench/run            # the whole run, about ten minutes
//	bash bench/run --quick    # every section, shorter and smaller
//	bash bench/run --only static,api
//	bash bench/run --only api --profile   # CPU profiles of Roster under each load
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// config is what every section needs to know.
type config struct {
	quick    bool
	profile  bool          // serve pprof (roster serve --pprof-addr) and save CPU profiles
	bin      string        // directory holding roster, ceiling, seed, process
	work     string        // temporary directory for this run
	out      string        // where results are written
	duration time.Duration // one wrk run
	warmup   time.Duration // one warm-up run per side
	rounds   int           // alternating rounds per comparison
	threads  int           // wrk threads
	conns    int           // wrk connections
	reps     int           // pipeline repetitions per side
	pg       string        // PostgreSQL URL, "" to skip
	big      int           // employees of the big account (scale)
	accounts int           // small accounts (scale)
}

var sections = []struct {
	name string
	run  func(context.Context, *config, *report) error
}{
	{"static", staticSection},
	{"api", apiSection},
	{"upload", uploadSection},
	{"scale", scaleSection},
	{"bytes", bytesSection},
	{"import", importSection},
}

func main() {
	var cfg config
	only := flag.String("only", "", "comma-separated sections to run: static,api,upload,scale,bytes,import (default all)")
	flag.BoolVar(&cfg.quick, "quick", false, "shorter runs and a smaller scale data set")
	flag.StringVar(&cfg.bin, "bin", "bench/out/bin", "directory with the built roster, ceiling, seed and process")
	flag.StringVar(&cfg.out, "out", "", "directory for results (default bench/out/<time>)")
	flag.StringVar(&cfg.pg, "pg", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", `PostgreSQL for the scale section ("" skips it)`)
	flag.DurationVar(&cfg.duration, "duration", 0, "one wrk run (default 7s, 3s with --quick)")
	flag.IntVar(&cfg.rounds, "rounds", 0, "alternating rounds per comparison (default 3, 1 with --quick)")
	flag.IntVar(&cfg.conns, "connections", 64, "wrk connections")
	flag.BoolVar(&cfg.profile, "profile", false, "serve pprof (roster serve --pprof-addr) and save a CPU profile of each Roster load in the results directory")
	flag.Parse()

	cfg.threads = min(2, runtime.NumCPU())
	if cfg.quick {
		cfg.duration = or(cfg.duration, 3*time.Second)
		cfg.rounds = or(cfg.rounds, 1)
		cfg.warmup, cfg.reps, cfg.big, cfg.accounts = time.Second, 2, 20000, 2000
	} else {
		cfg.duration = or(cfg.duration, 7*time.Second)
		cfg.rounds = or(cfg.rounds, 3)
		cfg.warmup, cfg.reps, cfg.big, cfg.accounts = 2*time.Second, 5, 100000, 10000
	}
	if cfg.out == "" {
		cfg.out = filepath.Join("bench", "out", time.Now().Format("20060102-150405"))
	}
	want := map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		if s = strings.TrimSpace(s); s != "" {
			want[s] = true
		}
	}
	for s := range want {
		known := false
		for _, k := range sections {
			known = known || k.name == s
		}
		if !known {
			fatal(fmt.Errorf("--only: unknown section %q", s))
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		fatal(err)
	}
	work, err := os.MkdirTemp("", "roster-bench-")
	if err != nil {
		fatal(err)
	}
	os.Chmod(work, 0o755) // nginx's workers run as an unprivileged user
	cfg.work = work

	rep := newReport(&cfg)
	if cfg.profile {
		rep.note("--profile: Roster ran with --pprof-addr and a CPU profile taken during its first round of each load; profiling costs a few per cent, so these ratios are not the record")
	}
	start := time.Now()
	failed := false
	for _, s := range sections {
		if len(want) > 0 && !want[s.name] {
			continue
		}
		logf("== %s", s.name)
		if err := s.run(ctx, &cfg, rep); err != nil {
			logf("%s: FAILED: %v", s.name, err)
			rep.note("section %s failed: %v", s.name, err)
			failed = true
		}
		if ctx.Err() != nil {
			break
		}
	}
	rep.elapsed = time.Since(start)
	err = rep.write(os.Stdout)
	os.RemoveAll(work) // before any exit: os.Exit skips deferred calls
	if err != nil {
		fatal(err)
	}
	if failed {
		os.Exit(1)
	}
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}
