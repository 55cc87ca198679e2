//go:build !linux

package disk

import (
	"os"
	"testing"
)

// readOnly makes dir refuse new names until the test ends, by its
// permission bits, which do not stop root.
func readOnly(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() == 0 {
		t.Skip("permission bits do not stop root")
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o750) })
}

// smallDir would return a directory on a small file system; only the Linux
// tests have one.
func smallDir(t *testing.T, size int) string {
	t.Helper()
	t.Skip("needs Linux")
	return ""
}
