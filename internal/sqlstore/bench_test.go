package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"syscall"
	"testing"
	"time"

	"roster/internal/roster"
)

// Micro-benchmarks of the store's hot queries, on SQLite and (when
// configured) PostgreSQL:
//
//	go test -run '^$' -bench . -benchmem ./internal/sqlstore/

// benchEmployees is how many employees the benchmark account holds.
const benchEmployees = 10_000

// forEachBackendB runs f as a sub-benchmark on every backend.
func forEachBackendB(b *testing.B, f func(b *testing.B, db *DB, account int64, ids []int64)) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			db := openDB(b, be.url(b))
			account, ids := seed(b, db, benchEmployees)
			b.ReportAllocs()
			f(b, db, account, ids)
		})
	}
}

// seed creates an account with n employees of varied names in one
// transaction (a commit each would take minutes on PostgreSQL).
func seed(b *testing.B, db *DB, n int) (int64, []int64) {
	b.Helper()
	ctx := context.Background()
	account := newMaster(b, db, "bench")
	// Another account's employees share the table, as in production.
	other := newMaster(b, db, "other")
	first := []string{"Ann", "Bob", "Carla", "Dmitri", "Émile", "Fatima", "Gus", "Hanna", "Ivo", "Jörg"}
	last := []string{"Lee", "Smith", "Öztürk", "García", "Nakamura", "O'Brien", "Kowalski", "Ng"}
	ids := make([]int64, 0, n)
	err := db.tx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, insertEmployee)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i := range n + n/10 {
			e := roster.Employee{
				TrackerID: ptr(int64(i + 1)), FirstName: first[i%len(first)], LastName: last[i*7%len(last)],
				Email: fmt.Sprintf("e%d@example.com", i), Phone: fmt.Sprintf("49151%08d", i),
				PersonnelNumber: fmt.Sprintf("P%06d", i), Tags: []int64{1, 2, 3},
				Location: &roster.Location{Lat: 52.5, Lng: 13.4, Address: "Berlin"},
			}
			args, err := employeeArgs(e, nil)
			if err != nil {
				return err
			}
			acct := account
			if i >= n {
				acct = other
			}
			var id int64
			if err := stmt.QueryRowContext(ctx, append(args, acct)...).Scan(&id); err != nil {
				return err
			}
			if acct == account {
				ids = append(ids, id)
			}
		}
		return nil
	})
	if err != nil {
		b.Fatalf("seeding %d employees: %v", n, err)
	}
	if err := db.RecountEmployees(ctx); err != nil {
		b.Fatal(err)
	}
	return account, ids
}

func BenchmarkEmployee(b *testing.B) {
	forEachBackendB(b, func(b *testing.B, db *DB, account int64, ids []int64) {
		ctx := context.Background()
		var buf []byte
		i := 0
		for b.Loop() {
			var err error
			// As the API reads it: into the answer's buffer.
			if buf, err = db.AppendEmployee(ctx, buf[:0], account, ids[i*7919%len(ids)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

func BenchmarkEmployees(b *testing.B) {
	queries := []struct {
		name string
		q    roster.ListQuery
	}{
		{"page50", roster.ListQuery{Limit: 50}},
		{"page50_sorted", roster.ListQuery{Limit: 50, Sort: []roster.SortKey{{Field: "last_name"}, {Field: "first_name", Desc: true}}}},
		{"page50_filtered", roster.ListQuery{Limit: 50, Filter: "öztürk"}},
	}
	forEachBackendB(b, func(b *testing.B, db *DB, account int64, ids []int64) {
		ctx := context.Background()
		for _, tt := range queries {
			b.Run(tt.name, func(b *testing.B) {
				b.ReportAllocs()
				var buf []byte
				i := 0
				for b.Loop() {
					q := tt.q
					// Pages from all over the list, not one cached page.
					q.Offset = i * 50 * 37 % benchEmployees
					var total int
					var err error
					buf, total, err = db.AppendEmployees(ctx, buf[:0], account, q)
					if err != nil || total == 0 || (q.Filter == "" && bytes.Count(buf, []byte(`{"id":`)) != 50) {
						b.Fatalf("AppendEmployees(%+v) = %.80q of %d, %v", q, buf, total, err)
					}
					i++
				}
			})
		}
	})
}

func BenchmarkSetIcon(b *testing.B) {
	forEachBackendB(b, func(b *testing.B, db *DB, account int64, ids []int64) {
		ctx := context.Background()
		icon := int64(0)
		for b.Loop() {
			icon++
			if err := db.SetIcon(ctx, EmployeeAvatars, account, ids[int(icon)*7919%len(ids)], &icon); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCaller is the lookup every authenticated call makes: a master's
// session (the common case), a sub-user's session (its group's rights are
// read too) and an API key.
func BenchmarkCaller(b *testing.B) {
	forEachBackendB(b, func(b *testing.B, db *DB, account int64, ids []int64) {
		ctx := context.Background()
		group := newGroup(b, db, account, "staff", roster.RightEmployeeUpdate, "tracker_update", "tag_update")
		sub := newSubUser(b, db, account, "bench-sub", &group)
		_, keyDigest, err := roster.NewSessionKey()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := db.CreateAPIKey(ctx, account, keyDigest, "bench", t0); err != nil {
			b.Fatal(err)
		}
		cases := []struct {
			name   string
			digest []byte
			sub    bool
		}{
			{"master_session", newSession(b, db, account), false},
			{"sub_session", newSession(b, db, sub), true},
			{"api_key", keyDigest, false},
		}
		for _, tt := range cases {
			b.Run(tt.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					c, err := db.Caller(ctx, tt.digest, t0)
					if err != nil || c.Master() == tt.sub {
						b.Fatalf("Caller(%s) = %+v, %v", tt.name, c, err)
					}
				}
			})
		}
	})
}

// BenchmarkPointRead is the floor of one database round trip through the
// store: a prepared primary-key read of one integer.
func BenchmarkPointRead(b *testing.B) {
	forEachBackendB(b, func(b *testing.B, db *DB, account int64, ids []int64) {
		ctx := context.Background()
		i := 0
		for b.Loop() {
			var id int64
			want := ids[i*7919%len(ids)]
			if err := db.queryRow(ctx, `SELECT id FROM employees WHERE id = $1`, want).Scan(&id); err != nil || id != want {
				b.Fatalf("point read %d = %d, %v", want, id, err)
			}
			i++
		}
	})
}

// BenchmarkEmployeeWrites measures what the sort and filter indexes of
// sortMigration cost employee/create and employee/update: the same writes
// on an account with them ("indexed") and on one whose schema is what it
// was before ("before"). Run with -count to alternate the two:
//
//	go test -run '^$' -bench EmployeeWrites -count 3 ./internal/sqlstore/
func BenchmarkEmployeeWrites(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			ctx := context.Background()
			type side struct {
				name    string
				db      *DB
				account int64
				ids     []int64
				dept    int64
				tag     int64
			}
			var sides []side
			for _, name := range []string{"indexed", "before"} {
				db := openDB(b, be.url(b))
				account, ids := seed(b, db, benchEmployees)
				dept := newDepartment(b, db, account, "Depot "+name)
				if name == "before" {
					dropSortIndexes(b, db)
				}
				sides = append(sides, side{name, db, account, ids, dept, newTags(b, db, account, 1)[0]})
			}
			// Hardware keys are unique in an account: every employee
			// written gets a number of its own, over every run.
			next := 0
			employee := func(s side, _ int) roster.Employee {
				next++
				i := next
				return roster.Employee{FirstName: fmt.Sprintf("Bench %d", i), LastName: fmt.Sprint("Writer ", i%97),
					Email: fmt.Sprintf("w%d@example.com", i), Phone: fmt.Sprintf("49151%08d", i), HardwareKey: ptr(fmt.Sprintf("hk%x", i)),
					DriverLicenseNumber: fmt.Sprint("DL", i), DriverLicenseCats: "B", DriverLicenseValidTill: ptr("2031-01-31"),
					PersonnelNumber: fmt.Sprint("P", i%100000), DepartmentID: &s.dept, Tags: []int64{s.tag},
					Location: &roster.Location{Lat: 1, Lng: 2, Address: fmt.Sprint("Street ", i)}}
			}
			for _, s := range sides {
				b.Run("create/"+s.name, func(b *testing.B) {
					defer reportCPU(b)()
					for i := range b.N {
						if _, err := s.db.CreateEmployee(ctx, s.account, employee(s, i)); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
			for _, s := range sides {
				b.Run("update/"+s.name, func(b *testing.B) {
					defer reportCPU(b)()
					for i := range b.N {
						e := employee(s, i)
						e.ID = s.ids[i*7919%len(s.ids)]
						if err := s.db.UpdateEmployee(ctx, s.account, e); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// reportCPU reports, when the returned function runs, the CPU time the
// process spent per operation since: a commit's wait for the disk is in
// ns/op, not in this.
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() { b.ReportMetric(float64(cpu()-start)/float64(b.N), "cpu-ns/op") }
}
