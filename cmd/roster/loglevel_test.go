package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

// TestLogLevel: --log-level sets the least severe level written, and a
// level it does not know is refused with the ones it does.
func TestLogLevel(t *testing.T) {
	for _, tt := range []struct {
		level       string
		debug, info bool
	}{
		{"debug", true, true},
		{"info", false, true},
		{"INFO", false, true},
		{"warn", false, false},
		{"error", false, false},
	} {
		var buf bytes.Buffer
		log, err := newLogger("text", tt.level, &buf)
		if err != nil {
			t.Fatalf("newLogger(%q) = %v", tt.level, err)
		}
		if got := log.Enabled(context.Background(), slog.LevelDebug); got != tt.debug {
			t.Errorf("--log-level %s: debug enabled %v, want %v", tt.level, got, tt.debug)
		}
		if got := log.Enabled(context.Background(), slog.LevelInfo); got != tt.info {
			t.Errorf("--log-level %s: info enabled %v, want %v", tt.level, got, tt.info)
		}
	}
	for _, bad := range []string{"verbose", "", "info+2", "debug-4"} {
		if _, err := newLogger("text", bad, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "want debug, info, warn or error") {
			t.Errorf("newLogger(%q) = %v, want a refusal naming the levels", bad, err)
		}
	}
}
