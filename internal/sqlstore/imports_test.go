package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"roster/internal/roster"
)

// TestCreateEmployeesRules: the batch path refuses, row by row and with
// employee/create's errors, a department of another account, a hardware
// key or tracker another employee holds, and one an earlier row takes, and
// writes the others with the account's count.
func TestCreateEmployeesRules(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		a, b := newMaster(t, db, "a@example.com"), newMaster(t, db, "b@example.com")
		theirs := newDepartment(t, db, b, "Theirs")
		ours := newDepartment(t, db, a, "Ours")
		key, tracker := "K1", int64(7)
		newEmployee(t, db, a, roster.Employee{FirstName: "Old", HardwareKey: &key, TrackerID: &tracker})
		k2, k3, t8 := "K2", "K3", int64(8)
		es := []roster.Employee{
			{FirstName: "In ours", DepartmentID: &ours, HardwareKey: &k2},
			{FirstName: "In theirs", DepartmentID: &theirs},
			{FirstName: "Old key", HardwareKey: &key},
			{FirstName: "Old tracker", TrackerID: &tracker},
			{FirstName: "Same key again", HardwareKey: &k2},
			{FirstName: "New", HardwareKey: &k3, TrackerID: &t8},
			{FirstName: "Same tracker again", TrackerID: &t8},
		}
		want := []error{nil, roster.ErrNotFound, roster.ErrExists, roster.ErrExists, roster.ErrExists, nil, roster.ErrExists}
		var refused []error
		err := db.tx(ctx, func(tx *sql.Tx) error {
			var err error
			_, refused, err = db.createEmployees(ctx, tx, a, es)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range want {
			if (w == nil) != (refused[i] == nil) || w != nil && !errors.Is(refused[i], w) {
				t.Errorf("%s: refused %v, want %v", es[i].FirstName, refused[i], w)
			}
		}
		_, n, err := db.Employees(ctx, a, roster.ListQuery{})
		if err != nil || n != 3 {
			t.Errorf("account has %d employees (%v), want 3", n, err)
		}
	})
}

// TestImportClaimAndLease: of many claims at once exactly one gets the
// import; a batch is written only by the lease's holder, at the progress it
// read; a lease that ran out passes to another node, and the old holder's
// batch is then refused.
func TestImportClaimAndLease(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		a := newMaster(t, db, "a@example.com")
		if err := db.AddImportFile(ctx, a, "import-x.tsv", 10, 2, t0); err != nil {
			t.Fatal(err)
		}
		p := roster.ImportProcess{AccountID: a, Type: "employee", Filename: "import-x.tsv", Created: t0, TotalLines: 10, FirstLine: 2,
			Params: roster.ImportParams{Headers: []string{"first_name"}}}
		id, err := db.CreateImport(ctx, p, 2)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.CreateImport(ctx, p, 2); !errors.Is(err, roster.ErrExists) {
			t.Errorf("the same import again = %v, want ErrExists", err)
		}
		p2 := p
		p2.Params.Headers = []string{"last_name"}
		if _, err := db.CreateImport(ctx, p2, 2); err != nil {
			t.Fatal(err)
		}
		p3 := p
		p3.Params.Headers = []string{"email"}
		if _, err := db.CreateImport(ctx, p3, 2); !errors.Is(err, ErrTooManyImports) {
			t.Errorf("a third import = %v, want ErrTooManyImports", err)
		}

		now := time.Now()
		var mu sync.Mutex
		claimed := map[int64][]string{}
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				owner := fmt.Sprint("node", i)
				got, ok, err := db.ClaimImport(context.Background(), owner, now, now.Add(time.Hour))
				if err != nil {
					t.Errorf("ClaimImport(%s) = %v", owner, err)
				}
				if ok {
					mu.Lock()
					claimed[got.ID] = append(claimed[got.ID], owner)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(claimed) != 2 || len(claimed[id]) != 1 {
			t.Fatalf("claims = %v, want each of the two imports claimed once", claimed)
		}
		owner := claimed[id][0]
		held, err := db.Import(ctx, a, "employee", id)
		if err != nil {
			t.Fatal(err)
		}
		batch := ImportBatch{Rows: []ImportRow{{Line: 2, Employee: roster.Employee{FirstName: "Ann", Tags: []int64{}}}}, Through: 1}
		stranger := held
		if err := db.ApplyImportBatch(ctx, &stranger, "stranger", batch, now.Add(time.Hour)); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("a batch by a node without the lease = %v, want ErrLeaseLost", err)
		}
		stale := held
		if err := db.ApplyImportBatch(ctx, &held, owner, batch, now.Add(time.Hour)); err != nil {
			t.Fatalf("the holder's batch = %v", err)
		}
		if err := db.ApplyImportBatch(ctx, &stale, owner, batch, now.Add(time.Hour)); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("the same batch again, from the progress before it = %v, want ErrLeaseLost", err)
		}
		// The lease runs out: another node takes the import over where
		// the last batch left it, and the old holder can write no more.
		later := now.Add(2 * time.Hour)
		got, ok, err := db.ClaimImport(ctx, "successor", later, later.Add(time.Hour))
		if err != nil || !ok || got.ID != id || got.Progress.ProcessedLines != 1 || got.Progress.Imported != 1 {
			t.Fatalf("claim after the lease ran out = %+v, %v, %v; want import %d at line 1", got, ok, err, id)
		}
		batch.Through = 2
		if err := db.ApplyImportBatch(ctx, &held, owner, batch, later.Add(time.Hour)); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("the old holder's batch after the takeover = %v, want ErrLeaseLost", err)
		}
		if _, n, _ := db.Employees(ctx, a, roster.ListQuery{}); n != 1 {
			t.Errorf("account has %d employees, want 1", n)
		}
	})
}
