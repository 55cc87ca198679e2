package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"roster/internal/disk"
	"roster/internal/roster"
)

// backupCommand takes a consistent backup of a running SQLite + disk
// installation into a new directory that is itself a data directory:
// roster serve --data DIR serves it, roster copy moves it anywhere.
//
// Files are named by their content and never change once written. So the
// backup copies the files first, then snapshots the database (one read
// transaction, no writer waits), then copies whatever the snapshot
// references that came after the first pass. A file leaves the store when
// the sweep finds it unreferenced and older than --sweep-grace, which
// spares those late ones, but also as soon as a replacement or a delete of
// its avatar has committed: a file the snapshot references may be gone by
// the time it is copied. Then the snapshot is taken again (up to
// maxSnapshots times), since the database has moved past that avatar. The
// database takes its name last: a backup without roster.db is an
// unfinished one.
func backupCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("roster backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var st stores
	st.register(fs)
	to := fs.String("to", "", "directory the backup is written into: new or empty; it becomes a data directory")
	workers := fs.Int("workers", 8, "files copied at once")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("backup: unexpected argument %q", fs.Arg(0))
	}
	if *to == "" {
		return errors.New("backup needs --to DIR")
	}
	if *workers < 1 {
		return fmt.Errorf("--workers %d: want at least 1", *workers)
	}
	dbURL, filesURL := st.urls()
	dbPath, filesPath := localPath(dbURL), localPath(filesURL)
	if !strings.HasPrefix(dbURL, "sqlite:") || !strings.HasPrefix(filesURL, "file:") {
		return errors.New("roster backup takes SQLite + disk installations; back up PostgreSQL with pg_dump and S3 with the storage's own replication or versioning")
	}
	if err := emptyDir(*to); err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	start := time.Now()

	db, err := openCopyDB(ctx, "--db", dbURL, true)
	if err != nil {
		return err
	}
	defer db.Close()
	if unfinished, err := db.CopyUnfinished(ctx); err != nil {
		return fmt.Errorf("--db: %w", err)
	} else if unfinished {
		return errors.New("the database holds an unfinished roster copy: there is nothing consistent to back up")
	}
	src, err := openCopyFiles(ctx, "--files", filesURL, true, st.s3Options(getenv))
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := disk.Open(filepath.Join(*to, "files"))
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	defer dst.Close()

	fmt.Fprintf(stdout, "backing up %s and %s to %s\ncopying the files\n", dbPath, filesPath, *to)
	fc := &fileCopy{from: src, to: dst, out: stdout, vanishing: true}
	if err := fc.run(ctx, *workers); err != nil {
		return fmt.Errorf("copying the files: %w", err)
	}

	partial := filepath.Join(*to, "roster.db.partial")
	var avatars []string
	late := 0
	for attempt := 1; ; attempt++ {
		fmt.Fprintln(stdout, "taking a snapshot of the database")
		if avatars, err = db.Snapshot(ctx, partial); err != nil {
			return err
		}
		n, gone, err := copyLate(ctx, src, dst, avatars)
		late += n
		if err != nil {
			return err
		}
		if gone == "" {
			break
		}
		if attempt == maxSnapshots {
			return fmt.Errorf("the database references %s, which was replaced or deleted before it could be copied, in each of %d snapshots: try again when fewer avatars change", gone, maxSnapshots)
		}
		fmt.Fprintf(stdout, "%s was replaced or deleted after the snapshot; taking it again\n", gone)
		if err := os.Remove(partial); err != nil {
			return fmt.Errorf("--to: %w", err)
		}
	}
	final := filepath.Join(*to, "roster.db")
	if err := os.Rename(partial, final); err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	if err := syncDir(*to); err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	fmt.Fprintf(stdout, "backup complete in %s: the database and the %d avatars it references (%d files of %s copied, %d removed by the sweep meanwhile, %d written after the snapshot); serve it with roster serve --data %s\n",
		time.Since(start).Round(time.Millisecond), len(avatars), fc.copied, byteSize(fc.bytes), fc.gone, late, *to)
	return nil
}

// maxSnapshots bounds how often backup takes the snapshot again because a
// file it referenced went away before it was copied.
const maxSnapshots = 5

// copyLate copies into dst the files a snapshot references that dst does
// not hold yet, and reports how many it copied. gone names the first such
// file the store no longer holds (replaced or deleted since the snapshot);
// the snapshot is then stale.
func copyLate(ctx context.Context, src, dst roster.Files, avatars []string) (n int, gone string, err error) {
	have, err := listNames(ctx, dst)
	if err != nil {
		return 0, "", fmt.Errorf("--to: %w", err)
	}
	for _, name := range avatars {
		if have[name] {
			continue
		}
		data, err := readObject(ctx, src, name)
		if errors.Is(err, iofs.ErrNotExist) {
			return n, name, nil
		}
		if err != nil {
			return n, "", fmt.Errorf("the database references %s, which the file store cannot give: %w", name, err)
		}
		if err := dst.Put(ctx, name, data); err != nil {
			return n, "", fmt.Errorf("--to: %w", err)
		}
		n++
	}
	return n, "", nil
}

// emptyDir makes dir, or checks that it is an empty directory.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return os.MkdirAll(dir, 0o750)
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s is not empty (it holds %s): a backup goes into a new or empty directory", dir, entries[0].Name())
	}
	return nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
