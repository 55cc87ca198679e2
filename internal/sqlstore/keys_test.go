package sqlstore

import (
	"errors"
	"sync"
	"testing"
	"time"

	"roster/internal/roster"
)

// TestAPIKeyCaller: a key names its user like a session does, never
// expires, and ends when deleted; a session stays a session.
func TestAPIKeyCaller(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		admin := must[int64](t, "CreateMaster")(db.CreateMaster(ctx, "admin", "x", t0))
		other := must[int64](t, "CreateMaster")(db.CreateMaster(ctx, "other", "x", t0))
		key, digest, _ := roster.NewSessionKey()
		k := must[APIKey](t, "CreateAPIKey")(db.CreateAPIKey(ctx, admin, digest, "sync", t0))
		if k.ID < 1 || k.Title != "sync" || !k.CreatedAt.Equal(t0) {
			t.Errorf("CreateAPIKey = %+v, want an id, the title and t0", k)
		}
		years := t0.Add(50 * 365 * 24 * time.Hour)
		c, err := db.Caller(ctx, roster.KeyDigest(key), years)
		if err != nil || c.User.ID != admin || c.APIKeyID != k.ID || !c.Master() {
			t.Fatalf("Caller(key) fifty years on = %+v, %v; want admin by key %d", c, err, k.ID)
		}
		_, sdigest, _ := roster.NewSessionKey()
		if err := db.CreateSession(ctx, admin, sdigest, t0, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if c, err := db.Caller(ctx, sdigest, t0); err != nil || c.APIKeyID != 0 {
			t.Errorf("Caller(session) = %+v, %v; want a session (APIKeyID 0)", c, err)
		}
		wantErr(t, "DeleteAPIKey(another user's)", db.DeleteAPIKey(ctx, other, k.ID), roster.ErrNotFound)
		wantErr(t, "DeleteAPIKeyByDigest(another user's)", db.DeleteAPIKeyByDigest(ctx, other, digest), roster.ErrNotFound)
		if list := must[[]APIKey](t, "APIKeys")(db.APIKeys(ctx, other)); len(list) != 0 {
			t.Errorf("APIKeys(other) = %v, want none", list)
		}
		wantErr(t, "DeleteAPIKeyByDigest", db.DeleteAPIKeyByDigest(ctx, admin, digest), nil)
		_, err = db.Caller(ctx, digest, t0)
		wantErr(t, "Caller(deleted key)", err, roster.ErrNoSession)
		wantErr(t, "DeleteAPIKey(deleted)", db.DeleteAPIKey(ctx, admin, k.ID), roster.ErrNotFound)
	})
}

// TestAPIKeyQuotaConcurrent: creates racing for the last places never take
// more than MaxAPIKeys.
func TestAPIKeyQuotaConcurrent(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		admin := must[int64](t, "CreateMaster")(db.CreateMaster(ctx, "admin", "x", t0))
		const tries = MaxAPIKeys + 10
		var wg sync.WaitGroup
		errs := make(chan error, tries)
		for range tries {
			wg.Go(func() {
				_, digest, _ := roster.NewSessionKey()
				_, err := db.CreateAPIKey(ctx, admin, digest, "", t0)
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		made, over := 0, 0
		for err := range errs {
			switch {
			case err == nil:
				made++
			case errors.Is(err, ErrKeyQuota):
				over++
			default:
				t.Errorf("CreateAPIKey = %v", err)
			}
		}
		if made != MaxAPIKeys || over != tries-MaxAPIKeys {
			t.Errorf("%d concurrent creates: %d made, %d over quota; want %d and %d", tries, made, over, MaxAPIKeys, tries-MaxAPIKeys)
		}
		if list := must[[]APIKey](t, "APIKeys")(db.APIKeys(ctx, admin)); len(list) != MaxAPIKeys {
			t.Errorf("APIKeys = %d keys, want %d", len(list), MaxAPIKeys)
		}
	})
}
