package api

import (
	"testing"
	"time"

	"roster/internal/avatar"
)

// TestDefaultOptions: zero Options take DefaultOptions, whose image limits
// are the avatar package's, and a setting given is kept.
func TestDefaultOptions(t *testing.T) {
	var o Options
	o.defaults()
	d := DefaultOptions()
	o.Now, d.Now = nil, nil
	if o.BasePath != d.BasePath || o.SessionTTL != d.SessionTTL || o.MaxUploadBytes != d.MaxUploadBytes ||
		o.MaxPixels != d.MaxPixels || o.MaxFrames != d.MaxFrames || o.MaxSide != d.MaxSide ||
		o.DecodeWorkers != d.DecodeWorkers || o.MemoryLimit != d.MemoryLimit || o.SweepGrace != d.SweepGrace ||
		o.StaticCacheBytes != d.StaticCacheBytes || o.RateLimit != d.RateLimit {
		t.Errorf("zero Options with defaults = %+v, want %+v", o, d)
	}
	if img := avatar.DefaultLimits(); d.MaxPixels != img.MaxPixels || d.MaxFrames != img.MaxFrames || d.MaxSide != img.MaxSide {
		t.Errorf("DefaultOptions' image limits = %d, %d, %d, want avatar.DefaultLimits %+v", d.MaxPixels, d.MaxFrames, d.MaxSide, img)
	}
	given := Options{BasePath: "/", SessionTTL: time.Hour, MaxSide: 64, StaticCacheBytes: -1, RateLimit: -1}
	given.defaults()
	if given.BasePath != "" || given.SessionTTL != time.Hour || given.MaxSide != 64 || given.StaticCacheBytes != -1 || given.RateLimit != -1 {
		t.Errorf("given settings after defaults = %+v", given)
	}
}
