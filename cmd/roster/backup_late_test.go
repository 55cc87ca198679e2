package main

import (
	"context"
	"testing"

	"roster/internal/disk"
)

// TestCopyLate: the files a snapshot references that the backup lacks are
// copied, and one the store no longer holds (replaced or deleted since the
// snapshot) is named, not an error, so that the snapshot is taken again.
func TestCopyLate(t *testing.T) {
	ctx := context.Background()
	src, err := disk.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dst, err := disk.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const have, late, gone = "0123456789abcdef0123456789abcdef.jpg", "1123456789abcdef0123456789abcdef.png", "2123456789abcdef0123456789abcdef.gif"
	for _, name := range []string{have, late} {
		if err := src.Put(ctx, name, []byte(name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := dst.Put(ctx, have, []byte(have)); err != nil {
		t.Fatal(err)
	}
	n, missing, err := copyLate(ctx, src, dst, []string{have, late})
	if err != nil || n != 1 || missing != "" {
		t.Fatalf("copyLate of one late file = %d, %q, %v; want 1, \"\", nil", n, missing, err)
	}
	if data, err := readObject(ctx, dst, late); err != nil || string(data) != late {
		t.Fatalf("the late file in the backup: %q, %v", data, err)
	}
	n, missing, err = copyLate(ctx, src, dst, []string{have, gone, late})
	if err != nil || n != 0 || missing != gone {
		t.Fatalf("copyLate with a file gone from the store = %d, %q, %v; want 0, %q, nil", n, missing, err, gone)
	}
}
