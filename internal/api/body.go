package api

import "sync"

// bodies recycles the buffers of answers handlers encode themselves (body):
// a list of employees is tens of kilobytes, built and dropped on every call.
var bodies = sync.Pool{New: func() any { return new([]byte) }}

// newBody gives an empty buffer for an answer, to be returned as a body;
// writeOK recycles it once written.
func newBody() []byte { return (*bodies.Get().(*[]byte))[:0] }

// recycle takes back the buffer of a written body. Buffers that grew past
// a megabyte are left to the collector rather than kept.
func recycle(res any) {
	if b, ok := res.(body); ok && cap(b) <= 1<<20 {
		b = b[:0]
		bodies.Put((*[]byte)(&b))
	}
}
