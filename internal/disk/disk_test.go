package disk

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"roster/internal/filestest"
	"roster/internal/roster"
)

func open(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open(%q) = %v, want nil", dir, err)
	}
	return s
}

func TestConformance(t *testing.T) {
	filestest.Run(t, func(t *testing.T) roster.Files { return open(t, t.TempDir()) })
}

func listNames(t *testing.T, s *Store) []string {
	t.Helper()
	var names []string
	err := s.List(t.Context(), func(name string, _ time.Time) error {
		names = append(names, name)
		return nil
	})
	if err != nil {
		t.Fatalf("List() = %v, want nil", err)
	}
	slices.Sort(names)
	return names
}

func TestOpenCreatesDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "files")
	s := open(t, dir)
	defer s.Close()
	info, err := os.Stat(dir)
	if err != nil {
		t.Fatalf("Open(%q) left no directory: %v", dir, err)
	}
	if !info.IsDir() || info.Mode().Perm()&0o027 != 0 {
		t.Errorf("Open(%q) made %v, want a directory of mode 0750 or stricter", dir, info.Mode())
	}
}

func TestOpenNotDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(file); err == nil {
		s.Close()
		t.Errorf("Open(%q) of a regular file = nil, want an error", file)
	}
}

func TestTempFilesHidden(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	defer s.Close()
	if err := s.Put(t.Context(), "a.png", []byte("image")); err != nil {
		t.Fatalf("Put(%q) = %v, want nil", "a.png", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "a.png" {
		t.Errorf("directory after Put holds %v, want only a.png", entries)
	}

	// A writer in flight, or one that crashed.
	tmp := tempPrefix + "ABCDEF"
	if err := os.WriteFile(filepath.Join(dir, tmp), []byte("ima"), 0o640); err != nil {
		t.Fatal(err)
	}
	if got, want := listNames(t, s), []string{"a.png"}; !slices.Equal(got, want) {
		t.Errorf("List() with a temporary file = %q, want %q", got, want)
	}
	if _, err := s.Get(t.Context(), tmp); !errors.Is(err, roster.ErrInvalidName) {
		t.Errorf("Get(%q) = %v, want an error matching roster.ErrInvalidName", tmp, err)
	}
	if err := s.Delete(t.Context(), tmp); !errors.Is(err, roster.ErrInvalidName) {
		t.Errorf("Delete(%q) = %v, want an error matching roster.ErrInvalidName", tmp, err)
	}
}

func TestOpenRemovesStaleTempFiles(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		age      time.Duration
		wantKept bool
	}{
		{"StaleTemp", tempPrefix + "STALE", 2 * time.Hour, false},
		{"FreshTemp", tempPrefix + "FRESH", time.Minute, true},
		{"OldObject", "old.png", 24 * time.Hour, true},
		{"OldHiddenFile", ".keep", 24 * time.Hour, true},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		path := filepath.Join(dir, tt.file)
		if err := os.WriteFile(path, []byte("data"), 0o640); err != nil {
			t.Fatal(err)
		}
		mt := time.Now().Add(-tt.age)
		if err := os.Chtimes(path, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	s := open(t, dir)
	defer s.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := os.Stat(filepath.Join(dir, tt.file))
			if kept := err == nil; kept != tt.wantKept {
				t.Errorf("after Open, %s (%v old) kept = %v, want %v", tt.file, tt.age, kept, tt.wantKept)
			}
		})
	}
}

func TestReadOnlyDir(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	defer s.Close()
	old := []byte("old image")
	if err := s.Put(t.Context(), "old.png", old); err != nil {
		t.Fatalf("Put(%q) = %v, want nil", "old.png", err)
	}
	readOnly(t, dir)

	for _, name := range []string{"new.png", "old.png"} {
		if err := s.Put(t.Context(), name, []byte("new image")); err == nil {
			t.Errorf("Put(%q) in a read-only directory = nil, want an error", name)
		}
	}
	o, err := s.Get(t.Context(), "old.png")
	if err != nil {
		t.Fatalf("Get(%q) in a read-only directory = %v, want nil", "old.png", err)
	}
	defer o.Close()
	got := make([]byte, 100)
	n, _ := o.Read(got)
	if !bytes.Equal(got[:n], old) {
		t.Errorf("Get(%q) after failed Puts = %q, want %q", "old.png", got[:n], old)
	}
	if got, want := listNames(t, s), []string{"old.png"}; !slices.Equal(got, want) {
		t.Errorf("List() after failed Puts = %q, want %q", got, want)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("directory after failed Puts holds %v (%v), want only old.png", entries, err)
	}
}

func TestFullDisk(t *testing.T) {
	dir := smallDir(t, 64<<10)
	s := open(t, dir)
	defer s.Close()
	old := []byte("old image")
	if err := s.Put(t.Context(), "old.png", old); err != nil {
		t.Fatalf("Put(%q) = %v, want nil", "old.png", err)
	}
	big := make([]byte, 1<<20)
	for _, name := range []string{"new.png", "old.png"} {
		if err := s.Put(t.Context(), name, big); !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("Put(%q, 1 MiB) on a 64 KiB file system = %v, want an error matching ENOSPC", name, err)
		}
	}
	o, err := s.Get(t.Context(), "old.png")
	if err != nil {
		t.Fatalf("Get(%q) after failed Puts = %v, want nil", "old.png", err)
	}
	defer o.Close()
	got := make([]byte, 100)
	n, _ := o.Read(got)
	if !bytes.Equal(got[:n], old) {
		t.Errorf("Get(%q) after failed Puts = %q, want %q", "old.png", got[:n], old)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("directory after failed Puts holds %v (%v), want only old.png: no temporary file left", entries, err)
	}
}

func TestNotAnObject(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	s := open(t, dir)
	defer s.Close()

	tests := []struct{ name, in string }{
		{"Directory", "sub"},
		{"SymlinkOutside", "link"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := s.Get(t.Context(), tt.in)
			if err == nil {
				o.Close()
				t.Errorf("Get(%q) = nil error, want one", tt.in)
			}
		})
	}
	if got := listNames(t, s); len(got) != 0 {
		t.Errorf("List() = %q, want none: a directory and a symbolic link are no objects", got)
	}
}

func TestPingRemovedDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "files")
	s := open(t, dir)
	defer s.Close()
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping() = %v, want nil", err)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Ping() after the directory was removed = %v, want an error matching fs.ErrNotExist", err)
	}
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); err == nil {
		t.Errorf("Ping() after the directory was replaced = nil, want an error")
	}
}
