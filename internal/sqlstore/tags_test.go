package sqlstore

import (
	"errors"
	"slices"
	"strconv"
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

// TestPlaceholderTags: a database from before 0008 (the migration undone:
// tags dropped, its version forgotten), whose employees carry numbers no
// tag has, some shared by two accounts and some below 1, migrates to tags
// of each account that keep every number's place in the employees' lists.
func TestPlaceholderTags(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		url := b.url(t)
		db := openDB(t, url)
		ann, bob := newMaster(t, db, "ann"), newMaster(t, db, "bob")
		a := newEmployee(t, db, ann, roster.Employee{FirstName: "A"})
		b2 := newEmployee(t, db, bob, roster.Employee{FirstName: "B"})
		none := newEmployee(t, db, bob, roster.Employee{FirstName: "None"})
		for _, q := range []string{
			`UPDATE employees SET tags = '[5,0,-3,7,5]' WHERE id = ` + strconv.FormatInt(a, 10),
			`UPDATE employees SET tags = '[9,5]' WHERE id = ` + strconv.FormatInt(b2, 10),
			`DROP TABLE tags`,
			`DELETE FROM schema_migrations WHERE version = '0008_tags'`,
		} {
			if _, err := db.sql.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		db.Close()

		db = openDB(t, url)
		if got := db.PlaceholderTags(); got != 6 {
			t.Errorf("PlaceholderTags() = %d, want 6 (ann's 5, 0, -3 and 7, bob's 9 and 5)", got)
		}
		names := func(account int64) map[int64]string {
			list, err := db.Tags(ctx, account, "")
			if err != nil {
				t.Fatal(err)
			}
			m := map[int64]string{}
			for _, tag := range list {
				if tag.Color != "808080" {
					t.Errorf("placeholder %v is not grey", tag)
				}
				m[tag.ID] = tag.Name
			}
			return m
		}
		annTags, bobTags := names(ann), names(bob)
		ea, err := db.Employee(ctx, ann, a)
		if err != nil {
			t.Fatal(err)
		}
		eb, err := db.Employee(ctx, bob, b2)
		if err != nil {
			t.Fatal(err)
		}
		// Every number is now a tag of the employee's account, named after
		// it, in its place; ann (first to carry 5) keeps 5 and 7, bob 9.
		for _, c := range []struct {
			e    roster.Employee
			tags map[int64]string
			was  []string
		}{
			{ea, annTags, []string{"Tag 5", "Tag 0", "Tag -3", "Tag 7", "Tag 5"}},
			{eb, bobTags, []string{"Tag 9", "Tag 5"}},
		} {
			var got []string
			for _, id := range c.e.Tags {
				got = append(got, c.tags[id])
			}
			if !slices.Equal(got, c.was) {
				t.Errorf("employee %d carries %v, named %v, want %v", c.e.ID, c.e.Tags, got, c.was)
			}
		}
		if ea.Tags[0] != 5 || ea.Tags[3] != 7 || eb.Tags[0] != 9 || eb.Tags[1] == 5 || ea.Tags[1] < 1 || ea.Tags[2] < 1 {
			t.Errorf("ann's tags %v and bob's %v: want 5, 7 and 9 kept, bob's 5 and the ids below 1 renumbered", ea.Tags, eb.Tags)
		}
		if e, err := db.Employee(ctx, bob, none); err != nil || len(e.Tags) != 0 {
			t.Errorf("an employee without tags reads %v, %v", e.Tags, err)
		}
		// New tags come after the kept numbers.
		if id, err := db.CreateTag(ctx, ann, roster.Tag{Name: "new", Color: "000000"}); err != nil || id <= 9 {
			t.Errorf("CreateTag after the migration = %d, %v, want an id above 9", id, err)
		}
		// The employees can be written with their tags as they read.
		if err := db.UpdateEmployee(ctx, bob, eb); err != nil {
			t.Errorf("UpdateEmployee with the migrated tags = %v", err)
		}
	})
}
