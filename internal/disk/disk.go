// Package disk keeps Roster's files in one directory of the local file
// system, as a roster.Files.
//
// An object is a regular file named as the object. A Put writes a temporary
// file (named ".tmp-…", which is no valid object name), syncs it and renames
// it over the name, so readers see the old file or the new one, never a
// part, and a crash leaves at most a stray temporary file. All access goes
// through an os.Root, so no name and no symbolic link in the directory can
// reach outside it.
package disk

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"roster/internal/roster"
)

const (
	// tempPrefix starts the names of files being written. A leading dot
	// makes them invalid object names, so they are never listed or served.
	tempPrefix = ".tmp-"
	// staleAfter is how old a temporary file must be before Open removes
	// it. Several processes may share the directory, and a Put in flight
	// in one of them takes far less than this.
	staleAfter = time.Hour
)

// Store is a roster.Files in a directory. It is safe for concurrent use,
// also by several processes sharing the directory.
type Store struct {
	dir  string
	root *os.Root
}

var _ roster.Files = (*Store)(nil)

// Open opens the store in dir, creating dir (mode 0750) if needed, and
// removes temporary files that crashed writers left there over an hour ago.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("disk: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("disk: %w", err)
	}
	s := &Store{dir: dir, root: root}
	if err := s.removeStale(time.Now().Add(-staleAfter)); err != nil {
		root.Close()
		return nil, err
	}
	return s, nil
}

// removeStale removes the temporary files last written before cutoff.
// Failing to remove one is not an error: the next Open tries again.
func (s *Store) removeStale(cutoff time.Time) error {
	entries, err := fs.ReadDir(s.root.FS(), ".")
	if err != nil {
		return fmt.Errorf("disk: cleaning %s: %w", s.dir, err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), tempPrefix) || !e.Type().IsRegular() {
			continue
		}
		if info, err := e.Info(); err == nil && info.ModTime().Before(cutoff) {
			s.root.Remove(e.Name())
		}
	}
	return nil
}

// Put stores data under name atomically and durably: the file is synced
// before it takes the name, and the directory after.
func (s *Store) Put(ctx context.Context, name string, data []byte) error {
	if err := check(ctx, name); err != nil {
		return fmt.Errorf("disk: put %q: %w", name, err)
	}
	tmp := tempPrefix + rand.Text()
	f, err := s.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("disk: put %q: %w", name, err)
	}
	err = writeSync(f, data)
	if err == nil {
		// The last moment to give up: after the rename the object is there.
		err = ctx.Err()
	}
	if err == nil {
		err = s.root.Rename(tmp, name)
	}
	if err != nil {
		s.root.Remove(tmp)
		return fmt.Errorf("disk: put %q: %w", name, err)
	}
	if err := s.syncDir(); err != nil {
		return fmt.Errorf("disk: put %q: %w", name, err)
	}
	return nil
}

// writeSync writes data to f, syncs and closes it, and reports the first
// failure: a full disk may only show at Sync or Close.
func writeSync(f *os.File, data []byte) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir makes renames and new names in the directory durable.
func (s *Store) syncDir() error {
	d, err := s.root.Open(".")
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Get opens the object. The returned Object keeps reading the version it
// opened even if a Put replaces or a Delete removes the name meanwhile.
func (s *Store) Get(ctx context.Context, name string) (roster.Object, error) {
	if err := check(ctx, name); err != nil {
		return nil, fmt.Errorf("disk: get %q: %w", name, err)
	}
	f, err := s.root.Open(name)
	if err != nil {
		return nil, fmt.Errorf("disk: get %q: %w", name, err)
	}
	info, err := f.Stat()
	if err == nil && !info.Mode().IsRegular() {
		err = fmt.Errorf("not a regular file: %w", fs.ErrNotExist)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("disk: get %q: %w", name, err)
	}
	return object{f, info}, nil
}

// object is an open file with the FileInfo it had when opened.
type object struct {
	*os.File
	info fs.FileInfo
}

func (o object) Size() int64        { return o.info.Size() }
func (o object) ModTime() time.Time { return o.info.ModTime() }

// Delete removes the object. The removal is not synced: a crash may bring
// back a deleted file, which wastes space but serves nothing wrong.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := check(ctx, name); err != nil {
		return fmt.Errorf("disk: delete %q: %w", name, err)
	}
	if err := s.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("disk: delete %q: %w", name, err)
	}
	return nil
}

// List calls fn for every object, reading the directory in batches so a
// large store is not held in memory at once.
func (s *Store) List(ctx context.Context, fn func(name string, modTime time.Time) error) error {
	d, err := s.root.Open(".")
	if err != nil {
		return fmt.Errorf("disk: list: %w", err)
	}
	defer d.Close()
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("disk: list: %w", err)
		}
		entries, err := d.ReadDir(256)
		for _, e := range entries {
			if !roster.ValidFileName(e.Name()) || !e.Type().IsRegular() {
				continue
			}
			info, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted since the directory was read
			}
			if err != nil {
				return fmt.Errorf("disk: list: %w", err)
			}
			if err := fn(e.Name(), info.ModTime()); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("disk: list: %w", err)
		}
	}
}

// Ping reports whether the directory is still there: one removed or
// replaced under a running server leaves the store with a dead handle.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("disk: ping: %w", err)
	}
	held, err := s.root.Stat(".")
	if err != nil {
		return fmt.Errorf("disk: ping: %w", err)
	}
	named, err := os.Stat(s.dir)
	if err != nil {
		return fmt.Errorf("disk: ping: %w", err)
	}
	if !os.SameFile(held, named) {
		return fmt.Errorf("disk: ping: %s was replaced since it was opened", s.dir)
	}
	return nil
}

// Close releases the directory.
func (s *Store) Close() error {
	if err := s.root.Close(); err != nil {
		return fmt.Errorf("disk: %w", err)
	}
	return nil
}

// check refuses a done context or a name that is no object name.
func check(ctx context.Context, name string) error {
	if !roster.ValidFileName(name) {
		return roster.ErrInvalidName
	}
	return ctx.Err()
}
