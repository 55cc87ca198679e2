package roster

import (
	"context"
	"io"
	"time"
)

// Files is the one storage seam of Roster: a flat namespace of immutable
// objects (avatars and their renditions). It has two implementations, the
// local disk (package disk) and S3-compatible object storage (package s3),
// and both pass the same conformance suite (package filestest).
//
// Names are chosen by the caller and are plain ASCII without slashes
// ([0-9a-z._-]); an implementation refuses anything else with ErrInvalidName
// and never lets a name reach outside its store.
type Files interface {
	// Put stores data under name. It is atomic: a concurrent or later Get sees
	// either nothing or all of data, never a part, and once Put returns nil
	// the object survives a crash of the process or the machine.
	Put(ctx context.Context, name string, data []byte) error
	// Get opens the object. A name that is not stored gives an error
	// matching fs.ErrNotExist.
	Get(ctx context.Context, name string) (Object, error)
	// Delete removes the object. Deleting a name that is not stored is not
	// an error.
	Delete(ctx context.Context, name string) error
	// List calls fn for every stored object, in no particular order, and
	// stops at the first error fn returns. Partial objects of unfinished
	// Puts are never listed.
	List(ctx context.Context, fn func(name string, modTime time.Time) error) error
	// Ping reports whether the store is reachable and usable.
	Ping(ctx context.Context) error
	// Close releases what the store holds.
	Close() error
}

// Object is an open stored object: readable, seekable (for Range requests),
// with its size and time of storing.
type Object interface {
	io.ReadSeekCloser
	Size() int64
	ModTime() time.Time
}

// ValidFileName reports whether name is an object name every Files
// implementation accepts: 1 to 128 bytes of [0-9a-z._-], not starting with a
// dot (which rules out "." and ".." and keeps temporary files apart). One
// rule for every store, so objects can move between them.
func ValidFileName(name string) bool {
	if name == "" || len(name) > 128 || name[0] == '.' {
		return false
	}
	for i := range len(name) {
		switch c := name[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
