package api

import (
	"context"
	"time"
)

// Sweep deletes stored avatars (and renditions) that no employee references
// and that are older than grace — younger ones may belong to an upload whose
// database change is about to commit. It returns how many it deleted.
func (s *Server) Sweep(ctx context.Context, grace time.Duration) (int, error) {
	cutoff := s.opts.Now().Add(-grace)
	owner := map[string]string{} // stored name → the avatar it belongs to
	var bases []string
	seen := map[string]bool{}
	err := s.files.List(ctx, func(name string, mod time.Time) error {
		base, ok := originalOf(name)
		if !ok || !mod.Before(cutoff) {
			return nil
		}
		owner[name] = base
		if !seen[base] {
			seen[base] = true
			bases = append(bases, base)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	refs, err := s.db.ReferencedAvatars(ctx, bases)
	if err != nil {
		return 0, err
	}
	n := 0
	for name, base := range owner {
		if refs[base] {
			continue
		}
		s.cache.remove(name)
		if err := s.files.Delete(ctx, name); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Maintain runs the periodic housekeeping until ctx ends: the file sweep
// (at once, then every interval), the removal of expired sessions and of
// import files past their retention, and the
// merging of the list filter's index.
func (s *Server) Maintain(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = time.Hour
	}
	for {
		if n, err := s.Sweep(ctx, s.opts.SweepGrace); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("sweep", "error", err)
		} else if n > 0 {
			s.log.Info("sweep removed unreferenced files", "files", n)
		}
		if n, err := s.db.DeleteExpiredSessions(ctx, s.opts.Now()); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("expired sessions", "error", err)
		} else if n > 0 {
			s.log.Info("removed expired sessions", "sessions", n)
		}
		if n, err := s.expireImports(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("expired import files", "error", err)
		} else if n > 0 {
			s.log.Info("removed expired import files", "files", n)
		}
		if err := s.db.TidyFilterIndex(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("tidying the filter's index", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
