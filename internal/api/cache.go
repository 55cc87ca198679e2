package api

import (
	"container/list"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// fileCache keeps hot static avatars in memory with their response headers
// made once, so serving one is a map lookup and a write. Stored names are
// immutable, so an entry never goes stale — but another node may delete a
// replaced avatar, so an entry is re-checked against the store after
// recheck has passed.
//
// It also remembers, for goneLife, the originals this node deleted or
// replaced (their tombstones), under the same lock as the entries: an entry
// of a buried original is never returned nor added, so a rendition maker
// that finishes after the delete cannot bring the picture back.
type fileCache struct {
	mu       sync.Mutex
	capacity int64 // bytes
	size     int64
	lru      *list.List // of *cachedFile, most recent first
	entries  map[string]*list.Element
	recheck  time.Duration

	gone     map[string]time.Time // original → until when it stays buried
	graves   []grave              // the same, oldest first, to expire and bound them
	goneLife time.Duration
}

type grave struct {
	name  string
	until time.Time
}

// maxGraves bounds the tombstones' memory (about 100 bytes each): beyond
// it the oldest is forgotten early, and what still guards a rendition made
// after the delete is the maker's own check of the database.
const maxGraves = 1 << 16

// cachedFile is one stored object and the headers it is served with.
type cachedFile struct {
	key      string
	original string // the avatar key is, or is a rendition of
	data     []byte
	header   http.Header // shared, never modified once made
	modTime  time.Time
	checked  time.Time
}

// maxCachedFile bounds what one entry may hold; larger objects are served
// from the store.
const maxCachedFile = 1 << 20

func newFileCache(capacity int64, recheck time.Duration) *fileCache {
	return &fileCache{capacity: capacity, lru: list.New(), entries: map[string]*list.Element{}, recheck: recheck,
		gone: map[string]time.Time{}, goneLife: goneLife}
}

// lookup returns the entry for key (which it does not keep), and whether
// it is due a re-check; never an entry of a buried original.
func (c *fileCache) lookup(key []byte, now time.Time) (*cachedFile, bool) {
	if c.capacity <= 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[string(key)]
	if !ok || c.isBuried(el.Value.(*cachedFile).original, now) {
		return nil, false
	}
	c.lru.MoveToFront(el)
	f := el.Value.(*cachedFile)
	return f, now.Sub(f.checked) > c.recheck
}

// checked marks an entry as just confirmed present in the store.
func (c *fileCache) confirm(key string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		el.Value.(*cachedFile).checked = now
	}
}

// put adds an entry, evicting the least recently used beyond capacity. An
// entry of a buried original is not added.
func (c *fileCache) put(f *cachedFile) {
	if c.capacity <= 0 || int64(len(f.data)) > min(maxCachedFile, c.capacity) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.isBuried(f.original, time.Now()) {
		return
	}
	if el, ok := c.entries[f.key]; ok {
		c.size -= int64(len(el.Value.(*cachedFile).data))
		c.lru.Remove(el)
	}
	c.entries[f.key] = c.lru.PushFront(f)
	c.size += int64(len(f.data))
	for c.size > c.capacity {
		last := c.lru.Back()
		old := last.Value.(*cachedFile)
		c.lru.Remove(last)
		delete(c.entries, old.key)
		c.size -= int64(len(old.data))
	}
}

// remove drops entries, e.g. of a file another node deleted.
func (c *fileCache) remove(keys ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drop(keys)
}

// drop removes entries. c.mu is held.
func (c *fileCache) drop(keys []string) {
	for _, k := range keys {
		if el, ok := c.entries[k]; ok {
			c.size -= int64(len(el.Value.(*cachedFile).data))
			c.lru.Remove(el)
			delete(c.entries, k)
		}
	}
}

// bury records that original was deleted or replaced and drops the entries
// of it and its renditions, at once: from now until goneLife has passed,
// get and put ignore them and buried reports true.
func (c *fileCache) bury(original string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drop(avatarKeys(original))
	until := now.Add(c.goneLife)
	c.gone[original] = until
	c.graves = append(c.graves, grave{original, until})
	c.expire(now)
}

// buried reports whether original was deleted or replaced on this node
// within goneLife.
func (c *fileCache) buried(original string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.isBuried(original, now)
}

func (c *fileCache) isBuried(original string, now time.Time) bool {
	until, ok := c.gone[original]
	return ok && now.Before(until)
}

// expire forgets the tombstones whose time has passed, and the oldest
// beyond maxGraves. c.mu is held.
func (c *fileCache) expire(now time.Time) {
	n := 0
	for n < len(c.graves) && (!now.Before(c.graves[n].until) || len(c.graves)-n > maxGraves) {
		g := c.graves[n]
		if c.gone[g.name] == g.until { // not buried again since
			delete(c.gone, g.name)
		}
		n++
	}
	// The dropped front is freed when append next grows the slice.
	c.graves = c.graves[n:]
}

// staticHeader makes the headers of a static avatar answer.
func staticHeader(contentType, etag string, size int64, modTime time.Time) http.Header {
	h := http.Header{}
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	h.Set("ETag", etag)
	h.Set("Last-Modified", modTime.UTC().Format(http.TimeFormat))
	h.Set("Accept-Ranges", "bytes")
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	return h
}
