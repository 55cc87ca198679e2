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
type fileCache struct {
	mu       sync.Mutex
	capacity int64 // bytes
	size     int64
	lru      *list.List // of *cachedFile, most recent first
	entries  map[string]*list.Element
	recheck  time.Duration
}

// cachedFile is one stored object and the headers it is served with.
type cachedFile struct {
	key     string
	data    []byte
	header  http.Header // shared, never modified once made
	modTime time.Time
	checked time.Time
}

// maxCachedFile bounds what one entry may hold; larger objects are served
// from the store.
const maxCachedFile = 1 << 20

func newFileCache(capacity int64, recheck time.Duration) *fileCache {
	return &fileCache{capacity: capacity, lru: list.New(), entries: map[string]*list.Element{}, recheck: recheck}
}

// get returns the entry for key, and whether it is due a re-check.
func (c *fileCache) get(key string, now time.Time) (*cachedFile, bool) {
	if c == nil || c.capacity <= 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
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

// put adds an entry, evicting the least recently used beyond capacity.
func (c *fileCache) put(f *cachedFile) {
	if c == nil || c.capacity <= 0 || int64(len(f.data)) > min(maxCachedFile, c.capacity) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
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

// remove drops entries, e.g. of a deleted avatar and its renditions.
func (c *fileCache) remove(keys ...string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		if el, ok := c.entries[k]; ok {
			c.size -= int64(len(el.Value.(*cachedFile).data))
			c.lru.Remove(el)
			delete(c.entries, k)
		}
	}
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
