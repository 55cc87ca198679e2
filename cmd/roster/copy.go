package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"roster/internal/roster"
	"roster/internal/s3"
	"roster/internal/sqlstore"
)

// copyCommand copies a whole installation — every row of the database and
// every object of the file store — into an empty database and file store,
// to move from SQLite and a local disk to PostgreSQL and S3 or back. It
// refuses a target that holds data of its own, checks every table and
// every object after copying, and may be run again after an interruption:
// an unfinished copy in the target is replaced table by table, and objects
// already there with the right checksum are kept.
func copyCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("roster copy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fromDB := fs.String("from-db", "", "source database: sqlite:<path> or postgres://...")
	fromFiles := fs.String("from-files", "", "source file store: file:<dir> or s3://<bucket>?endpoint=<url>&region=<r>")
	toDB := fs.String("to-db", "", "target database, empty: sqlite:<path> or postgres://...")
	toFiles := fs.String("to-files", "", "target file store, empty: file:<dir> or s3://<bucket>?endpoint=<url>&region=<r>")
	workers := fs.Int("workers", 8, "objects copied at once")
	createBucket := fs.Bool("create-bucket", false, "make the S3 bucket of --to-files if it does not exist")
	live := fs.Bool("allow-live-source", false, "copy even though a running roster serve uses the source")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("copy: unexpected argument %q", fs.Arg(0))
	}
	if *workers < 1 {
		return fmt.Errorf("--workers %d: want at least 1", *workers)
	}
	if err := checkCopyURLs(*fromDB, *fromFiles, *toDB, *toFiles); err != nil {
		return err
	}
	start := time.Now()

	from, err := openCopyDB(ctx, "--from-db", *fromDB, true)
	if err != nil {
		return err
	}
	defer from.Close()
	if unfinished, err := from.CopyUnfinished(ctx); err != nil {
		return fmt.Errorf("--from-db: %w", err)
	} else if unfinished {
		return fmt.Errorf("--from-db %s holds a copy that never finished; copy from the installation it came from", redactURL(*fromDB))
	}
	if inUse, err := from.InUse(ctx); err != nil {
		return fmt.Errorf("--from-db: %w", err)
	} else if inUse && !*live {
		return fmt.Errorf("--from-db %s is in use by a running roster serve: stop it first, or take a consistent snapshot with roster backup; --allow-live-source copies anyway (writes made during the copy fail its final check)", redactURL(*fromDB))
	} else if inUse {
		fmt.Fprintf(stderr, "warning: --from-db %s is in use by a running roster serve; copying anyway (--allow-live-source)\n", redactURL(*fromDB))
	}
	srcCounts, err := from.Counts(ctx)
	if err != nil {
		return fmt.Errorf("--from-db: %w", err)
	}
	if srcCounts["users"] == 0 {
		return fmt.Errorf("--from-db %s holds no users: nothing to copy (is the URL right?)", redactURL(*fromDB))
	}
	creds := s3.CredentialsFrom(getenv)
	srcFiles, err := openCopyFiles(ctx, "--from-files", *fromFiles, true, s3.Options{Credentials: creds})
	if err != nil {
		return err
	}
	defer srcFiles.Close()
	to, err := openCopyDB(ctx, "--to-db", *toDB, false)
	if err != nil {
		return err
	}
	defer to.Close()
	dstFiles, err := openCopyFiles(ctx, "--to-files", *toFiles, false, s3.Options{Credentials: creds, CreateBucket: *createBucket})
	if err != nil {
		return err
	}
	defer dstFiles.Close()

	resuming, err := to.CopyTarget(ctx)
	if errors.Is(err, sqlstore.ErrNotEmpty) {
		return fmt.Errorf("--to-db %s: %w; roster copy only fills an empty database", redactURL(*toDB), err)
	}
	if err != nil {
		return fmt.Errorf("--to-db: %w", err)
	}
	if resuming {
		fmt.Fprintf(stdout, "resuming the unfinished copy in %s\n", redactURL(*toDB))
	} else if name, err := anyObject(ctx, dstFiles); err != nil {
		return fmt.Errorf("--to-files: %w", err)
	} else if name != "" {
		return fmt.Errorf("--to-files %s already holds objects (such as %s); roster copy only fills an empty file store",
			redactURL(*toFiles), name)
	}

	fmt.Fprintf(stdout, "copying the database %s to %s\n", redactURL(*fromDB), redactURL(*toDB))
	err = sqlstore.Copy(ctx, from, to, func(table string, n int) {
		fmt.Fprintf(stdout, "  %-16s %d rows\n", table, n)
	})
	if err != nil {
		return interrupted(ctx, fmt.Errorf("copying the database: %w", err))
	}

	fmt.Fprintf(stdout, "copying the files %s to %s\n", redactURL(*fromFiles), redactURL(*toFiles))
	fc := &fileCopy{from: srcFiles, to: dstFiles, out: stdout}
	if err := fc.run(ctx, *workers); err != nil {
		return interrupted(ctx, fmt.Errorf("copying the files: %w", err))
	}

	// Check the whole target against the source once more: a server that
	// kept writing to the source shows here.
	srcCounts, err = from.Counts(ctx)
	if err != nil {
		return fmt.Errorf("--from-db: %w", err)
	}
	dstCounts, err := to.Counts(ctx)
	if err != nil {
		return fmt.Errorf("--to-db: %w", err)
	}
	dstNames, err := listNames(ctx, dstFiles)
	if err != nil {
		return fmt.Errorf("--to-files: %w", err)
	}
	fmt.Fprintf(stdout, "verifying\n  %-16s %10s %10s\n", "", "source", "target")
	var mismatch []string
	var rows int64
	for _, table := range slices.Sorted(maps.Keys(srcCounts)) {
		fmt.Fprintf(stdout, "  %-16s %10d %10d\n", table, srcCounts[table], dstCounts[table])
		if srcCounts[table] != dstCounts[table] {
			mismatch = append(mismatch, table)
		}
		rows += srcCounts[table]
	}
	fmt.Fprintf(stdout, "  %-16s %10d %10d   SHA-256 of every object matches\n", "files", fc.total, len(dstNames))
	if len(dstNames) != fc.total {
		mismatch = append(mismatch, "files")
	}
	if len(mismatch) > 0 {
		return fmt.Errorf("the source changed while copying (%s differ): stop every server that uses the source and run roster copy again",
			strings.Join(mismatch, ", "))
	}
	if err := to.FinishCopy(ctx); err != nil {
		return fmt.Errorf("--to-db: %w", err)
	}
	fmt.Fprintf(stdout, "copy complete in %s: %d rows, %d files of %s (%d copied, %d already there, %d removed)\n",
		time.Since(start).Round(time.Millisecond), rows, fc.total, byteSize(fc.bytes), fc.copied, fc.skipped, fc.removed)
	return nil
}

// interrupted adds what to do next to the error of a copy that was stopped.
func interrupted(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (interrupted: run the same roster copy again to finish)", err)
	}
	return err
}

// checkCopyURLs checks the four store URLs before anything is opened.
func checkCopyURLs(fromDB, fromFiles, toDB, toFiles string) error {
	for _, f := range []struct{ flag, value string }{
		{"--from-db", fromDB}, {"--from-files", fromFiles}, {"--to-db", toDB}, {"--to-files", toFiles},
	} {
		if f.value == "" {
			return errors.New("copy needs --from-db, --from-files, --to-db and --to-files")
		}
		db := strings.HasSuffix(f.flag, "-db")
		switch {
		case db && (strings.HasPrefix(f.value, "sqlite:") || strings.HasPrefix(f.value, "postgres://") ||
			strings.HasPrefix(f.value, "postgresql://")):
		case !db && (strings.HasPrefix(f.value, "file:") || strings.HasPrefix(f.value, "s3://")):
		case db:
			return fmt.Errorf("%s %q: want sqlite:<path> or postgres://...", f.flag, redactURL(f.value))
		default:
			return fmt.Errorf("%s %q: want file:<dir> or s3://<bucket>?endpoint=<url>&region=<r>", f.flag, redactURL(f.value))
		}
	}
	if sameStore(fromDB, toDB) {
		return errors.New("--from-db and --to-db name the same database")
	}
	if sameStore(fromFiles, toFiles) {
		return errors.New("--from-files and --to-files name the same file store")
	}
	return nil
}

// localPath is the path of a sqlite: or file: URL, "" for other URLs.
func localPath(rawURL string) string {
	for _, scheme := range []string{"sqlite:", "file:"} {
		if p, ok := strings.CutPrefix(rawURL, scheme); ok {
			return strings.TrimPrefix(p, "//")
		}
	}
	return ""
}

// sameStore reports whether two store URLs name the same place, as far as
// their text tells.
func sameStore(a, b string) bool {
	pa, pb := localPath(a), localPath(b)
	if pa == "" || pb == "" {
		return a == b
	}
	aa, err1 := filepath.Abs(pa)
	ab, err2 := filepath.Abs(pb)
	return err1 == nil && err2 == nil && aa == ab
}

// openCopyDB opens one side's database. A source must exist: opening a
// mistyped SQLite path would create an empty database and copy nothing.
func openCopyDB(ctx context.Context, flag, rawURL string, source bool) (*sqlstore.DB, error) {
	if p := localPath(rawURL); source && p != "" {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
	}
	db, err := sqlstore.Open(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return db, nil
}

// openCopyFiles opens one side's file store; a source directory must exist.
func openCopyFiles(ctx context.Context, flag, rawURL string, source bool, o s3.Options) (roster.Files, error) {
	if p := localPath(rawURL); source && p != "" {
		info, err := os.Stat(p)
		if err == nil && !info.IsDir() {
			err = fmt.Errorf("%s is not a directory", p)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
	}
	f, err := openFiles(ctx, rawURL, o)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return f, nil
}

// redactURL hides a password in a URL that is shown.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

var errFound = errors.New("found")

// anyObject returns the name of some object in the store, "" if it is
// empty.
func anyObject(ctx context.Context, files roster.Files) (string, error) {
	var name string
	err := files.List(ctx, func(n string, _ time.Time) error {
		name = n
		return errFound
	})
	if err != nil && !errors.Is(err, errFound) {
		return "", err
	}
	return name, nil
}

func listNames(ctx context.Context, files roster.Files) (map[string]bool, error) {
	names := map[string]bool{}
	err := files.List(ctx, func(n string, _ time.Time) error {
		names[n] = true
		return nil
	})
	return names, err
}

// fileCopy copies every object of one store into another and checks each
// by its SHA-256, read back from both stores.
type fileCopy struct {
	from, to roster.Files
	out      io.Writer
	// vanishing passes over objects deleted after the listing (a live
	// source's sweep); the caller makes sure it needs none of them.
	vanishing bool

	mu                       sync.Mutex
	total, done              int
	copied, skipped, removed int
	gone                     int // deleted from the source meanwhile
	bytes                    int64
	step                     int
	lastShown                time.Time
}

func (c *fileCopy) run(ctx context.Context, workers int) error {
	srcNames, err := listNames(ctx, c.from)
	if err != nil {
		return fmt.Errorf("listing the source: %w", err)
	}
	present, err := listNames(ctx, c.to)
	if err != nil {
		return fmt.Errorf("listing the target: %w", err)
	}
	names := slices.Sorted(maps.Keys(srcNames))
	c.total = len(names)
	c.step = max(1, c.total/20)
	c.lastShown = time.Now()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan string)
	var wg sync.WaitGroup
	for range min(workers, max(1, len(names))) {
		wg.Go(func() {
			for name := range work {
				if err := c.one(ctx, name, present[name]); err != nil {
					cancel(fmt.Errorf("%s: %w", name, err))
					return
				}
			}
		})
	}
feed:
	for _, name := range names {
		select {
		case work <- name:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}

	// Objects an earlier run copied that the source no longer has.
	for name := range present {
		if srcNames[name] {
			continue
		}
		if err := c.to.Delete(ctx, name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		c.removed++
	}
	fmt.Fprintf(c.out, "  %d/%d objects (%d copied, %d already there)\n", c.done, c.total, c.copied, c.skipped)
	return nil
}

// one copies an object unless the target holds it already, then checks
// the target's copy against the source's bytes.
func (c *fileCopy) one(ctx context.Context, name string, present bool) error {
	data, err := readObject(ctx, c.from, name)
	if c.vanishing && errors.Is(err, fs.ErrNotExist) {
		c.mu.Lock()
		c.done++
		c.gone++
		c.mu.Unlock()
		return nil
	}
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	want := sha256.Sum256(data)
	copied := false
	if !present || !c.matches(ctx, name, want) {
		if err := c.to.Put(ctx, name, data); err != nil {
			return fmt.Errorf("target: %w", err)
		}
		copied = true
		back, err := readObject(ctx, c.to, name)
		if err != nil {
			return fmt.Errorf("target: %w", err)
		}
		if sha256.Sum256(back) != want {
			return errors.New("the target's SHA-256 differs from the source's after copying")
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	c.done++
	c.bytes += int64(len(data))
	if copied {
		c.copied++
	} else {
		c.skipped++
	}
	if c.done%c.step == 0 && c.done < c.total || time.Since(c.lastShown) > 5*time.Second {
		fmt.Fprintf(c.out, "  %d/%d objects (%d copied, %d already there)\n", c.done, c.total, c.copied, c.skipped)
		c.lastShown = time.Now()
	}
	return nil
}

// matches reports whether the target holds the object with that SHA-256.
func (c *fileCopy) matches(ctx context.Context, name string, want [sha256.Size]byte) bool {
	data, err := readObject(ctx, c.to, name)
	return err == nil && sha256.Sum256(data) == want
}

// readObject reads a whole object and checks it against its stated size.
func readObject(ctx context.Context, files roster.Files, name string) ([]byte, error) {
	obj, err := files.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	data, err := io.ReadAll(obj)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != obj.Size() {
		return nil, fmt.Errorf("read %d bytes of an object of %d: %w", len(data), obj.Size(), io.ErrUnexpectedEOF)
	}
	return data, nil
}

// byteSize renders a size for people.
func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
