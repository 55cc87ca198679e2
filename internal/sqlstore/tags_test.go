package sqlstore

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"roster/internal/roster"
)

// TestDeleteTagWhileWriting deletes a tag while employees are written with
// it: every write either commits before the delete (which then takes the
// tag off) or is refused with ErrNotFound, so afterwards no employee
// carries it, in its columns or its stored answer.
func TestDeleteTagWhileWriting(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ann := newMaster(t, db, "ann")
		tags := newTags(t, db, ann, 2)
		doomed, kept := tags[0], tags[1]
		var emps []int64
		for range 8 {
			emps = append(emps, newEmployee(t, db, ann, roster.Employee{FirstName: "E", Tags: []int64{kept}}))
		}
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for _, id := range emps {
			wg.Go(func() {
				for range 5 {
					err := db.UpdateEmployee(ctx, ann, roster.Employee{ID: id, FirstName: "E", Tags: []int64{kept, doomed}})
					if err != nil && !errors.Is(err, roster.ErrNotFound) {
						errs <- err
					}
				}
			})
		}
		wg.Go(func() {
			if _, err := db.DeleteTags(ctx, ann, []int64{doomed}, true); err != nil {
				errs <- err
			}
		})
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("write during the delete: %v", err)
		}
		for _, id := range emps {
			e, err := db.Employee(ctx, ann, id)
			if err != nil {
				t.Fatal(err)
			}
			if slices.Contains(e.Tags, doomed) || !slices.Contains(e.Tags, kept) {
				t.Errorf("employee %d carries %v after tag %d was deleted, want %d only", id, e.Tags, doomed, kept)
			}
		}
		// The stored answers agree with the columns.
		stored, err := StoredEmployees(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		list, _, err := db.Employees(ctx, ann, roster.ListQuery{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range list {
			if slices.Contains(e.Tags, doomed) {
				t.Errorf("employee %d's stored answer carries deleted tag %d (columns: %s)", e.ID, doomed, stored)
			}
		}
	})
}
