package sqlstore

import (
	"path/filepath"
	"slices"
	"testing"

	"roster/internal/roster"
)

// TestSnapshotNamesEveryOwner: a snapshot reports the avatars of every
// owner kind it references, employees' and tags', so a backup copies them
// all.
func TestSnapshotNamesEveryOwner(t *testing.T) {
	db := openDB(t, "sqlite:"+filepath.Join(t.TempDir(), "roster.db"))
	ctx := t.Context()
	ann := newMaster(t, db, "ann")
	emp := newEmployee(t, db, ann, roster.Employee{FirstName: "Ann"})
	if _, err := db.SetAvatar(ctx, EmployeeAvatars, ann, emp, "emp.png"); err != nil {
		t.Fatal(err)
	}
	tag := newTags(t, db, ann, 1)[0]
	if _, err := db.SetAvatar(ctx, TagAvatars, ann, tag, "tag.png"); err != nil {
		t.Fatal(err)
	}
	got, err := db.Snapshot(ctx, filepath.Join(t.TempDir(), "copy.db"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"emp.png", "tag.png"}; !slices.Equal(got, want) {
		t.Errorf("Snapshot names %v, want %v", got, want)
	}
}
