package sqlstore_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"roster/internal/roster"
	"roster/internal/sqlstore"
	"roster/internal/sqlstore/sqltest"
)

// openDB opens a fresh database of the named dialect, closed at cleanup.
// PostgreSQL is skipped unless its test server is configured.
func openDB(t *testing.T, dialect string) *sqlstore.DB {
	t.Helper()
	u := "sqlite:" + filepath.Join(t.TempDir(), "roster.db")
	if dialect == "postgres" {
		u = sqltest.PostgresURL(t)
	}
	db, err := sqlstore.Open(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

var dialects = []string{"sqlite", "postgres"}

// TestSetAvatarConcurrent replaces one employee's avatar from many
// goroutines at once. Every name but the last must come back exactly once as
// the previous one, or its file would never be deleted.
func TestSetAvatarConcurrent(t *testing.T) {
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			db := openDB(t, d)
			ctx := t.Context()
			account, err := db.CreateMaster(ctx, "acct", "x", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			id, err := db.CreateEmployee(ctx, account, roster.Employee{FirstName: "Ann"})
			if err != nil {
				t.Fatal(err)
			}
			const n = 40
			var mu sync.Mutex
			previous := map[string]int{}
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					p, err := db.SetAvatar(ctx, sqlstore.EmployeeAvatars, account, id, fmt.Sprintf("%032x.png", i))
					if err != nil {
						t.Error(err)
						return
					}
					if p != nil {
						mu.Lock()
						previous[*p]++
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			e, err := db.Employee(ctx, account, id)
			if err != nil {
				t.Fatal(err)
			}
			if previous[*e.AvatarFileName] != 0 {
				t.Errorf("the current avatar %s was also returned as a previous one", *e.AvatarFileName)
			}
			for name, k := range previous {
				if k != 1 {
					t.Errorf("%s returned as previous %d times, want once", name, k)
				}
			}
			if len(previous) != n-1 {
				t.Errorf("%d distinct previous names, want %d: a replaced file would never be deleted", len(previous), n-1)
			}
		})
	}
}
