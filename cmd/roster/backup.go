package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"roster/internal/disk"
)

// backupCommand takes a consistent backup of a running SQLite + disk
// installation into a new directory that is itself a data directory:
// roster serve --data DIR serves it, roster copy moves it anywhere.
//
// Files are named by their content and never change once written; a file
// leaves the store only when the sweep finds it unreferenced and older than
// --sweep-grace. So the backup copies the files first, then snapshots the
// database (one read transaction, no writer waits), then copies whatever
// the snapshot references that came after the first pass: such a file is
// younger than the grace, so the sweep has left it. The database takes its
// name last: a backup without roster.db is an unfinished one.
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

	fmt.Fprintln(stdout, "taking a snapshot of the database")
	partial := filepath.Join(*to, "roster.db.partial")
	avatars, err := db.Snapshot(ctx, partial)
	if err != nil {
		return err
	}
	have, err := listNames(ctx, dst)
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	late := 0
	for _, name := range avatars {
		if have[name] {
			continue
		}
		data, err := readObject(ctx, src, name)
		if err != nil {
			return fmt.Errorf("the database references %s, which the file store cannot give: %w", name, err)
		}
		if err := dst.Put(ctx, name, data); err != nil {
			return fmt.Errorf("--to: %w", err)
		}
		late++
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
